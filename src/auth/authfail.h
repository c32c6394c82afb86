/* authfail.h: the login penalty, kept per (client address, user name) and
 * per address, in memory that every worker process shares.
 *
 * Contract: the penalty is applied BEFORE the password is checked (as
 * Dovecot's auth_penalty does), so a correct password from a penalised
 * address waits like a wrong one. A caller that is about to check a
 * password calls authfail_begin() and waits the returned milliseconds
 * (on a timer, never a sleep), then checks, answers, and calls
 * authfail_end() with the verdict; every begin gets exactly one end.
 *
 * The wait for n failures is 0 for n = 0, then 1000 ms doubling per
 * failure, capped at 15000 ms, where n is the larger of the failures of
 * (address, name) and of the address over all names (the aggregate, so
 * trying many names from one address is slowed too). After
 * AUTHFAIL_SPACING_AFTER failures from one address (or failures and
 * attempts under way for one name: a burst of parallel guesses), verdicts
 * to the address are spaced AUTHFAIL_SPACING_MS apart: begin reserves the
 * address's next verdict time under the lock, so parallel connections in
 * any worker share one rate. Many names logging in at once from one
 * address without failing (webmail, NAT) are not spaced. A success clears only the
 * record of the name that succeeded and takes its failures off the
 * aggregate; other names keep theirs.
 *
 * Keys are exact: the address (IPv4 as such, IPv6 by its /64, IPv4-mapped
 * IPv6 as IPv4, zone ids dropped; unparseable strings share one key) plus
 * the name with ASCII letters folded to lower case (names are at most
 * AUTHFAIL_NAME_MAX bytes; longer ones are cut). Different keys never
 * share a record. Memory is fixed: AUTHFAIL_MAX_ENTRIES records (names
 * and addresses together), a record idle for AUTHFAIL_EXPIRE_MS is
 * forgotten, and when full the least recently used one is reused.
 *
 * authfail_share() (the master, before forking workers) moves the table
 * into a MAP_SHARED mapping guarded by a process-shared robust mutex; a
 * worker dying with the lock held makes the next caller forget all
 * records. Without it the table is per process. Not for use from
 * several threads of one process without that: call from the event loop.
 * now_ms is CLOCK_MONOTONIC in milliseconds (the same in every process),
 * passed in for testability. */
#ifndef POSTEL_AUTH_AUTHFAIL_H
#define POSTEL_AUTH_AUTHFAIL_H

#include <stdbool.h>
#include <stdint.h>

#define AUTHFAIL_MAX_ENTRIES 4096
#define AUTHFAIL_NAME_MAX 255
#define AUTHFAIL_EXPIRE_MS (15 * 60 * 1000)
#define AUTHFAIL_DELAY_FIRST_MS 1000
#define AUTHFAIL_DELAY_MAX_MS 15000
#define AUTHFAIL_SPACING_AFTER 5
#define AUTHFAIL_SPACING_MS 1000

enum authfail_verdict {
	AUTHFAIL_VERDICT_OK,     /* the password was right */
	AUTHFAIL_VERDICT_FAILED, /* wrong password, unknown user, bad proof */
	AUTHFAIL_VERDICT_NONE,   /* no verdict: abandoned, or our own error */
};

/* A password check for name from ip is about to be scheduled: reserve
 * its verdict time and return how long to wait before checking. */
unsigned authfail_begin(const char *ip, const char *name, uint64_t now_ms);
void authfail_end(const char *ip, const char *name, enum authfail_verdict verdict,
		  uint64_t now_ms);
/* What authfail_begin() would return now, reserving nothing. */
unsigned authfail_wait_ms(const char *ip, const char *name, uint64_t now_ms);
/* Recorded failures of (ip, name), or of ip over all names when name is
 * NULL (tests and diagnostics). */
unsigned authfail_failures(const char *ip, const char *name, uint64_t now_ms);
/* Forget everything (tests). */
void authfail_reset(void);
/* Move the table into memory shared with processes forked after this
 * call (the master calls it before starting workers). -1 on failure. */
int authfail_share(void);

#endif
