/* worker_limits.h: connections per client address, counted across all
 * workers.
 *
 * The master maps one shared table before forking: a row of counters per
 * worker, indexed by a hash of the client address. A worker changes only
 * its own row and sums all rows to decide, so a worker that dies takes
 * its counts with it (the master clears its row before reuse). Addresses
 * that share a bucket share a count: the limit can only err on the side
 * of refusing, and with WORKER_LIMITS_BUCKETS buckets that is rare. */
#ifndef POSTEL_WORKER_LIMITS_H
#define POSTEL_WORKER_LIMITS_H

#include <stdbool.h>

#define WORKER_LIMITS_BUCKETS 16384

struct worker_limits_shared;
struct worker_limits;

/* master side */
struct worker_limits_shared *worker_limits_shared_create(unsigned rows);
void worker_limits_shared_destroy(struct worker_limits_shared **shared);
void worker_limits_row_clear(struct worker_limits_shared *shared, unsigned row);

/* worker side */
struct worker_limits *worker_limits_create(struct worker_limits_shared *shared,
					   unsigned row);
void worker_limits_destroy(struct worker_limits **limits);
/* false when the address already holds max connections (0 = no limit) */
bool worker_limits_acquire(struct worker_limits *limits, const char *ip, unsigned max);
void worker_limits_release(struct worker_limits *limits, const char *ip);

#endif
