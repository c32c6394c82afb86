/* threadpool.h: a small pool of threads for blocking work (password
 * hashing, big fsync batches) whose result comes back on the event loop.
 *
 * threadpool_submit() runs work(ctx) on a pool thread, then done(ctx) on
 * the loop thread. Jobs are never cancelled: if the requester went away,
 * it must leave ctx alive and mark it abandoned so done() can free it. */
#ifndef POSTEL_THREADPOOL_H
#define POSTEL_THREADPOOL_H

struct ioloop;
struct threadpool;

typedef void threadpool_work_t(void *ctx);
typedef void threadpool_done_t(void *ctx);

struct threadpool *threadpool_create(struct ioloop *loop, unsigned threads);
void threadpool_destroy(struct threadpool **pool);
void threadpool_submit(struct threadpool *pool, threadpool_work_t *work,
		       threadpool_done_t *done, void *ctx);

#endif
