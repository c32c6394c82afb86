/* worker_limits.c: a chained hash of client address -> open connections.
 * Entries exist only while the address has connections, so the table is
 * bounded by the connection limit. */
#include "worker_limits.h"
#include "lib/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LIMITS_BUCKETS 4096

struct limit_entry {
	struct limit_entry *next;
	unsigned count;
	char ip[46];
};

struct worker_limits {
	struct limit_entry *buckets[LIMITS_BUCKETS];
};

static unsigned limits_hash(const char *ip)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % LIMITS_BUCKETS;
}

struct worker_limits *worker_limits_create(void)
{
	return xcalloc(1, sizeof(struct worker_limits));
}

void worker_limits_destroy(struct worker_limits **limitsp)
{
	struct worker_limits *limits = *limitsp;
	if (limits == NULL)
		return;
	for (unsigned i = 0; i < LIMITS_BUCKETS; i++) {
		struct limit_entry *e = limits->buckets[i];
		while (e != NULL) {
			struct limit_entry *next = e->next;
			free(e);
			e = next;
		}
	}
	free(limits);
	*limitsp = NULL;
}

bool worker_limits_acquire(struct worker_limits *limits, const char *ip, unsigned max)
{
	unsigned h = limits_hash(ip);
	struct limit_entry *e;
	for (e = limits->buckets[h]; e != NULL; e = e->next) {
		if (strcmp(e->ip, ip) == 0)
			break;
	}
	if (e == NULL) {
		e = xcalloc(1, sizeof(*e));
		snprintf(e->ip, sizeof(e->ip), "%s", ip);
		e->next = limits->buckets[h];
		limits->buckets[h] = e;
	}
	if (max > 0 && e->count >= max)
		return false;
	e->count++;
	return true;
}

void worker_limits_release(struct worker_limits *limits, const char *ip)
{
	unsigned h = limits_hash(ip);
	struct limit_entry **pp = &limits->buckets[h];
	for (; *pp != NULL; pp = &(*pp)->next) {
		struct limit_entry *e = *pp;
		if (strcmp(e->ip, ip) != 0)
			continue;
		if (--e->count == 0) {
			*pp = e->next;
			free(e);
		}
		return;
	}
}
