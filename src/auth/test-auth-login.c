/* test-auth-login.c: unit tests for auth_login.h on a real event loop and
 * thread pool: the account lookup and the password check come back from
 * the pool (PLAIN: pause, then finished; SCRAM client-first: pause, the
 * server-first challenge, then resume), and auth_login_abandon() during
 * a penalty wait (cancelled, no verdict, no callback) or with a job in
 * flight (no callback; the verdict still counts for the penalty); and
 * below it, sasl.h's split between the loop-side step and the work. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth_login.h"
#include "auth/authfail.h"
#include "auth/password.h"
#include "auth/sasl.h"
#include "auth/userdb.h"
#include "auth/test-userdb-dir.h"
#include "lib/ioloop.h"
#include "lib/threadpool.h"

#define IP "192.0.2.7"

static char test_dir[64];
static struct ioloop *loop;
static struct threadpool *pool;

/* What the protocol side saw, in order: 'p'ause, 'c'hallenge, 'r'esume,
 * 'f'inished. */
struct seen {
	char calls[16];
	unsigned n;
	enum auth_login_result result;
	bool paused;
	char challenge[256];
	struct auth_login *l;
};

static void seen_add(struct seen *s, char c)
{
	if (s->n + 1 < sizeof(s->calls))
		s->calls[s->n++] = c;
}

static void on_challenge(void *ctx, const unsigned char *data, size_t len, bool final)
{
	struct seen *s = ctx;
	(void)final;
	seen_add(s, 'c');
	snprintf(s->challenge, sizeof(s->challenge), "%.*s", (int)len, (const char *)data);
}

static void on_pause(void *ctx)
{
	seen_add(ctx, 'p');
}

static void on_resume(void *ctx)
{
	seen_add(ctx, 'r');
	ioloop_stop(loop);
}

static void on_finished(void *ctx, enum auth_login_result result, const char *user,
			bool paused)
{
	struct seen *s = ctx;
	(void)user;
	seen_add(s, 'f');
	s->result = result;
	s->paused = paused;
	auth_login_free(&s->l);
	ioloop_stop(loop);
}

static const struct auth_login_ops ops = {
	.challenge = on_challenge, .pause = on_pause, .resume = on_resume,
	.finished = on_finished,
};

static struct auth_login *start(struct seen *s, const char *mech)
{
	struct auth_login_env env = {
		.loop = loop, .pool = pool, .data_dir = test_dir, .ip = IP, .sid = "T1",
	};
	memset(s, 0, sizeof(*s));
	s->l = auth_login_start(&env, mech, mech, &ops, s);
	assert_non_null(s->l);
	return s->l;
}

static void on_deadline(void *ctx)
{
	bool *expired = ctx;
	*expired = true;
	ioloop_stop(loop);
}

/* Run the loop until something stops it or ms pass; true if it passed. */
static bool run_for(unsigned ms)
{
	bool expired = false;
	struct timeout *to = timeout_add(loop, ms, on_deadline, &expired);
	ioloop_run(loop);
	timeout_remove(&to);
	return expired;
}

static void step(struct auth_login *l, const char *data, size_t len)
{
	auth_login_step(l, true, (const unsigned char *)data, len);
}

#define PLAIN_ALICE_RIGHT "\0alice@example.org\0secret"
#define PLAIN_ALICE_WRONG "\0alice@example.org\0wrong"

static int setup(void **state)
{
	struct userdb *db;
	struct password_scram keys;
	const char *error = NULL;
	char *hash;
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/test-auth-login.XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	if (userdb_open(test_dir, &db, &error) < 0)
		fail_msg("userdb_open: %s", error);
	assert_int_equal(password_hash("secret", &hash, &error), 0);
	assert_int_equal(password_scram_generate("secret", &keys, &error), 0);
	assert_int_equal(userdb_user_add(db, "alice@example.org", hash, &keys, &error), 1);
	free(hash);
	userdb_close(&db);
	loop = ioloop_create();
	pool = threadpool_create(loop, 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	threadpool_destroy(&pool); /* its thread's accounts.db handle goes too */
	ioloop_destroy(&loop);
	test_userdb_dir_remove(test_dir);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	authfail_reset();
	return 0;
}

static void test_plain_checked_on_the_pool(void **state)
{
	struct seen s;
	(void)state;
	struct auth_login *l = start(&s, "PLAIN");
	step(l, PLAIN_ALICE_RIGHT, sizeof(PLAIN_ALICE_RIGHT) - 1);
	/* nothing answered from the step itself: lookup and check are out */
	assert_string_equal(s.calls, "p");
	assert_true(auth_login_busy(l));
	assert_false(run_for(10000));
	assert_string_equal(s.calls, "pf");
	assert_int_equal(s.result, AUTH_LOGIN_OK);
	assert_true(s.paused);
}

static void test_scram_first_looked_up_on_the_pool(void **state)
{
	struct seen s;
	(void)state;
	struct auth_login *l = start(&s, "SCRAM-SHA-256");
	step(l, "n,,n=alice@example.org,r=cn0nce", 31);
	assert_string_equal(s.calls, "p");
	assert_false(run_for(10000));
	/* the challenge first, then input again */
	assert_string_equal(s.calls, "pcr");
	assert_true(strncmp(s.challenge, "r=cn0nce", 8) == 0);
	assert_non_null(strstr(s.challenge, ",s="));
	assert_false(auth_login_busy(l));
	auth_login_free(&s.l);
}

static void test_abandon_in_penalty_wait(void **state)
{
	struct seen s;
	(void)state;
	uint64_t now = ioloop_now_ms(loop);
	for (unsigned i = 0; i < 2; i++) {
		authfail_begin(IP, "alice@example.org", now);
		authfail_end(IP, "alice@example.org", AUTHFAIL_VERDICT_FAILED, now);
	}
	struct auth_login *l = start(&s, "PLAIN");
	step(l, PLAIN_ALICE_RIGHT, sizeof(PLAIN_ALICE_RIGHT) - 1);
	assert_string_equal(s.calls, "p");
	auth_login_abandon(&s.l);
	assert_null(s.l);
	/* the 2 s wait is gone with it: nothing fires, nothing is checked */
	assert_true(run_for(2500));
	assert_string_equal(s.calls, "p");
	assert_int_equal(authfail_failures(IP, "alice@example.org", ioloop_now_ms(loop)), 2);
}

static void test_abandon_with_job_in_flight(void **state)
{
	struct seen s;
	(void)state;
	struct auth_login *l = start(&s, "PLAIN");
	step(l, PLAIN_ALICE_WRONG, sizeof(PLAIN_ALICE_WRONG) - 1);
	assert_string_equal(s.calls, "p");
	auth_login_abandon(&s.l);
	/* the job comes back to nobody; its verdict still counts */
	for (unsigned i = 0; i < 200; i++) {
		if (authfail_failures(IP, "alice@example.org", ioloop_now_ms(loop)) > 0)
			break;
		run_for(50);
	}
	assert_string_equal(s.calls, "p");
	assert_int_equal(authfail_failures(IP, "alice@example.org", ioloop_now_ms(loop)), 1);
}

/* The loop-side steps never read accounts.db: PLAIN hands out VERIFY
 * (lookup and check together), SCRAM's client-first hands out LOOKUP and
 * its server-first comes from the work, given a thread's own handle. */
static void test_account_reads_are_handed_out(void **state)
{
	(void)state;
	str_t challenge = STR_INIT;
	const char *error = NULL;
	struct sasl_server *srv = sasl_server_create("SCRAM-SHA-256");
	const char *cf = "n,,n=alice@example.org,r=abc";
	assert_int_equal(sasl_server_step(srv, true, (const unsigned char *)cf, strlen(cf),
					  &challenge, &error), SASL_LOOKUP);
	assert_int_equal(challenge.len, 0);
	/* the name is known before the lookup: the penalty is kept by it */
	assert_string_equal(sasl_server_attempt_user(srv), "alice@example.org");
	/* nothing more until the work is done */
	assert_int_equal(sasl_server_step(srv, true, (const unsigned char *)"x", 1,
					  &challenge, &error), SASL_FAIL);
	sasl_server_destroy(&srv);

	srv = sasl_server_create("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(srv, true, (const unsigned char *)cf, strlen(cf),
					  &challenge, &error), SASL_LOOKUP);
	assert_int_equal(sasl_server_work_finish(srv, &challenge, &error), SASL_FAIL);
	sasl_server_destroy(&srv);

	srv = sasl_server_create("SCRAM-SHA-256");
	assert_int_equal(sasl_server_step(srv, true, (const unsigned char *)cf, strlen(cf),
					  &challenge, &error), SASL_LOOKUP);
	struct userdb *mine = userdb_thread(test_dir, &error);
	assert_non_null(mine);
	sasl_server_work(srv, mine);
	assert_int_equal(sasl_server_work_finish(srv, &challenge, &error), SASL_CONTINUE);
	assert_true(strncmp(str_c(&challenge), "r=abc", 5) == 0);
	assert_non_null(strstr(str_c(&challenge), ",i="));
	sasl_server_destroy(&srv);

	srv = sasl_server_create("PLAIN");
	assert_int_equal(sasl_server_step(srv, true, (const unsigned char *)"\0alice@example.org\0secret",
					  25, &challenge, &error), SASL_VERIFY);
	assert_string_equal(sasl_server_attempt_user(srv), "alice@example.org");
	assert_null(sasl_server_user(srv));
	sasl_server_destroy(&srv);

	/* the thread's own handle, kept, and closed on request */
	assert_ptr_equal(userdb_thread(test_dir, &error), mine);
	userdb_thread_close();
	str_free(&challenge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_plain_checked_on_the_pool, reset),
		cmocka_unit_test_setup(test_scram_first_looked_up_on_the_pool, reset),
		cmocka_unit_test_setup(test_abandon_in_penalty_wait, reset),
		cmocka_unit_test_setup(test_abandon_with_job_in_flight, reset),
		cmocka_unit_test(test_account_reads_are_handed_out),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
