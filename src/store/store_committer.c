/* store_committer.c: see store_committer.h. Requests wait in a list under
 * a mutex; the committer thread takes the whole list at once, commits it
 * as one store_delivery_commit_group(), and wakes each requester on its
 * own condition variable (a shared one woke every waiting delivery thread
 * for every batch, only for most of them to sleep again). */
#include "store/store_committer.h"
#include "store/store.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

struct commit_request {
	struct store_delivery **ds;
	unsigned n;
	uint32_t *uids;
	int result;
	char *error;
	bool done;
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

static void committer_run_batch(struct store_committer *c, struct commit_request *batch)
{
	unsigned n = 0;
	for (struct commit_request *r = batch; r != NULL; r = r->next)
		n += r->n;
	struct store_delivery **ds = xcalloc(n + 1, sizeof(*ds));
	uint32_t *uids = xcalloc(n + 1, sizeof(*uids));
	int *results = xcalloc(n + 1, sizeof(*results));
	const char **errors = xcalloc(n + 1, sizeof(*errors));
	unsigned i = 0;
	for (struct commit_request *r = batch; r != NULL; r = r->next) {
		memcpy(&ds[i], r->ds, r->n * sizeof(*ds));
		i += r->n;
	}
	if (n > 0)
		(void)store_delivery_commit_group(c->store, ds, n, uids, results, errors);
	i = 0;
	for (struct commit_request *r = batch; r != NULL; r = r->next) {
		r->result = 0;
		for (unsigned j = 0; j < r->n; j++, i++) {
			r->ds[j] = NULL;
			if (r->uids != NULL)
				r->uids[j] = uids[i];
			if (results[i] < 0 && r->result == 0) {
				r->result = -1;
				r->error = xstrdup(errors[i] != NULL ? errors[i] : "commit failed");
			}
		}
	}
	free(ds);
	free(uids);
	free(results);
	free(errors);
	pool_clear(pool_temp());
}

static void *committer_thread(void *arg)
{
	struct store_committer *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->head == NULL && !c->stopping)
			pthread_cond_wait(&c->work_cond, &c->lock);
		if (c->head == NULL)
			break;
		struct commit_request *batch = c->head;
		c->head = c->tail = NULL;
		pthread_mutex_unlock(&c->lock);
		committer_run_batch(c, batch);
		pthread_mutex_lock(&c->lock);
		for (struct commit_request *r = batch; r != NULL;) {
			struct commit_request *next = r->next;
			r->done = true; /* r belongs to its waiter from here */
			pthread_cond_signal(&r->done_cond);
			r = next;
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
