/* cmd_config.c: "postel config", the configuration seen from outside.
 *
 *   postel config check  check what `serve` checks at start, changing
 *                        nothing: the file and -o values (main.c loaded
 *                        them already: a bad key or value never gets
 *                        here), listen addresses two keys share (bind
 *                        would fail), the certificate and key (load and match),
 *                        the data directory's owners and modes
 *                        (server_check_data_dir, the checks serve runs),
 *                        and a hostname that is not fully qualified.
 *                        Each finding is one "postel: error: ..." or
 *                        "postel: warning: ..." line on stderr; stdout
 *                        gets "config ok" when nothing stops serve. Exit 1
 *                        on an error, 0 otherwise (warnings included).
 *   postel config show [--changed] [KEY]...
 *                        the effective values as "key = value" lines:
 *                        every key, or those named, or with --changed
 *                        only those not at their default (postconf -n)
 *   postel config keys   list every key with its type, default and help
 *
 * Output goes to stdout; a failed write (full disk, closed pipe) exits 1
 * rather than pretend the configuration was printed. */
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/str.h"
#include "lib/tls.h"
#include "relay/smarthost.h"
#include "server/server.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int cmd_config_usage(FILE *out, int status)
{
	fprintf(out, "usage: postel [-d DIR] [-c FILE] [-o key=value]... config COMMAND\n"
		"\ncommands:\n"
		"  check                  check what serve checks at start; exit 1 on an error\n"
		"  show [--changed] [KEY]...\n"
		"                         print effective values; --changed: only those\n"
		"                         not at their default\n"
		"  keys                   list every key with its type, default and help\n"
		"\nA configuration error exits 1 with the file, line and key.\n");
	return status;
}

static int cmd_config_write(const str_t *out)
{
	if (fwrite(out->data, 1, out->len, stdout) != out->len || fflush(stdout) != 0) {
		fprintf(stderr, "postel config: writing to stdout: %s\n",
			strerror(errno));
		return 1;
	}
	return 0;
}

/* Whether binding a and b both fails on Linux: the same family and port,
 * and the same address or a wildcard on either side ([::] is bound
 * IPV6_V6ONLY by server_listen.c, so it never meets 0.0.0.0). */
static bool cmd_config_listen_clash(const struct config_listen *a,
				    const struct config_listen *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->addr;
		const struct sockaddr_in *y = (const void *)&b->addr;
		return x->sin_port == y->sin_port &&
			(x->sin_addr.s_addr == y->sin_addr.s_addr ||
			 x->sin_addr.s_addr == htonl(INADDR_ANY) ||
			 y->sin_addr.s_addr == htonl(INADDR_ANY));
	}
	const struct sockaddr_in6 *x = (const void *)&a->addr;
	const struct sockaddr_in6 *y = (const void *)&b->addr;
	return x->sin6_port == y->sin6_port &&
		(memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 ||
		 memcmp(&x->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0 ||
		 memcmp(&y->sin6_addr, &in6addr_any, sizeof(in6addr_any)) == 0);
}

/* Listen addresses that serve could not bind together; the count found. */
static unsigned cmd_config_check_listen(const struct config *c)
{
	const struct { const char *key; const struct config_listen_list *list; } l[] = {
		{ "smtp_listen", &c->smtp_listen },
		{ "submission_listen", &c->submission_listen },
		{ "submissions_listen", &c->submissions_listen },
		{ "pop3_listen", &c->pop3_listen }, { "pop3s_listen", &c->pop3s_listen },
		{ "imap_listen", &c->imap_listen }, { "imaps_listen", &c->imaps_listen },
	};
	const unsigned n = sizeof(l) / sizeof(l[0]);
	unsigned errors = 0;
	/* every pair of entries once: 7 lists of at most CONFIG_MAX_LISTEN */
	for (unsigned i = 0; i < n; i++) {
		for (unsigned a = 0; a < l[i].list->count; a++) {
			for (unsigned j = i; j < n; j++) {
				for (unsigned b = j == i ? a + 1 : 0; b < l[j].list->count; b++) {
					const struct config_listen *x = &l[i].list->items[a];
					const struct config_listen *y = &l[j].list->items[b];
					if (!cmd_config_listen_clash(x, y))
						continue;
					fprintf(stderr, "postel: error: %s %s and %s %s overlap: "
						"serve cannot bind both\n", l[i].key, x->text,
						l[j].key, y->text);
					errors++;
				}
			}
		}
	}
	return errors;
}

static int cmd_config_check(struct cli_ctx *ctx)
{
	const struct config *config = ctx->config;
	const char *note = NULL, *error = NULL, *warning;
	unsigned errors = cmd_config_check_listen(config);

	if (smarthost_check(config, &error) < 0) {
		fprintf(stderr, "postel: error: %s\n", error);
		errors++;
	}
	warning = config_hostname_warning(config);
	if (warning != NULL)
		fprintf(stderr, "postel: warning: %s\n", warning);
	if (server_check_data_dir(config, &note, &error) < 0) {
		fprintf(stderr, "postel: error: %s\n", error);
		errors++;
	} else if (note != NULL) {
		fprintf(stderr, "postel: note: %s\n", note);
	}
	note = NULL;
	if (tls_check(config->tls_cert, config->tls_key, config->data_dir,
		      config->hostname, &note, &error) < 0) {
		fprintf(stderr, "postel: error: %s\n", error);
		errors++;
	} else if (note != NULL) {
		fprintf(stderr, "postel: %s: %s\n",
			config->tls_cert[0] != '\0' ? "warning" : "note", note);
	}
	if (errors > 0) {
		fprintf(stderr, "postel: %u error%s: serve would not start\n", errors,
			errors == 1 ? "" : "s");
		return 1;
	}
	str_t out = STR_INIT;
	str_appendz(&out, "config ok\n");
	int ret = cmd_config_write(&out);
	str_free(&out);
	return ret;
}

static int cmd_config_show(struct cli_ctx *ctx, int argc, char **argv)
{
	bool changed = false;
	char **names = argv + 1; /* the key names, moved up over the options */
	unsigned count = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--changed") == 0 || strcmp(argv[i], "-n") == 0) {
			changed = true;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "postel config show: unknown option \"%s\"\n", argv[i]);
			return cmd_config_usage(stderr, 2);
		} else {
			names[count++] = argv[i];
		}
	}
	str_t out = STR_INIT;
	const char *error;
	int ret;
	if (config_show(ctx->config, (const char *const *)names, count, changed,
			&out, &error) < 0) {
		fprintf(stderr, "postel config show: %s\n", error);
		ret = 1;
	} else {
		ret = cmd_config_write(&out);
	}
	str_free(&out);
	return ret;
}

int cmd_config(struct cli_ctx *ctx, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return cmd_config_usage(stdout, 0);
	}
	const char *sub = argc >= 2 ? argv[1] : "";
	if (strcmp(sub, "show") == 0)
		return cmd_config_show(ctx, argc - 1, argv + 1);
	if ((strcmp(sub, "check") == 0 || strcmp(sub, "keys") == 0) && argc > 2) {
		fprintf(stderr, "postel config: unexpected argument \"%s\"\n", argv[2]);
		return cmd_config_usage(stderr, 2);
	}
	if (strcmp(sub, "check") == 0)
		return cmd_config_check(ctx);
	if (strcmp(sub, "keys") == 0) {
		str_t out = STR_INIT;
		config_dump_keys(&out);
		int ret = cmd_config_write(&out);
		str_free(&out);
		return ret;
	}
	if (argc >= 2)
		fprintf(stderr, "postel config: unknown command \"%s\"\n", sub);
	return cmd_config_usage(stderr, 2);
}
