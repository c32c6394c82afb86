/* ioloop.c: epoll event loop with a binary-heap timer queue. See ioloop.h.
 *
 * Removal during dispatch is safe: io and timeout objects are marked dead
 * and freed at the end of the iteration, never while a callback may still
 * hold them. */
#include "ioloop.h"
#include "mem.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define IOLOOP_MAX_EVENTS 256

struct io {
	struct ioloop *loop;
	int fd;
	unsigned conds;
	bool dead;
	io_callback_t *cb;
	void *ctx;
	struct io *next_dead;
};

struct timeout {
	struct ioloop *loop;
	uint64_t when;
	uint64_t seq;
	size_t heap_idx; /* SIZE_MAX when not in the heap */
	io_callback_t *cb;
	void *ctx;
	bool dead;
	struct timeout *next_dead;
};

struct ioloop {
	int epfd;
	bool running;
	uint64_t now;
	uint64_t seq;
	struct timeout **heap;
	size_t heap_len, heap_cap;
	struct io *dead_ios;
	struct timeout *dead_timeouts;
};

static uint64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ioloop *ioloop_create(void)
{
	struct ioloop *loop = xcalloc(1, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0)
		fatal("event=epoll_create error=\"%s\"", strerror(errno));
	loop->now = monotonic_ms();
	return loop;
}

static void ioloop_free_dead(struct ioloop *loop)
{
	while (loop->dead_ios != NULL) {
		struct io *io = loop->dead_ios;
		loop->dead_ios = io->next_dead;
		free(io);
	}
	while (loop->dead_timeouts != NULL) {
		struct timeout *to = loop->dead_timeouts;
		loop->dead_timeouts = to->next_dead;
		free(to);
	}
}

void ioloop_destroy(struct ioloop **loopp)
{
	struct ioloop *loop = *loopp;
	if (loop == NULL)
		return;
	ioloop_free_dead(loop);
	for (size_t i = 0; i < loop->heap_len; i++)
		free(loop->heap[i]);
	free(loop->heap);
	close(loop->epfd);
	free(loop);
	*loopp = NULL;
}

int ioloop_fd(const struct ioloop *loop)
{
	return loop->epfd;
}

uint64_t ioloop_now_ms(struct ioloop *loop)
{
	return loop->now;
}

static uint32_t epoll_events(unsigned conds)
{
	uint32_t ev = 0;
	if (conds & IO_READ)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (conds & IO_WRITE)
		ev |= EPOLLOUT;
	return ev;
}

struct io *io_add(struct ioloop *loop, int fd, unsigned conds,
		  io_callback_t *cb, void *ctx)
{
	struct io *io = xcalloc(1, sizeof(*io));
	io->loop = loop;
	io->fd = fd;
	io->conds = conds;
	io->cb = cb;
	io->ctx = ctx;
	struct epoll_event ev = { .events = epoll_events(conds), .data.ptr = io };
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		panic("event=epoll_ctl_add fd=%d error=\"%s\"", fd, strerror(errno));
	return io;
}

void io_set_conds(struct io *io, unsigned conds)
{
	if (io->conds == conds)
		return;
	io->conds = conds;
	struct epoll_event ev = { .events = epoll_events(conds), .data.ptr = io };
	if (epoll_ctl(io->loop->epfd, EPOLL_CTL_MOD, io->fd, &ev) < 0)
		panic("event=epoll_ctl_mod fd=%d error=\"%s\"", io->fd, strerror(errno));
}

void io_remove(struct io **iop)
{
	struct io *io = *iop;
	if (io == NULL)
		return;
	*iop = NULL;
	/* the fd may already be closed by the caller; ignore errors */
	epoll_ctl(io->loop->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->dead = true;
	io->next_dead = io->loop->dead_ios;
	io->loop->dead_ios = io;
}

/* timer heap, ordered by (when, seq) */
static bool to_less(const struct timeout *a, const struct timeout *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void heap_swap(struct ioloop *loop, size_t i, size_t j)
{
	struct timeout *t = loop->heap[i];
	loop->heap[i] = loop->heap[j];
	loop->heap[j] = t;
	loop->heap[i]->heap_idx = i;
	loop->heap[j]->heap_idx = j;
}

static void heap_up(struct ioloop *loop, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!to_less(loop->heap[i], loop->heap[parent]))
			break;
		heap_swap(loop, i, parent);
		i = parent;
	}
}

static void heap_down(struct ioloop *loop, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < loop->heap_len && to_less(loop->heap[l], loop->heap[m]))
			m = l;
		if (r < loop->heap_len && to_less(loop->heap[r], loop->heap[m]))
			m = r;
		if (m == i)
			break;
		heap_swap(loop, i, m);
		i = m;
	}
}

static void heap_insert(struct ioloop *loop, struct timeout *to)
{
	if (loop->heap_len == loop->heap_cap) {
		loop->heap_cap = loop->heap_cap ? loop->heap_cap * 2 : 64;
		loop->heap = xrealloc(loop->heap, loop->heap_cap * sizeof(*loop->heap));
	}
	to->heap_idx = loop->heap_len;
	loop->heap[loop->heap_len++] = to;
	heap_up(loop, to->heap_idx);
}

static void heap_delete(struct ioloop *loop, struct timeout *to)
{
	size_t i = to->heap_idx;
	if (i == SIZE_MAX)
		return;
	loop->heap_len--;
	if (i != loop->heap_len) {
		loop->heap[i] = loop->heap[loop->heap_len];
		loop->heap[i]->heap_idx = i;
		heap_down(loop, i);
		heap_up(loop, i);
	}
	to->heap_idx = SIZE_MAX;
}

struct timeout *timeout_add(struct ioloop *loop, unsigned msecs,
			    io_callback_t *cb, void *ctx)
{
	struct timeout *to = xcalloc(1, sizeof(*to));
	to->loop = loop;
	to->cb = cb;
	to->ctx = ctx;
	to->when = monotonic_ms() + msecs;
	to->seq = loop->seq++;
	heap_insert(loop, to);
	return to;
}

void timeout_reset(struct timeout *to, unsigned msecs)
{
	heap_delete(to->loop, to);
	to->when = monotonic_ms() + msecs;
	to->seq = to->loop->seq++;
	heap_insert(to->loop, to);
}

void timeout_remove(struct timeout **top)
{
	struct timeout *to = *top;
	if (to == NULL)
		return;
	*top = NULL;
	heap_delete(to->loop, to);
	to->dead = true;
	to->next_dead = to->loop->dead_timeouts;
	to->loop->dead_timeouts = to;
}

struct timeout *ioloop_defer(struct ioloop *loop, io_callback_t *cb, void *ctx)
{
	return timeout_add(loop, 0, cb, ctx);
}

void ioloop_stop(struct ioloop *loop)
{
	loop->running = false;
}

static void ioloop_run_timeouts(struct ioloop *loop)
{
	/* Only run timers already due when this pass began; timers added by
	 * callbacks (even zero-delay) wait for the next pass. */
	uint64_t limit_seq = loop->seq;
	while (loop->heap_len > 0) {
		struct timeout *to = loop->heap[0];
		if (to->when > loop->now || to->seq >= limit_seq)
			break;
		/* one-shot: leave the heap before running; the callback
		 * re-arms with timeout_reset() or removes it. */
		heap_delete(loop, to);
		to->cb(to->ctx);
		pool_clear(pool_temp());
	}
}

void ioloop_run(struct ioloop *loop)
{
	struct epoll_event events[IOLOOP_MAX_EVENTS];
	loop->running = true;
	while (loop->running) {
		int wait_ms = -1;
		loop->now = monotonic_ms();
		if (loop->heap_len > 0) {
			uint64_t when = loop->heap[0]->when;
			wait_ms = when <= loop->now ? 0 :
				(int)(when - loop->now > 60000 ? 60000 : when - loop->now);
		}
		int n = epoll_wait(loop->epfd, events, IOLOOP_MAX_EVENTS, wait_ms);
		if (n < 0 && errno != EINTR)
			fatal("event=epoll_wait error=\"%s\"", strerror(errno));
		loop->now = monotonic_ms();
		for (int i = 0; i < n; i++) {
			struct io *io = events[i].data.ptr;
			if (io->dead)
				continue;
			io->cb(io->ctx);
			pool_clear(pool_temp());
		}
		ioloop_run_timeouts(loop);
		ioloop_free_dead(loop);
	}
}
