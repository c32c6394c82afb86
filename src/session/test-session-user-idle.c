/* test-session-user-idle.c: the user cache (session_user.h) between
 * sessions, counted, every wait bounded (WAIT_MS):
 *   - an idle user is closed on its lane after the idle time;
 *   - past SESSION_USER_IDLE_MAX idle users the least recently used is
 *     closed first, the newest stays open;
 *   - a handle that cannot be opened gives work NULL, and the next job
 *     tries again;
 *   - 300 users each find their own entry (any case), and users that
 *     never opened are forgotten at their last put;
 *   - a user whose sessions rest has its handle closed after the quiet
 *     time (the entry stays, the next job opens it again), never while a
 *     session holds it. */
#include "session/test-session-user.h"

/* ---- idle users ---- */

static void nop_work(void *ctx, struct store *store)
{
	(void)ctx;
	(void)store;
}

static void count_done(void *ctx)
{
	(*(unsigned *)ctx)++;
}

/* a session of addr runs one job and goes */
static void visit(struct fixture *f, const char *addr, unsigned *dones)
{
	unsigned want = *dones + 1;
	struct session_user *u = session_user_get(&f->env, addr);
	assert_int_equal(session_user_run(u, NULL, nop_work, count_done, dones), 0);
	assert_true(wait_count(f, dones, want));
	session_user_put(&u);
}

/* run the loop until closes handles were closed and users are left */
static void wait_closes(struct fixture *f, struct session_user_stats *st,
			uint64_t closes, unsigned users)
{
	session_user_stats_get(&f->env, st);
	for (unsigned i = 0; i < WAIT_MS / 5 && (st->users > users || st->closes < closes); i++) {
		pump(f);
		session_user_stats_get(&f->env, st);
	}
}

static void test_idle_timeout_closes(void **state)
{
	struct fixture *f = *state;
	unsigned dones = 0;
	session_user_cache_set_idle_ms(f->env.users, 50);
	visit(f, ALICE, &dones);
	struct session_user_stats st;
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.idle, 1);
	/* closed on the lane once the idle time passed, then forgotten */
	wait_closes(f, &st, 1, 0);
	assert_int_equal(st.users, 0);
	assert_int_equal(st.idle, 0);
	assert_int_equal(st.closes, 1);
	assert_int_equal(st.evictions, 1);
}

static void test_idle_lru_bound(void **state)
{
	struct fixture *f = *state;
	unsigned dones = 0, n = SESSION_USER_IDLE_MAX + 1;
	struct session_user_stats st;
	for (unsigned i = 0; i < n; i++)
		visit(f, t_printf("user%u@example.org", i), &dones);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, n);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.idle, SESSION_USER_IDLE_MAX);
	wait_closes(f, &st, 1, SESSION_USER_IDLE_MAX);
	assert_int_equal(st.closes, 1);
	assert_int_equal(st.users, SESSION_USER_IDLE_MAX);
	/* the newest is still open; the oldest (user0) must open again */
	visit(f, t_printf("user%u@example.org", n - 1), &dones);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, n);
	visit(f, "user0@example.org", &dones);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, n + 1);
}

/* ---- resting sessions ---- */

/* run the loop for ms (the quiet timer must not fire meanwhile) */
static void pump_for(struct fixture *f, unsigned ms)
{
	for (unsigned i = 0; i < ms / 5; i++)
		pump(f);
}

static void test_quiet_close_under_resting_sessions(void **state)
{
	struct fixture *f = *state;
	unsigned dones = 0;
	struct session_user_stats st;
	session_user_cache_set_quiet_ms(f->env.users, 50);
	/* a session that stays (the get is not put) runs one job */
	struct session_user *u = session_user_get(&f->env, ALICE);
	assert_int_equal(session_user_run(u, NULL, nop_work, count_done, &dones), 0);
	assert_true(wait_count(f, &dones, 1));
	/* the handle goes after the quiet time; the entry stays */
	wait_closes(f, &st, 1, 1);
	assert_int_equal(st.closes, 1);
	assert_int_equal(st.quiet_closes, 1);
	assert_int_equal(st.users, 1);
	assert_int_equal(st.idle, 0);
	/* the next job opens it again */
	assert_int_equal(session_user_run(u, NULL, nop_work, count_done, &dones), 0);
	assert_true(wait_count(f, &dones, 2));
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, 2);
	/* held by a command: no quiet close, however long */
	session_user_hold(u);
	pump_for(f, 300);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.quiet_closes, 1);
	/* released: closed after the quiet time */
	session_user_release(u);
	wait_closes(f, &st, 2, 1);
	assert_int_equal(st.quiet_closes, 2);
	assert_int_equal(st.users, 1);
	session_user_put(&u);
	/* no handle and no session: forgotten at once */
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.users, 0);
}

/* ---- a handle that cannot be opened; many users ---- */

static void test_open_failure_then_retry(void **state)
{
	struct fixture *f = *state;
	struct seq q = { .address = ALICE };
	struct session_user_stats st;
	/* DATA/missing/deeper/mail cannot be created: the open fails, work
	 * gets no store */
	char *bad = xstrdup(t_printf("%s/missing/deeper", f->dir));
	f->config.data_dir = bad;
	struct session_user *u = session_user_get(&f->env, ALICE);
	seq_queue(u, &q, 0, 1);
	assert_true(wait_count(f, &q.dones, 1));
	assert_int_equal(atomic_load(&q.store_ok), 0);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.open_failures, 1);
	assert_int_equal(st.opens, 0);
	/* the next job tries again */
	f->config.data_dir = f->dir;
	seq_queue(u, &q, 1, 1);
	assert_true(wait_count(f, &q.dones, 2));
	assert_int_equal(atomic_load(&q.store_ok), 1);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, 1);
	session_user_put(&u);
	free(bad);
}

#define MANY 300

static void test_many_users_one_entry_each(void **state)
{
	struct fixture *f = *state;
	static struct session_user *users[MANY];
	struct session_user_stats st;
	for (unsigned i = 0; i < MANY; i++)
		users[i] = session_user_get(&f->env, t_printf("u%u@example.org", i));
	/* after the table grew, every user still finds its own entry */
	for (unsigned i = 0; i < MANY; i++) {
		struct session_user *again =
			session_user_get(&f->env, t_printf("U%u@example.org", i));
		assert_ptr_equal(again, users[i]);
		session_user_put(&again);
	}
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.users, MANY);
	/* never opened: the last put forgets them at once */
	for (unsigned i = 0; i < MANY; i++)
		session_user_put(&users[i]);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.users, 0);
	assert_int_equal(st.idle, 0);
	assert_null(session_user_get(&f->env, ""));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_idle_timeout_closes), T(test_idle_lru_bound),
		T(test_open_failure_then_retry), T(test_many_users_one_entry_each),
		T(test_quiet_close_under_resting_sessions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
