/* test-smarthost.c: the relayhost keys: [host]:port parsing (587
 * STARTTLS by default, 465 implicit TLS), the password file refused when
 * others may read it, and the destination it gives the client against the
 * fake server: STARTTLS then AUTH then the mail, verified against
 * relayhost_ca_file; a relayhost without STARTTLS, or whose certificate
 * does not verify, never sees the credentials; a 535 to AUTH is flagged
 * in the result (auth_refused); the password file's errors name it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/tls.h"
#include "relay/smarthost.h"
#include "relay/smtp_client.h"
#include "relay/test-smtp-harness.h"

static void test_parse(void **state)
{
	(void)state;
	char *host = NULL;
	unsigned port = 0;
	const char *error = NULL;
	assert_int_equal(smarthost_parse("[smtp.example.net]:465", &host, &port, &error), 0);
	assert_string_equal(host, "smtp.example.net");
	assert_int_equal(port, 465);
	free(host);
	assert_int_equal(smarthost_parse("smtp.example.net", &host, &port, &error), 0);
	assert_int_equal(port, SMARTHOST_PORT_DEFAULT);
	free(host);
	assert_int_equal(smarthost_parse("[2001:db8::1]:2525", &host, &port, &error), 0);
	assert_string_equal(host, "2001:db8::1");
	assert_int_equal(port, 2525);
	free(host);
	static const char *const bad[] = { "[x", "x:0", "x:65536", "x:y", "[]:25",
					   "[x]25", "a b:25", "u@x:25", ":25" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(smarthost_parse(bad[i], &host, &port, &error), -1);
}

struct cfg_fixture {
	char dir[64], pw[128];
	struct config *config;
};

static int load(struct cfg_fixture *c, const char *relayhost, const char *ca,
		mode_t pw_mode, struct smarthost **sh_r, const char **error_r)
{
	snprintf(c->pw, sizeof(c->pw), "%s/relay.pw", c->dir);
	FILE *fp = fopen(c->pw, "w");
	assert_non_null(fp);
	fputs("s3cret pass\n", fp);
	fclose(fp);
	assert_int_equal(chmod(c->pw, pw_mode), 0);
	char o1[160], o2[160], o3[200];
	snprintf(o1, sizeof(o1), "relayhost=%s", relayhost);
	snprintf(o2, sizeof(o2), "relayhost_password_file=%s", c->pw);
	snprintf(o3, sizeof(o3), "relayhost_ca_file=%s", ca);
	const char *const ov[] = { o1, "relayhost_user=alice@example.org", o2, o3 };
	const char *error = NULL;
	assert_int_equal(config_load(c->dir, NULL, ov, 4, &c->config, &error), 0);
	int ret = smarthost_load(c->config, sh_r, error_r);
	config_free(&c->config);
	unlink(c->pw);
	return ret;
}

static void test_password_file(void **state)
{
	(void)state;
	struct cfg_fixture c;
	snprintf(c.dir, sizeof(c.dir), "/tmp/test-smarthost.XXXXXX");
	assert_non_null(mkdtemp(c.dir));
	struct smarthost *sh = NULL;
	const char *error = NULL;
	assert_int_equal(load(&c, "[mail.example.net]:465", "", 0640, &sh, &error), 0);
	assert_non_null(sh);
	assert_true(sh->implicit_tls);
	assert_string_equal(sh->password, "s3cret pass");
	assert_string_equal(sh->user, "alice@example.org");
	smarthost_free(&sh);
	/* readable by others: refused, never used */
	assert_int_equal(load(&c, "[mail.example.net]:587", "", 0644, &sh, &error), -1);
	assert_null(sh);
	assert_non_null(strstr(error, "others"));
	/* the error names the file and its mode, for `postel config check` */
	assert_non_null(strstr(error, c.pw));
	assert_non_null(strstr(error, "0644"));
	assert_int_equal(load(&c, "[mail.example.net", "", 0600, &sh, &error), -1);

	/* a missing file: its name and why; smarthost_check says the same */
	char o2[160];
	snprintf(o2, sizeof(o2), "relayhost_password_file=%s/missing.pw", c.dir);
	const char *const ov[] = { "relayhost=[mail.example.net]:2525",
				   "relayhost_user=alice@example.org", o2 };
	assert_int_equal(config_load(c.dir, NULL, ov, 3, &c.config, &error), 0);
	assert_int_equal(smarthost_check(c.config, &error), -1);
	assert_non_null(strstr(error, "missing.pw"));
	assert_non_null(strstr(error, "No such file"));
	config_free(&c.config);

	/* relayhost_implicit_tls: implicit TLS on a port other than 465 */
	const char *const ov2[] = { "relayhost=[mail.example.net]:2525",
				    "relayhost_implicit_tls=yes" };
	assert_int_equal(config_load(c.dir, NULL, ov2, 2, &c.config, &error), 0);
	assert_int_equal(smarthost_load(c.config, &sh, &error), 0);
	assert_true(sh->implicit_tls);
	assert_int_equal(sh->port, 2525);
	assert_null(sh->user);
	struct smtp_client_dest dest;
	smarthost_dest(sh, "127.0.0.1", NULL, &dest);
	assert_int_equal(dest.tls_mode, SMTP_CLIENT_TLS_IMPLICIT);
	smarthost_free(&sh);
	assert_int_equal(smarthost_check(c.config, &error), 0);
	config_free(&c.config);
	rmdir(c.dir);
}

static const char *reply_auth_ok(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "AUTH", 4) == 0 ? "235 2.7.0 ok\r\n" : NULL;
}

static const char *reply_auth_refused(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "AUTH", 4) == 0 ?
		"535 5.7.8 authentication credentials invalid\r\n" : NULL;
}

static const char *(*relay_auth_reply)(struct fake_smtp *f, const char *line) =
	reply_auth_ok;

static void relay_once(struct tls_fixture *t, const char *ehlo, const char *ca,
		       struct run *r, struct fake_smtp *f)
{
	struct cfg_fixture c;
	snprintf(c.dir, sizeof(c.dir), "/tmp/test-smarthost.XXXXXX");
	assert_non_null(mkdtemp(c.dir));
	struct smarthost *sh = NULL;
	const char *error = NULL;
	assert_int_equal(load(&c, "[localhost]:587", ca, 0640, &sh, &error), 0);
	rmdir(c.dir);
	assert_false(sh->implicit_tls);
	struct conn_tls_client *tls = conn_tls_client_create(smarthost_ca_file(sh), 2,
							     &error);
	assert_non_null(tls);
	struct smtp_client_dest dest;
	smarthost_dest(sh, "127.0.0.1", tls, &dest);
	assert_int_equal(dest.tls_mode, SMTP_CLIENT_TLS_REQUIRED);
	struct msg_fixture m;
	msg_init(&m, "via smarthost\n", 100, one_rcpt, 1);
	struct smtp_client_settings set = test_settings();
	*f = (struct fake_smtp){ .ehlo = ehlo, .ssl_ctx = tls_ctx_ssl_ctx(t->server),
				 .reply = relay_auth_reply };
	fake_smtp_start(f);
	*r = (struct run){ .after = AFTER_DESTROY };
	run_client(r, f, &set, &dest, &m.msg);
	conn_tls_client_destroy(&tls);
	smarthost_free(&sh);
}

static void test_relay_tls_then_auth(void **state)
{
	(void)state;
	struct tls_fixture t;
	tls_fixture_init(&t);
	struct run r;
	struct fake_smtp f;
	/* "czNjcmV0IHBhc3M=" would be the password in base64 */
	relay_once(&t, EHLO_TLS, t.ca_file, &r, &f);
	if (r.codes[0] != 250)
		fprintf(stderr, "%s\n%s\n", r.texts[0], str_c(&f.transcript));
	assert_int_equal(r.codes[0], 250);
	assert_true(r.tls && r.verified);
	const char *tr = str_c(&f.transcript);
	const char *st = strstr(tr, "STARTTLS\r\n"), *auth = strstr(tr, "AUTH PLAIN");
	assert_non_null(st);
	assert_non_null(auth);
	assert_true(st < auth);
	assert_memory_equal(f.data.data, "via smarthost\r\n.\r\n", f.data.len);
	assert_false(r.auth_refused);
	fake_smtp_free(&f);

	/* 535 to AUTH: the result says so (the runner defers on it), no MAIL */
	relay_auth_reply = reply_auth_refused;
	relay_once(&t, EHLO_TLS, t.ca_file, &r, &f);
	relay_auth_reply = reply_auth_ok;
	assert_true(r.auth_refused);
	assert_int_equal(r.final_code, 535);
	assert_int_equal(r.codes[0], 535);
	assert_null(strstr(str_c(&f.transcript), "MAIL"));
	fake_smtp_free(&f);

	/* no STARTTLS offered: no AUTH, no mail */
	relay_once(&t, "250-fake\r\n250 AUTH PLAIN LOGIN\r\n", t.ca_file, &r, &f);
	assert_int_equal(r.codes[0] / 100, 4);
	assert_null(strstr(str_c(&f.transcript), "AUTH"));
	assert_null(strstr(str_c(&f.transcript), "MAIL"));
	fake_smtp_free(&f);

	/* the system store does not know the certificate: no AUTH either */
	relay_once(&t, EHLO_TLS, "", &r, &f);
	assert_int_equal(r.codes[0], 451);
	assert_non_null(strstr(r.texts[0], "tls_verify"));
	assert_null(strstr(str_c(&f.transcript), "AUTH"));
	fake_smtp_free(&f);
	tls_fixture_free(&t);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("test-smarthost", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_password_file),
		cmocka_unit_test(test_relay_tls_then_auth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
