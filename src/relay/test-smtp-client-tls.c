/* test-smtp-client-tls.c: the relay's SMTP client over TLS against the
 * fake server: STARTTLS with strict verification failing (nothing sent)
 * and opportunistic encrypting, a CA file that verifies and a second
 * connection that resumes the session, another name refused, implicit
 * TLS, a reply injected with the STARTTLS 220 discarded, AUTH PLAIN and
 * LOGIN only over TLS. */
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
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/tls.h"
#include "relay/smtp_client.h"
#include "relay/test-smtp-harness.h"

static const char *reply_auth_ok(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "AUTH", 4) == 0 ? "235 2.7.0 ok\r\n" : NULL;
}

static void test_starttls_strict_fails_opportunistic_encrypts(void **state)
{
	(void)state;
	/* the system CA store does not know the self-signed certificate */
	struct tls_case c;
	tls_case_init(&c, true, "secret body\n");

	struct fake_smtp f = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(c.t.server) };
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED,
					 .tls = c.client };
	tls_case_run(&c, &r, &f, true, &dest);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.5");
	assert_non_null(strstr(r.texts[0], "tls_verify"));
	/* nothing of the message went out */
	assert_null(strstr(str_c(&f.transcript), "MAIL"));
	assert_int_equal(f.data.len, 0);
	fake_smtp_free(&f);

	struct fake_smtp f2 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(c.t.server) };
	struct run r2 = { .after = AFTER_DESTROY };
	dest.tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	tls_case_run(&c, &r2, &f2, true, &dest);
	assert_int_equal(r2.codes[0], 250);
	assert_true(r2.tls);
	assert_true(r2.have_peer);
	assert_false(r2.verified); /* RFC 7435: logged, not deferred */
	assert_true(f2.tls_done);
	/* RFC 3207 4.2: EHLO again after the handshake */
	assert_non_null(strstr(str_c(&f2.transcript), "STARTTLS\r\nEHLO client.test\r\nMAIL"));
	assert_memory_equal(f2.data.data, "secret body\r\n.\r\n", f2.data.len);
	fake_smtp_free(&f2);
	tls_case_free(&c);
}

static void test_ca_file_verifies_and_resumes(void **state)
{
	(void)state;
	struct tls_case c;
	tls_case_init(&c, false, "x\n");
	/* one destination (host and port), two connections */
	struct fake_smtp f1 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(c.t.server),
				.sessions = 2 };
	fake_smtp_start(&f1);
	for (unsigned i = 0; i < 2; i++) {
		struct run r = { .after = AFTER_QUIT, .no_join = i == 0 };
		struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED,
						 .tls = c.client };
		tls_case_run(&c, &r, &f1, false, &dest);
		assert_int_equal(r.codes[0], 250);
		assert_true(r.verified);
		/* the second connection resumes the first one's session */
		assert_int_equal(r.resumed, i == 1);
	}
	assert_int_equal(f1.connections, 2);
	fake_smtp_free(&f1);
	assert_int_equal(conn_tls_client_cached(c.client), 1);

	/* the same certificate under another name does not verify */
	struct fake_smtp f = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(c.t.server) };
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED,
					 .tls = c.client, .host = "mx.other.test" };
	tls_case_run(&c, &r, &f, true, &dest);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.5");
	fake_smtp_free(&f);
	tls_case_free(&c);
}

static void test_auth_only_over_tls(void **state)
{
	(void)state;
	struct tls_case c;
	tls_case_init(&c, false, "x\n");

	/* no TLS: the password never goes out */
	struct fake_smtp f = { .ehlo = EHLO_TLS };
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE,
					 .auth_user = "alice", .auth_password = "secret" };
	tls_case_run(&c, &r, &f, true, &dest);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.0");
	assert_null(strstr(str_c(&f.transcript), "AUTH"));
	fake_smtp_free(&f);

	struct fake_smtp f2 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(c.t.server),
				.reply = reply_auth_ok };
	struct run r2 = { .after = AFTER_DESTROY };
	dest.tls_mode = SMTP_CLIENT_TLS_REQUIRED;
	dest.tls = c.client;
	tls_case_run(&c, &r2, &f2, true, &dest);
	assert_int_equal(r2.codes[0], 250);
	/* RFC 4616: base64("\0alice\0secret") */
	assert_non_null(strstr(str_c(&f2.transcript),
			       "STARTTLS\r\nEHLO client.test\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL"));
	fake_smtp_free(&f2);
	tls_case_free(&c);
}


/* the 220 and a forged EHLO reply in one segment */
static const char *reply_starttls_injected(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "STARTTLS", 8) == 0 ?
		"220 2.0.0 go\r\n250-fake\r\n250 SIZE 1\r\n" : NULL;
}

static void test_implicit_tls_and_starttls_injection(void **state)
{
	(void)state;
	struct tls_case c;
	tls_case_init(&c, false, "x\n");

	/* port 465 style: TLS from the first byte, verified */
	struct fake_smtp f = { .ssl_ctx = tls_ctx_ssl_ctx(c.t.server), .implicit_tls = true };
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_IMPLICIT, .tls = c.client };
	tls_case_run(&c, &r, &f, true, &dest);
	assert_int_equal(r.codes[0], 250);
	assert_true(r.tls && r.verified);
	assert_null(strstr(str_c(&f.transcript), "STARTTLS"));
	fake_smtp_free(&f);

	/* RFC 3207 4.2 / CVE-2011-0411 on the client side: a reply slipped
	 * in after the 220 before the handshake is not taken for the answer
	 * to the EHLO that follows the handshake */
	struct fake_smtp f2 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(c.t.server),
				.reply = reply_starttls_injected };
	struct run r2 = { .after = AFTER_DESTROY };
	dest.tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	tls_case_run(&c, &r2, &f2, true, &dest);
	assert_true(r2.tls);
	assert_int_equal(r2.codes[0], 250); /* not refused over "SIZE 1" */
	assert_non_null(strstr(str_c(&f2.transcript), "MAIL FROM"));
	fake_smtp_free(&f2);
	tls_case_free(&c);
}

/* RFC 4954 4 with LOGIN: "Username:", then "Password:" prompts */
static const char *reply_auth_login(struct fake_smtp *f, const char *line)
{
	unsigned *step = f->user;
	if (strncasecmp(line, "AUTH LOGIN", 10) == 0) {
		*step = 1;
		return "334 VXNlcm5hbWU6\r\n";
	}
	if (*step == 1) {
		*step = 2;
		return "334 UGFzc3dvcmQ6\r\n";
	}
	if (*step == 2) {
		*step = 3;
		return "235 2.7.0 ok\r\n";
	}
	return NULL;
}

static void test_auth_login(void **state)
{
	(void)state;
	struct tls_case c;
	tls_case_init(&c, false, "x\n");
	unsigned step = 0;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250-AUTH LOGIN\r\n250 STARTTLS\r\n",
			       .ssl_ctx = tls_ctx_ssl_ctx(c.t.server),
			       .reply = reply_auth_login, .user = &step };
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED, .tls = c.client,
					 .auth_user = "alice", .auth_password = "secret" };
	tls_case_run(&c, &r, &f, true, &dest);
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(step, 3);
	assert_non_null(strstr(str_c(&f.transcript),
			       "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nMAIL"));
	fake_smtp_free(&f);
	tls_case_free(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the fake server writes TLS to closed sockets */
	log_init("test-smtp-client-tls", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_starttls_strict_fails_opportunistic_encrypts),
		cmocka_unit_test(test_ca_file_verifies_and_resumes),
		cmocka_unit_test(test_auth_only_over_tls),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_implicit_tls_and_starttls_injection),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
