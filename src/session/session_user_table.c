/* session_user_table.c: the user cache's entries by address: FNV-1a
 * over the lower-cased address, chained buckets, doubled past two
 * entries a bucket (session_user_private.h). */
#include "session_user_private.h"
#include "lib/mem.h"

#include <stdlib.h>
#include <string.h>

static uint32_t user_hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static void cache_grow(struct session_user_cache *c)
{
	unsigned n = c->nbuckets * 2;
	struct session_user **b = xcalloc(n, sizeof(*b));
	for (unsigned i = 0; i < c->nbuckets; i++) {
		struct session_user *u = c->buckets[i], *next;
		for (; u != NULL; u = next) {
			next = u->hash_next;
			uint32_t k = user_hash(u->address) & (n - 1);
			u->hash_next = b[k];
			b[k] = u;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

struct session_user **session_user_slot(struct session_user_cache *c, const char *address)
{
	struct session_user **p = &c->buckets[user_hash(address) & (c->nbuckets - 1)];
	while (*p != NULL && strcmp((*p)->address, address) != 0)
		p = &(*p)->hash_next;
	return p;
}

void session_user_counted(struct session_user_cache *c)
{
	if (++c->count > c->nbuckets * 2)
		cache_grow(c);
}
