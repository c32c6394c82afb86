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
 *     loaded as "-o" overrides, it gives the same dump again;
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
	    memcmp(&again, list, sizeof(again)) != 0)
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
static void check_dump_reloads(const str_t *text)
{
	struct config *c = NULL;
	const char *error = NULL;
	str_t again = STR_INIT;

	write_file(dump_path, text->data, text->len);
	if (config_load(fuzz_dir, dump_path, NULL, 0, &c, &error) < 0) {
		fprintf(stderr, "dump does not load: %s\n", error);
		abort();
	}
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
		check_dump_reloads(&text);
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
