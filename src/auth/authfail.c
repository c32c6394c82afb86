/* authfail.c: see authfail.h. A fixed array of entries, a hash index and
 * a least-recently-updated list, all linked by index (+1, so 0 is "none"
 * and static zero-initialisation is the empty state). */
#include "auth/authfail.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <string.h>

#define AUTHFAIL_BUCKETS 8192 /* power of two, twice the entries */
#define AUTHFAIL_MAX_FAILURES 1000 /* enough to stay at the cap */

struct authfail_entry {
	unsigned char key[16];
	uint64_t last_ms;
	unsigned failures;
	uint32_t hash_next; /* also the free list link */
	uint32_t lru_prev, lru_next;
};

/* All state in one struct, so it can live in memory shared by every
 * worker process (authfail_share()): failures are counted per address
 * whichever worker the connection lands on. */
struct authfail_state {
	pthread_mutex_t lock; /* process-shared and robust once shared */
	bool shared;
	struct authfail_entry entries[AUTHFAIL_MAX_ENTRIES];
	uint32_t buckets[AUTHFAIL_BUCKETS];
	uint32_t lru_head, lru_tail, free;
	uint32_t never_used; /* entries [0, this) have been used */
};

static struct authfail_state authfail_local;
static struct authfail_state *st = &authfail_local;

#define authfail_entries (st->entries)
#define authfail_buckets (st->buckets)
#define authfail_lru_head (st->lru_head)
#define authfail_lru_tail (st->lru_tail)
#define authfail_free (st->free)
#define authfail_never_used (st->never_used)
#define ENTRY(id) (&authfail_entries[(id) - 1])

static void authfail_clear(void)
{
	memset(authfail_buckets, 0, sizeof(authfail_buckets));
	authfail_lru_head = authfail_lru_tail = authfail_free = 0;
	authfail_never_used = 0;
}

static void authfail_lock(void)
{
	if (!st->shared)
		return;
	int r = pthread_mutex_lock(&st->lock);
	if (r == EOWNERDEAD) {
		/* a worker died holding it: the table may be half-updated,
		 * and forgetting failures is the safe way out */
		authfail_clear();
		pthread_mutex_consistent(&st->lock);
	}
}

static void authfail_unlock(void)
{
	if (st->shared)
		pthread_mutex_unlock(&st->lock);
}

void authfail_reset(void)
{
	authfail_lock();
	authfail_clear();
	authfail_unlock();
}

int authfail_share(void)
{
	void *p = mmap(NULL, sizeof(struct authfail_state), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	struct authfail_state *shared = p;
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&shared->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	shared->shared = true;
	st = shared;
	return 0;
}

/* The address as 16 bytes: IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64. */
static void authfail_key(const char *ip, unsigned char key[16])
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr v6;
	struct in_addr v4;
	size_t len = strcspn(ip, "%"); /* drop an IPv6 zone id */

	memset(key, 0xff, 16); /* the shared key of unparseable input */
	if (len >= sizeof(buf))
		return;
	memcpy(buf, ip, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &v6) == 1) {
		memcpy(key, &v6, 16);
		if (!IN6_IS_ADDR_V4MAPPED(&v6))
			memset(key + 8, 0, 8);
	} else if (inet_pton(AF_INET, buf, &v4) == 1) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &v4, 4);
	}
}

static uint32_t authfail_bucket(const unsigned char key[16])
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (unsigned i = 0; i < 16; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & (AUTHFAIL_BUCKETS - 1);
}

static uint32_t authfail_find(const unsigned char key[16])
{
	uint32_t id = authfail_buckets[authfail_bucket(key)];
	while (id != 0 && memcmp(ENTRY(id)->key, key, 16) != 0)
		id = ENTRY(id)->hash_next;
	return id;
}

static void authfail_lru_unlink(uint32_t id)
{
	struct authfail_entry *e = ENTRY(id);
	if (e->lru_prev != 0)
		ENTRY(e->lru_prev)->lru_next = e->lru_next;
	else
		authfail_lru_head = e->lru_next;
	if (e->lru_next != 0)
		ENTRY(e->lru_next)->lru_prev = e->lru_prev;
	else
		authfail_lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = 0;
}

static void authfail_lru_append(uint32_t id)
{
	struct authfail_entry *e = ENTRY(id);
	e->lru_prev = authfail_lru_tail;
	e->lru_next = 0;
	if (authfail_lru_tail != 0)
		ENTRY(authfail_lru_tail)->lru_next = id;
	else
		authfail_lru_head = id;
	authfail_lru_tail = id;
}

static void authfail_remove(uint32_t id)
{
	uint32_t *link = &authfail_buckets[authfail_bucket(ENTRY(id)->key)];
	while (*link != id)
		link = &ENTRY(*link)->hash_next;
	*link = ENTRY(id)->hash_next;
	authfail_lru_unlink(id);
	ENTRY(id)->hash_next = authfail_free;
	authfail_free = id;
}

/* The list is ordered by last update, so expired entries are at its head. */
static void authfail_expire(uint64_t now_ms)
{
	while (authfail_lru_head != 0 &&
	       now_ms >= ENTRY(authfail_lru_head)->last_ms + AUTHFAIL_EXPIRE_MS)
		authfail_remove(authfail_lru_head);
}

static uint32_t authfail_insert(const unsigned char key[16])
{
	uint32_t id;

	if (authfail_free == 0 && authfail_never_used == AUTHFAIL_MAX_ENTRIES)
		authfail_remove(authfail_lru_head); /* full: evict the oldest */
	if (authfail_free != 0) {
		id = authfail_free;
		authfail_free = ENTRY(id)->hash_next;
	} else {
		id = ++authfail_never_used;
	}
	struct authfail_entry *e = ENTRY(id);
	memset(e, 0, sizeof(*e));
	memcpy(e->key, key, 16);
	uint32_t bucket = authfail_bucket(key);
	e->hash_next = authfail_buckets[bucket];
	authfail_buckets[bucket] = id;
	authfail_lru_append(id);
	return id;
}

unsigned authfail_delay_ms(const char *ip, uint64_t now_ms)
{
	unsigned char key[16];

	authfail_key(ip, key);
	authfail_lock();
	authfail_expire(now_ms);
	uint32_t id = authfail_find(key);
	unsigned failures = id == 0 ? 0 : ENTRY(id)->failures;
	authfail_unlock();
	if (failures == 0)
		return 0;
	/* 1000, 2000, 4000, 8000, then the cap */
	unsigned delay = AUTHFAIL_DELAY_FIRST_MS;
	for (unsigned i = 1; i < failures && delay < AUTHFAIL_DELAY_MAX_MS; i++)
		delay *= 2;
	return delay < AUTHFAIL_DELAY_MAX_MS ? delay : AUTHFAIL_DELAY_MAX_MS;
}

void authfail_record(const char *ip, bool success, uint64_t now_ms)
{
	unsigned char key[16];

	authfail_key(ip, key);
	authfail_lock();
	authfail_expire(now_ms);
	uint32_t id = authfail_find(key);
	if (success) {
		if (id != 0)
			authfail_remove(id);
		authfail_unlock();
		return;
	}
	if (id == 0)
		id = authfail_insert(key);
	else {
		authfail_lru_unlink(id);
		authfail_lru_append(id);
	}
	struct authfail_entry *e = ENTRY(id);
	if (e->failures < AUTHFAIL_MAX_FAILURES)
		e->failures++;
	e->last_ms = now_ms;
	authfail_unlock();
}
