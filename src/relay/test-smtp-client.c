/* test-smtp-client.c: the relay's SMTP client against a scripted fake
 * server on loopback (test-smtp-fake.c), in plaintext: EHLO to HELO
 * fallback, pipelining, mixed per-recipient replies, SIZE, 8BITMIME,
 * SMTPUTF8 and REQUIRETLS refusals before sending, dot-stuffing byte for
 * byte, BDAT, per-command timeouts (greeting, MAIL, data block, final
 * dot, connect), a reply flood, connection reuse with RSET, connect
 * failure. The TLS paths are in test-smtp-client-tls.c. */
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

static const char *reply_no_ehlo(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "EHLO", 4) == 0 ? "502 5.5.2 no EHLO here\r\n" : NULL;
}

static void test_ehlo_falls_back_to_helo(void **state)
{
	(void)state;
	struct fake_smtp f = { .reply = reply_no_ehlo };
	struct msg_fixture m;
	struct run r;
	run_plain_body(&r, &f, &m, "Subject: hi\n\nbody\n", 100, one_rcpt, 1,
		       AFTER_DESTROY, NULL);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 250);
	assert_string_equal(r.enh[0], "2.0.0");
	const char *t = str_c(&f.transcript);
	assert_non_null(strstr(t, "EHLO client.test\r\nHELO client.test\r\nMAIL FROM:<sender@client.test>\r\n"));
	/* HELO: no ESMTP parameters */
	assert_null(strstr(t, "SIZE="));
	assert_int_equal(f.mail_batch, 1);
	fake_smtp_free(&f);
}

#define EHLO_PIPE "250-fake\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250 SIZE 100000\r\n"

static void test_pipelined_mixed_recipients(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = EHLO_PIPE };
	static const char *const rcpts[] = { "ok1@x.test", "temp@x.test",
					     "perm@x.test", "ok2@x.test" };
	struct msg_fixture m;
	msg_init(&m, "Subject: hi\n\nbody\n", 100, rcpts, 4);
	m.rcpts[0].notify = "SUCCESS,FAILURE";
	m.rcpts[0].orcpt = "rfc822;ok1@x.test";
	m.msg.envid = "QX1";
	m.msg.ret = "HDRS";
	struct run r = { .after = AFTER_DESTROY };
	run_plain(&r, &f, &m.msg, NULL);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(r.codes[1], 451);
	assert_string_equal(r.enh[1], "4.2.0");
	assert_int_equal(r.codes[2], 550);
	assert_string_equal(r.enh[2], "5.1.1");
	assert_string_equal(r.texts[2], "5.1.1 no such user");
	assert_int_equal(r.codes[3], 250);
	assert_string_equal(r.texts[3], "2.0.0 queued as FAKE");
	assert_int_equal(r.final_code, 250);
	/* MAIL, four RCPT and DATA in one group (RFC 2920) */
	assert_int_equal(f.mail_batch, 6);
	const char *t = str_c(&f.transcript);
	assert_non_null(strstr(t, "MAIL FROM:<sender@client.test> SIZE=18 RET=HDRS ENVID=QX1\r\n"));
	assert_non_null(strstr(t, "RCPT TO:<ok1@x.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;ok1@x.test\r\n"));
	fake_smtp_free(&f);
}

static void test_unpipelined_one_at_a_time(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250 8BITMIME\r\n" };
	static const char *const rcpts[] = { "perm@x.test", "ok@x.test", "temp@x.test" };
	struct msg_fixture m;
	struct run r;
	run_plain_body(&r, &f, &m, "x\n", 100, rcpts, 3,
		       AFTER_DESTROY, NULL);
	assert_int_equal(r.codes[0], 550);
	assert_int_equal(r.codes[1], 250);
	assert_int_equal(r.codes[2], 451);
	assert_int_equal(f.mail_batch, 1);
	/* no DSN extension: no DSN parameters */
	assert_null(strstr(str_c(&f.transcript), "NOTIFY"));
	fake_smtp_free(&f);
}

static void test_size_refused_8bit_converted(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250 SIZE 10\r\n" };
	static const char *const rcpts[] = { "a@x.test", "b@x.test" };
	struct msg_fixture m;
	struct run r;
	run_plain_body(&r, &f, &m, "this body is longer than ten octets\n", 100, rcpts, 2,
		       AFTER_QUIT, NULL);
	assert_int_equal(r.codes[0], 552);
	assert_string_equal(r.enh[0], "5.3.4");
	assert_true(r.local[0]);
	assert_int_equal(r.codes[1], 552);
	assert_true(r.reusable);
	const char *t = str_c(&f.transcript);
	assert_null(strstr(t, "MAIL"));
	assert_non_null(strstr(t, "QUIT\r\n"));
	fake_smtp_free(&f);

	/* 8-bit content, no 8BITMIME: converted to quoted-printable (RFC
	 * 6152 3), sent without BODY= (mime/mime_7bit.c) */
	struct fake_smtp f2 = { .ehlo = "250-fake\r\n250 PIPELINING\r\n" };
	msg_init(&m, "Subject: x\n\ncaf\xc3\xa9\n", 100, one_rcpt, 1);
	m.msg.source.eightbit = true;
	struct run r2 = { .after = AFTER_DESTROY };
	run_plain(&r2, &f2, &m.msg, NULL);
	assert_int_equal(r2.codes[0], 250);
	assert_non_null(strstr(str_c(&f2.transcript), "MAIL FROM:<sender@client.test>"));
	assert_null(strstr(str_c(&f2.transcript), "BODY="));
	assert_string_equal(str_c(&f2.data), "Subject: x\r\n"
			    "Content-Transfer-Encoding: quoted-printable\r\n"
			    "MIME-Version: 1.0\r\n\r\ncaf=C3=A9\r\n.\r\n");
	fake_smtp_free(&f2);
}

static void test_dot_stuffing_byte_exact(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250 PIPELINING\r\n" };
	struct msg_fixture m;
	/* read 3 octets at a time: dots and line ends cross chunk edges */
	struct run r;
	run_plain_body(&r, &f, &m, "a\n.b\r\n..c\n.\n\nlast.\n.", 3, one_rcpt, 1,
		       AFTER_DESTROY, NULL);
	assert_int_equal(r.codes[0], 250);
	const char want[] = "a\r\n..b\r\n...c\r\n..\r\n\r\nlast.\r\n..\r\n.\r\n";
	assert_int_equal(f.data.len, sizeof(want) - 1);
	assert_memory_equal(f.data.data, want, sizeof(want) - 1);
	fake_smtp_free(&f);
}

static void test_bdat_when_chunking(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250-PIPELINING\r\n250 CHUNKING\r\n" };
	static const char *const rcpts[] = { "a@x.test", "perm@x.test" };
	struct msg_fixture m;
	struct run r;
	run_plain_body(&r, &f, &m, "a\n.b\nend", 5, rcpts, 2,
		       AFTER_DESTROY, NULL);
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(r.codes[1], 550);
	/* no dot-stuffing with BDAT (RFC 3030 2), CRLF line ends */
	assert_memory_equal(f.data.data, "a\r\n.b\r\nend\r\n", f.data.len);
	assert_int_equal(f.data.len, 12);
	const char *t = str_c(&f.transcript);
	assert_null(strstr(t, "DATA"));
	assert_non_null(strstr(t, "BDAT 7\r\nBDAT 3\r\nBDAT 2 LAST\r\n"));
	assert_non_null(strstr(t, " LAST\r\n"));
	fake_smtp_free(&f);
}

static const char *reply_silent_mail(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "MAIL", 4) == 0 ? "" : NULL;
}

static void test_command_timeout(void **state)
{
	(void)state;
	struct fake_smtp f = { .reply = reply_silent_mail };
	fake_smtp_start(&f);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_settings set = test_settings();
	set.mail_ms = 300;
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE };
	struct ioloop *clock = ioloop_create();
	uint64_t t0 = ioloop_now_ms(clock);
	run_client(&r, &f, &set, &dest, &m.msg);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.4.2");
	assert_true(r.local[0]);
	assert_string_equal(r.texts[0], "timeout waiting for MAIL reply");
	assert_false(r.reusable);
	ioloop_destroy(&clock);
	(void)t0;
	fake_smtp_free(&f);
}

static void test_greeting_timeout(void **state)
{
	(void)state;
	struct fake_smtp f = { .greeting = "" };
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_settings set = test_settings();
	set.greeting_ms = 200;
	run_plain(&r, &f, &m.msg, &set);
	assert_int_equal(r.codes[0], 451);
	assert_non_null(strstr(r.texts[0], "timeout waiting for greeting"));
	fake_smtp_free(&f);
}

static void test_reply_flood_is_bounded(void **state)
{
	(void)state;
	/* 2,000 continuation lines: past the line count limit */
	str_t flood = STR_INIT;
	for (unsigned i = 0; i < 2000; i++)
		str_appendz(&flood, "250-FLOOD\r\n");
	str_appendz(&flood, "250 end\r\n");
	struct fake_smtp f = { .ehlo = str_c(&flood) };
	struct msg_fixture m;
	struct run r;
	run_plain_body(&r, &f, &m, "x\n", 100, one_rcpt, 1,
		       AFTER_DESTROY, NULL);
	assert_int_equal(r.codes[0], 451);
	assert_non_null(strstr(r.texts[0], "too many reply lines"));
	fake_smtp_free(&f);
	str_free(&flood);

	/* one endless line */
	str_t big = STR_INIT;
	str_appendz(&big, "220 ");
	for (unsigned i = 0; i < 5000; i++)
		str_appendz(&big, "xxxxxxxxxx");
	struct fake_smtp f2 = { .greeting = str_c(&big) };
	struct run r2 = { .after = AFTER_DESTROY };
	run_plain(&r2, &f2, &m.msg, NULL);
	assert_int_equal(r2.codes[0], 451);
	assert_non_null(strstr(r2.texts[0], "reply line too long"));
	fake_smtp_free(&f2);
	str_free(&big);
}

static void test_connection_reused_with_rset(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = EHLO_PIPE };
	static const char *const rcpts2[] = { "b@x.test", "perm@x.test" };
	struct msg_fixture m1, m2;
	msg_init(&m1, "one\n", 100, one_rcpt, 1);
	msg_init(&m2, "two\n", 100, rcpts2, 2);
	struct run r = { .after = AFTER_SEND_NEXT, .next = &m2.msg };
	run_plain(&r, &f, &m1.msg, NULL);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(r.codes[1], 550);
	assert_int_equal(f.connections, 1);
	assert_non_null(strstr(str_c(&f.transcript), "\r\nRSET\r\nMAIL FROM"));
	assert_memory_equal(f.data.data, "one\r\n.\r\ntwo\r\n.\r\n", f.data.len);
	fake_smtp_free(&f);
}

static void test_connect_refused(void **state)
{
	(void)state;
	/* a port that was just free: nothing listens there */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sl), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	unsigned port = ntohs(sin.sin_port);
	close(fd);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY, .loop = ioloop_create() };
	struct smtp_client_settings set = test_settings();
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE,
					 .host = "localhost", .ip = "127.0.0.1",
					 .port = port };
	const char *error = NULL;
	r.guard = timeout_add(r.loop, 10000, on_guard, &r);
	r.c = smtp_client_start(r.loop, &set, &dest, &m.msg, on_result, &r, &error);
	assert_non_null(r.c);
	ioloop_run(r.loop);
	timeout_remove(&r.guard);
	ioloop_destroy(&r.loop);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.4.1");
	assert_non_null(strstr(r.texts[0], "connect_failed"));
}


static const char *reply_mail_refused(struct fake_smtp *f, const char *line)
{
	(void)f;
	if (strncasecmp(line, "MAIL", 4) == 0)
		return "550 5.7.1 sender refused\r\n";
	if (strncasecmp(line, "RCPT", 4) == 0)
		return "503 5.5.1 no MAIL\r\n";
	if (strncasecmp(line, "DATA", 4) == 0)
		return "503 5.5.1 no valid recipients\r\n";
	return NULL;
}

static void test_pipelined_mail_refused(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = EHLO_PIPE, .reply = reply_mail_refused };
	static const char *const rcpts[] = { "a@x.test", "b@x.test" };
	struct msg_fixture m;
	struct run r;
	run_plain_body(&r, &f, &m, "x\n", 100, rcpts, 2,
		       AFTER_QUIT, NULL);
	/* every recipient gets the MAIL reply, not the 503s after it */
	assert_int_equal(r.codes[0], 550);
	assert_string_equal(r.enh[1], "5.7.1");
	assert_true(r.reusable);
	assert_int_equal(f.data.len, 0);
	fake_smtp_free(&f);
}

static void test_smtputf8_and_requiretls_refused(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = EHLO_PIPE, .sessions = 1 };
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	m.msg.source.smtputf8 = true;
	struct run r = { .after = AFTER_SEND_NEXT };
	struct msg_fixture m2;
	msg_init(&m2, "x\n", 100, one_rcpt, 1);
	m2.msg.requiretls = true;
	r.next = &m2.msg;
	run_plain(&r, &f, &m.msg, NULL);
	assert_int_equal(r.calls, 2);
	/* the last result: REQUIRETLS over plaintext (RFC 8689 4.2.1) */
	assert_int_equal(r.codes[0], 550);
	assert_string_equal(r.enh[0], "5.7.30");
	assert_null(strstr(str_c(&f.transcript), "MAIL"));
	fake_smtp_free(&f);
}


/* A listener whose accept queue is full: Linux drops further SYNs, so a
 * connect to it stays pending until the connect timeout. */
static void test_connect_timeout(void **state)
{
	(void)state;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sl), 0);
	assert_int_equal(listen(lfd, 0), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	int fill[4];
	unsigned nfill = 0;
	for (; nfill < 4; nfill++) {
		fill[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		(void)connect(fill[nfill], (struct sockaddr *)&sin, sl);
	}
	usleep(100 * 1000);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY, .loop = ioloop_create() };
	struct smtp_client_settings set = test_settings();
	set.connect_ms = 300;
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE,
					 .host = "localhost", .ip = "127.0.0.1",
					 .port = ntohs(sin.sin_port) };
	const char *error = NULL;
	r.guard = timeout_add(r.loop, 10000, on_guard, &r);
	r.c = smtp_client_start(r.loop, &set, &dest, &m.msg, on_result, &r, &error);
	assert_non_null(r.c);
	ioloop_run(r.loop);
	timeout_remove(&r.guard);
	ioloop_destroy(&r.loop);
	for (unsigned i = 0; i < nfill; i++)
		close(fill[i]);
	close(lfd);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.codes[0], 451);
	if (strstr(r.texts[0], "connect_timeout") == NULL)
		skip(); /* the kernel took the connection after all */
	assert_string_equal(r.enh[0], "4.4.1");
}


static const char *reply_silent_dot(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strcmp(line, ".\r\n") == 0 ? "" : NULL;
}

/* RFC 5321 4.5.3.2.5 and .6: a server that stops taking data, and one
 * that never answers the final dot */
static void test_data_block_and_end_timeouts(void **state)
{
	(void)state;
	/* 8 MiB: far more than the socket buffers hold */
	size_t big_len = 8u << 20;
	char *big = xmalloc(big_len + 1);
	for (size_t i = 0; i < big_len; i++)
		big[i] = i % 64 == 63 ? '\n' : 'x';
	big[big_len] = '\0';
	struct fake_smtp f = { .stall_data_ms = 1500 };
	struct msg_fixture m;
	msg_init(&m, big, SMTP_CLIENT_READ_CHUNK_TEST, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_settings set = test_settings();
	set.data_block_ms = 300;
	run_plain(&r, &f, &m.msg, &set);
	assert_int_equal(r.codes[0], 451);
	assert_non_null(strstr(r.texts[0], "timeout waiting for DATA block"));
	/* the client stopped reading the source: not all 8 MiB went out */
	assert_true(m.src.pos < big_len);
	fake_smtp_free(&f);
	free(big);

	struct fake_smtp f2 = { .reply = reply_silent_dot };
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct run r2 = { .after = AFTER_DESTROY };
	set = test_settings();
	set.data_end_ms = 300;
	run_plain(&r2, &f2, &m.msg, &set);
	assert_int_equal(r2.codes[0], 451);
	assert_string_equal(r2.enh[0], "4.4.2");
	assert_memory_equal(f2.data.data, "x\r\n.\r\n", f2.data.len);
	fake_smtp_free(&f2);
}


int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the fake server writes TLS to closed sockets */
	log_init("test-smtp-client", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_falls_back_to_helo),
		cmocka_unit_test(test_pipelined_mixed_recipients),
		cmocka_unit_test(test_unpipelined_one_at_a_time),
		cmocka_unit_test(test_size_refused_8bit_converted),
		cmocka_unit_test(test_dot_stuffing_byte_exact),
		cmocka_unit_test(test_bdat_when_chunking),
		cmocka_unit_test(test_command_timeout),
		cmocka_unit_test(test_greeting_timeout),
		cmocka_unit_test(test_data_block_and_end_timeouts),
		cmocka_unit_test(test_reply_flood_is_bounded),
		cmocka_unit_test(test_connection_reused_with_rset),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_pipelined_mail_refused),
		cmocka_unit_test(test_smtputf8_and_requiretls_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}


