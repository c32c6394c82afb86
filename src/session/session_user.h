/* session_user.h: the per-worker user cache and each user's lane, on
 * which a user's sessions (IMAP, later POP3) run all their store work.
 *
 * Contract:
 * - session_user_get() gives the one entry of that user in this worker
 *   (refcounted, shared by all of the user's sessions); every get is
 *   matched by one session_user_put(). Every function here is for the
 *   loop thread only, but session_user_address() (any thread: it never
 *   changes) and what work() does with its store.
 * - The entry holds the user's store handle. It is opened lazily by the
 *   first job, ON THE LANE (a pool thread), never on the loop: an open
 *   may wait a few seconds for an index lock (store.h).
 * - session_user_run() queues a job in the user's lane. A user's jobs run
 *   one at a time, in the order queued, on env->delivery_pool: two
 *   sessions of one user never use the handle at once (store.h: a handle
 *   is used by one thread at a time), while different users run in
 *   parallel. work(ctx, store) runs on the pool thread (store is NULL if
 *   the handle could not be opened: answer a temporary failure);
 *   done(ctx) (may be NULL) runs on the loop thread; work must not keep
 *   the store, nor what it returned, past its return. Submitting is O(1) and no lock is
 *   held across work: the lane's queue lives on the loop thread and the
 *   next job is handed to the pool when the previous one came back.
 * - The job holds a session job (session_job_begin/end) on s (may be
 *   NULL). The count is dropped BEFORE done(ctx) runs, so done() must
 *   first check session_may_free(s) and, if true, free the session
 *   instead of replying (its connection went while the job ran).
 * - Bounded: at most SESSION_USER_QUEUE_MAX jobs queued or running per
 *   user (over it session_user_run() returns -1: the caller answers a
 *   temporary failure); a user without sessions keeps its handle open
 *   SESSION_USER_IDLE_MS (a reconnecting phone does not pay the open
 *   again), at most SESSION_USER_IDLE_MAX such users per worker (least
 *   recently used closed first); the close runs on the lane.
 * - A user WITH sessions whose lane stayed empty SESSION_USER_QUIET_MS
 *   has its handle closed too (on the lane; the entry stays), unless a
 *   session holds it: a command that keeps store state across its jobs
 *   (an open message reader, an APPEND's delivery) calls
 *   session_user_hold() before its first job and session_user_release()
 *   when it ends. State a session keeps between commands must not point
 *   into the handle (a view is handed the current one at each job:
 *   store_view_rebind()). The next job opens the handle again. An idle
 *   phone in IDLE so costs its session, not a SQLite connection (about
 *   170 KiB a user a worker).
 * - session_user_cache_destroy() (worker shutdown) lets every lane finish
 *   its queued jobs, closes every handle on its lane, and waits for that
 *   on the loop for at most SESSION_USER_DRAIN_MS.
 */
#ifndef POSTEL_SESSION_USER_H
#define POSTEL_SESSION_USER_H

#include <stdint.h>

#include "session/session.h"

struct store;
struct session_user;
struct session_user_cache;

/* Jobs one user may have queued or running at once: a client pipelining
 * far more than this is not waiting for answers, it is flooding. */
#define SESSION_USER_QUEUE_MAX 64
/* How long a user's handle stays open after its last session went. */
#define SESSION_USER_IDLE_MS 60000
/* Idle users kept open per worker: each holds an index connection and a
 * few descriptors; 64 phones reconnecting within a minute is plenty. */
#define SESSION_USER_IDLE_MAX 64
/* How long a user with sessions but no job keeps its handle open. */
#define SESSION_USER_QUIET_MS 15000
/* Worker shutdown: the longest it waits for lanes to finish and close. */
#define SESSION_USER_DRAIN_MS 10000

typedef void session_user_work_t(void *ctx, struct store *store);
typedef void session_user_done_t(void *ctx);

/* Counted, not timed: what tests assert. */
struct session_user_stats {
	uint64_t jobs_run;   /* work callbacks run (not close jobs) */
	uint64_t opens;      /* store handles opened */
	uint64_t open_failures;
	uint64_t closes;     /* store handles closed */
	uint64_t refused;    /* session_user_run() over the queue limit */
	uint64_t evictions;  /* idle users closed (timer or LRU) */
	uint64_t quiet_closes; /* handles closed under resting sessions */
	unsigned max_depth;  /* most jobs one lane held at once */
	unsigned users;      /* entries now in the cache */
	unsigned idle;       /* of those, idle with an open handle */
};

/* The worker's cache: created with env (env->users set by the caller),
 * destroyed at shutdown before env->delivery_pool. */
struct session_user_cache *session_user_cache_create(const struct session_env *env);
void session_user_cache_destroy(struct session_user_cache **cache);
/* Tests: a shorter idle time than SESSION_USER_IDLE_MS. */
void session_user_cache_set_idle_ms(struct session_user_cache *cache,
				    unsigned idle_ms);

/* Tests: a shorter quiet time than SESSION_USER_QUIET_MS. */
void session_user_cache_set_quiet_ms(struct session_user_cache *cache,
				     unsigned quiet_ms);

/* NULL if env has no cache or the address is empty. */
struct session_user *session_user_get(const struct session_env *env,
				      const char *address);
void session_user_put(struct session_user **user);
const char *session_user_address(const struct session_user *user);

/* 0: queued; -1: the lane is full (nothing queued, no callback). */
int session_user_run(struct session_user *user, struct session *s,
		     session_user_work_t *work, session_user_done_t *done,
		     void *ctx);

/* A session's command keeps store state across jobs: no quiet close
 * until the matching release. */
void session_user_hold(struct session_user *user);
void session_user_release(struct session_user *user);

void session_user_stats_get(const struct session_env *env,
			    struct session_user_stats *stats_r);

#endif
