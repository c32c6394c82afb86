/* worker_limits.h: connections per client address, counted across all
 * workers.
 *
 * The master maps one shared table before forking. Each entry is keyed by
 * the exact client address: an IPv4 address by its 32 bits, an IPv6
 * address by its /64 prefix (one site or one host's privacy addresses),
 * so two different keys never share a count. Entries live in an open-
 * addressed table (seeded hash, probing a bounded window) under a robust
 * process-shared mutex, so a worker killed while holding it does not
 * wedge the others.
 *
 * Beside the per-address total, each worker has a row of per-entry counts,
 * so the master can take a dead worker's connections away (row_clear) and
 * its counts never outlive it. An entry whose total is 0 is free and is
 * reused for another address. When no entry can be found for an address
 * (every entry of its window holds live connections), the connection is
 * admitted uncounted and that is logged: a flood of new addresses never
 * locks everyone out. Its later release may then lower another
 * connection's count of the same address by one: the limit errs on the
 * side of admitting. */
#ifndef POSTEL_WORKER_LIMITS_H
#define POSTEL_WORKER_LIMITS_H

#include <stdbool.h>

/* entries in the master's table (16,384 * (20 + 2 * rows) bytes) */
#define WORKER_LIMITS_SLOTS 16384

struct worker_limits_shared;
struct worker_limits;

/* master side: rows = worker processes alive at once (old generations
 * included); slots = addresses tracked at once */
struct worker_limits_shared *worker_limits_shared_create(unsigned rows, unsigned slots);
void worker_limits_shared_destroy(struct worker_limits_shared **shared);
/* Forget every connection counted by row (its worker is gone). */
void worker_limits_row_clear(struct worker_limits_shared *shared, unsigned row);
/* Connections currently counted for ip's key (tests, diagnostics). */
unsigned worker_limits_count(struct worker_limits_shared *shared, const char *ip);

/* worker side: ip is the text inet_ntop gives (IPv4 or IPv6); text that
 * is no address counts under one key of its own */
struct worker_limits *worker_limits_create(struct worker_limits_shared *shared,
					   unsigned row);
void worker_limits_destroy(struct worker_limits **limits);
/* false when the address already holds max connections (0 = no limit) */
bool worker_limits_acquire(struct worker_limits *limits, const char *ip, unsigned max);
void worker_limits_release(struct worker_limits *limits, const char *ip);

#endif
