/* zone.h: a heap of its own for one library's blocks.
 *
 * glibc keeps a worker's blocks in one arena, so a library's short-lived
 * blocks (an SQLite handle, closed once its user rests; the temporaries
 * of a TLS handshake) and the connections' long-lived ones share pages.
 * Once the short-lived ones are freed, a page that still holds one live
 * block stays resident, and malloc_trim() can give back only whole free
 * pages. A zone serves one library from an address range of its own, in
 * spans of ZONE_SPAN bytes; each span holds blocks of one size class,
 * and a span whose blocks are all free gives its pages back
 * (MADV_DONTNEED), except its class's last one with room, which stays
 * the class's until zone_trim().
 *
 * Size classes: 16-byte steps up to 1 KiB, then four per doubling up to
 * ZONE_MAX (16 KiB). Blocks are 16-byte aligned. zone_alloc() returns
 * NULL for a request above the zone's largest class or when its range is
 * used up: the caller then falls back to malloc (or mmap) and tells its
 * blocks apart with zone_owns(). The range is reserved (MAP_NORESERVE)
 * at the first allocation; no page is touched before a block needs it.
 *
 * Thread-safe (one mutex per zone); a block may be freed by another
 * thread than the one that got it. A process forked while another
 * thread holds the lock would inherit it held: the zone's owner calls
 * zone_lock() and zone_unlock() from pthread_atfork() handlers. Freeing
 * a block twice (or one the zone did not hand out) panics. */
#ifndef POSTEL_ZONE_H
#define POSTEL_ZONE_H

#include <stdbool.h>
#include <stddef.h>

#define ZONE_SPAN (64 * 1024)
#define ZONE_MAX 16384

struct zone;

struct zone_stats {
	size_t spans_used;   /* spans holding at least one block, or kept */
	size_t blocks;       /* blocks handed out now */
	size_t bytes;        /* their class sizes, summed */
	unsigned long released; /* empty spans given back, ever */
};

/* reserve: bytes of address space (rounded down to spans); max_block:
 * the largest request served (at most ZONE_MAX). Never fails for want
 * of memory: the range is only reserved at the first zone_alloc(). */
struct zone *zone_create(const char *name, size_t reserve, size_t max_block);
/* Unmaps the range: every block of z is gone. *z becomes NULL. */
void zone_destroy(struct zone **z);
/* NULL: too big for this zone, or its range is full */
void *zone_alloc(struct zone *z, size_t size);
/* p must be a block of z (zone_owns) */
void zone_free(struct zone *z, void *p);
bool zone_owns(const struct zone *z, const void *p);
/* usable size of a block of z: its class's size */
size_t zone_block_size(const struct zone *z, const void *p);
/* what zone_alloc(size) would hand out, or 0 when it would not serve it */
size_t zone_roundup(const struct zone *z, size_t size);
void zone_get_stats(struct zone *z, struct zone_stats *stats_r);
/* The pages of the empty spans kept for their classes go back too:
 * called where the process trims its heap (session_user.c) */
void zone_trim(struct zone *z);
/* around fork(): the child must not inherit a lock held by a thread it
 * does not have */
void zone_lock(struct zone *z);
void zone_unlock(struct zone *z);

#endif
