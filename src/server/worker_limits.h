/* worker_limits.h: connections per client address, in one worker.
 * acquire() returns false when the address already holds max. */
#ifndef POSTEL_WORKER_LIMITS_H
#define POSTEL_WORKER_LIMITS_H

#include <stdbool.h>

struct worker_limits;

struct worker_limits *worker_limits_create(void);
void worker_limits_destroy(struct worker_limits **limits);
bool worker_limits_acquire(struct worker_limits *limits, const char *ip, unsigned max);
void worker_limits_release(struct worker_limits *limits, const char *ip);

#endif
