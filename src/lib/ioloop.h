/* ioloop.h: a single-threaded epoll event loop with timers.
 *
 * One loop per worker process. Callbacks run on the loop thread only.
 * After every callback the per-thread temp pool (mem.h) is cleared.
 * io_add() watches an fd; timeout_add() fires once after msecs (re-arm by
 * calling timeout_reset()). Removing an io or timeout inside any callback
 * is safe. ioloop_notify_*() lets other threads wake the loop. */
#ifndef POSTEL_IOLOOP_H
#define POSTEL_IOLOOP_H

#include <stdbool.h>
#include <stdint.h>

struct ioloop;
struct io;
struct timeout;

enum io_cond {
	IO_READ = 1,
	IO_WRITE = 2,
};

typedef void io_callback_t(void *ctx);

struct ioloop *ioloop_create(void);
void ioloop_destroy(struct ioloop **loop);
/* Runs until ioloop_stop(). */
void ioloop_run(struct ioloop *loop);
void ioloop_stop(struct ioloop *loop);
/* The epoll descriptor, for a child after fork to close its copy:
 * io_remove() there would change the parent's set, which it shares. */
int ioloop_fd(const struct ioloop *loop);
/* Milliseconds on a monotonic clock, cached per loop iteration. */
uint64_t ioloop_now_ms(struct ioloop *loop);

struct io *io_add(struct ioloop *loop, int fd, unsigned conds,
		  io_callback_t *cb, void *ctx);
/* Change which conditions are watched (IO_READ|IO_WRITE, or 0). */
void io_set_conds(struct io *io, unsigned conds);
void io_remove(struct io **io);

struct timeout *timeout_add(struct ioloop *loop, unsigned msecs,
			    io_callback_t *cb, void *ctx);
void timeout_reset(struct timeout *to, unsigned msecs);
void timeout_remove(struct timeout **to);

/* Run cb at the next loop iteration (a zero-delay timeout). */
struct timeout *ioloop_defer(struct ioloop *loop, io_callback_t *cb, void *ctx);

#endif
