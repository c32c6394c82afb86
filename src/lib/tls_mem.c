/* tls_mem.c: the pool of record-sized blocks for OpenSSL. See tls_mem.h.
 *
 * The region is reserved (MAP_NORESERVE, no page touched) at the first
 * big request, so a process that never does TLS costs nothing and a
 * worker inherits no pages from the master. Free slots sit on two
 * stacks: "hot" ones (resident, reused first, at most TLS_MEM_KEEP) and
 * "cold" ones (pages given back); slots never used yet are taken in
 * order after both are empty. When every slot is out, a big request goes
 * to malloc: free/realloc tell the two apart by address. */
#include "tls_mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "lib/sanitize.h"
#include "lib/zone.h"


/* One slot: OpenSSL 3.0's read buffer (16,652 bytes without compression),
 * write buffer (~17 KiB) or the handshake's init_buf (BUF_MEM_grow of
 * 16,384 gives 21,848); a bigger request goes to malloc. */
#define TLS_MEM_SLOT (24 * 1024)
/* Slots reserved: 96 MiB of address space, pages only where used. Each
 * handshake in flight holds up to three, a connection reading or writing
 * a record one or two: 4,096 covers more than a worker's handshakes in
 * flight; beyond it requests fall back to malloc. */
#define TLS_MEM_SLOTS 4096
/* Free slots kept resident for reuse (768 KiB): enough for the records
 * of the busy connections of one loop without a page fault each; a slot
 * freed beyond it is given back to the kernel. */
#define TLS_MEM_KEEP 32

/* OpenSSL's small blocks (the connection's contexts, keys, locks and
 * the handshake's temporaries) come from a zone of their own: see
 * TLS_MEM_SMALL_MAX in tls_mem.h. 2 GiB of address space: ~300,000 idle
 * connections' worth; past it blocks fall back to malloc. */
#define TLS_MEM_SMALL_RESERVE ((size_t)2 << 30)

static struct zone *tls_mem_small;
static pthread_mutex_t tls_mem_lock = PTHREAD_MUTEX_INITIALIZER;
static bool tls_mem_on;
static unsigned char *tls_mem_base; /* NULL until the first big request */
static bool tls_mem_map_failed;
static uint32_t tls_mem_hot[TLS_MEM_KEEP];
static uint32_t tls_mem_cold[TLS_MEM_SLOTS];
static unsigned tls_mem_hot_n, tls_mem_cold_n, tls_mem_top, tls_mem_used;
static unsigned long tls_mem_served, tls_mem_fallback;

bool tls_mem_owns(const void *p)
{
	const unsigned char *base = __atomic_load_n(&tls_mem_base, __ATOMIC_ACQUIRE);
	return base != NULL && (const unsigned char *)p >= base &&
		(const unsigned char *)p < base + (size_t)TLS_MEM_SLOTS * TLS_MEM_SLOT;
}

/* A free slot, or NULL (pool full or unmappable). Under the lock. */
static void *tls_mem_take(void)
{
	if (tls_mem_base == NULL && !tls_mem_map_failed) {
		void *p = mmap(NULL, (size_t)TLS_MEM_SLOTS * TLS_MEM_SLOT,
			       PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			tls_mem_map_failed = true;
		} else {
			/* a 2 MiB page would keep given-back slots resident */
			(void)madvise(p, (size_t)TLS_MEM_SLOTS * TLS_MEM_SLOT, MADV_NOHUGEPAGE);
			__atomic_store_n(&tls_mem_base, p, __ATOMIC_RELEASE);
		}
	}
	if (tls_mem_base == NULL)
		return NULL;
	uint32_t idx;
	if (tls_mem_hot_n > 0)
		idx = tls_mem_hot[--tls_mem_hot_n];
	else if (tls_mem_cold_n > 0)
		idx = tls_mem_cold[--tls_mem_cold_n];
	else if (tls_mem_top < TLS_MEM_SLOTS)
		idx = tls_mem_top++;
	else
		return NULL;
	tls_mem_used++;
	tls_mem_served++;
	return tls_mem_base + (size_t)idx * TLS_MEM_SLOT;
}

static void tls_mem_put(void *p)
{
	size_t off = (size_t)((unsigned char *)p - tls_mem_base);
	uint32_t idx = (uint32_t)(off / TLS_MEM_SLOT);
	pthread_mutex_lock(&tls_mem_lock);
	tls_mem_used--;
	if (tls_mem_hot_n < TLS_MEM_KEEP) {
		tls_mem_hot[tls_mem_hot_n++] = idx;
	} else {
		/* the contents go: OpenSSL cleanses what it must before free */
		(void)madvise(tls_mem_base + (size_t)idx * TLS_MEM_SLOT, TLS_MEM_SLOT,
			      MADV_DONTNEED);
		tls_mem_cold[tls_mem_cold_n++] = idx;
	}
	pthread_mutex_unlock(&tls_mem_lock);
}

static void *tls_mem_malloc(size_t num, const char *file, int line)
{
	(void)file;
	(void)line;
	if (num == 0)
		return NULL; /* as CRYPTO_malloc */
	if (num <= TLS_MEM_SMALL_MAX) {
		void *p = zone_alloc(tls_mem_small, num);
		if (p != NULL)
			return p;
	}
	if (num >= TLS_MEM_BIG_MIN && num <= TLS_MEM_SLOT) {
		pthread_mutex_lock(&tls_mem_lock);
		void *p = tls_mem_take();
		if (p == NULL)
			tls_mem_fallback++;
		pthread_mutex_unlock(&tls_mem_lock);
		if (p != NULL)
			return p;
	}
	return malloc(num);
}

static void tls_mem_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p == NULL)
		return;
	if (zone_owns(tls_mem_small, p))
		zone_free(tls_mem_small, p);
	else if (tls_mem_owns(p))
		tls_mem_put(p);
	else
		free(p);
}

static void *tls_mem_realloc(void *p, size_t num, const char *file, int line)
{
	if (p == NULL)
		return tls_mem_malloc(num, file, line);
	if (num == 0) {
		tls_mem_free(p, file, line);
		return NULL;
	}
	if (zone_owns(tls_mem_small, p)) {
		size_t have = zone_block_size(tls_mem_small, p);
		if (zone_roundup(tls_mem_small, num) == have)
			return p;
		void *q = tls_mem_malloc(num, file, line);
		if (q == NULL)
			return NULL;
		memcpy(q, p, have < num ? have : num);
		zone_free(tls_mem_small, p);
		return q;
	}
	if (!tls_mem_owns(p))
		return realloc(p, num); /* a heap block stays in the heap */
	if (num <= TLS_MEM_SLOT)
		return p;
	void *q = malloc(num);
	if (q == NULL)
		return NULL; /* p stays valid, as realloc's contract */
	memcpy(q, p, TLS_MEM_SLOT); /* the old block was at most a slot */
	tls_mem_put(p);
	return q;
}

/* fork() while another thread holds the lock must not leave the child
 * a lock nobody will release */
static void tls_mem_fork_prepare(void)
{
	pthread_mutex_lock(&tls_mem_lock);
	zone_lock(tls_mem_small);
}

static void tls_mem_fork_done(void)
{
	zone_unlock(tls_mem_small);
	pthread_mutex_unlock(&tls_mem_lock);
}

int tls_mem_init(void)
{
	if (postel_sanitized || tls_mem_on)
		return 0;       /* sanitized: OpenSSL keeps plain malloc, seen whole */
	tls_mem_small = zone_create("tls", TLS_MEM_SMALL_RESERVE, TLS_MEM_SMALL_MAX);
	if (CRYPTO_set_mem_functions(tls_mem_malloc, tls_mem_realloc, tls_mem_free) != 1) {
		zone_destroy(&tls_mem_small);
		return -1;
	}
	(void)pthread_atfork(tls_mem_fork_prepare, tls_mem_fork_done, tls_mem_fork_done);
	tls_mem_on = true;
	return 0;
}

bool tls_mem_enabled(void)
{
	return tls_mem_on;
}

void tls_mem_trim(void)
{
	if (tls_mem_small != NULL)
		zone_trim(tls_mem_small);
	pthread_mutex_lock(&tls_mem_lock);
	while (tls_mem_hot_n > 0) {
		uint32_t idx = tls_mem_hot[--tls_mem_hot_n];
		(void)madvise(tls_mem_base + (size_t)idx * TLS_MEM_SLOT, TLS_MEM_SLOT,
			      MADV_DONTNEED);
		tls_mem_cold[tls_mem_cold_n++] = idx;
	}
	pthread_mutex_unlock(&tls_mem_lock);
}

bool tls_mem_small_owns(const void *p)
{
	return tls_mem_small != NULL && zone_owns(tls_mem_small, p);
}

/* the small zone's figures and the pool's are read under their own
 * locks: not one snapshot, which a stats line does not need */
void tls_mem_get_stats(struct tls_mem_stats *stats_r)
{
	struct zone_stats zs = { 0 };
	if (tls_mem_small != NULL)
		zone_get_stats(tls_mem_small, &zs);
	pthread_mutex_lock(&tls_mem_lock);
	stats_r->slots_used = tls_mem_used;
	stats_r->slots_hot = tls_mem_hot_n;
	stats_r->served = tls_mem_served;
	stats_r->fallback = tls_mem_fallback;
	stats_r->small_blocks = zs.blocks;
	stats_r->small_bytes = zs.bytes;
	pthread_mutex_unlock(&tls_mem_lock);
}
