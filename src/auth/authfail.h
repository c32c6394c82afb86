/* authfail.h: failed-login tracking per client address, for a growing
 * delay before answering a failed authentication.
 *
 * Contract: after n recorded failures (with no success in between and no
 * gap of AUTHFAIL_EXPIRE_MS), the delay is 0 for n = 0, then 1000 ms
 * doubling per failure, capped at 15000 ms. A success resets the address.
 * IPv6 addresses are tracked per /64 (one host usually owns the whole
 * prefix), IPv4-mapped IPv6 as IPv4; unparseable strings share one entry.
 * Memory is fixed: at most AUTHFAIL_MAX_ENTRIES addresses, the least
 * recently updated one is evicted. State is per process and not
 * thread-safe: call from the event loop thread only. now_ms is a
 * monotonic clock in milliseconds, passed in for testability.
 *
 * On a failed attempt: d = authfail_delay_ms(ip, now);
 * authfail_record(ip, false, now); answer after d ms. */
#ifndef POSTEL_AUTH_AUTHFAIL_H
#define POSTEL_AUTH_AUTHFAIL_H

#include <stdbool.h>
#include <stdint.h>

#define AUTHFAIL_MAX_ENTRIES 4096
#define AUTHFAIL_EXPIRE_MS (15 * 60 * 1000)
#define AUTHFAIL_DELAY_FIRST_MS 1000
#define AUTHFAIL_DELAY_MAX_MS 15000

unsigned authfail_delay_ms(const char *ip, uint64_t now_ms);
void authfail_record(const char *ip, bool success, uint64_t now_ms);
/* Forget everything (tests; a worker after fork). */
void authfail_reset(void);
/* Move the table into memory shared with processes forked after this
 * call (the master calls it before starting workers). -1 on failure. */
int authfail_share(void);

#endif
