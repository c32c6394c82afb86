/* test-config.c: unit tests for config.h: defaults, the file format,
 * -o overrides, every error path, listen lists and the dump round trip.
 * Each test gets its own mkdtemp() directory as data_dir. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/suggest.h"
#include "lib/mem.h"
#include "lib/str.h"

struct fixture {
	char dir[64];
};

static const char *const fixture_files[] = {
	"postel.conf", "other.conf", "dump.conf",
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-config.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	for (size_t i = 0; i < sizeof(fixture_files) / sizeof(fixture_files[0]); i++)
		unlink(t_printf("%s/%s", f->dir, fixture_files[i]));
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Write name in the fixture dir; returns its path (temp string). */
static const char *write_file(struct fixture *f, const char *name,
			      const char *data, size_t len)
{
	const char *path = t_printf("%s/%s", f->dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
	return path;
}

static const char *write_conf(struct fixture *f, const char *name,
			      const char *text)
{
	return write_file(f, name, text, strlen(text));
}

static struct config *load_ok(struct fixture *f, const char *file,
			      const char *const *overrides, unsigned count)
{
	struct config *config = NULL;
	const char *error = NULL;
	if (config_load(f->dir, file, overrides, count, &config, &error) < 0)
		fail_msg("config_load failed: %s", error);
	assert_non_null(config);
	return config;
}

/* Load expecting failure; returns the error message. */
static const char *load_fail(struct fixture *f, const char *file,
			     const char *const *overrides, unsigned count)
{
	struct config *config = NULL;
	const char *error = NULL;
	assert_int_equal(config_load(f->dir, file, overrides, count,
				     &config, &error), -1);
	assert_null(config);
	assert_non_null(error);
	return error;
}

static const char *override_fail(struct fixture *f, const char *override)
{
	const char *overrides[] = { override };
	return load_fail(f, NULL, overrides, 1);
}

static void assert_listen(const struct config_listen *l, int family,
			  const char *addr, unsigned port, const char *text)
{
	char buf[INET6_ADDRSTRLEN];
	assert_int_equal(l->addr.ss_family, family);
	assert_string_equal(l->text, text);
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&l->addr;
		assert_int_equal(l->addr_len, sizeof(*sin));
		assert_int_equal(ntohs(sin->sin_port), port);
		assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	} else {
		const struct sockaddr_in6 *sin6 = (const void *)&l->addr;
		assert_int_equal(l->addr_len, sizeof(*sin6));
		assert_int_equal(ntohs(sin6->sin6_port), port);
		assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf)));
	}
	assert_string_equal(buf, addr);
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	struct config *c = load_ok(f, NULL, NULL, 0); /* no postel.conf: fine */
	char host[256] = "";

	assert_string_equal(c->data_dir, f->dir);
	if (gethostname(host, sizeof(host)) == 0 && host[0] != '\0')
		assert_string_equal(c->hostname, host);
	const struct { const struct config_listen_list *list; unsigned port; } lists[] = {
		{ &c->smtp_listen, 25 }, { &c->submission_listen, 587 },
		{ &c->submissions_listen, 465 }, { &c->pop3_listen, 110 },
		{ &c->pop3s_listen, 995 }, { &c->imap_listen, 143 },
		{ &c->imaps_listen, 993 },
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		unsigned port = lists[i].port;
		assert_int_equal(lists[i].list->count, 2);
		assert_listen(&lists[i].list->items[0], AF_INET, "0.0.0.0", port,
			      t_printf("0.0.0.0:%u", port));
		assert_listen(&lists[i].list->items[1], AF_INET6, "::", port,
			      t_printf("[::]:%u", port));
	}
	assert_string_equal(c->tls_cert, "");
	assert_string_equal(c->tls_key, "");
	assert_true(c->message_size_limit == 52428800);
	assert_int_equal(c->max_recipients, 1000);
	assert_int_equal(c->max_connections, 10000);
	assert_int_equal(c->max_connections_per_ip, 50);
	assert_int_equal(c->smtp_timeout, 300);
	assert_int_equal(c->pop3_timeout, 600);
	assert_int_equal(c->tls_handshake_timeout, 30);
	assert_int_equal(c->max_bad_commands, 20);
	assert_int_equal(c->workers, 0);
	assert_false(c->allow_plaintext_auth);
	assert_string_equal(c->run_user, "postel");
	assert_string_equal(c->log_level, "info");
	assert_int_equal(config_log_level(c), LOG_INFO);
	config_free(&c);
	assert_null(c);
}

static void test_file_parsing(void **state)
{
	struct fixture *f = *state;
	/* the default file is data_dir/postel.conf */
	write_conf(f, "postel.conf",
		   "# a comment\n"
		   "\n"
		   "   # an indented comment\n"
		   "hostname = mx.example.org\n"
		   "\tsmtp_listen=127.0.0.1:2525 , [::1]:2525\n"
		   "imap_listen =\n"
		   "message_size_limit = 10k\r\n"
		   "smtp_timeout = 5m\n"
		   "tls_handshake_timeout = 1h\n"
		   "workers = 4   \n"
		   "allow_plaintext_auth = YES\n"
		   "max_recipients = 7\n"
		   "run_user = a=b\n"     /* only the first '=' splits */
		   "log_level = debug"); /* no final newline */
	struct config *c = load_ok(f, NULL, NULL, 0);
	assert_string_equal(c->hostname, "mx.example.org");
	assert_int_equal(c->smtp_listen.count, 2);
	assert_listen(&c->smtp_listen.items[0], AF_INET, "127.0.0.1", 2525,
		      "127.0.0.1:2525");
	assert_listen(&c->smtp_listen.items[1], AF_INET6, "::1", 2525,
		      "[::1]:2525");
	assert_int_equal(c->imap_listen.count, 0);
	assert_int_equal(c->pop3_listen.count, 2); /* untouched default */
	assert_true(c->message_size_limit == 10240);
	assert_int_equal(c->smtp_timeout, 300);
	assert_int_equal(c->tls_handshake_timeout, 3600);
	assert_int_equal(c->workers, 4);
	assert_true(c->allow_plaintext_auth);
	assert_int_equal(c->max_recipients, 7);
	assert_string_equal(c->run_user, "a=b");
	assert_int_equal(config_log_level(c), LOG_DEBUG);
	config_free(&c);
}

static void test_overrides_win(void **state)
{
	struct fixture *f = *state;
	const char *path = write_conf(f, "other.conf",
				      "max_recipients = 7\nlog_level = warn\n");
	const char *overrides[] = {
		"max_recipients=9", " log_level = error ", "tls_cert=/a.pem",
		"tls_key = /a.key", "max_recipients = 11",
	};
	struct config *c = load_ok(f, path, overrides, 5);
	assert_int_equal(c->max_recipients, 11);
	assert_string_equal(c->log_level, "error");
	assert_string_equal(c->tls_cert, "/a.pem");
	assert_string_equal(c->tls_key, "/a.key");
	config_free(&c);

	/* the explicit file replaces data_dir/postel.conf */
	write_conf(f, "postel.conf", "workers = 3\n");
	c = load_ok(f, path, NULL, 0);
	assert_int_equal(c->workers, 0);
	config_free(&c);
}

static void test_file_errors(void **state)
{
	struct fixture *f = *state;
	const char *path = t_printf("%s/other.conf", f->dir);
	static const struct { const char *text, *error; } cases[] = {
		{ "# x\n\nsmtp_lisen = 1.2.3.4:25\n", ":3: unknown key \"smtp_lisen\"" },
		{ "allow_plaintext_auth = maybe\n",
		  ":1: allow_plaintext_auth: bad bool \"maybe\" (yes or no)" },
		{ "message_size_limit = 50X\n",
		  ":1: message_size_limit: bad size \"50X\" (bytes, or with a k, M or G suffix)" },
		{ "message_size_limit = 99999999999999G\n",
		  ":1: message_size_limit: size \"99999999999999G\" out of range" },
		{ "message_size_limit = 0\n", ":1: message_size_limit: size \"0\" out of range" },
		{ "max_recipients = -1\n", ":1: max_recipients: bad number \"-1\"" },
		{ "max_recipients = 4294967296\n", ":1: max_recipients: number \"4294967296\" out of range" },
		{ "workers = 1025\n", ":1: workers: number \"1025\" out of range (0 to 1024)" },
		{ "smtp_timeout = 1w\n", ":1: smtp_timeout: bad duration \"1w\"" },
		{ "queue_lifetime = 8d\n", ":1: queue_lifetime: duration \"8d\" out of range" },
		{ "smtp_timeout = 8000h\n", ":1: smtp_timeout: duration \"8000h\" out of range" },
		/* RFC 1939 3: the autologout timer is at least 10 minutes */
		{ "pop3_timeout = 599\n", ":1: pop3_timeout: duration \"599\" out of range" },
		{ "smtp_listen = 1.2.3.4:99999\n", ":1: smtp_listen: bad port \"99999\"" },
		{ "smtp_listen = [::g]:25\n", ":1: smtp_listen: bad IPv6 address \"::g\"" },
		{ "log_level = verbose\n", ":1: log_level: bad log level \"verbose\"" },
		{ "hostname = mx example\n", ":1: hostname: bad hostname \"mx example\"" },
		{ "postmaster_address = root\n",
		  ":1: postmaster_address: bad address \"root\" (local@domain)" },
		{ "postmaster_address = a b@example.org\n",
		  ":1: postmaster_address: bad address \"a b@example.org\"" },
		{ "postmaster_address = <a@example.org>\n",
		  ":1: postmaster_address: bad address \"<a@example.org>\"" },
		{ "just a line\n", ":1: expected \"key = value\", got \"just a line\"" },
		{ " = 3\n", ":1: missing key before \"=\"" },
		{ "data_dir = /x\n", ":1: data_dir is set with -d, not here" },
		{ "x = 1\0\n", ":1: NUL byte in line" },
		{ "tls_cert = /a.pem\n", "tls_cert and tls_key must be set together" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);
		if (strstr(cases[i].error, "NUL") != NULL)
			len += 2; /* the embedded NUL and the newline */
		write_file(f, "other.conf", cases[i].text, len);
		const char *error = load_fail(f, path, NULL, 0);
		if (strstr(error, cases[i].error) == NULL)
			fail_msg("case %zu: got %s, want %s", i, error, cases[i].error);
		if (cases[i].error[0] == ':')
			assert_memory_equal(error, path, strlen(path));
	}
	/* exact text, as the brief gives it */
	write_conf(f, "other.conf", "smtp_lisen = x\n");
	assert_string_equal(load_fail(f, path, NULL, 0),
			    t_printf("%s:1: unknown key \"smtp_lisen\" (did you mean "
				     "smtp_listen?)", path));
	/* nothing near enough: no suggestion */
	write_conf(f, "other.conf", "frobnicate = x\n");
	assert_string_equal(load_fail(f, path, NULL, 0),
			    t_printf("%s:1: unknown key \"frobnicate\"", path));
}

static void test_file_limits(void **state)
{
	struct fixture *f = *state;
	const char *path = t_printf("%s/other.conf", f->dir);
	str_t text = STR_INIT;

	/* a 4096-byte line is fine, 4097 is not */
	str_appendz(&text, "# ");
	while (text.len < 4096)
		str_appendc(&text, 'x');
	str_appendz(&text, "\nworkers = 2\n");
	write_file(f, "other.conf", text.data, text.len);
	struct config *c = load_ok(f, path, NULL, 0);
	assert_int_equal(c->workers, 2);
	config_free(&c);

	str_clear(&text);
	str_appendz(&text, "workers = 1\nhostname = ");
	while (text.len < strlen("workers = 1\n") + 4097)
		str_appendc(&text, 'a');
	write_file(f, "other.conf", text.data, text.len);
	assert_string_equal(load_fail(f, path, NULL, 0),
			    t_printf("%s:2: line too long (max 4096 bytes)", path));

	/* 1 MiB of comments is fine, one byte more is not */
	str_clear(&text);
	while (text.len < 1024 * 1024)
		str_appendz(&text, "# 345678901234567890123456789012345678901234567890123456789012\n");
	str_truncate(&text, 1024 * 1024);
	write_file(f, "other.conf", text.data, text.len);
	c = load_ok(f, path, NULL, 0);
	config_free(&c);
	str_appendc(&text, '\n');
	write_file(f, "other.conf", text.data, text.len);
	assert_string_equal(load_fail(f, path, NULL, 0),
			    t_printf("%s: file too large (max 1048576 bytes)", path));
	str_free(&text);

	/* an explicit file must exist; the default one need not */
	const char *missing = t_printf("%s/missing.conf", f->dir);
	assert_string_equal(load_fail(f, missing, NULL, 0),
			    t_printf("%s: No such file or directory", missing));
	/* a directory is not a config file */
	assert_non_null(strstr(load_fail(f, f->dir, NULL, 0), f->dir));
}

static void test_override_errors(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(override_fail(f, "smtp_listen=1.2.3.4:99999"),
			    "-o smtp_listen: bad port \"99999\"");
	assert_string_equal(override_fail(f, "smtp_listen"),
			    "-o: expected key=value, got \"smtp_listen\"");
	assert_string_equal(override_fail(f, "smtp_lisen=1.2.3.4:25"),
			    "-o: unknown key \"smtp_lisen\" (did you mean smtp_listen?)");
	assert_string_equal(override_fail(f, "hostnme=x.example"),
			    "-o: unknown key \"hostnme\" (did you mean hostname?)");
	assert_string_equal(override_fail(f, "MAX_RECIPIENTS=3"),
			    "-o: unknown key \"MAX_RECIPIENTS\"");
	assert_string_equal(override_fail(f, "workers=many"),
			    "-o workers: bad number \"many\"");
	assert_string_equal(override_fail(f, "run_user=a\nb"),
			    "-o run_user: control character in value \"a\\x0ab\"");
	assert_string_equal(override_fail(f, "data_dir=/x"),
			    "-o: data_dir is set with -d, not here");

	/* a good override before a bad one still fails the load */
	const char *overrides[] = { "workers=2", "max_recipients=0" };
	assert_string_equal(load_fail(f, NULL, overrides, 2),
			    "-o max_recipients: number \"0\" out of range (1 to 4294967295)");

	struct config *c = NULL;
	const char *error = NULL;
	assert_int_equal(config_load(NULL, NULL, NULL, 0, &c, &error), -1);
	assert_null(c);
	assert_string_equal(error, "no data directory (-d)");
}

static void test_bool_size_duration(void **state)
{
	struct fixture *f = *state;
	static const struct { const char *override; uint64_t size; } sizes[] = {
		{ "message_size_limit=123", 123 },
		{ "message_size_limit=1k", 1024 },
		{ "message_size_limit=2K", 2048 },
		{ "message_size_limit=50M", 52428800 },
		{ "message_size_limit=3G", 3ull << 30 },
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct config *c = load_ok(f, NULL, &sizes[i].override, 1);
		assert_true(c->message_size_limit == sizes[i].size);
		config_free(&c);
	}
	static const struct { const char *override; unsigned secs; } durations[] = {
		{ "smtp_timeout=45", 45 }, { "smtp_timeout=45s", 45 },
		{ "smtp_timeout=2m", 120 }, { "smtp_timeout=2h", 7200 },
		{ "smtp_timeout=168h", 604800 }, { "smtp_timeout=2d", 172800 },
	};
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		struct config *c = load_ok(f, NULL, &durations[i].override, 1);
		assert_int_equal(c->smtp_timeout, durations[i].secs);
		config_free(&c);
	}
	static const struct { const char *override; bool value; } bools[] = {
		{ "allow_plaintext_auth=yes", true }, { "allow_plaintext_auth=no", false },
		{ "allow_plaintext_auth=true", true }, { "allow_plaintext_auth=false", false },
		{ "allow_plaintext_auth=1", true }, { "allow_plaintext_auth=0", false },
		{ "allow_plaintext_auth=True", true }, { "allow_plaintext_auth=NO", false },
	};
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		/* start from the opposite value so each case can fail */
		const char *overrides[] = {
			bools[i].value ? "allow_plaintext_auth=no" : "allow_plaintext_auth=yes",
			bools[i].override,
		};
		struct config *c = load_ok(f, NULL, overrides, 2);
		assert_int_equal(c->allow_plaintext_auth, bools[i].value);
		config_free(&c);
	}
	assert_string_equal(override_fail(f, "message_size_limit=M"),
			    "-o message_size_limit: bad size \"M\" (bytes, or with a k, M or G suffix)");
	assert_string_equal(override_fail(f, "message_size_limit=1.5M"),
			    "-o message_size_limit: bad size \"1.5M\" (bytes, or with a k, M or G suffix)");
	assert_string_equal(override_fail(f, "smtp_timeout=0"),
			    "-o smtp_timeout: duration \"0\" out of range (1 to 604800)");
	assert_string_equal(override_fail(f, "allow_plaintext_auth="),
			    "-o allow_plaintext_auth: bad bool \"\" (yes or no)");
}

static void test_listen_parse(void **state)
{
	(void)state;
	struct config_listen_list list;
	const char *error = NULL;

	assert_int_equal(config_parse_listen("", &list, &error), 0);
	assert_int_equal(list.count, 0);
	assert_int_equal(config_parse_listen("  ", &list, &error), 0);
	assert_int_equal(list.count, 0);
	assert_int_equal(config_parse_listen("10.0.0.1:1,[2001:db8::1]:65535",
					     &list, &error), 0);
	assert_int_equal(list.count, 2);
	assert_listen(&list.items[0], AF_INET, "10.0.0.1", 1, "10.0.0.1:1");
	assert_listen(&list.items[1], AF_INET6, "2001:db8::1", 65535,
		      "[2001:db8::1]:65535");

	/* exactly CONFIG_MAX_LISTEN entries fit; one more does not */
	str_t many = STR_INIT;
	for (unsigned i = 0; i < CONFIG_MAX_LISTEN; i++)
		str_printf(&many, "%s127.0.0.1:%u", i > 0 ? "," : "", 1000 + i);
	assert_int_equal(config_parse_listen(many.data, &list, &error), 0);
	assert_int_equal(list.count, CONFIG_MAX_LISTEN);
	str_appendz(&many, ",127.0.0.1:2000");
	assert_int_equal(config_parse_listen(many.data, &list, &error), -1);
	assert_string_equal(error, "too many listen addresses (max 8)");
	str_free(&many);

	static const struct { const char *value, *error; } bad[] = {
		{ "1.2.3.4:0", "bad port \"0\"" },
		{ "1.2.3.4:65536", "bad port \"65536\"" },
		{ "1.2.3.4:", "bad port \"\"" },
		{ "1.2.3.4:+25", "bad port \"+25\"" },
		{ "1.2.3.4", "missing port in \"1.2.3.4\"" },
		{ "localhost:25", "bad IPv4 address \"localhost\"" },
		{ "*:25", "bad IPv4 address \"*\"" },
		{ ":25", "bad IPv4 address \"\"" },
		{ "1.2.3.256:25", "bad IPv4 address \"1.2.3.256\"" },
		{ "::1:25", "bad listen address \"::1:25\" (write IPv6 as [addr]:port)" },
		{ "[::1]", "bad listen address \"[::1]\" (expected [IPv6]:port)" },
		{ "[::1]25", "bad listen address \"[::1]25\" (expected [IPv6]:port)" },
		{ "[::1:25", "bad listen address \"[::1:25\" (expected [IPv6]:port)" },
		{ "[1.2.3.4]:25", "bad IPv6 address \"1.2.3.4\"" },
		{ "[fe80::1%eth0]:25", "bad IPv6 address \"fe80::1%eth0\"" },
		{ "[]:25", "bad IPv6 address \"\"" },
		{ "1.2.3.4:25,", "empty entry in listen list" },
		{ "1.2.3.4:25,,1.2.3.4:26", "empty entry in listen list" },
		{ ",1.2.3.4:25", "empty entry in listen list" },
		/* 80 bytes: longer than any valid entry, and than text[] */
		{ "[0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:01]:65535",
		  "listen address too long" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		list.count = 99;
		error = NULL;
		assert_int_equal(config_parse_listen(bad[i].value, &list, &error), -1);
		if (strstr(error, bad[i].error) != error)
			fail_msg("%s: got %s, want %s", bad[i].value, error, bad[i].error);
		assert_int_equal(list.count, 99); /* untouched on error */
	}
}

static void test_dump_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *overrides[] = {
		"hostname=mx.example.org", "smtp_listen=127.0.0.1:2525,[::1]:2525",
		"imaps_listen=", "tls_cert=/etc/c.pem", "tls_key=/etc/c.key",
		"message_size_limit=1M", "smtp_timeout=10m", "workers=2",
		"allow_plaintext_auth=true", "log_level=warn",
		"postmaster_address=admin@example.org",
	};
	struct config *c = load_ok(f, NULL, overrides, 11);
	str_t dump = STR_INIT, dump2 = STR_INIT;
	config_dump(c, &dump);

	assert_non_null(strstr(dump.data, t_printf("# data_dir = %s (set with -d)\n", f->dir)));
	assert_non_null(strstr(dump.data, "\nhostname = mx.example.org\n"));
	assert_non_null(strstr(dump.data, "\nsmtp_listen = 127.0.0.1:2525,[::1]:2525\n"));
	assert_non_null(strstr(dump.data, "\npop3_listen = 0.0.0.0:110,[::]:110\n"));
	assert_non_null(strstr(dump.data, "\nimaps_listen =\n"));
	assert_non_null(strstr(dump.data, "\nmessage_size_limit = 1048576\n"));
	assert_non_null(strstr(dump.data, "\nsmtp_timeout = 600\n"));
	assert_non_null(strstr(dump.data, "\nallow_plaintext_auth = yes\n"));
	assert_non_null(strstr(dump.data, "\nlog_level = warn\n"));
	assert_non_null(strstr(dump.data, "\nsandbox = yes\n"));
	/* one line per key plus the data_dir comment; config_dump_keys()
	 * gives each key one unindented line */
	str_t keys = STR_INIT;
	config_dump_keys(&keys);
	size_t lines = 0, key_count = 0;
	for (size_t i = 0; i < dump.len; i++)
		lines += dump.data[i] == '\n';
	for (size_t i = 0; i < keys.len; i++)
		key_count += (i == 0 || keys.data[i - 1] == '\n') && keys.data[i] != ' ';
	str_free(&keys);
	assert_true(key_count >= 23);
	assert_int_equal(lines, key_count + 1);
	assert_non_null(strstr(dump.data, "\npostmaster_address = admin@example.org\n"));

	const char *path = write_file(f, "dump.conf", dump.data, dump.len);
	struct config *c2 = load_ok(f, path, NULL, 0);
	config_dump(c2, &dump2);
	assert_string_equal(dump.data, dump2.data);
	assert_int_equal(c2->smtp_listen.count, 2);
	assert_memory_equal(&c2->smtp_listen, &c->smtp_listen, sizeof(c->smtp_listen));
	assert_true(c2->message_size_limit == c->message_size_limit);
	assert_int_equal(c2->smtp_timeout, c->smtp_timeout);
	assert_true(c2->allow_plaintext_auth);
	config_free(&c);
	config_free(&c2);

	/* the dump of the defaults round-trips too */
	c = load_ok(f, NULL, NULL, 0);
	str_clear(&dump);
	str_clear(&dump2);
	config_dump(c, &dump);
	path = write_file(f, "dump.conf", dump.data, dump.len);
	c2 = load_ok(f, path, NULL, 0);
	config_dump(c2, &dump2);
	assert_string_equal(dump.data, dump2.data);
	config_free(&c);
	config_free(&c2);
	str_free(&dump);
	str_free(&dump2);
}

/* A key given twice in one file would silently take the later value: an
 * error naming both lines. -o may repeat a key (the last wins), and a
 * file key overridden by -o is not a duplicate. */
static void test_duplicate_key(void **state)
{
	struct fixture *f = *state;
	const char *path = write_conf(f, "other.conf",
				      "max_recipients = 5\n# x\nworkers = 2\n"
				      "  max_recipients=7\n");
	assert_string_equal(load_fail(f, path, NULL, 0),
			    t_printf("%s:4: max_recipients is set twice, on lines 1 "
				     "and 4 (keep one)", path));
	path = write_conf(f, "other.conf", "max_recipients = 5\n");
	const char *overrides[] = { "max_recipients=6", "max_recipients=8" };
	struct config *c = load_ok(f, path, overrides, 2);
	assert_int_equal(c->max_recipients, 8);
	config_free(&c);
}

static void test_suggest(void **state)
{
	(void)state;
	static const char *const names[] = { "smtp_listen", "pop3_listen",
					     "smtp_timeout", "workers" };
	assert_int_equal(suggest_distance("", ""), 0);
	assert_int_equal(suggest_distance("abc", ""), 3);
	assert_int_equal(suggest_distance("kitten", "sitting"), 3);
	assert_int_equal(suggest_distance("smtp_lisen", "smtp_listen"), 1);
	assert_int_equal(suggest_distance("wokrers", "workers"), 2);
	assert_string_equal(suggest_nearest("smtp_lisen", names, 4), "smtp_listen");
	assert_string_equal(suggest_nearest("pop_listen", names, 4), "pop3_listen");
	assert_string_equal(suggest_nearest("smtp_timout", names, 4), "smtp_timeout");
	assert_string_equal(suggest_nearest("worker", names, 4), "workers");
	assert_null(suggest_nearest("frobnicate", names, 4));
	assert_null(suggest_nearest("x", names, 4));
	/* a long word is never compared: bounded work */
	char long_word[200];
	memset(long_word, 'a', sizeof(long_word) - 1);
	long_word[sizeof(long_word) - 1] = '\0';
	assert_true(suggest_distance(long_word, "a") == SIZE_MAX);
	assert_null(suggest_nearest(long_word, names, 4));
}

static void test_show(void **state)
{
	struct fixture *f = *state;
	const char *overrides[] = { "hostname=mx.example.org", "workers=3",
				    "smtp_listen=127.0.0.1:2525",
				    "message_size_limit=50M" /* the default */ };
	struct config *c = load_ok(f, NULL, overrides, 4);
	str_t out = STR_INIT;
	const char *error;

	assert_int_equal(config_show(c, NULL, 0, true, &out, &error), 0);
	assert_string_equal(str_c(&out), "hostname = mx.example.org\n"
			    "smtp_listen = 127.0.0.1:2525\nworkers = 3\n");
	str_clear(&out);
	const char *names[] = { "workers", "pop3_listen", "data_dir" };
	assert_int_equal(config_show(c, names, 3, false, &out, &error), 0);
	assert_string_equal(str_c(&out), t_printf("workers = 3\n"
			    "pop3_listen = 0.0.0.0:110,[::]:110\ndata_dir = %s\n", f->dir));
	str_clear(&out);
	assert_int_equal(config_show(c, names, 2, true, &out, &error), 0);
	assert_string_equal(str_c(&out), "workers = 3\n");
	str_clear(&out);
	const char *bad[] = { "workers", "max_recipent" };
	assert_int_equal(config_show(c, bad, 2, false, &out, &error), -1);
	assert_string_equal(error, "unknown key \"max_recipent\" (did you mean max_recipients?)");
	assert_int_equal(out.len, 0);
	/* every key, in table order */
	assert_int_equal(config_show(c, NULL, 0, false, &out, &error), 0);
	str_t dump = STR_INIT;
	config_dump(c, &dump);
	assert_non_null(strstr(str_c(&dump), str_c(&out)));
	str_free(&dump);
	str_free(&out);
	config_free(&c);
}

static void test_hostname_fqdn(void **state)
{
	struct fixture *f = *state;
	assert_null(config_hostname_problem("mail.example.org"));
	assert_null(config_hostname_problem("mail.example.org."));
	assert_null(config_hostname_problem("a.b"));
	assert_string_equal(config_hostname_problem("mail"), "has no dot");
	assert_string_equal(config_hostname_problem("localhost"), "has no dot");
	assert_string_equal(config_hostname_problem("mail."), "has no dot");
	assert_non_null(strstr(config_hostname_problem("mx.localdomain"), "localdomain"));
	assert_non_null(strstr(config_hostname_problem("a.LOCALHOST"), "LOCALHOST"));
	assert_non_null(config_hostname_problem("192.168.1.5"));

	const char *o1[] = { "hostname=mail" };
	struct config *c = load_ok(f, NULL, o1, 1);
	const char *w = config_hostname_warning(c);
	assert_non_null(w);
	assert_non_null(strstr(w, "hostname \"mail\" is not a fully qualified domain name"));
	assert_non_null(strstr(w, "-o hostname=mail.example.org"));
	assert_non_null(strstr(w, t_printf("%s/postel.conf", f->dir)));
	config_free(&c);
	const char *o2[] = { "hostname=mx.example.org" };
	c = load_ok(f, NULL, o2, 1);
	assert_null(config_hostname_warning(c));
	config_free(&c);
}

static void test_restart_keys(void **state)
{
	struct fixture *f = *state;
	const char *o1[] = { "smtp_listen=127.0.0.1:25", "workers=2", "max_recipients=5" };
	const char *o2[] = { "smtp_listen=127.0.0.1:26", "workers=2", "max_recipients=9",
			     "imaps_listen=" };
	const char *o3[] = { "smtp_listen=127.0.0.1:25", "workers=4" };
	struct config *a = load_ok(f, NULL, o1, 3);
	struct config *b = load_ok(f, NULL, o2, 4);
	struct config *c = load_ok(f, NULL, o3, 2);
	assert_null(config_restart_keys(a, a));
	assert_string_equal(config_restart_keys(a, b), "smtp_listen,imaps_listen");
	assert_string_equal(config_restart_keys(a, c), "workers");
	config_free(&a);
	config_free(&b);
	config_free(&c);
}

static void test_dump_keys(void **state)
{
	(void)state;
	str_t out = STR_INIT;
	config_dump_keys(&out);
	assert_non_null(strstr(out.data, "smtp_listen (listen list, default 0.0.0.0:25,[::]:25)\n"));
	assert_non_null(strstr(out.data, "message_size_limit (size, default 50M)\n"));
	assert_non_null(strstr(out.data, "hostname (string, default computed)\n"));
	assert_non_null(strstr(out.data, "tls_cert (string, default empty)\n"));
	/* data_dir is not a file key */
	assert_null(strstr(out.data, "\ndata_dir ("));
	assert_memory_not_equal(out.data, "data_dir (", 10);
	str_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_parsing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overrides_win, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_override_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bool_size_duration, setup, teardown),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test_setup_teardown(test_dump_round_trip, setup, teardown),
		cmocka_unit_test(test_dump_keys),
		cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
		cmocka_unit_test(test_suggest),
		cmocka_unit_test_setup_teardown(test_show, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostname_fqdn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_keys, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
