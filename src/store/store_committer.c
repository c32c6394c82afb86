/* store_committer.c: see store_committer.h. Requests wait in a list under
 * a mutex; the committer thread takes the whole list at once, commits it
 * as one store_delivery_commit_group_try(), and wakes each finished
 * requester on its own condition variable (a shared one woke every
 * waiting delivery thread for every batch, only for most of them to
 * sleep again). Deliveries to a user whose index another process holds
 * locked stay pending and are retried every few milliseconds, with the
 * next arrivals, for at most STORE_INDEX_LOCK_MSECS (issue 8 item 8: one
 * locked user must not stall the others' deliveries). */
#include "store/store_committer.h"
#include "store/store.h"
#include "store/store_index.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

/* How long the committer sleeps before trying a locked user again, and
 * how long a request may wait for its users' locks in all. */
#define COMMITTER_RETRY_MSECS 5
#define COMMITTER_LOCK_MSECS STORE_INDEX_LOCK_MSECS

struct commit_request {
	struct store_delivery **ds; /* entries become NULL once done */
	unsigned n;
	uint32_t *uids;
	int result;
	char *error;
	bool done;
	struct timespec since;     /* first attempt, CLOCK_MONOTONIC */
	pthread_cond_t done_cond;
	struct commit_request *next;
};

struct store_committer {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t work_cond;
	struct commit_request *head, *tail;
	bool stopping;
};

static long msecs_since(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000L +
		(now.tv_nsec - since->tv_nsec) / 1000000L;
}

static void request_fail(struct commit_request *r, const char *error)
{
	if (r->result == 0) {
		r->result = -1;
		r->error = xstrdup(error != NULL ? error : "commit failed");
	}
}

/* Commit what can be committed now of the pending requests' deliveries:
 * one store_delivery_commit_group_try() for all. A delivery whose user's
 * index is locked by another process stays for the next round; once it
 * has waited COMMITTER_LOCK_MSECS it is aborted with a temporary error.
 * So one stuck user never holds up the commits of the others. Returns
 * true if some delivery is still waiting for a lock. */
static bool committer_run_batch(struct store_committer *c, struct commit_request *batch)
{
	unsigned n = 0;
	for (struct commit_request *r = batch; r != NULL; r = r->next) {
		for (unsigned j = 0; j < r->n; j++)
			n += r->ds[j] != NULL;
	}
	struct store_delivery **ds = xcalloc(n + 1, sizeof(*ds));
	uint32_t *uids = xcalloc(n + 1, sizeof(*uids));
	int *results = xcalloc(n + 1, sizeof(*results));
	const char **errors = xcalloc(n + 1, sizeof(*errors));
	unsigned i = 0;
	for (struct commit_request *r = batch; r != NULL; r = r->next) {
		for (unsigned j = 0; j < r->n; j++) {
			if (r->ds[j] != NULL)
				ds[i++] = r->ds[j];
		}
	}
	if (n > 0)
		(void)store_delivery_commit_group_try(c->store, ds, n, uids, results,
						      errors);
	bool waiting = false;
	i = 0;
	for (struct commit_request *r = batch; r != NULL; r = r->next) {
		bool expired = msecs_since(&r->since) >= COMMITTER_LOCK_MSECS;
		for (unsigned j = 0; j < r->n; j++) {
			if (r->ds[j] == NULL)
				continue;
			if (results[i] == 1 && !expired) {
				waiting = true;
			} else if (results[i] == 1) {
				store_delivery_abort(&r->ds[j]);
				request_fail(r, errors[i]);
			} else {
				r->ds[j] = NULL;
				if (r->uids != NULL)
					r->uids[j] = uids[i];
				if (results[i] < 0)
					request_fail(r, errors[i]);
			}
			i++;
		}
	}
	free(ds);
	free(uids);
	free(results);
	free(errors);
	pool_clear(pool_temp());
	return waiting;
}

static bool request_finished(const struct commit_request *r)
{
	for (unsigned j = 0; j < r->n; j++) {
		if (r->ds[j] != NULL)
			return false;
	}
	return true;
}

static void *committer_thread(void *arg)
{
	struct store_committer *c = arg;
	struct commit_request *pending = NULL, **pending_tail = &pending;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && pending == NULL && !c->stopping)
			pthread_cond_wait(&c->work_cond, &c->lock);
		if (c->head == NULL && pending == NULL)
			break;
		/* everything that arrived meanwhile joins this round */
		*pending_tail = c->head;
		while (*pending_tail != NULL)
			pending_tail = &(*pending_tail)->next;
		c->head = c->tail = NULL;
		pthread_mutex_unlock(&c->lock);
		bool waiting = committer_run_batch(c, pending);
		pthread_mutex_lock(&c->lock);
		pending_tail = &pending;
		for (struct commit_request *r = pending, *next; r != NULL; r = next) {
			next = r->next;
			if (!request_finished(r)) {
				*pending_tail = r;
				pending_tail = &r->next;
				continue;
			}
			r->next = NULL;
			r->done = true; /* r belongs to its waiter from here */
			pthread_cond_signal(&r->done_cond);
		}
		*pending_tail = NULL;
		if (waiting && c->head == NULL) {
			/* a lock is held elsewhere: retry soon, or at once when
			 * new work comes */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += COMMITTER_RETRY_MSECS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			(void)pthread_cond_timedwait(&c->work_cond, &c->lock, &until);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

int store_committer_create(const char *data_dir, struct store_committer **c_r,
			   const char **error_r)
{
	struct store_committer *c = xcalloc(1, sizeof(*c));
	if (store_open(data_dir, &c->store, error_r) < 0) {
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->work_cond, NULL);
	if (pthread_create(&c->thread, NULL, committer_thread, c) != 0)
		fatal("event=pthread_create what=store_committer");
	*c_r = c;
	return 0;
}

void store_committer_destroy(struct store_committer **cp)
{
	struct store_committer *c = *cp;
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stopping = true;
	pthread_cond_signal(&c->work_cond);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	store_close(&c->store);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->work_cond);
	free(c);
	*cp = NULL;
}

int store_committer_commit(struct store_committer *c, struct store_delivery **ds,
			   unsigned n, uint32_t *uids_r, char **error_r)
{
	struct commit_request req = { .ds = ds, .n = n, .uids = uids_r };
	clock_gettime(CLOCK_MONOTONIC, &req.since);
	pthread_cond_init(&req.done_cond, NULL);
	pthread_mutex_lock(&c->lock);
	if (c->tail != NULL)
		c->tail->next = &req;
	else
		c->head = &req;
	c->tail = &req;
	pthread_cond_signal(&c->work_cond);
	while (!req.done)
		pthread_cond_wait(&req.done_cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	pthread_cond_destroy(&req.done_cond);
	*error_r = req.error;
	return req.result;
}
