/* worker_limits.c: see worker_limits.h. Counters are 16-bit and updated
 * with atomics; a worker has at most max_connections (<= 65535 per
 * address makes sense) in one bucket. */
#include "worker_limits.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

struct worker_limits_shared {
	unsigned rows;
	size_t map_size;
	uint16_t counts[]; /* rows * WORKER_LIMITS_BUCKETS */
};

struct worker_limits {
	struct worker_limits_shared *shared;
	unsigned row;
};

static unsigned limits_hash(const char *ip)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % WORKER_LIMITS_BUCKETS;
}

struct worker_limits_shared *worker_limits_shared_create(unsigned rows)
{
	size_t size = sizeof(struct worker_limits_shared) +
		(size_t)rows * WORKER_LIMITS_BUCKETS * sizeof(uint16_t);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("event=mmap_failed size=%zu error=\"%s\"", size, strerror(errno));
	struct worker_limits_shared *shared = p;
	shared->rows = rows;
	shared->map_size = size;
	return shared;
}

void worker_limits_shared_destroy(struct worker_limits_shared **sharedp)
{
	if (*sharedp == NULL)
		return;
	munmap(*sharedp, (*sharedp)->map_size);
	*sharedp = NULL;
}

void worker_limits_row_clear(struct worker_limits_shared *shared, unsigned row)
{
	if (row >= shared->rows)
		panic("event=limits_row_out_of_range row=%u", row);
	memset(&shared->counts[(size_t)row * WORKER_LIMITS_BUCKETS], 0,
	       WORKER_LIMITS_BUCKETS * sizeof(uint16_t));
}

struct worker_limits *worker_limits_create(struct worker_limits_shared *shared,
					   unsigned row)
{
	if (row >= shared->rows)
		panic("event=limits_row_out_of_range row=%u", row);
	struct worker_limits *limits = xcalloc(1, sizeof(*limits));
	limits->shared = shared;
	limits->row = row;
	return limits;
}

void worker_limits_destroy(struct worker_limits **limitsp)
{
	xfree(limitsp);
}

static uint16_t *limits_cell(struct worker_limits *limits, unsigned row, unsigned h)
{
	return &limits->shared->counts[(size_t)row * WORKER_LIMITS_BUCKETS + h];
}

bool worker_limits_acquire(struct worker_limits *limits, const char *ip, unsigned max)
{
	unsigned h = limits_hash(ip);
	uint16_t *own = limits_cell(limits, limits->row, h);
	if (max > 0) {
		unsigned total = 0;
		for (unsigned r = 0; r < limits->shared->rows; r++)
			total += __atomic_load_n(limits_cell(limits, r, h), __ATOMIC_RELAXED);
		if (total >= max)
			return false;
	}
	if (*own == UINT16_MAX)
		return false;
	__atomic_fetch_add(own, 1, __ATOMIC_RELAXED);
	return true;
}

void worker_limits_release(struct worker_limits *limits, const char *ip)
{
	uint16_t *own = limits_cell(limits, limits->row, limits_hash(ip));
	if (*own > 0)
		__atomic_fetch_sub(own, 1, __ATOMIC_RELAXED);
}
