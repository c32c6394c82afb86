/* threadpool.c: see threadpool.h. Jobs go through a mutex-protected queue
 * to the threads; finished jobs go back through a second queue and an
 * eventfd that wakes the event loop. */
#include "threadpool.h"
#include "ioloop.h"
#include "mem.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct tp_job {
	threadpool_work_t *work;
	threadpool_done_t *done;
	void *ctx;
	struct tp_job *next;
};

struct tp_queue {
	struct tp_job *head, *tail;
};

struct threadpool {
	struct ioloop *loop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct tp_queue todo, finished;
	bool stopping;
	unsigned nthreads;
	pthread_t *threads;
	int efd;
	struct io *io;
};

static void tp_push(struct tp_queue *q, struct tp_job *job)
{
	job->next = NULL;
	if (q->tail != NULL)
		q->tail->next = job;
	else
		q->head = job;
	q->tail = job;
}

static struct tp_job *tp_pop(struct tp_queue *q)
{
	struct tp_job *job = q->head;
	if (job != NULL) {
		q->head = job->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return job;
}

static void *tp_thread(void *arg)
{
	struct threadpool *tp = arg;
	pthread_mutex_lock(&tp->lock);
	for (;;) {
		struct tp_job *job;
		while ((job = tp_pop(&tp->todo)) == NULL && !tp->stopping)
			pthread_cond_wait(&tp->cond, &tp->lock);
		if (job == NULL)
			break;
		pthread_mutex_unlock(&tp->lock);
		job->work(job->ctx);
		pool_clear(pool_temp());
		pthread_mutex_lock(&tp->lock);
		tp_push(&tp->finished, job);
		uint64_t one = 1;
		ssize_t w = write(tp->efd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&tp->lock);
	return NULL;
}

static void tp_on_event(void *ctx)
{
	struct threadpool *tp = ctx;
	uint64_t v;
	ssize_t r = read(tp->efd, &v, sizeof(v));
	(void)r;
	for (;;) {
		pthread_mutex_lock(&tp->lock);
		struct tp_job *job = tp_pop(&tp->finished);
		pthread_mutex_unlock(&tp->lock);
		if (job == NULL)
			break;
		job->done(job->ctx);
		free(job);
	}
}

struct threadpool *threadpool_create(struct ioloop *loop, unsigned threads)
{
	struct threadpool *tp = xcalloc(1, sizeof(*tp));
	tp->loop = loop;
	pthread_mutex_init(&tp->lock, NULL);
	pthread_cond_init(&tp->cond, NULL);
	tp->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (tp->efd < 0)
		fatal("event=eventfd error=\"%s\"", strerror(errno));
	tp->io = io_add(loop, tp->efd, IO_READ, tp_on_event, tp);
	tp->nthreads = threads ? threads : 1;
	tp->threads = xcalloc(tp->nthreads, sizeof(pthread_t));
	for (unsigned i = 0; i < tp->nthreads; i++) {
		if (pthread_create(&tp->threads[i], NULL, tp_thread, tp) != 0)
			fatal("event=pthread_create");
	}
	return tp;
}

void threadpool_submit(struct threadpool *tp, threadpool_work_t *work,
		       threadpool_done_t *done, void *ctx)
{
	struct tp_job *job = xcalloc(1, sizeof(*job));
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	pthread_mutex_lock(&tp->lock);
	tp_push(&tp->todo, job);
	pthread_cond_signal(&tp->cond);
	pthread_mutex_unlock(&tp->lock);
}

void threadpool_destroy(struct threadpool **tpp)
{
	struct threadpool *tp = *tpp;
	if (tp == NULL)
		return;
	pthread_mutex_lock(&tp->lock);
	tp->stopping = true;
	pthread_cond_broadcast(&tp->cond);
	pthread_mutex_unlock(&tp->lock);
	for (unsigned i = 0; i < tp->nthreads; i++)
		pthread_join(tp->threads[i], NULL);
	/* run completions of jobs that finished so owners can free them */
	tp_on_event(tp);
	io_remove(&tp->io);
	close(tp->efd);
	free(tp->threads);
	pthread_mutex_destroy(&tp->lock);
	pthread_cond_destroy(&tp->cond);
	free(tp);
	*tpp = NULL;
}
