/* worker_limits.c: see worker_limits.h.
 *
 * Layout of the shared map: the header (mutex, sizes, hash seed), then
 * `slots` entries {key, total}, then rows * slots 16-bit per-worker counts.
 * Invariant under the lock: entry.total == sum of the rows' counts for it.
 * An address's entry sits within WINDOW positions of its hash; the whole
 * window is searched for the key before a free entry (total 0) in it is
 * taken, so one key never has two live entries. */
#include "worker_limits.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#define LIMITS_WINDOW 32
#define LIMITS_KEY_LEN 16

struct limits_entry {
	uint8_t key[LIMITS_KEY_LEN];
	uint32_t total;
};

struct worker_limits_shared {
	pthread_mutex_t lock;
	unsigned rows, slots;
	uint64_t seed;
	size_t map_size;
	struct limits_entry *entries;
	uint16_t *counts; /* rows * slots */
};

struct worker_limits {
	struct worker_limits_shared *shared;
	unsigned row;
};

/* The key: IPv4 as ::ffff:a.b.c.d (from either family), IPv6 as its /64
 * prefix with the interface half zeroed. The two never meet: a v4 key has
 * 0xffff in bytes 10-11, a /64 key has zeros there. Text that is no
 * address maps to all-ones (ff00::/8 is multicast, never a peer). */
static void limits_key(const char *ip, uint8_t key[LIMITS_KEY_LEN])
{
	struct in_addr a4;
	struct in6_addr a6;
	memset(key, 0, LIMITS_KEY_LEN);
	if (inet_pton(AF_INET, ip, &a4) == 1) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &a4, 4);
	} else if (inet_pton(AF_INET6, ip, &a6) == 1) {
		memcpy(key, &a6, LIMITS_KEY_LEN);
		if (!IN6_IS_ADDR_V4MAPPED(&a6))
			memset(key + 8, 0, 8);
	} else {
		memset(key, 0xff, LIMITS_KEY_LEN);
	}
}

/* Seeded so that nobody can choose addresses whose windows pile onto a
 * victim's (which would only leave the victim uncounted, not refused). */
static unsigned limits_hash(const struct worker_limits_shared *shared,
			    const uint8_t key[LIMITS_KEY_LEN])
{
	uint64_t h = shared->seed;
	for (unsigned i = 0; i < LIMITS_KEY_LEN; i += 8) {
		uint64_t w;
		memcpy(&w, key + i, 8);
		h ^= w;
		/* splitmix64 finaliser */
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
		h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
		h ^= h >> 31;
	}
	return (unsigned)(h % shared->slots);
}

static void limits_lock(struct worker_limits_shared *shared)
{
	int r = pthread_mutex_lock(&shared->lock);
	if (r == EOWNERDEAD) {
		/* a worker died inside a few counter updates: at worst one
		 * count is off by one until its row is cleared */
		pthread_mutex_consistent(&shared->lock);
	} else if (r != 0) {
		panic("event=limits_lock_failed error=\"%s\"", strerror(r));
	}
}

static void limits_unlock(struct worker_limits_shared *shared)
{
	pthread_mutex_unlock(&shared->lock);
}

/* Under the lock: the live entry of key, or (create) a free one in its
 * window claimed for it; -1 when there is neither. */
static int limits_find(struct worker_limits_shared *shared,
		       const uint8_t key[LIMITS_KEY_LEN], bool create)
{
	unsigned start = limits_hash(shared, key);
	unsigned window = shared->slots < LIMITS_WINDOW ? shared->slots : LIMITS_WINDOW;
	int free_slot = -1;
	for (unsigned i = 0; i < window; i++) {
		unsigned s = (start + i) % shared->slots;
		struct limits_entry *e = &shared->entries[s];
		if (e->total == 0) {
			if (free_slot < 0)
				free_slot = (int)s;
		} else if (memcmp(e->key, key, LIMITS_KEY_LEN) == 0) {
			return (int)s;
		}
	}
	if (!create || free_slot < 0)
		return -1;
	memcpy(shared->entries[free_slot].key, key, LIMITS_KEY_LEN);
	return free_slot;
}

struct worker_limits_shared *worker_limits_shared_create(unsigned rows, unsigned slots)
{
	if (rows == 0 || slots == 0)
		panic("event=limits_bad_size rows=%u slots=%u", rows, slots);
	size_t head = (sizeof(struct worker_limits_shared) + 63) & ~(size_t)63;
	size_t entries = (size_t)slots * sizeof(struct limits_entry);
	size_t size = head + entries + (size_t)rows * slots * sizeof(uint16_t);
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fatal("event=mmap_failed size=%zu error=\"%s\"", size, strerror(errno));
	struct worker_limits_shared *shared = p;
	shared->rows = rows;
	shared->slots = slots;
	shared->map_size = size;
	/* the map is inherited at the same address by every worker */
	shared->entries = (struct limits_entry *)((char *)p + head);
	shared->counts = (uint16_t *)((char *)p + head + entries);
	if (getrandom(&shared->seed, sizeof(shared->seed), 0) != sizeof(shared->seed))
		shared->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;

	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	int r = pthread_mutex_init(&shared->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (r != 0)
		fatal("event=limits_mutex_failed error=\"%s\"", strerror(r));
	return shared;
}

void worker_limits_shared_destroy(struct worker_limits_shared **sharedp)
{
	if (*sharedp == NULL)
		return;
	pthread_mutex_destroy(&(*sharedp)->lock);
	munmap(*sharedp, (*sharedp)->map_size);
	*sharedp = NULL;
}

static uint16_t *limits_cell(struct worker_limits_shared *shared, unsigned row,
			     unsigned slot)
{
	return &shared->counts[(size_t)row * shared->slots + slot];
}

void worker_limits_row_clear(struct worker_limits_shared *shared, unsigned row)
{
	if (row >= shared->rows)
		panic("event=limits_row_out_of_range row=%u", row);
	limits_lock(shared);
	for (unsigned s = 0; s < shared->slots; s++) {
		uint16_t *cell = limits_cell(shared, row, s);
		if (*cell == 0)
			continue;
		struct limits_entry *e = &shared->entries[s];
		e->total = e->total > *cell ? e->total - *cell : 0;
		*cell = 0;
	}
	limits_unlock(shared);
}

unsigned worker_limits_count(struct worker_limits_shared *shared, const char *ip)
{
	uint8_t key[LIMITS_KEY_LEN];
	limits_key(ip, key);
	limits_lock(shared);
	int s = limits_find(shared, key, false);
	unsigned total = s < 0 ? 0 : shared->entries[s].total;
	limits_unlock(shared);
	return total;
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

/* One line per second at most, with how many went uncounted meanwhile. */
static void limits_log_uncounted(const char *ip)
{
	static time_t last;
	static unsigned skipped;
	time_t now = time(NULL);
	if (now == last) {
		skipped++;
		return;
	}
	log_warn("event=connection_uncounted ip=%s reason=\"address table full\" "
		 "more_since_last=%u", ip, skipped);
	last = now;
	skipped = 0;
}

bool worker_limits_acquire(struct worker_limits *limits, const char *ip, unsigned max)
{
	struct worker_limits_shared *shared = limits->shared;
	uint8_t key[LIMITS_KEY_LEN];
	limits_key(ip, key);
	limits_lock(shared);
	int s = limits_find(shared, key, true);
	if (s < 0) {
		limits_unlock(shared);
		limits_log_uncounted(ip);
		return true;
	}
	struct limits_entry *e = &shared->entries[s];
	uint16_t *own = limits_cell(shared, limits->row, (unsigned)s);
	bool ok = max == 0 || e->total < max;
	if (ok && *own < UINT16_MAX && e->total < UINT32_MAX) {
		(*own)++;
		e->total++;
	}
	limits_unlock(shared);
	return ok;
}

void worker_limits_release(struct worker_limits *limits, const char *ip)
{
	struct worker_limits_shared *shared = limits->shared;
	uint8_t key[LIMITS_KEY_LEN];
	limits_key(ip, key);
	limits_lock(shared);
	int s = limits_find(shared, key, false);
	if (s >= 0) {
		uint16_t *own = limits_cell(shared, limits->row, (unsigned)s);
		if (*own > 0) {
			(*own)--;
			shared->entries[s].total--;
		}
	}
	limits_unlock(shared);
}
