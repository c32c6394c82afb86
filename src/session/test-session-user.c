/* test-session-user.c: the per-worker user cache and per-user lane
 * (session_user.h) on a real ioloop, a two-thread pool and a store in a
 * temporary directory. Work is counted, never timed; every wait is
 * bounded (WAIT_MS) and polls the loop.
 *   - one user's jobs run in FIFO order, never two at once (an atomic
 *     in-flight counter checked in work), done() on the loop in order;
 *   - two users run in parallel (each work waits, bounded, to see the
 *     other in flight);
 *   - the handle is opened once for many jobs and survives a reconnect
 *     (opens, store_stats_get() index_opens);
 *   - over SESSION_USER_QUEUE_MAX a job is refused with -1;
 *   - a session whose connection went while its job ran is freed in
 *     done() and nothing touches it afterwards (ASan);
 *   - an idle user is closed after the idle time, and past
 *     SESSION_USER_IDLE_MAX the least recently used one first;
 *   - destroying the cache runs the queued jobs and closes the handles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/config.h"
#include "lib/ioloop.h"
#include "lib/mem.h"
#include "lib/threadpool.h"
#include "session/session_user.h"
#include "store/store.h"

#define ALICE "alice@example.org"
#define BOB "bob@example.org"
#define WAIT_MS 5000
#define JOBS 20

struct fixture {
	char dir[64];
	struct config config;
	struct session_env env;
	struct ioloop *loop;
	struct threadpool *pool;
};

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-session-user.XXXXXX");
	struct store *store;
	const char *error;
	if (mkdtemp(f->dir) == NULL || store_open(f->dir, &store, &error) < 0 ||
	    store_user_create(store, ALICE, &error) < 0 ||
	    store_user_create(store, BOB, &error) < 0)
		return -1;
	store_close(&store);
	f->config.data_dir = f->dir;
	f->loop = ioloop_create();
	f->pool = threadpool_create(f->loop, 2);
	f->env = (struct session_env){
		.loop = f->loop, .config = &f->config, .delivery_pool = f->pool,
	};
	f->env.users = session_user_cache_create(&f->env);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	session_user_cache_destroy(&f->env.users);
	threadpool_destroy(&f->pool);
	ioloop_destroy(&f->loop);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void on_tick(void *ctx)
{
	ioloop_stop(ctx);
}

/* Run the loop until *counter reaches want, for at most WAIT_MS. */
static bool wait_count(struct fixture *f, const unsigned *counter, unsigned want)
{
	for (unsigned i = 0; i < WAIT_MS / 5 && *counter < want; i++) {
		struct timeout *to = timeout_add(f->loop, 5, on_tick, f->loop);
		ioloop_run(f->loop);
		timeout_remove(&to);
	}
	return *counter >= want;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* wait on a pool thread, bounded: true if *flag became set */
static bool spin_until(atomic_int *flag)
{
	for (unsigned i = 0; i < WAIT_MS && atomic_load(flag) == 0; i++)
		sleep_ms(1);
	return atomic_load(flag) != 0;
}

/* ---- one user: FIFO, one at a time, opened once ---- */

struct seq {
	atomic_int in_flight, overlaps, store_ok;
	atomic_uint next_work;
	unsigned work_order[JOBS * 2];
	unsigned done_order[JOBS * 2];
	unsigned dones;
	const char *address;
};

struct seq_job {
	struct seq *seq;
	unsigned index;
};

static void seq_work(void *ctx, struct store *store)
{
	struct seq_job *j = ctx;
	struct seq *q = j->seq;
	if (atomic_fetch_add(&q->in_flight, 1) != 0)
		atomic_fetch_add(&q->overlaps, 1);
	q->work_order[atomic_fetch_add(&q->next_work, 1) % (JOBS * 2)] = j->index;
	struct store_mailbox_status st;
	const char *error;
	if (store != NULL &&
	    store_mailbox_status(store, q->address, "INBOX", &st, &error) == 0)
		atomic_fetch_add(&q->store_ok, 1);
	sleep_ms(1); /* widen the window for a second job to overlap */
	atomic_fetch_sub(&q->in_flight, 1);
}

static void seq_done(void *ctx)
{
	struct seq_job *j = ctx;
	j->seq->done_order[j->seq->dones++ % (JOBS * 2)] = j->index;
	free(j);
}

static void seq_queue(struct session_user *u, struct seq *q, unsigned first,
		      unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		struct seq_job *j = xcalloc(1, sizeof(*j));
		j->seq = q;
		j->index = i;
		assert_int_equal(session_user_run(u, NULL, seq_work, seq_done, j), 0);
	}
}

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
	g.s->sid = "T1";
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

static void test_idle_timeout_closes(void **state)
{
	struct fixture *f = *state;
	unsigned dones = 0;
	session_user_cache_set_idle_ms(f->env.users, 50);
	struct session_user *u = session_user_get(&f->env, ALICE);
	assert_int_equal(session_user_run(u, NULL, nop_work, count_done, &dones), 0);
	assert_true(wait_count(f, &dones, 1));
	session_user_put(&u);
	struct session_user_stats st;
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.idle, 1);
	/* closed on the lane once the idle time passed, then forgotten */
	for (unsigned i = 0; i < WAIT_MS / 5 && (st.users > 0 || st.closes == 0); i++) {
		struct timeout *to = timeout_add(f->loop, 5, on_tick, f->loop);
		ioloop_run(f->loop);
		timeout_remove(&to);
		session_user_stats_get(&f->env, &st);
	}
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
	for (unsigned i = 0; i < n; i++) {
		const char *addr = t_printf("user%u@example.org", i);
		struct session_user *u = session_user_get(&f->env, addr);
		assert_int_equal(session_user_run(u, NULL, nop_work, count_done, &dones), 0);
		assert_true(wait_count(f, &dones, i + 1));
		session_user_put(&u);
	}
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, n);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.idle, SESSION_USER_IDLE_MAX);
	for (unsigned i = 0; i < WAIT_MS / 5 && st.closes == 0; i++) {
		struct timeout *to = timeout_add(f->loop, 5, on_tick, f->loop);
		ioloop_run(f->loop);
		timeout_remove(&to);
		session_user_stats_get(&f->env, &st);
	}
	assert_int_equal(st.closes, 1);
	assert_int_equal(st.users, SESSION_USER_IDLE_MAX);
	/* the newest is still open; the oldest (user0) must open again */
	struct session_user *u = session_user_get(&f->env, t_printf("user%u@example.org", n - 1));
	assert_int_equal(session_user_run(u, NULL, nop_work, count_done, &dones), 0);
	assert_true(wait_count(f, &dones, n + 1));
	session_user_put(&u);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, n);
	u = session_user_get(&f->env, "user0@example.org");
	assert_int_equal(session_user_run(u, NULL, nop_work, count_done, &dones), 0);
	assert_true(wait_count(f, &dones, n + 2));
	session_user_put(&u);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.opens, n + 1);
}

/* ---- a handle that cannot be opened; many users ---- */

struct null_probe {
	atomic_int got_null, got_store;
	unsigned dones;
};

static void probe_work(void *ctx, struct store *store)
{
	struct null_probe *p = ctx;
	atomic_fetch_add(store == NULL ? &p->got_null : &p->got_store, 1);
}

static void probe_done(void *ctx)
{
	((struct null_probe *)ctx)->dones++;
}

static void test_open_failure_then_retry(void **state)
{
	struct fixture *f = *state;
	struct null_probe p = { 0 };
	struct session_user_stats st;
	/* DATA/missing/deeper/mail cannot be created: the open fails */
	char *bad = xstrdup(t_printf("%s/missing/deeper", f->dir));
	f->config.data_dir = bad;
	struct session_user *u = session_user_get(&f->env, ALICE);
	assert_int_equal(session_user_run(u, NULL, probe_work, probe_done, &p), 0);
	assert_true(wait_count(f, &p.dones, 1));
	assert_int_equal(atomic_load(&p.got_null), 1);
	session_user_stats_get(&f->env, &st);
	assert_int_equal(st.open_failures, 1);
	assert_int_equal(st.opens, 0);
	/* the next job tries again */
	f->config.data_dir = f->dir;
	assert_int_equal(session_user_run(u, NULL, probe_work, probe_done, &p), 0);
	assert_true(wait_count(f, &p.dones, 2));
	assert_int_equal(atomic_load(&p.got_store), 1);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fifo_one_at_a_time_opened_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_users_in_parallel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_freed_after_its_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_timeout_closes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_lru_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failure_then_retry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_users_one_entry_each, setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_drains_lanes, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
