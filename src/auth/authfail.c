/* authfail.c: see authfail.h. One fixed array of records, each an address
 * aggregate or an (address, name) pair, with a hash index and a
 * least-recently-used list, all linked by index + 1 (0 is "none", so
 * static zero-initialisation is the empty state). Everything lives in one
 * struct, so authfail_share() can move it into a MAP_SHARED mapping. */
#include "auth/authfail.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define AUTHFAIL_BUCKETS 8192 /* power of two, twice the records */
#define AUTHFAIL_MAX_COUNT 1000 /* failures: enough to stay at the cap */
#define AUTHFAIL_MAX_INFLIGHT 100000
/* An attempt ends well within this after its reserved start; counts of
 * attempts under way older than that were left by a dead worker. */
#define AUTHFAIL_INFLIGHT_STALE_MS (60 * 1000)

enum authfail_kind {
	AUTHFAIL_KIND_ADDRESS = 1,
	AUTHFAIL_KIND_NAME = 2,
};

struct authfail_key {
	unsigned char addr[16];
	uint8_t kind;
	uint8_t name_len;
	char name[AUTHFAIL_NAME_MAX];
};

struct authfail_entry {
	struct authfail_key key;
	uint64_t hash;
	uint64_t last_ms;
	uint64_t next_verdict_ms; /* address: the next spaced verdict, not before */
	uint64_t busy_until_ms;   /* name: the latest start reserved */
	uint32_t inflight;        /* name: begun, not yet ended */
	uint32_t failures;
	uint32_t hash_next;       /* also the free list link */
	uint32_t lru_prev, lru_next;
};

struct authfail_state {
	pthread_mutex_t lock; /* process-shared and robust once shared */
	bool shared;
	uint64_t seed;        /* so chosen names cannot pick their bucket */
	struct authfail_entry entries[AUTHFAIL_MAX_ENTRIES];
	uint32_t buckets[AUTHFAIL_BUCKETS];
	uint32_t lru_head, lru_tail, free;
	uint32_t never_used; /* entries [0, this) have been used */
};

static struct authfail_state authfail_local;
static struct authfail_state *st = &authfail_local;

#define ENTRY(id) (&st->entries[(id) - 1])

static uint64_t authfail_new_seed(void)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed))
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	return seed;
}

static void authfail_clear(void)
{
	memset(st->buckets, 0, sizeof(st->buckets));
	st->lru_head = st->lru_tail = st->free = 0;
	st->never_used = 0;
	st->seed = authfail_new_seed();
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
	struct authfail_state *shared = p; /* zero-filled: the empty table */
	pthread_mutexattr_t attr;
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&shared->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	shared->seed = authfail_new_seed();
	shared->shared = true;
	st = shared;
	return 0;
}

/* The address as 16 bytes: IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64. */
static void authfail_addr_key(const char *ip, unsigned char addr[16])
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr v6;
	struct in_addr v4;
	size_t len = strcspn(ip, "%"); /* drop an IPv6 zone id */

	memset(addr, 0xff, 16); /* the shared key of unparseable input */
	if (len >= sizeof(buf))
		return;
	memcpy(buf, ip, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &v6) == 1) {
		memcpy(addr, &v6, 16);
		if (!IN6_IS_ADDR_V4MAPPED(&v6))
			memset(addr + 8, 0, 8);
	} else if (inet_pton(AF_INET, buf, &v4) == 1) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &v4, 4);
	}
}

/* The address record's key and the name record's (NULL: the empty name;
 * the kind keeps it apart from the address record). */
static void authfail_keys(const char *ip, const char *name, struct authfail_key *ak,
			  struct authfail_key *nk)
{
	memset(ak, 0, sizeof(*ak));
	authfail_addr_key(ip, ak->addr);
	ak->kind = AUTHFAIL_KIND_ADDRESS;
	*nk = *ak;
	nk->kind = AUTHFAIL_KIND_NAME;
	size_t len = name == NULL ? 0 : strnlen(name, AUTHFAIL_NAME_MAX);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		nk->name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	nk->name_len = (uint8_t)len;
}

static bool authfail_key_equal(const struct authfail_key *a, const struct authfail_key *b)
{
	return a->kind == b->kind && a->name_len == b->name_len &&
	       memcmp(a->addr, b->addr, sizeof(a->addr)) == 0 &&
	       memcmp(a->name, b->name, a->name_len) == 0;
}

static uint64_t authfail_fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

static uint64_t authfail_hash(const struct authfail_key *k)
{
	uint64_t h = 14695981039346656037ull ^ st->seed;
	h = authfail_fnv(h, k->addr, sizeof(k->addr));
	h = authfail_fnv(h, &k->kind, 1);
	h = authfail_fnv(h, &k->name_len, 1);
	h = authfail_fnv(h, k->name, k->name_len);
	/* splitmix64's finaliser: every bit reaches the bucket bits */
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	return h ^ (h >> 31);
}

static uint32_t authfail_find(const struct authfail_key *k, uint64_t h)
{
	uint32_t id = st->buckets[h & (AUTHFAIL_BUCKETS - 1)];
	while (id != 0 && !(ENTRY(id)->hash == h && authfail_key_equal(&ENTRY(id)->key, k)))
		id = ENTRY(id)->hash_next;
	return id;
}

static void authfail_lru_unlink(uint32_t id)
{
	struct authfail_entry *e = ENTRY(id);
	if (e->lru_prev != 0)
		ENTRY(e->lru_prev)->lru_next = e->lru_next;
	else
		st->lru_head = e->lru_next;
	if (e->lru_next != 0)
		ENTRY(e->lru_next)->lru_prev = e->lru_prev;
	else
		st->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = 0;
}

static void authfail_lru_append(uint32_t id)
{
	struct authfail_entry *e = ENTRY(id);
	e->lru_prev = st->lru_tail;
	e->lru_next = 0;
	if (st->lru_tail != 0)
		ENTRY(st->lru_tail)->lru_next = id;
	else
		st->lru_head = id;
	st->lru_tail = id;
}

static void authfail_remove(uint32_t id)
{
	uint32_t *link = &st->buckets[ENTRY(id)->hash & (AUTHFAIL_BUCKETS - 1)];
	while (*link != id)
		link = &ENTRY(*link)->hash_next;
	*link = ENTRY(id)->hash_next;
	authfail_lru_unlink(id);
	ENTRY(id)->hash_next = st->free;
	st->free = id;
}

/* The list is ordered by last use, so idle records are at its head. */
static void authfail_expire(uint64_t now_ms)
{
	while (st->lru_head != 0 &&
	       now_ms >= ENTRY(st->lru_head)->last_ms + AUTHFAIL_EXPIRE_MS)
		authfail_remove(st->lru_head);
}

/* Find or create k's record and mark it used; when the table is full the
 * least recently used record goes, never pin (the caller's other one). */
static struct authfail_entry *authfail_get(const struct authfail_key *k, uint64_t now_ms,
					   uint32_t pin)
{
	uint64_t h = authfail_hash(k);
	uint32_t id = authfail_find(k, h);

	if (id != 0) {
		authfail_lru_unlink(id);
	} else {
		if (st->free == 0 && st->never_used == AUTHFAIL_MAX_ENTRIES)
			authfail_remove(st->lru_head != pin ? st->lru_head :
					ENTRY(st->lru_head)->lru_next);
		if (st->free != 0) {
			id = st->free;
			st->free = ENTRY(id)->hash_next;
		} else {
			id = ++st->never_used;
		}
		struct authfail_entry *e = ENTRY(id);
		memset(e, 0, sizeof(*e));
		e->key = *k;
		e->hash = h;
		uint32_t *bucket = &st->buckets[h & (AUTHFAIL_BUCKETS - 1)];
		e->hash_next = *bucket;
		*bucket = id;
	}
	authfail_lru_append(id);
	if (ENTRY(id)->last_ms < now_ms)
		ENTRY(id)->last_ms = now_ms;
	return ENTRY(id);
}

static struct authfail_entry *authfail_lookup(const struct authfail_key *k)
{
	uint32_t id = authfail_find(k, authfail_hash(k));
	return id == 0 ? NULL : ENTRY(id);
}

static uint32_t authfail_id(const struct authfail_entry *e)
{
	return (uint32_t)(e - st->entries) + 1;
}

/* 0, then 1000, 2000, 4000, 8000, then the cap */
static uint64_t authfail_penalty_ms(unsigned failures)
{
	if (failures == 0)
		return 0;
	uint64_t delay = AUTHFAIL_DELAY_FIRST_MS;
	for (unsigned i = 1; i < failures && delay < AUTHFAIL_DELAY_MAX_MS; i++)
		delay *= 2;
	return delay < AUTHFAIL_DELAY_MAX_MS ? delay : AUTHFAIL_DELAY_MAX_MS;
}

/* Five failures from the address, or five failures and attempts under way
 * for one name (a burst of guesses sent before any verdict came back);
 * many names logging in at once from one address (webmail, NAT) are not
 * spaced while they do not fail. */
static bool authfail_spaced(const struct authfail_entry *a, const struct authfail_entry *n)
{
	return (a != NULL && a->failures >= AUTHFAIL_SPACING_AFTER) ||
	       (n != NULL && (uint64_t)n->failures + n->inflight >= AUTHFAIL_SPACING_AFTER);
}

/* When the check may start: after the penalty, and after the address's
 * next spaced verdict once it has had enough failures. */
static uint64_t authfail_start_ms(const struct authfail_entry *a,
				  const struct authfail_entry *n, uint64_t now_ms)
{
	unsigned failures = a != NULL ? a->failures : 0;
	if (n != NULL && n->failures > failures)
		failures = n->failures;
	uint64_t start = now_ms + authfail_penalty_ms(failures);
	if (authfail_spaced(a, n) && a != NULL && start < a->next_verdict_ms)
		start = a->next_verdict_ms;
	return start;
}

unsigned authfail_begin(const char *ip, const char *name, uint64_t now_ms)
{
	struct authfail_key ak, nk;

	authfail_keys(ip, name, &ak, &nk);
	authfail_lock();
	authfail_expire(now_ms);
	struct authfail_entry *a = authfail_get(&ak, now_ms, 0);
	struct authfail_entry *n = authfail_get(&nk, now_ms, authfail_id(a));
	if (n->inflight > 0 && now_ms >= n->busy_until_ms + AUTHFAIL_INFLIGHT_STALE_MS)
		n->inflight = 0;
	uint64_t start = authfail_start_ms(a, n, now_ms);
	if (authfail_spaced(a, n))
		a->next_verdict_ms = start + AUTHFAIL_SPACING_MS;
	if (n->inflight < AUTHFAIL_MAX_INFLIGHT)
		n->inflight++;
	if (n->busy_until_ms < start)
		n->busy_until_ms = start;
	/* neither expires before its verdict */
	if (a->last_ms < start)
		a->last_ms = start;
	if (n->last_ms < start)
		n->last_ms = start;
	authfail_unlock();
	return (unsigned)(start - now_ms);
}

void authfail_end(const char *ip, const char *name, enum authfail_verdict verdict,
		  uint64_t now_ms)
{
	struct authfail_key ak, nk;

	authfail_keys(ip, name, &ak, &nk);
	authfail_lock();
	authfail_expire(now_ms);
	struct authfail_entry *a = authfail_lookup(&ak), *n = authfail_lookup(&nk);
	if (n != NULL && n->inflight > 0)
		n->inflight--;
	switch (verdict) {
	case AUTHFAIL_VERDICT_OK:
		/* only this name's record goes, and its share of the address's */
		if (n != NULL) {
			if (a != NULL)
				a->failures -= n->failures < a->failures ? n->failures :
					       a->failures;
			authfail_remove(authfail_id(n));
		}
		break;
	case AUTHFAIL_VERDICT_FAILED:
		a = authfail_get(&ak, now_ms, 0);
		n = authfail_get(&nk, now_ms, authfail_id(a));
		if (a->failures < AUTHFAIL_MAX_COUNT)
			a->failures++;
		if (n->failures < AUTHFAIL_MAX_COUNT)
			n->failures++;
		break;
	case AUTHFAIL_VERDICT_NONE:
		break;
	}
	authfail_unlock();
}

unsigned authfail_wait_ms(const char *ip, const char *name, uint64_t now_ms)
{
	struct authfail_key ak, nk;

	authfail_keys(ip, name, &ak, &nk);
	authfail_lock();
	authfail_expire(now_ms);
	uint64_t start = authfail_start_ms(authfail_lookup(&ak), authfail_lookup(&nk), now_ms);
	authfail_unlock();
	return (unsigned)(start - now_ms);
}

unsigned authfail_failures(const char *ip, const char *name, uint64_t now_ms)
{
	struct authfail_key ak, nk;

	authfail_keys(ip, name, &ak, &nk);
	authfail_lock();
	authfail_expire(now_ms);
	const struct authfail_entry *e = authfail_lookup(name != NULL ? &nk : &ak);
	unsigned failures = e != NULL ? e->failures : 0;
	authfail_unlock();
	return failures;
}
