/* test-smtp-client.c: the relay's SMTP client against a scripted fake
 * server on loopback (test-smtp-fake.c): EHLO to HELO fallback,
 * pipelining, mixed per-recipient replies, SIZE and 8BITMIME refusals
 * before sending, dot-stuffing byte for byte, BDAT, per-command timeouts,
 * a reply flood, connection reuse with RSET, connect failure, STARTTLS
 * with strict verification failing and opportunistic succeeding, a CA
 * file that verifies with session resumption, and AUTH only over TLS. */
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
#include "relay/test-smtp-fake.h"

#define MAX_RCPT 8
#define SMTP_CLIENT_READ_CHUNK_TEST 65536

static const char *const one_rcpt[] = { "a@x.test" };

struct mem_source {
	const char *data;
	size_t len, pos, chunk;
};

static ssize_t mem_read(void *ctx, void *buf, size_t size)
{
	struct mem_source *m = ctx;
	size_t n = m->len - m->pos;
	if (n > m->chunk)
		n = m->chunk;
	if (n > size)
		n = size;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

enum after { AFTER_DESTROY, AFTER_QUIT, AFTER_SEND_NEXT };

struct run {
	struct ioloop *loop;
	struct smtp_client *c;
	struct timeout *guard;
	unsigned calls;
	enum after after;
	const struct smtp_client_message *next;
	/* of the last result */
	unsigned codes[MAX_RCPT];
	char enh[MAX_RCPT][16];
	char texts[MAX_RCPT][256];
	bool local[MAX_RCPT];
	unsigned final_code;
	char final_text[256];
	bool reusable, tls, verified, resumed, have_peer;
	bool no_join;     /* the fake serves another session after this */
};

static void on_guard(void *ctx)
{
	struct run *r = ctx;
	ioloop_stop(r->loop);
}

static void on_result(void *ctx, const struct smtp_client_result *res)
{
	struct run *r = ctx;
	r->calls++;
	for (unsigned i = 0; i < res->rcpt_count && i < MAX_RCPT; i++) {
		r->codes[i] = res->rcpt[i].code;
		snprintf(r->enh[i], sizeof(r->enh[i]), "%s", res->rcpt[i].enhanced);
		snprintf(r->texts[i], sizeof(r->texts[i]), "%s", res->rcpt[i].text);
		r->local[i] = res->rcpt[i].local;
	}
	r->final_code = res->final.code;
	snprintf(r->final_text, sizeof(r->final_text), "%s",
		 res->final.text != NULL ? res->final.text : "");
	r->reusable = res->reusable;
	r->tls = res->tls;
	r->have_peer = res->peer != NULL;
	r->verified = res->peer != NULL && res->peer->verified;
	r->resumed = res->peer != NULL && res->peer->resumed;
	if (r->after == AFTER_SEND_NEXT && r->next != NULL && res->reusable) {
		const struct smtp_client_message *m = r->next;
		r->next = NULL;
		assert_int_equal(smtp_client_send(r->c, m, on_result, r), 0);
		return;
	}
	if (r->after == AFTER_QUIT && res->reusable) {
		smtp_client_quit(&r->c);
		/* let QUIT go out and the client free itself */
		timeout_reset(r->guard, 500);
		return;
	}
	smtp_client_destroy(&r->c);
	ioloop_stop(r->loop);
}

static struct smtp_client_settings test_settings(void)
{
	struct smtp_client_settings set = {
		.helo_name = "client.test", .connect_ms = 2000, .greeting_ms = 2000,
		.mail_ms = 2000, .rcpt_ms = 2000, .data_ms = 2000,
		.data_block_ms = 2000, .data_end_ms = 2000,
	};
	return set;
}

struct msg_fixture {
	struct smtp_client_rcpt rcpts[MAX_RCPT];
	struct mem_source src;
	struct smtp_client_message msg;
};

static void msg_init(struct msg_fixture *m, const char *body, size_t chunk,
		     const char *const *rcpts, unsigned n)
{
	memset(m, 0, sizeof(*m));
	for (unsigned i = 0; i < n; i++)
		m->rcpts[i].address = rcpts[i];
	m->src = (struct mem_source){ .data = body, .len = strlen(body),
				      .chunk = chunk };
	m->msg = (struct smtp_client_message){
		.id = "Q1", .mail_from = "sender@client.test", .rcpts = m->rcpts,
		.rcpt_count = n,
		.source = { .read = mem_read, .ctx = &m->src, .size = strlen(body) },
	};
}

/* Runs one client to fake f until its result (and what after says). */
static void run_client(struct run *r, struct fake_smtp *f,
		       const struct smtp_client_settings *set,
		       struct smtp_client_dest *dest,
		       const struct smtp_client_message *msg)
{
	r->loop = ioloop_create();
	dest->ip = "127.0.0.1";
	if (dest->host == NULL)
		dest->host = "localhost";
	dest->port = f->port;
	const char *error = NULL;
	r->guard = timeout_add(r->loop, 10000, on_guard, r);
	r->c = smtp_client_start(r->loop, set, dest, msg, on_result, r, &error);
	assert_non_null(r->c);
	ioloop_run(r->loop);
	smtp_client_destroy(&r->c);
	timeout_remove(&r->guard);
	ioloop_destroy(&r->loop);
	if (!r->no_join)
		fake_smtp_join(f);
}

/* The plain case: start f, connect without TLS, run msg with set (NULL:
 * test_settings()). */
static void run_plain(struct run *r, struct fake_smtp *f,
		      const struct smtp_client_message *msg,
		      const struct smtp_client_settings *set)
{
	struct smtp_client_settings def = test_settings();
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE };
	fake_smtp_start(f);
	run_client(r, f, set != NULL ? set : &def, &dest, msg);
}

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
	msg_init(&m, "Subject: hi\n\nbody\n", 100, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY };
	run_plain(&r, &f, &m.msg, NULL);
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
	msg_init(&m, "x\n", 100, rcpts, 3);
	struct run r = { .after = AFTER_DESTROY };
	run_plain(&r, &f, &m.msg, NULL);
	assert_int_equal(r.codes[0], 550);
	assert_int_equal(r.codes[1], 250);
	assert_int_equal(r.codes[2], 451);
	assert_int_equal(f.mail_batch, 1);
	/* no DSN extension: no DSN parameters */
	assert_null(strstr(str_c(&f.transcript), "NOTIFY"));
	fake_smtp_free(&f);
}

static void test_size_and_8bit_refused_before_sending(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250 SIZE 10\r\n" };
	static const char *const rcpts[] = { "a@x.test", "b@x.test" };
	struct msg_fixture m;
	msg_init(&m, "this body is longer than ten octets\n", 100, rcpts, 2);
	struct run r = { .after = AFTER_QUIT };
	run_plain(&r, &f, &m.msg, NULL);
	assert_int_equal(r.codes[0], 552);
	assert_string_equal(r.enh[0], "5.3.4");
	assert_true(r.local[0]);
	assert_int_equal(r.codes[1], 552);
	assert_true(r.reusable);
	const char *t = str_c(&f.transcript);
	assert_null(strstr(t, "MAIL"));
	assert_non_null(strstr(t, "QUIT\r\n"));
	fake_smtp_free(&f);

	/* 8-bit content, no 8BITMIME: reported as needing conversion */
	struct fake_smtp f2 = { .ehlo = "250-fake\r\n250 PIPELINING\r\n" };
	msg_init(&m, "caf\xc3\xa9\n", 100, one_rcpt, 1);
	m.msg.source.eightbit = true;
	struct run r2 = { .after = AFTER_DESTROY };
	run_plain(&r2, &f2, &m.msg, NULL);
	assert_int_equal(r2.codes[0], 554);
	assert_string_equal(r2.enh[0], "5.6.3");
	assert_non_null(strstr(r2.texts[0], "conversion"));
	assert_null(strstr(str_c(&f2.transcript), "MAIL"));
	fake_smtp_free(&f2);
}

static void test_dot_stuffing_byte_exact(void **state)
{
	(void)state;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250 PIPELINING\r\n" };
	struct msg_fixture m;
	/* read 3 octets at a time: dots and line ends cross chunk edges */
	msg_init(&m, "a\n.b\r\n..c\n.\n\nlast.\n.", 3, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY };
	run_plain(&r, &f, &m.msg, NULL);
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
	msg_init(&m, "a\n.b\nend", 5, rcpts, 2);
	struct run r = { .after = AFTER_DESTROY };
	run_plain(&r, &f, &m.msg, NULL);
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
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct run r = { .after = AFTER_DESTROY };
	run_plain(&r, &f, &m.msg, NULL);
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


static const char *reply_auth_ok(struct fake_smtp *f, const char *line)
{
	(void)f;
	return strncasecmp(line, "AUTH", 4) == 0 ? "235 2.7.0 ok\r\n" : NULL;
}

/* A self-signed certificate for "localhost" made by lib/tls.c in a
 * temporary data directory; the server side of STARTTLS. */
struct tls_fixture {
	char dir[64];
	char ca_file[128];
	struct tls_ctx *server;
};

static void tls_fixture_init(struct tls_fixture *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/test-smtp-client.XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	const char *error = NULL;
	t->server = tls_ctx_create("", "", t->dir, "localhost", &error);
	assert_non_null(t->server);
	snprintf(t->ca_file, sizeof(t->ca_file), "%s/tls/selfsigned.crt", t->dir);
}

static void tls_fixture_free(struct tls_fixture *t)
{
	tls_ctx_destroy(&t->server);
	char path[160];
	snprintf(path, sizeof(path), "%s/tls/selfsigned.crt", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls/selfsigned.key", t->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls", t->dir);
	rmdir(path);
	rmdir(t->dir);
}

#define EHLO_TLS "250-fake\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"

static void test_starttls_strict_fails_opportunistic_encrypts(void **state)
{
	(void)state;
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	/* the system CA store does not know the self-signed certificate */
	struct conn_tls_client *sys = conn_tls_client_create(NULL, 8, &error);
	assert_non_null(sys);
	struct msg_fixture m;
	msg_init(&m, "secret body\n", 100, one_rcpt, 1);
	struct smtp_client_settings set = test_settings();

	struct fake_smtp f = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(t.server) };
	fake_smtp_start(&f);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED,
					 .tls = sys };
	run_client(&r, &f, &set, &dest, &m.msg);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.5");
	assert_non_null(strstr(r.texts[0], "tls_verify"));
	/* nothing of the message went out */
	assert_null(strstr(str_c(&f.transcript), "MAIL"));
	assert_int_equal(f.data.len, 0);
	fake_smtp_free(&f);

	struct fake_smtp f2 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(t.server) };
	fake_smtp_start(&f2);
	m.src.pos = 0;
	struct run r2 = { .after = AFTER_DESTROY };
	dest.tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	run_client(&r2, &f2, &set, &dest, &m.msg);
	assert_int_equal(r2.codes[0], 250);
	assert_true(r2.tls);
	assert_true(r2.have_peer);
	assert_false(r2.verified); /* RFC 7435: logged, not deferred */
	assert_true(f2.tls_done);
	/* RFC 3207 4.2: EHLO again after the handshake */
	assert_non_null(strstr(str_c(&f2.transcript), "STARTTLS\r\nEHLO client.test\r\nMAIL"));
	assert_memory_equal(f2.data.data, "secret body\r\n.\r\n", f2.data.len);
	fake_smtp_free(&f2);
	conn_tls_client_destroy(&sys);
	tls_fixture_free(&t);
}

static void test_ca_file_verifies_and_resumes(void **state)
{
	(void)state;
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	struct conn_tls_client *ca = conn_tls_client_create(t.ca_file, 2, &error);
	assert_non_null(ca);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct smtp_client_settings set = test_settings();
	/* one destination (host and port), two connections */
	struct fake_smtp f1 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(t.server),
				.sessions = 2 };
	fake_smtp_start(&f1);
	for (unsigned i = 0; i < 2; i++) {
		m.src.pos = 0;
		struct run r = { .after = AFTER_QUIT, .no_join = i == 0 };
		struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED,
						 .tls = ca };
		run_client(&r, &f1, &set, &dest, &m.msg);
		assert_int_equal(r.codes[0], 250);
		assert_true(r.verified);
		/* the second connection resumes the first one's session */
		assert_int_equal(r.resumed, i == 1);
	}
	assert_int_equal(f1.connections, 2);
	fake_smtp_free(&f1);
	assert_int_equal(conn_tls_client_cached(ca), 1);

	/* the same certificate under another name does not verify */
	struct fake_smtp f = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(t.server) };
	fake_smtp_start(&f);
	m.src.pos = 0;
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED,
					 .tls = ca, .host = "mx.other.test" };
	run_client(&r, &f, &set, &dest, &m.msg);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.5");
	fake_smtp_free(&f);
	conn_tls_client_destroy(&ca);
	tls_fixture_free(&t);
}

static void test_auth_only_over_tls(void **state)
{
	(void)state;
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	struct conn_tls_client *ca = conn_tls_client_create(t.ca_file, 2, &error);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct smtp_client_settings set = test_settings();

	/* no TLS: the password never goes out */
	struct fake_smtp f = { .ehlo = EHLO_TLS };
	fake_smtp_start(&f);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_NONE,
					 .auth_user = "alice", .auth_password = "secret" };
	run_client(&r, &f, &set, &dest, &m.msg);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.0");
	assert_null(strstr(str_c(&f.transcript), "AUTH"));
	fake_smtp_free(&f);

	struct fake_smtp f2 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(t.server),
				.reply = reply_auth_ok };
	fake_smtp_start(&f2);
	struct run r2 = { .after = AFTER_DESTROY };
	dest.tls_mode = SMTP_CLIENT_TLS_REQUIRED;
	dest.tls = ca;
	run_client(&r2, &f2, &set, &dest, &m.msg);
	assert_int_equal(r2.codes[0], 250);
	/* RFC 4616: base64("\0alice\0secret") */
	assert_non_null(strstr(str_c(&f2.transcript),
			       "STARTTLS\r\nEHLO client.test\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\nMAIL"));
	fake_smtp_free(&f2);
	conn_tls_client_destroy(&ca);
	tls_fixture_free(&t);
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
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	struct conn_tls_client *ca = conn_tls_client_create(t.ca_file, 2, &error);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct smtp_client_settings set = test_settings();

	/* port 465 style: TLS from the first byte, verified */
	struct fake_smtp f = { .ssl_ctx = tls_ctx_ssl_ctx(t.server), .implicit_tls = true };
	fake_smtp_start(&f);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_IMPLICIT, .tls = ca };
	run_client(&r, &f, &set, &dest, &m.msg);
	assert_int_equal(r.codes[0], 250);
	assert_true(r.tls && r.verified);
	assert_null(strstr(str_c(&f.transcript), "STARTTLS"));
	fake_smtp_free(&f);

	/* RFC 3207 4.2 / CVE-2011-0411 on the client side: a reply slipped
	 * in after the 220 before the handshake is not taken for the answer
	 * to the EHLO that follows the handshake */
	struct fake_smtp f2 = { .ehlo = EHLO_TLS, .ssl_ctx = tls_ctx_ssl_ctx(t.server),
				.reply = reply_starttls_injected };
	fake_smtp_start(&f2);
	m.src.pos = 0;
	struct run r2 = { .after = AFTER_DESTROY };
	dest.tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	run_client(&r2, &f2, &set, &dest, &m.msg);
	assert_true(r2.tls);
	assert_int_equal(r2.codes[0], 250); /* not refused over "SIZE 1" */
	assert_non_null(strstr(str_c(&f2.transcript), "MAIL FROM"));
	fake_smtp_free(&f2);
	conn_tls_client_destroy(&ca);
	tls_fixture_free(&t);
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
	msg_init(&m, "x\n", 100, rcpts, 2);
	struct run r = { .after = AFTER_QUIT };
	run_plain(&r, &f, &m.msg, NULL);
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
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	struct conn_tls_client *ca = conn_tls_client_create(t.ca_file, 2, &error);
	struct msg_fixture m;
	msg_init(&m, "x\n", 100, one_rcpt, 1);
	struct smtp_client_settings set = test_settings();
	unsigned step = 0;
	struct fake_smtp f = { .ehlo = "250-fake\r\n250-AUTH LOGIN\r\n250 STARTTLS\r\n",
			       .ssl_ctx = tls_ctx_ssl_ctx(t.server),
			       .reply = reply_auth_login, .user = &step };
	fake_smtp_start(&f);
	struct run r = { .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_REQUIRED, .tls = ca,
					 .auth_user = "alice", .auth_password = "secret" };
	run_client(&r, &f, &set, &dest, &m.msg);
	assert_int_equal(r.codes[0], 250);
	assert_int_equal(step, 3);
	assert_non_null(strstr(str_c(&f.transcript),
			       "AUTH LOGIN\r\nYWxpY2U=\r\nc2VjcmV0\r\nMAIL"));
	fake_smtp_free(&f);
	conn_tls_client_destroy(&ca);
	tls_fixture_free(&t);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the fake server writes TLS to closed sockets */
	log_init("test-smtp-client", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ehlo_falls_back_to_helo),
		cmocka_unit_test(test_pipelined_mixed_recipients),
		cmocka_unit_test(test_unpipelined_one_at_a_time),
		cmocka_unit_test(test_size_and_8bit_refused_before_sending),
		cmocka_unit_test(test_dot_stuffing_byte_exact),
		cmocka_unit_test(test_bdat_when_chunking),
		cmocka_unit_test(test_command_timeout),
		cmocka_unit_test(test_greeting_timeout),
		cmocka_unit_test(test_data_block_and_end_timeouts),
		cmocka_unit_test(test_reply_flood_is_bounded),
		cmocka_unit_test(test_connection_reused_with_rset),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_starttls_strict_fails_opportunistic_encrypts),
		cmocka_unit_test(test_ca_file_verifies_and_resumes),
		cmocka_unit_test(test_auth_only_over_tls),
		cmocka_unit_test(test_auth_login),
		cmocka_unit_test(test_implicit_tls_and_starttls_injection),
		cmocka_unit_test(test_pipelined_mail_refused),
		cmocka_unit_test(test_smtputf8_and_requiretls_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
