/* session_user.c: the per-worker user cache and the per-user lane (see
 * session_user.h).
 *
 * Threading rule: everything here runs on the loop thread except
 * lane_work(), which runs on a delivery_pool thread and touches only the
 * job it was given and the entry's store handle. Only one job of an
 * entry is ever submitted to the pool at a time (running), and the next
 * is submitted from lane_done() on the loop, so the handle passes from
 * thread to thread through the pool's mutex (a happens-before edge) and
 * is never used by two threads at once. The queue itself is loop-only:
 * no lock at all, and none held across work. */
#include "session_user_private.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/threadpool.h"
#include "lib/sqlite_mem.h"
#include "lib/tls_mem.h"
#include "store/store.h"

#include <ctype.h>
#include <malloc.h>
#include <stdbool.h>
#include <string.h>

struct session_user_cache *session_user_cache_create(const struct session_env *env)
{
	struct session_user_cache *c = xcalloc(1, sizeof(*c));
	c->env = env;
	c->nbuckets = SESSION_USER_BUCKETS_MIN;
	c->buckets = xcalloc(c->nbuckets, sizeof(*c->buckets));
	c->idle_ms = SESSION_USER_IDLE_MS;
	c->quiet_ms = SESSION_USER_QUIET_MS;
	return c;
}

void session_user_cache_set_idle_ms(struct session_user_cache *cache,
				    unsigned idle_ms)
{
	cache->idle_ms = idle_ms;
}

void session_user_cache_set_quiet_ms(struct session_user_cache *cache,
				     unsigned quiet_ms)
{
	cache->quiet_ms = quiet_ms;
}

static void user_free(struct session_user *u)
{
	struct session_user_cache *c = u->cache;
	struct session_user **p = session_user_slot(c, u->address);
	if (*p == u)
		*p = u->hash_next;
	c->count--;
	timeout_remove(&u->idle_to);
	timeout_remove(&u->quiet_to);
	free(u->address);
	free(u);
}

/* ---- the lane ---- */

/* pool thread: the job in u->current, and u->store */
static void lane_work(void *ctx)
{
	struct session_user *u = ctx;
	struct lane_job *job = u->current;
	if (job->close) {
		if (u->store != NULL && job->release) {
			store_close_release(&u->store);
			job->closed = true;
		} else if (u->store != NULL) {
			store_close(&u->store);
			job->closed = true;
		}
		return;
	}
	if (u->store == NULL && job->may_open) {
		const char *error;
		if (store_open(u->cache->env->config->data_dir, &u->store, &error) < 0) {
			u->store = NULL;
			job->open_failed = true;
			job->error = xstrdup(error);
		} else {
			job->opened = true;
		}
	}
	job->work(job->ctx, u->store);
}

static void lane_done(void *ctx);

static void lane_start(struct session_user *u)
{
	struct lane_job *job = u->head;
	u->head = job->next;
	if (u->head == NULL)
		u->tail = NULL;
	u->current = job;
	u->running = true;
	u->cache->busy++;
	threadpool_submit(u->cache->env->delivery_pool, lane_work, lane_done, u);
}

static void lane_push(struct session_user *u, struct lane_job *job)
{
	if (u->tail != NULL)
		u->tail->next = job;
	else
		u->head = job;
	u->tail = job;
	u->depth++;
	timeout_remove(&u->quiet_to);
	if (u->depth > u->cache->stats.max_depth)
		u->cache->stats.max_depth = u->depth;
	if (!u->running)
		lane_start(u);
}

static void lru_unlink(struct session_user *u)
{
	struct session_user_cache *c = u->cache;
	if (u->lru_prev != NULL)
		u->lru_prev->lru_next = u->lru_next;
	else
		c->lru_head = u->lru_next;
	if (u->lru_next != NULL)
		u->lru_next->lru_prev = u->lru_prev;
	else
		c->lru_tail = u->lru_prev;
	u->lru_prev = u->lru_next = NULL;
	u->idle = false;
	c->idle_count--;
	timeout_remove(&u->idle_to);
}

/* close the handle on the lane; the entry goes when the close is back
 * (release: the store keeps none of it for the next handle) */
static void user_close_job(struct session_user *u, bool release)
{
	if (u->idle)
		lru_unlink(u);
	struct lane_job *job = xcalloc(1, sizeof(*job));
	job->close = true;
	job->release = release;
	lane_push(u, job);
}

static void user_close(struct session_user *u)
{
	user_close_job(u, false);
}

static void user_evict(struct session_user *u, const char *reason)
{
	u->cache->stats.evictions++;
	log_debug("event=user_evict user=%s reason=%s", log_str(u->address), reason);
	user_close(u);
}

static void user_on_idle_timeout(void *ctx)
{
	user_evict(ctx, "idle");
}

static bool user_quiet(const struct session_user *u)
{
	return u->refs > 0 && u->holds == 0 && !u->running && u->head == NULL &&
	       u->store != NULL && !u->cache->shutting_down;
}

static void user_on_quiet_timeout(void *ctx)
{
	struct session_user *u = ctx;
	timeout_remove(&u->quiet_to);
	if (!user_quiet(u))
		return;
	/* the sessions keep their views (UID maps, not tied to the handle:
	 * the next job hands them the reopened one); the entry stays */
	u->cache->stats.quiet_closes++;
	log_debug("event=user_quiet_close user=%s", log_str(u->address));
	user_close_job(u, true);
}

/* The lane is empty and nothing refers to the entry: keep it open for a
 * while, or free it if it has no handle. With sessions but none of them
 * in a command that holds the handle: close it once quiet_ms passed. */
static void user_settle(struct session_user *u)
{
	struct session_user_cache *c = u->cache;
	if (user_quiet(u) && u->quiet_to == NULL)
		u->quiet_to = timeout_add(c->env->loop, c->quiet_ms,
					  user_on_quiet_timeout, u);
	if (u->refs > 0 || u->running || u->head != NULL || u->idle)
		return;
	/* the lane is idle: the loop owns the handle */
	if (u->store == NULL) {
		user_free(u);
		return;
	}
	if (c->shutting_down) {
		user_close(u);
		return;
	}
	u->idle = true;
	u->lru_prev = c->lru_tail;
	if (c->lru_tail != NULL)
		c->lru_tail->lru_next = u;
	else
		c->lru_head = u;
	c->lru_tail = u;
	c->idle_count++;
	u->idle_to = timeout_add(c->env->loop, c->idle_ms,
				 user_on_idle_timeout, u);
	if (c->idle_count > SESSION_USER_IDLE_MAX)
		user_evict(c->lru_head, "lru");
}

/* A closed SQLite connection leaves its pages free inside the pool
 * threads' malloc arena, where glibc keeps them (measured: 11 KiB per
 * idle connection at 1,000 connections over 100 users); give them back
 * to the kernel, at most once a second whatever the number of closes. */
#define SESSION_USER_TRIM_MS 1000

static void cache_on_trim(void *ctx)
{
	struct session_user_cache *c = ctx;
	timeout_remove(&c->trim_to);
	(void)malloc_trim(0);
	tls_mem_trim(); /* the TLS record slots kept for reuse, likewise */
	sqlite_mem_trim(); /* and the closed handles' spans kept for reuse */
}

static void lane_done(void *ctx)
{
	struct session_user *u = ctx;
	struct session_user_cache *c = u->cache;
	struct lane_job *job = u->current;
	u->current = NULL;
	u->running = false;
	u->depth--;
	c->busy--;
	if (job->opened)
		c->stats.opens++;
	if (job->closed)
		c->stats.closes++;
	if (job->closed && job->release && c->trim_to == NULL && !c->shutting_down)
		c->trim_to = timeout_add(c->env->loop, SESSION_USER_TRIM_MS, cache_on_trim, c);
	if (job->open_failed) {
		c->stats.open_failures++;
		log_error("event=user_open_failed user=%s error=%s",
			  log_str(u->address), log_str(job->error));
	}
	if (!job->close) {
		c->stats.jobs_run++;
		/* before done(): it may find the session free to go */
		if (job->s != NULL)
			session_job_end(job->s);
		if (job->done != NULL)
			job->done(job->ctx);
		u->refs--; /* the job's own reference: u lived through done() */
	}
	free(job->error);
	free(job);
	if (!u->running) {
		if (u->head != NULL)
			lane_start(u);
		else
			user_settle(u);
	}
	if (c->shutting_down && c->busy == 0)
		ioloop_stop(c->env->loop);
}

/* ---- the API ---- */

struct session_user *session_user_get(const struct session_env *env,
				      const char *address)
{
	struct session_user_cache *c = env->users;
	size_t len = address != NULL ? strlen(address) : 0;
	if (c == NULL || c->shutting_down || len == 0 || len > SESSION_USER_ADDRESS_MAX)
		return NULL;
	char key[SESSION_USER_ADDRESS_MAX + 1];
	for (size_t i = 0; i <= len; i++)
		key[i] = (char)tolower((unsigned char)address[i]);
	struct session_user **p = session_user_slot(c, key);
	struct session_user *u = *p;
	if (u == NULL) {
		u = xcalloc(1, sizeof(*u));
		u->cache = c;
		u->address = xstrdup(key);
		*p = u;
		session_user_counted(c);
	} else if (u->idle) {
		lru_unlink(u);
	}
	u->refs++;
	return u;
}

void session_user_put(struct session_user **user)
{
	struct session_user *u = *user;
	if (u == NULL)
		return;
	*user = NULL;
	if (u->refs == 0)
		panic("event=session_user_refcount_underflow user=%s", u->address);
	u->refs--;
	user_settle(u);
}

const char *session_user_address(const struct session_user *user)
{
	return user->address;
}

void session_user_hold(struct session_user *u)
{
	u->holds++;
	timeout_remove(&u->quiet_to);
}

void session_user_release(struct session_user *u)
{
	if (u->holds == 0)
		panic("event=session_user_hold_underflow user=%s", u->address);
	u->holds--;
	user_settle(u);
}

int session_user_run(struct session_user *u, struct session *s,
		     session_user_work_t *work, session_user_done_t *done,
		     void *ctx)
{
	if (u->depth >= SESSION_USER_QUEUE_MAX) {
		u->cache->stats.refused++;
		log_warn("event=user_lane_full user=%s depth=%u",
			 log_str(u->address), u->depth);
		return -1;
	}
	struct lane_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	job->may_open = !u->cache->shutting_down;
	u->refs++;
	if (s != NULL)
		session_job_begin(s);
	lane_push(u, job);
	return 0;
}

void session_user_stats_get(const struct session_env *env,
			    struct session_user_stats *stats_r)
{
	struct session_user_cache *c = env->users;
	memset(stats_r, 0, sizeof(*stats_r));
	if (c == NULL)
		return;
	*stats_r = c->stats;
	stats_r->users = c->count;
	stats_r->idle = c->idle_count;
}

static void cache_on_drain_deadline(void *ctx)
{
	struct session_user_cache *c = ctx;
	c->drain_expired = true;
	ioloop_stop(c->env->loop);
}

void session_user_cache_destroy(struct session_user_cache **cache)
{
	struct session_user_cache *c = *cache;
	if (c == NULL)
		return;
	*cache = NULL;
	c->shutting_down = true;
	timeout_remove(&c->trim_to);
	/* every lane: its queued jobs, then a close */
	for (unsigned i = 0; i < c->nbuckets; i++) {
		struct session_user *u = c->buckets[i], *next;
		for (; u != NULL; u = next) {
			next = u->hash_next;
			/* u->store is read only while no job is out */
			if (u->idle || u->running || u->head != NULL ||
			    u->store != NULL)
				user_close(u);
		}
	}
	struct timeout *to = timeout_add(c->env->loop, SESSION_USER_DRAIN_MS,
					 cache_on_drain_deadline, c);
	while (c->busy > 0 && !c->drain_expired)
		ioloop_run(c->env->loop);
	timeout_remove(&to);
	if (c->busy > 0) {
		/* a pool thread still holds an entry: leave it all to the
		 * process exit rather than free what it uses */
		log_warn("event=user_cache_drain_deadline lanes=%u", c->busy);
		return;
	}
	log_info("event=user_cache_closed opens=%llu closes=%llu jobs=%llu",
		 (unsigned long long)c->stats.opens,
		 (unsigned long long)c->stats.closes,
		 (unsigned long long)c->stats.jobs_run);
	/* what is left has live sessions, which die with the process */
	for (unsigned i = 0; i < c->nbuckets; i++) {
		while (c->buckets[i] != NULL)
			user_free(c->buckets[i]);
	}
	free(c->buckets);
	free(c);
}
