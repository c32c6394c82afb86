/* sqlite_mem.c: SQLite's blocks in a zone of their own. See sqlite_mem.h.
 *
 * A block the zone does not serve carries a 16-byte header (its
 * requested size and where it lives): one above ZONE_MAX (the page
 * cache's bulk block, a large value) gets a mapping of its own, so that
 * freeing it gives its pages back at once and growing it is an mremap;
 * a smaller one, when the zone's range is used up or could not be
 * reserved, comes from malloc as before this file. */
#include "sqlite_mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sqlite3.h>

#include "lib/sanitize.h"
#include "lib/zone.h"

/* 4 GiB of address space (reserved PROT_NONE: no memory, no commit
 * charge until a span is used): far more than the blocks up to ZONE_MAX
 * of thousands of open handles; past it blocks come from malloc */
#define SQLITE_MEM_RESERVE ((size_t)4 << 30)
#define SQLITE_MEM_HEADER 16

enum sqlite_mem_home { SQLITE_MEM_MAPPED = 1, SQLITE_MEM_MALLOC = 2 };

struct sqlite_mem_header {
	size_t size;
	size_t home; /* enum sqlite_mem_home */
};
_Static_assert(sizeof(struct sqlite_mem_header) == SQLITE_MEM_HEADER, "header size");

static struct zone *sqlite_zone;
static bool sqlite_mem_on;

static size_t map_len(size_t n)
{
	size_t page = 4096;
	return (n + SQLITE_MEM_HEADER + page - 1) & ~(page - 1);
}

static struct sqlite_mem_header *header_of(void *p)
{
	return (struct sqlite_mem_header *)((unsigned char *)p - SQLITE_MEM_HEADER);
}

static void *outside_alloc(size_t n)
{
	struct sqlite_mem_header *h;
	if (n > ZONE_MAX) {
		void *m = mmap(NULL, map_len(n), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED)
			return NULL;
		h = m;
		h->home = SQLITE_MEM_MAPPED;
	} else {
		h = malloc(n + SQLITE_MEM_HEADER);
		if (h == NULL)
			return NULL;
		h->home = SQLITE_MEM_MALLOC;
	}
	h->size = n;
	return h + 1;
}

static void *sqlite_mem_malloc(int n)
{
	if (n <= 0)
		return NULL;
	void *p = zone_alloc(sqlite_zone, (size_t)n);
	return p != NULL ? p : outside_alloc((size_t)n);
}

static void sqlite_mem_free(void *p)
{
	if (p == NULL)
		return;
	if (zone_owns(sqlite_zone, p)) {
		zone_free(sqlite_zone, p);
		return;
	}
	struct sqlite_mem_header *h = header_of(p);
	if (h->home == SQLITE_MEM_MAPPED)
		munmap(h, map_len(h->size));
	else
		free(h);
}

static int sqlite_mem_size(void *p)
{
	if (p == NULL)
		return 0;
	return (int)(zone_owns(sqlite_zone, p) ? zone_block_size(sqlite_zone, p) :
		     header_of(p)->size);
}

static void *sqlite_mem_realloc(void *p, int n)
{
	if (n <= 0)
		return NULL;
	size_t want = (size_t)n, have = (size_t)sqlite_mem_size(p);
	if (zone_owns(sqlite_zone, p)) {
		/* in place while the request keeps its class */
		if (zone_roundup(sqlite_zone, want) == have)
			return p;
	} else if (header_of(p)->home == SQLITE_MEM_MAPPED && want > ZONE_MAX) {
		struct sqlite_mem_header *h = header_of(p);
		if (map_len(want) != map_len(have)) {
			void *m = mremap(h, map_len(have), map_len(want), MREMAP_MAYMOVE);
			if (m == MAP_FAILED)
				return NULL; /* p stays valid, as SQLite expects */
			h = m;
		}
		h->size = want;
		return h + 1;
	}
	void *q = sqlite_mem_malloc(n);
	if (q == NULL)
		return NULL;
	memcpy(q, p, have < want ? have : want);
	sqlite_mem_free(p);
	return q;
}

static int sqlite_mem_roundup(int n)
{
	size_t r = zone_roundup(sqlite_zone, (size_t)n);
	return r != 0 ? (int)r : (n + 7) & ~7;
}

static int sqlite_mem_init_cb(void *arg)
{
	(void)arg;
	return SQLITE_OK;
}

static void sqlite_mem_shutdown_cb(void *arg)
{
	(void)arg;
}

static void sqlite_mem_fork_prepare(void)
{
	zone_lock(sqlite_zone);
}

static void sqlite_mem_fork_done(void)
{
	zone_unlock(sqlite_zone);
}

int sqlite_mem_init(void)
{
	return sqlite_mem_init_reserve(SQLITE_MEM_RESERVE);
}

int sqlite_mem_init_reserve(size_t reserve)
{
	if (postel_sanitized || sqlite_mem_on)
		return 0;
	static const sqlite3_mem_methods methods = {
		.xMalloc = sqlite_mem_malloc,
		.xFree = sqlite_mem_free,
		.xRealloc = sqlite_mem_realloc,
		.xSize = sqlite_mem_size,
		.xRoundup = sqlite_mem_roundup,
		.xInit = sqlite_mem_init_cb,
		.xShutdown = sqlite_mem_shutdown_cb,
	};
	sqlite_zone = zone_create("sqlite", reserve, ZONE_MAX);
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK) {
		zone_destroy(&sqlite_zone);
		return -1; /* SQLite was initialised already: it keeps malloc */
	}
	(void)pthread_atfork(sqlite_mem_fork_prepare, sqlite_mem_fork_done,
			     sqlite_mem_fork_done);
	sqlite_mem_on = true;
	return 0;
}

bool sqlite_mem_enabled(void)
{
	return sqlite_mem_on;
}

void sqlite_mem_trim(void)
{
	if (sqlite_zone != NULL)
		zone_trim(sqlite_zone);
}

void sqlite_mem_get_stats(struct zone_stats *stats_r)
{
	if (sqlite_zone != NULL)
		zone_get_stats(sqlite_zone, stats_r);
	else
		*stats_r = (struct zone_stats){ 0 };
}
