/* test-session.c: unit tests for the session base over a socketpair:
 * the job count keeps a closed session until its last job returns,
 * replaced strings, the per-command pool, draining every live session,
 * and the login and request deadlines (a slow sender is cut off, one at
 * the minimum rate is not). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "session/session.h"
#include "auth/auth_login.h"
#include "lib/ioloop.h"
#include "lib/threadpool.h"

struct fake_worker {
	unsigned ids, ended;
	const char *ended_ip; /* what ended() was given */
	bool ended_ip_is_conns;
	const struct session *s;
};

struct fake_session {
	struct session base;
	unsigned drains, login_timeouts, request_timeouts, closed_events;
	bool freed;
};

static const char *fake_new_id(void *ctx)
{
	struct fake_worker *w = ctx;
	return w->ids++ == 0 ? "S1" : "S2";
}

static void fake_ended(void *ctx, const char *peer_ip)
{
	struct fake_worker *w = ctx;
	w->ended++;
	w->ended_ip = peer_ip;
	/* the connection's own string, given while the connection is there */
	w->ended_ip_is_conns = w->s != NULL && w->s->conn != NULL &&
		peer_ip == conn_peer_ip(w->s->conn) && strcmp(peer_ip, "192.0.2.7") == 0;
}

static void fake_drain(struct session *base)
{
	((struct fake_session *)base)->drains++;
}

static void fake_login_timeout(struct session *base)
{
	((struct fake_session *)base)->login_timeouts++;
	conn_write(base->conn, "BYE login\r\n", 11);
}

static void fake_request_timeout(struct session *base)
{
	((struct fake_session *)base)->request_timeouts++;
	conn_write(base->conn, "BYE rate\r\n", 10);
}

static const struct session_vfuncs fake_vfuncs = {
	.drain = fake_drain,
	.login_timeout = fake_login_timeout,
	.request_timeout = fake_request_timeout,
};

static void fake_on_event(void *ctx, enum conn_event ev)
{
	struct fake_session *fs = ctx;
	if (ev != CONN_EV_CLOSED)
		return;
	fs->closed_events++;
	if (session_on_closed(&fs->base)) {
		session_deinit(&fs->base);
		fs->freed = true;
	}
	ioloop_stop(fs->base.env->loop);
}

struct harness {
	struct ioloop *loop;
	struct fake_worker worker;
	struct session_env env;
	struct fake_session fs;
	int peer;
};

static void harness_init(struct harness *h, unsigned idle_ms)
{
	memset(h, 0, sizeof(*h));
	h->loop = ioloop_create();
	h->env = (struct session_env){
		.loop = h->loop, .new_id = fake_new_id, .ended = fake_ended,
		.ctx = &h->worker,
	};
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	h->peer = sv[1];
	struct conn_settings cs = {
		.max_input = 4096, .max_output = 4096, .idle_timeout_ms = idle_ms,
		.handshake_timeout_ms = 1000, .alpn = "test", .peer_ip = "192.0.2.7",
	};
	struct session_settings set = {
		.conn = &cs, .cb = fake_on_event, .ctx = &h->fs,
	};
	session_init(&h->fs.base, &h->env, &fake_vfuncs, sv[0], SERVICE_POP3, &set);
	h->worker.s = &h->fs.base;
}

static void harness_deinit(struct harness *h)
{
	if (!h->fs.freed)
		session_deinit(&h->fs.base);
	if (h->peer >= 0)
		close(h->peer);
	ioloop_destroy(&h->loop);
}

static struct timeout *stop_to;

static void on_stop(void *ctx)
{
	timeout_remove(&stop_to);
	ioloop_stop(ctx);
}

/* run the loop for at most ms */
static void run_for(struct harness *h, unsigned ms)
{
	stop_to = timeout_add(h->loop, ms, on_stop, h->loop);
	ioloop_run(h->loop);
	timeout_remove(&stop_to);
}

static size_t peer_read(struct harness *h, char *buf, size_t size)
{
	ssize_t n = recv(h->peer, buf, size - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void test_init_fields(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	assert_string_equal(h.fs.base.sid, "S1");
	assert_string_equal(h.fs.base.peer_ip, "192.0.2.7");
	/* one copy per connection (issue 9 item 15): the connection's */
	assert_ptr_equal(h.fs.base.peer_ip, conn_peer_ip(h.fs.base.conn));
	assert_int_equal(h.fs.base.service, SERVICE_POP3);
	harness_deinit(&h);
	assert_int_equal(h.worker.ended, 1);
	/* session_deinit copies nothing: ended() before conn_destroy */
	assert_true(h.worker.ended_ip_is_conns);
}

/* A connection that closes while a job is out is freed only when the
 * last job has come back. */
static void test_jobs_keep_closed_session(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	session_job_begin(&h.fs.base);
	session_job_begin(&h.fs.base);
	close(h.peer);
	h.peer = -1;
	run_for(&h, 2000);
	assert_int_equal(h.fs.closed_events, 1);
	assert_false(h.fs.freed);
	assert_true(h.fs.base.destroy_when_done);
	session_job_end(&h.fs.base);
	assert_false(session_may_free(&h.fs.base));
	session_job_end(&h.fs.base);
	assert_true(session_may_free(&h.fs.base));
	session_deinit(&h.fs.base);
	h.fs.freed = true;
	harness_deinit(&h);
	assert_int_equal(h.worker.ended, 1);
}

static void login_pause(void *ctx)
{
	session_job_begin(ctx);
}

static void login_resume(void *ctx)
{
	session_job_end(ctx);
}

static void login_challenge(void *ctx, const unsigned char *data, size_t len, bool final)
{
	(void)ctx; (void)data; (void)len; (void)final;
}

static void login_finished(void *ctx, enum auth_login_result result, const char *user,
			   bool paused)
{
	(void)result; (void)user;
	if (paused)
		session_job_end(ctx);
}

/* session_login_abandon(): no login, nothing; a login whose check is out
 * on the pool gives its job count back and is gone, and its job then
 * comes back to nobody */
static void test_login_abandon(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	struct auth_login *login = NULL;
	session_login_abandon(&h.fs.base, &login);
	assert_int_equal(h.fs.base.jobs, 0);
	struct threadpool *pool = threadpool_create(h.loop, 1);
	static const struct auth_login_ops ops = {
		.challenge = login_challenge, .pause = login_pause,
		.resume = login_resume, .finished = login_finished,
	};
	struct auth_login_env env = {
		.loop = h.loop, .pool = pool, .data_dir = "/nonexistent-postel",
		.ip = "192.0.2.7", .sid = "S1",
	};
	login = auth_login_start(&env, "PLAIN", "PLAIN", &ops, &h.fs.base);
	assert_non_null(login);
	static const unsigned char plain[] = "\0alice@example.org\0secret";
	auth_login_step(login, true, plain, sizeof(plain) - 1);
	assert_true(auth_login_busy(login));
	assert_int_equal(h.fs.base.jobs, 1);
	session_login_abandon(&h.fs.base, &login);
	assert_null(login);
	assert_int_equal(h.fs.base.jobs, 0);
	run_for(&h, 200);
	assert_int_equal(h.fs.base.jobs, 0);
	threadpool_destroy(&pool);
	harness_deinit(&h);
}

static void test_str_set_replaces(void **state)
{
	(void)state;
	char *s = NULL;
	session_str_set(&s, "first.example", 5);
	assert_string_equal(s, "first");
	session_str_set(&s, "second", 6);
	assert_string_equal(s, "second");
	session_str_set(&s, NULL, 0);
	assert_null(s);
}

/* The command pool is emptied between commands, blocks and all (an idle
 * session holds none: issue 9 item 15), except while a job that may hold
 * its memory is out. */
static void test_command_pool_cleared(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	assert_int_equal(pool_allocated(h.fs.base.cmd_pool), 0);
	(void)pool_strdup(h.fs.base.cmd_pool, "abc");
	assert_true(pool_allocated(h.fs.base.cmd_pool) > 0);
	session_command_done(&h.fs.base);
	assert_int_equal(pool_allocated(h.fs.base.cmd_pool), 0);
	char *b = pool_strdup(h.fs.base.cmd_pool, "xyz");
	session_job_begin(&h.fs.base);
	session_command_done(&h.fs.base);
	char *c = pool_strdup(h.fs.base.cmd_pool, "kept");
	assert_ptr_not_equal(b, c);
	assert_string_equal(b, "xyz");
	session_job_end(&h.fs.base);
	harness_deinit(&h);
}

static void test_drain_all(void **state)
{
	(void)state;
	struct harness h1, h2;
	harness_init(&h1, 5000);
	harness_init(&h2, 5000);
	session_drain_all();
	assert_int_equal(h1.fs.drains, 1);
	assert_int_equal(h2.fs.drains, 1);
	assert_true(h1.fs.base.draining);
	harness_deinit(&h2);
	session_drain_all();
	assert_int_equal(h1.fs.drains, 2);
	assert_int_equal(h2.fs.drains, 1);
	harness_deinit(&h1);
}

static void test_login_deadline(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	session_login_deadline(&h.fs.base, 1);
	run_for(&h, 3000);
	assert_int_equal(h.fs.login_timeouts, 1);
	assert_true(h.fs.base.closing);
	char buf[64];
	peer_read(&h, buf, sizeof(buf));
	assert_string_equal(buf, "BYE login\r\n");
	harness_deinit(&h);
}

static void test_login_done_cancels(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	session_login_deadline(&h.fs.base, 1);
	session_login_done(&h.fs.base);
	run_for(&h, 1500);
	assert_int_equal(h.fs.login_timeouts, 0);
	assert_false(h.fs.base.closing);
	harness_deinit(&h);
}

/* 100 ms base and 1000 bytes/s: 100 bytes buy 100 ms more. */
static void test_request_deadline_grows_with_data(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	session_request_start(&h.fs.base, 100);
	run_for(&h, 60);
	session_request_progress(&h.fs.base, 100, 1000);
	run_for(&h, 100); /* 160 ms in: the deadline is at 200 */
	assert_int_equal(h.fs.request_timeouts, 0);
	run_for(&h, 300);
	assert_int_equal(h.fs.request_timeouts, 1);
	assert_true(h.fs.base.closing);
	harness_deinit(&h);
}

static void test_request_stop(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000);
	session_request_start(&h.fs.base, 50);
	session_request_stop(&h.fs.base);
	run_for(&h, 200);
	assert_int_equal(h.fs.request_timeouts, 0);
	harness_deinit(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_fields),
		cmocka_unit_test(test_jobs_keep_closed_session),
		cmocka_unit_test(test_str_set_replaces),
		cmocka_unit_test(test_login_abandon),
		cmocka_unit_test(test_command_pool_cleared),
		cmocka_unit_test(test_drain_all),
		cmocka_unit_test(test_login_deadline),
		cmocka_unit_test(test_login_done_cancels),
		cmocka_unit_test(test_request_deadline_grows_with_data),
		cmocka_unit_test(test_request_stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
