/* test-session-user.c: the per-user lane (session_user.h), counted and
 * never timed, every wait bounded (WAIT_MS):
 *   - one user's jobs run in FIFO order, never two at once (an atomic
 *     in-flight counter checked in work), done() on the loop in order;
 *   - the handle is opened once for many jobs and survives a reconnect
 *     (opens, store_stats_get() index_opens);
 *   - two users run in parallel (each work waits, bounded, to see the
 *     other in flight);
 *   - over SESSION_USER_QUEUE_MAX a job is refused with -1;
 *   - a session whose connection went while its job ran is freed in
 *     done() and nothing touches it afterwards (ASan);
 *   - destroying the cache runs the queued jobs and closes the handles. */
#include "session/test-session-user.h"

static void test_fifo_one_at_a_time_opened_once(void **state)
{
	struct fixture *f = *state;
	struct seq q = { .address = ALICE };
	struct store_stats before, mid, after;
	struct session_user_stats st;
	store_stats_get(&before);

	struct session_user *u = session_user_get(&f->env, "Alice@Example.ORG");
	assert_non_null(u);
	assert_string_equal(session_user_address(u), ALICE);
	/* a second session of the same user shares the entry */
	struct session_user *u2 = session_user_get(&f->env, ALICE);
	assert_ptr_equal(u, u2);
	seq_queue(u, &q, 0, JOBS);
	assert_true(wait_count(f, &q.dones, JOBS));
	store_stats_get(&mid);
	assert_int_equal(atomic_load(&q.overlaps), 0);
	assert_int_equal(atomic_load(&q.store_ok), JOBS);
	for (unsigned i = 0; i < JOBS; i++) {
		assert_int_equal(q.work_order[i], i);
		assert_int_equal(q.done_order[i], i);
	}
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.jobs_run, JOBS);
	assert_int_equal(st.opens, 1);
	assert_int_equal(st.max_depth, JOBS);
	assert_true(mid.index_opens - before.index_opens <= 1);

	/* both sessions go; the user stays open; a reconnect reuses it */
	session_user_put(&u);
	assert_null(u);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.idle, 0);
	session_user_put(&u2);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.idle, 1);
	assert_int_equal(st.users, 1);
	u = session_user_get(&f->env, ALICE);
	seq_queue(u, &q, JOBS, JOBS);
	assert_true(wait_count(f, &q.dones, 2 * JOBS));
	store_stats_get(&after);
	for (unsigned i = 0; i < 2 * JOBS; i++)
		assert_int_equal(q.done_order[i], i);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.idle, 0);
	assert_int_equal(st.opens, 1);
	assert_int_equal(st.closes, 0);
	assert_int_equal(st.jobs_run, 2 * JOBS);
	assert_int_equal(atomic_load(&q.overlaps), 0);
	assert_int_equal(after.index_opens, mid.index_opens);
	session_user_put(&u);
}

/* ---- two users in parallel ---- */

struct par {
	atomic_int in[2];
	atomic_int saw_other[2];
	unsigned dones;
};

struct par_job {
	struct par *p;
	int me;
};

static void par_work(void *ctx, struct store *store)
{
	struct par_job *j = ctx;
	(void)store;
	atomic_store(&j->p->in[j->me], 1);
	if (spin_until(&j->p->in[1 - j->me]))
		atomic_store(&j->p->saw_other[j->me], 1);
}

static void par_done(void *ctx)
{
	struct par_job *j = ctx;
	j->p->dones++;
}

static void test_two_users_in_parallel(void **state)
{
	struct fixture *f = *state;
	struct par p = { 0 };
	struct par_job ja = { &p, 0 }, jb = { &p, 1 };
	struct session_user *a = session_user_get(&f->env, ALICE);
	struct session_user *b = session_user_get(&f->env, BOB);
	assert_ptr_not_equal(a, b);
	assert_int_equal(session_user_run(a, NULL, par_work, par_done, &ja), 0);
	assert_int_equal(session_user_run(b, NULL, par_work, par_done, &jb), 0);
	assert_true(wait_count(f, &p.dones, 2));
	assert_int_equal(atomic_load(&p.saw_other[0]), 1);
	assert_int_equal(atomic_load(&p.saw_other[1]), 1);
	struct session_user_stats st;
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, 2);
	assert_int_equal(st.users, 2);
	session_user_put(&a);
	session_user_put(&b);
}

/* ---- the queue limit; a session freed while its job runs ---- */

struct gate {
	atomic_int open, entered;
	unsigned dones;
	struct session *s;
	bool freed, may_free_seen;
};

static void gate_work(void *ctx, struct store *store)
{
	struct gate *g = ctx;
	(void)store;
	atomic_store(&g->entered, 1);
	spin_until(&g->open);
}

static void gate_done(void *ctx)
{
	struct gate *g = ctx;
	g->dones++;
	if (g->s != NULL && session_may_free(g->s)) {
		g->may_free_seen = true;
		free(g->s);
		g->s = NULL;
		g->freed = true;
	}
}

static void test_queue_limit(void **state)
{
	struct fixture *f = *state;
	struct gate g = { 0 };
	struct session_user *u = session_user_get(&f->env, ALICE);
	for (unsigned i = 0; i < SESSION_USER_QUEUE_MAX; i++)
		assert_int_equal(session_user_run(u, NULL, gate_work, gate_done, &g), 0);
	assert_int_equal(session_user_run(u, NULL, gate_work, gate_done, &g), -1);
	struct session_user_stats st;
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.max_depth, SESSION_USER_QUEUE_MAX);
	/* another user is not held up by alice's full lane */
	struct session_user *b = session_user_get(&f->env, BOB);
	struct gate gb = { 0 };
	atomic_store(&gb.open, 1);
	assert_int_equal(session_user_run(b, NULL, gate_work, gate_done, &gb), 0);
	assert_true(wait_count(f, &gb.dones, 1));
	assert_int_equal(g.dones, 0);
	atomic_store(&g.open, 1);
	assert_true(wait_count(f, &g.dones, SESSION_USER_QUEUE_MAX));
	assert_int_equal(session_user_run(u, NULL, gate_work, gate_done, &g), 0);
	assert_true(wait_count(f, &g.dones, SESSION_USER_QUEUE_MAX + 1));
	session_user_put(&u);
	session_user_put(&b);
}

static void test_session_freed_after_its_job(void **state)
{
	struct fixture *f = *state;
	struct gate g = { 0 };
	g.s = xcalloc(1, sizeof(*g.s));
	snprintf(g.s->sid, sizeof(g.s->sid), "T1");
	struct session_user *u = session_user_get(&f->env, ALICE);
	assert_int_equal(session_user_run(u, g.s, gate_work, gate_done, &g), 0);
	assert_int_equal(g.s->jobs, 1);
	/* the connection goes while the job runs: not freed yet */
	for (unsigned i = 0; i < WAIT_MS && atomic_load(&g.entered) == 0; i++)
		sleep_ms(1);
	assert_false(session_on_closed(g.s));
	/* its user reference goes with the connection; the lane holds on */
	session_user_put(&u);
	atomic_store(&g.open, 1);
	assert_true(wait_count(f, &g.dones, 1));
	assert_true(g.may_free_seen);
	assert_true(g.freed);
	struct session_user_stats st;
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.users, 1);
	assert_int_equal(st.idle, 1);
}

/* ---- shutdown ---- */

static void test_destroy_drains_lanes(void **state)
{
	struct fixture *f = *state;
	struct seq q = { .address = BOB };
	struct session_user *u = session_user_get(&f->env, BOB);
	seq_queue(u, &q, 0, JOBS);
	/* the session is still connected: its reference dies with it */
	session_user_cache_destroy(&f->env.users);
	assert_null(f->env.users);
	assert_int_equal(q.dones, JOBS);
	assert_int_equal(atomic_load(&q.store_ok), JOBS);
	for (unsigned i = 0; i < JOBS; i++)
		assert_int_equal(q.done_order[i], i);
	/* a new get after the cache is gone: refused, not a crash */
	assert_null(session_user_get(&f->env, BOB));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_fifo_one_at_a_time_opened_once), T(test_two_users_in_parallel),
		T(test_queue_limit), T(test_session_freed_after_its_job),
		T(test_destroy_drains_lanes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
