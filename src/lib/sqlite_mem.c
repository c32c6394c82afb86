/* sqlite_mem.c: SQLite's blocks in a zone of their own. See sqlite_mem.h.
 *
 * Blocks the zone does not serve (above ZONE_MAX: the page cache's bulk
 * allocation, large statements; or the range used up) get a mapping of
 * their own with a 16-byte header giving the requested size, so that
 * freeing one gives its pages back at once too. */
#include "sqlite_mem.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include <sqlite3.h>

#include "lib/sanitize.h"
#include "lib/zone.h"

/* 4 GiB of address space: at ~300 KiB an open handle, ~14,000 handles
 * at once before blocks fall back to mappings of their own */
#define SQLITE_MEM_RESERVE ((size_t)4 << 30)
#define SQLITE_MEM_HEADER 16

static struct zone *sqlite_zone;
static bool sqlite_mem_on;

static size_t big_map_len(size_t n)
{
	size_t page = 4096;
	return (n + SQLITE_MEM_HEADER + page - 1) & ~(page - 1);
}

static void *big_alloc(size_t n)
{
	void *m = mmap(NULL, big_map_len(n), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	memcpy(m, &n, sizeof(n));
	return (unsigned char *)m + SQLITE_MEM_HEADER;
}

static size_t big_size(const void *p)
{
	size_t n;
	memcpy(&n, (const unsigned char *)p - SQLITE_MEM_HEADER, sizeof(n));
	return n;
}

static void *sqlite_mem_malloc(int n)
{
	if (n <= 0)
		return NULL;
	void *p = zone_alloc(sqlite_zone, (size_t)n);
	return p != NULL ? p : big_alloc((size_t)n);
}

static void sqlite_mem_free(void *p)
{
	if (p == NULL)
		return;
	if (zone_owns(sqlite_zone, p))
		zone_free(sqlite_zone, p);
	else
		munmap((unsigned char *)p - SQLITE_MEM_HEADER, big_map_len(big_size(p)));
}

static int sqlite_mem_size(void *p)
{
	if (p == NULL)
		return 0;
	return (int)(zone_owns(sqlite_zone, p) ? zone_block_size(sqlite_zone, p) : big_size(p));
}

static void *sqlite_mem_realloc(void *p, int n)
{
	if (n <= 0)
		return NULL;
	size_t have = (size_t)sqlite_mem_size(p);
	bool owned = zone_owns(sqlite_zone, p);
	/* a block keeps its place while the request still fits its class
	 * (or mapping) and would not be served from a smaller one */
	if (owned ? zone_roundup(sqlite_zone, (size_t)n) == have :
	    big_map_len((size_t)n) == big_map_len(have)) {
		if (!owned)
			memcpy((unsigned char *)p - SQLITE_MEM_HEADER, &(size_t){ (size_t)n },
			       sizeof(size_t));
		return p;
	}
	void *q = sqlite_mem_malloc(n);
	if (q == NULL)
		return NULL; /* p stays valid, as SQLite expects */
	memcpy(q, p, have < (size_t)n ? have : (size_t)n);
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
	sqlite_zone = zone_create("sqlite", SQLITE_MEM_RESERVE, ZONE_MAX);
	if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK)
		return -1; /* SQLite was initialised already: it keeps malloc */
	(void)pthread_atfork(sqlite_mem_fork_prepare, sqlite_mem_fork_done,
			     sqlite_mem_fork_done);
	sqlite_mem_on = true;
	return 0;
}

bool sqlite_mem_enabled(void)
{
	return sqlite_mem_on;
}

void sqlite_mem_get_stats(struct zone_stats *stats_r)
{
	if (sqlite_zone != NULL)
		zone_get_stats(sqlite_zone, stats_r);
	else
		*stats_r = (struct zone_stats){ 0 };
}
