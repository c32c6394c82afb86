/* fuzz-config.c: libFuzzer target for config.h.
 *
 * The input is written to a config file in a temporary directory made
 * once (the same path every run) and loaded with config_load(); the
 * input up to its first NUL also goes to config_parse_listen().
 * Invariants, checked with abort():
 *   - a refusal always sets error_r and returns no config; a listen list
 *     that is refused leaves *list_r untouched;
 *   - an accepted config holds only checked values: strings without
 *     control characters, a known log level, numbers in their ranges,
 *     tls_cert and tls_key set together, listen lists that parse again;
 *   - config_dump() output is itself a config: loaded from a file, and
 *     loaded as "-o" overrides, it gives the same config, field by field,
 *     and so the same dump again;
 *   - an accepted listen list has at most CONFIG_MAX_LISTEN entries of
 *     the declared address family and length, a port that is not 0, and
 *     its texts joined with ',' parse to an identical list. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/mem.h"
#include "lib/str.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[] = "/tmp/fuzz-config.XXXXXX";
static char input_path[sizeof(fuzz_dir) + 16], dump_path[sizeof(fuzz_dir) + 16];

static void cleanup(void)
{
	unlink(input_path);
	unlink(dump_path);
	rmdir(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (mkdtemp(fuzz_dir) == NULL)
		abort();
	snprintf(input_path, sizeof(input_path), "%s/in.conf", fuzz_dir);
	snprintf(dump_path, sizeof(dump_path), "%s/dump.conf", fuzz_dir);
	atexit(cleanup);
	return 0;
}

static void write_file(const char *path, const void *data, size_t size)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
}

static bool listen_same(const struct config_listen_list *a,
			const struct config_listen_list *b)
{
	return a->count == b->count &&
		memcmp(a->items, b->items, sizeof(a->items)) == 0;
}

static void check_listen(const struct config_listen_list *list)
{
	if (list->count > CONFIG_MAX_LISTEN)
		abort();
	str_t joined = STR_INIT;
	for (unsigned i = 0; i < list->count; i++) {
		const struct config_listen *l = &list->items[i];
		size_t len = strnlen(l->text, sizeof(l->text));
		const struct sockaddr_in *sin = (const void *)&l->addr;
		const struct sockaddr_in6 *sin6 = (const void *)&l->addr;
		if (len == 0 || len == sizeof(l->text))
			abort();
		if (l->addr.ss_family == AF_INET) {
			if (l->addr_len != sizeof(*sin) || sin->sin_port == 0 ||
			    l->text[0] == '[')
				abort();
		} else if (l->addr.ss_family == AF_INET6) {
			if (l->addr_len != sizeof(*sin6) || sin6->sin6_port == 0 ||
			    l->text[0] != '[')
				abort();
		} else {
			abort();
		}
		if (i > 0)
			str_appendc(&joined, ',');
		str_appendz(&joined, l->text);
	}
	struct config_listen_list again;
	const char *error = NULL;
	if (config_parse_listen(str_c(&joined), &again, &error) < 0 ||
	    !listen_same(&again, list))
		abort();
	str_free(&joined);
}

static void check_string(const char *s, bool may_be_empty)
{
	if (s == NULL || (!may_be_empty && s[0] == '\0'))
		abort();
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			abort();
	}
}

/* Field by field: a dump that prints a wrong value, consistently, still
 * dumps the same twice but does not load back to the same config. */
static void check_same(const struct config *a, const struct config *b)
{
	if (strcmp(a->data_dir, b->data_dir) != 0 ||
	    strcmp(a->hostname, b->hostname) != 0 ||
	    strcmp(a->tls_cert, b->tls_cert) != 0 ||
	    strcmp(a->tls_key, b->tls_key) != 0 ||
	    strcmp(a->run_user, b->run_user) != 0 ||
	    strcmp(a->log_level, b->log_level) != 0 ||
	    !listen_same(&a->smtp_listen, &b->smtp_listen) ||
	    !listen_same(&a->submission_listen, &b->submission_listen) ||
	    !listen_same(&a->submissions_listen, &b->submissions_listen) ||
	    !listen_same(&a->pop3_listen, &b->pop3_listen) ||
	    !listen_same(&a->pop3s_listen, &b->pop3s_listen) ||
	    !listen_same(&a->imap_listen, &b->imap_listen) ||
	    !listen_same(&a->imaps_listen, &b->imaps_listen) ||
	    a->message_size_limit != b->message_size_limit ||
	    a->max_recipients != b->max_recipients ||
	    a->max_connections != b->max_connections ||
	    a->max_connections_per_ip != b->max_connections_per_ip ||
	    a->smtp_timeout != b->smtp_timeout ||
	    a->tls_handshake_timeout != b->tls_handshake_timeout ||
	    a->max_bad_commands != b->max_bad_commands ||
	    a->workers != b->workers ||
	    a->allow_plaintext_auth != b->allow_plaintext_auth)
		abort();
}

static void check_config(const struct config *c)
{
	check_string(c->data_dir, false);
	check_string(c->hostname, false);
	check_string(c->tls_cert, true);
	check_string(c->tls_key, true);
	check_string(c->run_user, true);
	check_string(c->log_level, false);
	(void)config_log_level(c); /* panics on a level that was not checked */
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		abort();
	if (c->message_size_limit == 0 || c->message_size_limit > INT64_MAX ||
	    c->max_recipients == 0 || c->max_connections == 0 ||
	    c->max_connections_per_ip == 0 || c->max_bad_commands == 0 ||
	    c->smtp_timeout == 0 || c->smtp_timeout > 7 * 24 * 3600 ||
	    c->tls_handshake_timeout == 0 ||
	    c->tls_handshake_timeout > 7 * 24 * 3600 || c->workers > 1024)
		abort();
	const struct config_listen_list *lists[] = {
		&c->smtp_listen, &c->submission_listen, &c->submissions_listen,
		&c->pop3_listen, &c->pop3s_listen, &c->imap_listen,
		&c->imaps_listen,
	};
	for (unsigned i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		check_listen(lists[i]);
}

static void dump(const struct config *c, str_t *out)
{
	str_clear(out);
	config_dump(c, out);
	if (strlen(str_c(out)) != out->len)
		abort();
}

/* The dump, loaded back from a file and as -o overrides, dumps the same. */
static void check_dump_reloads(const struct config *orig, const str_t *text)
{
	struct config *c = NULL;
	const char *error = NULL;
	str_t again = STR_INIT;

	write_file(dump_path, text->data, text->len);
	if (config_load(fuzz_dir, dump_path, NULL, 0, &c, &error) < 0) {
		fprintf(stderr, "dump does not load: %s\n", error);
		abort();
	}
	check_config(c);
	check_same(orig, c);
	dump(c, &again);
	if (again.len != text->len || memcmp(again.data, text->data, text->len) != 0)
		abort();
	config_free(&c);

	const char *overrides[64];
	unsigned count = 0;
	char *copy = xstrndup(text->data, text->len), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#')
			continue;
		if (count == sizeof(overrides) / sizeof(overrides[0]))
			abort();
		overrides[count++] = line;
	}
	/* data_dir/postel.conf does not exist: defaults, then overrides */
	if (config_load(fuzz_dir, NULL, overrides, count, &c, &error) < 0) {
		fprintf(stderr, "dump does not load as -o: %s\n", error);
		abort();
	}
	check_config(c);
	check_same(orig, c);
	dump(c, &again);
	if (again.len != text->len || memcmp(again.data, text->data, text->len) != 0)
		abort();
	config_free(&c);
	free(copy);
	str_free(&again);
}

static void fuzz_listen(const uint8_t *data, size_t size)
{
	char *value = xstrndup((const char *)data, size);
	struct config_listen_list list, untouched;
	const char *error = NULL;

	memset(&list, 0xa5, sizeof(list));
	memcpy(&untouched, &list, sizeof(list));
	if (config_parse_listen(value, &list, &error) == 0) {
		check_listen(&list);
		/* every entry comes from the input, and "" is the empty list */
		if (list.count == 0 && strspn(value, " \t\r\v\f") != strlen(value))
			abort();
	} else if (error == NULL || memcmp(&list, &untouched, sizeof(list)) != 0) {
		abort();
	}
	free(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c = NULL;
	const char *error = NULL;

	write_file(input_path, data, size);
	if (config_load(fuzz_dir, input_path, NULL, 0, &c, &error) == 0) {
		str_t text = STR_INIT;
		if (c == NULL)
			abort();
		check_config(c);
		dump(c, &text);
		check_dump_reloads(c, &text);
		str_free(&text);
		config_free(&c);
		if (c != NULL)
			abort();
	} else if (error == NULL || c != NULL) {
		abort();
	}
	fuzz_listen(data, size);
	pool_clear(pool_temp());
	return 0;
}
