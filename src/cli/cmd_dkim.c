/* cmd_dkim.c: "postel dkim": DKIM signing keys (issue 10 item 7).
 *
 *   postel dkim keygen DOMAIN [--selector S] [--type rsa|ed25519]
 *       a new key pair in DATA_DIR/dkim/DOMAIN/S.key, then the TXT record
 *       to publish at S._domainkey.DOMAIN, in strings of at most 255
 *       octets. The default selector is the type and today's date
 *       (UTC), e.g. "rsa-20261206", so a new key never replaces one in
 *       use; the default type is rsa (2048 bits). An existing key is
 *       never overwritten.
 *   postel dkim list            one line per key: domain, selector, type,
 *                               DNS name of its record
 *   postel dkim record DOMAIN   the TXT records of the domain's keys again
 *
 * Ownership (dkim/dkim_key.h): run as root, DATA_DIR/dkim and each domain
 * directory are root:<run_user's group> 0750, keys root:<group> 0640, so
 * workers read keys and can never write one. Root reaches them only
 * through descriptors opened with O_NOFOLLOW below the root-owned data
 * directory (server_prepare_data_dir() makes and checks it, as serve
 * does), and refuses a directory that is not root's. Signing starts with
 * the next message; no reload is needed (keys are read per message). */
#include "cli/commands.h"
#include "dkim/dkim_key.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "server/server.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DKIM_DIR_MODE 0750
#define DKIM_KEY_MODE 0640
#define DKIM_LIST_MAX 10000

static void dkim_usage(FILE *out)
{
	fputs("usage: postel dkim keygen DOMAIN [--selector S] [--type rsa|ed25519]\n"
	      "       postel dkim list\n"
	      "       postel dkim record DOMAIN\n"
	      "\n"
	      "  keygen  create a signing key for DOMAIN and print the DNS TXT\n"
	      "          record to publish at SELECTOR._domainkey.DOMAIN;\n"
	      "          default selector TYPE-YYYYMMDD (today, UTC), type rsa\n"
	      "  list    the keys: domain, selector, type, DNS name\n"
	      "  record  print the TXT records of DOMAIN's keys again\n"
	      "\n"
	      "Mail that local users submit (587/465) is signed with every key\n"
	      "of its From: domain.\n", out);
}

/* A directory below parent_fd, made if missing: root's (when we are
 * root), group gid, DKIM_DIR_MODE. Returns its descriptor or -1. */
static int dkim_dir_open(int parent_fd, const char *name, const char *path,
			 bool root, unsigned gid)
{
	if (mkdirat(parent_fd, name, DKIM_DIR_MODE) < 0 && errno != EEXIST) {
		fprintf(stderr, "postel dkim: mkdir %s: %s\n", path, strerror(errno));
		return -1;
	}
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "postel dkim: open %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (root && (st.st_uid != 0 || (st.st_mode & 0002) != 0)) {
		fprintf(stderr, "postel dkim: %s must be root's and not world-writable "
			"(expected root:%u mode %o)\n", path, gid, DKIM_DIR_MODE);
		close(fd);
		return -1;
	}
	if (root && (fchown(fd, 0, (gid_t)gid) < 0 || fchmod(fd, DKIM_DIR_MODE) < 0)) {
		fprintf(stderr, "postel dkim: chown %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int dkim_key_write(int dir_fd, const char *name, const char *path, const str_t *pem,
			  bool root, unsigned gid)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			DKIM_KEY_MODE);
	if (fd < 0) {
		fprintf(stderr, "postel dkim: %s: %s\n", path, errno == EEXIST ?
			"a key with this selector exists (choose another with --selector)" :
			strerror(errno));
		return -1;
	}
	size_t off = 0;
	int ret = 0;
	if (root && fchown(fd, 0, (gid_t)gid) < 0)
		ret = -1;
	while (ret == 0 && off < pem->len) {
		ssize_t n = write(fd, pem->data + off, pem->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = -1;
		else
			off += (size_t)n;
	}
	if (ret == 0 && (fsync(fd) < 0 || fsync(dir_fd) < 0))
		ret = -1;
	if (ret < 0) {
		fprintf(stderr, "postel dkim: writing %s: %s\n", path, strerror(errno));
		(void)unlinkat(dir_fd, name, 0);
	}
	close(fd);
	return ret;
}

/* DATA_DIR/dkim/DOMAIN/SELECTOR.key, directories made as needed. */
static int dkim_keygen_store(const char *data_dir, const struct dkim_key *key,
			     const str_t *pem, bool root, unsigned gid)
{
	int data_fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (data_fd < 0) {
		fprintf(stderr, "postel dkim: open %s: %s\n", data_dir, strerror(errno));
		return -1;
	}
	int ret = -1;
	int top_fd = dkim_dir_open(data_fd, "dkim", t_printf("%s/dkim", data_dir), root, gid);
	int dom_fd = top_fd < 0 ? -1 :
		dkim_dir_open(top_fd, key->domain, t_printf("%s/dkim/%s", data_dir, key->domain),
			      root, gid);
	if (dom_fd >= 0)
		ret = dkim_key_write(dom_fd, t_printf("%s.key", key->selector),
				     t_printf("%s/dkim/%s/%s.key", data_dir, key->domain,
					      key->selector), pem, root, gid);
	if (dom_fd >= 0)
		close(dom_fd);
	if (top_fd >= 0)
		close(top_fd);
	close(data_fd);
	return ret < 0 ? 1 : 0;
}

static void dkim_print_record(const struct dkim_key *key)
{
	str_t rec = STR_INIT, txt = STR_INIT;
	const char *error;
	if (dkim_key_dns_record(key, &rec, &error) < 0) {
		fprintf(stderr, "postel dkim: %s: %s\n", key->selector, error);
		return;
	}
	dkim_txt_strings(rec.data, rec.len, &txt);
	printf("%s._domainkey.%s. IN TXT %s\n", key->selector, key->domain, str_c(&txt));
	str_free(&rec);
	str_free(&txt);
}

static char *dkim_domain_arg(const char *arg)
{
	char *domain = t_strndup(arg, strlen(arg));
	for (char *p = domain; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!dkim_domain_valid(domain)) {
		fprintf(stderr, "postel dkim: invalid domain \"%s\"\n", arg);
		return NULL;
	}
	return domain;
}

static int dkim_cmd_keygen(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "selector", required_argument, NULL, 's' },
		{ "type", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *selector = NULL, *type_arg = "rsa", *error;
	int opt;
	while ((opt = getopt_long(argc, argv, "s:t:", opts, NULL)) != -1) {
		if (opt == 's')
			selector = optarg;
		else if (opt == 't')
			type_arg = optarg;
		else
			return 2;
	}
	if (optind + 1 != argc) {
		dkim_usage(stderr);
		return 2;
	}
	char *domain = dkim_domain_arg(argv[optind]);
	if (domain == NULL)
		return 2;
	enum dkim_key_type type;
	if (strcmp(type_arg, "rsa") == 0) {
		type = DKIM_KEY_RSA;
	} else if (strcmp(type_arg, "ed25519") == 0) {
		type = DKIM_KEY_ED25519;
	} else {
		fprintf(stderr, "postel dkim: --type is rsa or ed25519, not \"%s\"\n", type_arg);
		return 2;
	}
	if (selector == NULL) {
		char date[16];
		time_t now = time(NULL);
		struct tm tm;
		strftime(date, sizeof(date), "%Y%m%d", gmtime_r(&now, &tm));
		selector = t_printf("%s-%s", type_arg, date);
	}
	if (!dkim_selector_valid(selector)) {
		fprintf(stderr, "postel dkim: invalid selector \"%s\" (letters, digits, "
			"'-', '_', '.')\n", selector);
		return 2;
	}
	unsigned uid = 0, gid = 0;
	int root = server_lookup_run_user(ctx->config, &uid, &gid, &error);
	if (root < 0 || server_prepare_data_dir(ctx->config, &error) < 0) {
		fprintf(stderr, "postel dkim: %s\n", error);
		return 1;
	}
	struct dkim_key key;
	memset(&key, 0, sizeof(key));
	snprintf(key.domain, sizeof(key.domain), "%s", domain);
	snprintf(key.selector, sizeof(key.selector), "%s", selector);
	str_t pem = STR_INIT;
	int ret = 1;
	if (dkim_key_generate(type, &key, &error) < 0 ||
	    dkim_key_private_pem(&key, &pem, &error) < 0)
		fprintf(stderr, "postel dkim: %s\n", error);
	else
		ret = dkim_keygen_store(ctx->config->data_dir, &key, &pem, root > 0, gid);
	if (ret == 0) {
		printf("created %s/dkim/%s/%s.key (%s)\n", ctx->config->data_dir, domain,
		       selector, type == DKIM_KEY_RSA ?
		       t_printf("rsa, %d bits", DKIM_RSA_BITS) : "ed25519");
		printf("publish this TXT record in the DNS zone of %s:\n", domain);
		dkim_print_record(&key);
	}
	str_free_secure(&pem);
	dkim_key_clear(&key);
	return ret;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Calls show for every domain with keys (or only for `only`). */
static int dkim_each_key(struct cli_ctx *ctx, const char *only, bool records)
{
	const char *data_dir = ctx->config->data_dir, *error;
	DIR *dir = opendir(t_printf("%s/dkim", data_dir));
	if (dir == NULL && errno != ENOENT) {
		fprintf(stderr, "postel dkim: %s/dkim: %s\n", data_dir, strerror(errno));
		return 1;
	}
	char **names = xcalloc(DKIM_LIST_MAX, sizeof(*names));
	unsigned n = 0, shown = 0;
	struct dirent *de;
	while (dir != NULL && n < DKIM_LIST_MAX && (de = readdir(dir)) != NULL) {
		if (dkim_domain_valid(de->d_name) && (only == NULL || strcmp(only, de->d_name) == 0))
			names[n++] = xstrdup(de->d_name);
	}
	if (dir != NULL)
		closedir(dir);
	qsort(names, n, sizeof(*names), name_cmp);
	int ret = 0;
	for (unsigned i = 0; i < n; i++) {
		struct dkim_key keys[DKIM_KEYS_MAX];
		unsigned count = 0;
		if (dkim_keys_load(data_dir, names[i], keys, DKIM_KEYS_MAX, &count, &error) < 0) {
			fprintf(stderr, "postel dkim: %s\n", error);
			ret = 1;
		}
		for (unsigned k = 0; k < count; k++, shown++) {
			if (records)
				dkim_print_record(&keys[k]);
			else
				printf("%s %s %s %s._domainkey.%s\n", keys[k].domain,
				       keys[k].selector, dkim_key_type_name(keys[k].type),
				       keys[k].selector, keys[k].domain);
			dkim_key_clear(&keys[k]);
		}
		free(names[i]);
	}
	free(names);
	if (shown == 0 && ret == 0) {
		printf(only != NULL ? "no DKIM keys for %s\n" : "no DKIM keys%s\n",
		       only != NULL ? only : "");
		return only != NULL ? 1 : 0;
	}
	return ret;
}

int cmd_dkim(struct cli_ctx *ctx, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			dkim_usage(stdout);
			return 0;
		}
	}
	if (argc >= 2 && strcmp(argv[1], "keygen") == 0)
		return dkim_cmd_keygen(ctx, argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return dkim_each_key(ctx, NULL, false);
	if (argc == 3 && strcmp(argv[1], "record") == 0) {
		char *domain = dkim_domain_arg(argv[2]);
		return domain == NULL ? 2 : dkim_each_key(ctx, domain, true);
	}
	if (argc >= 2)
		fprintf(stderr, "postel dkim: unknown command or extra arguments: %s\n", argv[1]);
	dkim_usage(stderr);
	return 2;
}
