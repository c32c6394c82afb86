/* test-session-user.h: for the session_user unit tests only: a real
 * ioloop, a two-thread delivery pool and a store in a temporary
 * directory (alice and bob created), bounded waits that poll the loop,
 * and a job that records its order and checks no other job of its user
 * is in flight (an atomic counter). */
#ifndef POSTEL_TEST_SESSION_USER_H
#define POSTEL_TEST_SESSION_USER_H

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
#include "store/test-store-fixture.h"

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

static inline int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct store *store;
	const char *error;
	if (test_store_setup(f->dir, sizeof(f->dir), "test-session-user", &store,
			     ALICE) < 0 ||
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

static inline int teardown(void **state)
{
	struct fixture *f = *state;
	session_user_cache_destroy(&f->env.users);
	threadpool_destroy(&f->pool);
	ioloop_destroy(&f->loop);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static inline void on_tick(void *ctx)
{
	ioloop_stop(ctx);
}

/* Run the loop for 5 ms. */
static inline void pump(struct fixture *f)
{
	struct timeout *to = timeout_add(f->loop, 5, on_tick, f->loop);
	ioloop_run(f->loop);
	timeout_remove(&to);
}

/* Run the loop until *counter reaches want, for at most WAIT_MS. */
static inline bool wait_count(struct fixture *f, const unsigned *counter,
			      unsigned want)
{
	for (unsigned i = 0; i < WAIT_MS / 5 && *counter < want; i++)
		pump(f);
	return *counter >= want;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)ms * 1000000L };
	nanosleep(&ts, NULL);
}

/* wait on a pool thread, bounded: true if *flag became set */
static inline bool spin_until(atomic_int *flag)
{
	for (unsigned i = 0; i < WAIT_MS && atomic_load(flag) == 0; i++)
		sleep_ms(1);
	return atomic_load(flag) != 0;
}

/* a job that records its order and any overlap with another job */
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

static inline void seq_work(void *ctx, struct store *store)
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

static inline void seq_done(void *ctx)
{
	struct seq_job *j = ctx;
	j->seq->done_order[j->seq->dones++ % (JOBS * 2)] = j->index;
	free(j);
}

static inline void seq_queue(struct session_user *u, struct seq *q,
			     unsigned first, unsigned n)
{
	for (unsigned i = first; i < first + n; i++) {
		struct seq_job *j = xcalloc(1, sizeof(*j));
		j->seq = q;
		j->index = i;
		assert_int_equal(session_user_run(u, NULL, seq_work, seq_done, j), 0);
	}
}

#endif
