/* zone.c: spans of one size class in an address range of its own. See
 * zone.h.
 *
 * Span i covers base + i * ZONE_SPAN; its header sits in a separate
 * array (so a block never shares a page with bookkeeping, and a freed
 * span's pages all go back). A span hands out blocks from its free list
 * first, then in address order from "bump" (so pages are touched only as
 * blocks need them). Spans with room are on their class's list; a full
 * one leaves it and comes back with its first free. Spans never used or
 * given back sit on one free stack.
 *
 * The range is reserved PROT_NONE (no commit charge, even under strict
 * overcommit) and a span made writable when first used; huge pages are
 * refused for it (MADV_NOHUGEPAGE: a 2 MiB page would keep a span's
 * given-back pages resident). */
#include "zone.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/log.h"
#include "lib/mem.h"

#define ZONE_SMALL_STEP 16
#define ZONE_SMALL_MAX 1024
#define ZONE_SMALL_CLASSES (ZONE_SMALL_MAX / ZONE_SMALL_STEP)
/* four classes per doubling from 1 KiB to 16 KiB */
#define ZONE_MID_CLASSES 16
#define ZONE_CLASSES (ZONE_SMALL_CLASSES + ZONE_MID_CLASSES)
#define ZONE_NIL UINT32_MAX
_Static_assert(ZONE_SPAN / ZONE_SMALL_STEP <= UINT16_MAX, "a span's block count fits");

struct zone_span {
	uint32_t next, prev; /* on its class's list, or the free stack (next) */
	uint16_t cls;        /* class + 1; 0: not in use */
	uint16_t cap;        /* blocks it holds */
	uint16_t used;       /* blocks handed out */
	uint16_t bump;       /* blocks never handed out start here */
	void *free;          /* freed blocks, linked through their first word */
};

struct zone {
	pthread_mutex_t lock;
	const char *name;
	size_t max_block;
	uint32_t nspans;
	unsigned char *base; /* NULL until the first allocation */
	struct zone_span *spans;
	bool map_failed;
	uint32_t top;        /* spans never used start here */
	uint32_t free_top;   /* spans given back, a stack */
	uint32_t partial[ZONE_CLASSES];
	size_t spans_used, blocks, bytes;
	unsigned long released;
};

static uint32_t zone_class_size(unsigned cls)
{
	if (cls < ZONE_SMALL_CLASSES)
		return (cls + 1) * ZONE_SMALL_STEP;
	unsigned mid = cls - ZONE_SMALL_CLASSES;
	uint32_t low = (uint32_t)ZONE_SMALL_MAX << (mid / 4);
	return low + (low / 4) * (mid % 4 + 1);
}

/* the class of size (1 <= size <= ZONE_MAX) */
static unsigned zone_class_of(size_t size)
{
	if (size <= ZONE_SMALL_MAX)
		return (unsigned)((size + ZONE_SMALL_STEP - 1) / ZONE_SMALL_STEP) - 1;
	/* size in (2^k, 2^(k+1)], k >= 10: steps of 2^(k-2) */
	unsigned k = 63 - (unsigned)__builtin_clzll((unsigned long long)size - 1);
	size_t low = (size_t)1 << k, step = low / 4;
	return ZONE_SMALL_CLASSES + (k - 10) * 4 +
		(unsigned)((size - low + step - 1) / step) - 1;
}

struct zone *zone_create(const char *name, size_t reserve, size_t max_block)
{
	struct zone *z = xcalloc(1, sizeof(*z));
	pthread_mutex_init(&z->lock, NULL);
	z->name = name;
	z->max_block = max_block < ZONE_MAX ? max_block : ZONE_MAX;
	size_t n = reserve / ZONE_SPAN;
	z->nspans = n < ZONE_NIL ? (uint32_t)n : ZONE_NIL - 1;
	z->free_top = ZONE_NIL;
	for (unsigned i = 0; i < ZONE_CLASSES; i++)
		z->partial[i] = ZONE_NIL;
	return z;
}

void zone_destroy(struct zone **zp)
{
	struct zone *z = *zp;
	if (z == NULL)
		return;
	*zp = NULL;
	if (z->base != NULL) {
		munmap(z->base, (size_t)z->nspans * ZONE_SPAN);
		munmap(z->spans, (size_t)z->nspans * sizeof(struct zone_span));
	}
	pthread_mutex_destroy(&z->lock);
	free(z);
}

static bool zone_map(struct zone *z)
{
	if (z->base != NULL)
		return true;
	if (z->map_failed || z->nspans == 0)
		return false;
	size_t len = (size_t)z->nspans * ZONE_SPAN;
	/* one span more, to align the start on a span */
	void *p = mmap(NULL, len + ZONE_SPAN, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *h = mmap(NULL, (size_t)z->nspans * sizeof(struct zone_span),
		       PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (p == MAP_FAILED || h == MAP_FAILED) {
		if (p != MAP_FAILED)
			munmap(p, len + ZONE_SPAN);
		if (h != MAP_FAILED)
			munmap(h, (size_t)z->nspans * sizeof(struct zone_span));
		z->map_failed = true;
		log_warn("event=zone_unavailable zone=%s reserve=%zu error=\"%s\"",
			 z->name, len, strerror(errno));
		return false;
	}
	uintptr_t a = ((uintptr_t)p + ZONE_SPAN - 1) & ~(uintptr_t)(ZONE_SPAN - 1);
	if (a > (uintptr_t)p)
		munmap(p, a - (uintptr_t)p);
	munmap((void *)(a + len), (uintptr_t)p + ZONE_SPAN - a);
	(void)madvise((void *)a, len, MADV_NOHUGEPAGE);
	z->spans = h;
	__atomic_store_n(&z->base, (unsigned char *)a, __ATOMIC_RELEASE);
	return true;
}

static void zone_link(struct zone *z, unsigned cls, uint32_t idx)
{
	struct zone_span *s = &z->spans[idx];
	s->prev = ZONE_NIL;
	s->next = z->partial[cls];
	if (s->next != ZONE_NIL)
		z->spans[s->next].prev = idx;
	z->partial[cls] = idx;
}

static void zone_unlink(struct zone *z, unsigned cls, uint32_t idx)
{
	struct zone_span *s = &z->spans[idx];
	if (s->prev != ZONE_NIL)
		z->spans[s->prev].next = s->next;
	else
		z->partial[cls] = s->next;
	if (s->next != ZONE_NIL)
		z->spans[s->next].prev = s->prev;
}

/* a span for cls, on its list; ZONE_NIL when the range is used up */
static uint32_t zone_span_new(struct zone *z, unsigned cls)
{
	uint32_t idx;
	if (z->free_top != ZONE_NIL) {
		idx = z->free_top;
		z->free_top = z->spans[idx].next;
	} else if (z->top < z->nspans &&
		   mprotect(z->base + (size_t)z->top * ZONE_SPAN, ZONE_SPAN,
			    PROT_READ | PROT_WRITE) == 0) {
		idx = z->top++; /* writable from now on, given back or not */
	} else {
		return ZONE_NIL;
	}
	struct zone_span *s = &z->spans[idx];
	*s = (struct zone_span){ .cls = (uint16_t)(cls + 1),
				 .cap = (uint16_t)(ZONE_SPAN / zone_class_size(cls)) };
	zone_link(z, cls, idx);
	z->spans_used++;
	return idx;
}

void *zone_alloc(struct zone *z, size_t size)
{
	if (size > z->max_block)
		return NULL;
	unsigned cls = zone_class_of(size == 0 ? 1 : size);
	uint32_t csize = zone_class_size(cls);
	void *p = NULL;
	pthread_mutex_lock(&z->lock);
	if (zone_map(z)) {
		uint32_t idx = z->partial[cls];
		if (idx == ZONE_NIL)
			idx = zone_span_new(z, cls);
		if (idx != ZONE_NIL) {
			struct zone_span *s = &z->spans[idx];
			if (s->free != NULL) {
				p = s->free;
				s->free = *(void **)p;
			} else {
				p = z->base + (size_t)idx * ZONE_SPAN + (size_t)s->bump * csize;
				s->bump++;
			}
			if (++s->used == s->cap)
				zone_unlink(z, cls, idx);
			z->blocks++;
			z->bytes += csize;
		}
	}
	pthread_mutex_unlock(&z->lock);
	return p;
}

bool zone_owns(const struct zone *z, const void *p)
{
	const unsigned char *base = __atomic_load_n(&z->base, __ATOMIC_ACQUIRE);
	return base != NULL && (const unsigned char *)p >= base &&
		(const unsigned char *)p < base + (size_t)z->nspans * ZONE_SPAN;
}

static uint32_t zone_span_of(const struct zone *z, const void *p)
{
	return (uint32_t)(((const unsigned char *)p - z->base) / ZONE_SPAN);
}

size_t zone_block_size(const struct zone *z, const void *p)
{
	/* a span's class does not change while a block of it is out */
	return zone_class_size(z->spans[zone_span_of(z, p)].cls - 1u);
}

size_t zone_roundup(const struct zone *z, size_t size)
{
	if (size > z->max_block)
		return 0;
	return zone_class_size(zone_class_of(size == 0 ? 1 : size));
}

/* span idx, empty, leaves its class: pages back, onto the free stack */
static void zone_span_release(struct zone *z, unsigned cls, uint32_t idx)
{
	struct zone_span *s = &z->spans[idx];
	zone_unlink(z, cls, idx);
	(void)madvise(z->base + (size_t)idx * ZONE_SPAN, ZONE_SPAN, MADV_DONTNEED);
	s->cls = 0;
	s->free = NULL;
	s->bump = 0;
	s->next = z->free_top;
	z->free_top = idx;
	z->spans_used--;
	z->released++;
}

void zone_free(struct zone *z, void *p)
{
	uint32_t idx = zone_span_of(z, p);
	pthread_mutex_lock(&z->lock);
	struct zone_span *s = &z->spans[idx];
	if (s->cls == 0 || s->used == 0)
		panic("zone %s: free of a block not handed out (span %u)", z->name, idx);
	unsigned cls = s->cls - 1u;
	*(void **)p = s->free;
	s->free = p;
	if (s->used == s->cap)
		zone_link(z, cls, idx);
	s->used--;
	z->blocks--;
	z->bytes -= zone_class_size(cls);
	/* An empty span goes back to the free stack, its pages to the
	 * kernel, unless it is its class's last room: then it stays (a block
	 * of a size allocated and freed in turn must not cost a madvise and
	 * page faults each time) until zone_trim(). */
	if (s->used == 0 && !(z->partial[cls] == idx && s->next == ZONE_NIL))
		zone_span_release(z, cls, idx);
	pthread_mutex_unlock(&z->lock);
}

void zone_trim(struct zone *z)
{
	pthread_mutex_lock(&z->lock);
	for (unsigned cls = 0; z->base != NULL && cls < ZONE_CLASSES; cls++) {
		uint32_t idx = z->partial[cls];
		while (idx != ZONE_NIL) {
			uint32_t next = z->spans[idx].next;
			if (z->spans[idx].used == 0)
				zone_span_release(z, cls, idx);
			idx = next;
		}
	}
	pthread_mutex_unlock(&z->lock);
}

void zone_get_stats(struct zone *z, struct zone_stats *stats_r)
{
	pthread_mutex_lock(&z->lock);
	stats_r->spans_used = z->spans_used;
	stats_r->blocks = z->blocks;
	stats_r->bytes = z->bytes;
	stats_r->released = z->released;
	pthread_mutex_unlock(&z->lock);
}

void zone_lock(struct zone *z)
{
	pthread_mutex_lock(&z->lock);
}

void zone_unlock(struct zone *z)
{
	pthread_mutex_unlock(&z->lock);
}
