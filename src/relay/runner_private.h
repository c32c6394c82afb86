/* runner_private.h: the queue runner's pieces (relay/runner.h), one role
 * per file:
 *   runner.c          the process: sandbox, channel, signals, queue scan,
 *                     the wake timer for the next due retry, draining
 *   runner_sched.c    pure: when an entry is due, concurrency slots
 *   runner_mx.c       MX resolution (RFC 5321 5.1, RFC 7505) on src/dns
 *   runner_attempt.c  one SMTP attempt per destination domain
 *   runner_entry.c    an entry's lease, split by domain, outcomes, DSNs
 *   runner_smarthost.c the relayhost instead of MX hosts, when set
 *   runner_mtasts.c   MTA-STS policies (RFC 8461), runner_mtasts.h
 *   runner_reuse.c    idle connections kept for the next message to a domain
 * Everything runs on the runner's one event loop. */
#ifndef POSTEL_RUNNER_PRIVATE_H
#define POSTEL_RUNNER_PRIVATE_H
#include "queue/queue.h"
#include "relay/smtp_client.h"
#include "dns/dns_parse.h"
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct config;
struct ioloop;
struct timeout;
struct dns_resolver;
struct userdb;
struct store_committer;
struct conn_tls_client;
struct threadpool;

/* a lease outlives any one attempt (the longest RFC 5321 timeouts add up
 * to well under an hour); a dead owner's lease is taken over at once */
#define RUNNER_LEASE_SECS 3600
#define RUNNER_MX_MAX 16        /* MX hosts tried per domain */
#define RUNNER_ADDRS_MAX 8      /* addresses tried per host */
#define RUNNER_DNS_TIMEOUT_MS 30000
#define RUNNER_DOMAINS_MAX 256  /* per-domain slot table */
#define RUNNER_IO_THREADS 8     /* queue I/O (fsync) threads */
#define RUNNER_IO_FINISH_THREADS 4
#define RUNNER_IN_HAND_MAX 1000 /* entries leased at once, at most */

/* ---- runner_sched.c ---- */

/* When the entry should next be looked at: the earliest next_attempt of
 * a pending or deferred recipient, or of a failed one whose DSN has not
 * gone out; 0 when never (nothing left to do). Leases are not looked at:
 * runner_entry_start() finds a live owner's and waits for its expiry. */
time_t runner_entry_due(const struct queue_envelope *env, time_t now);

struct runner_slots {
	unsigned max_total, max_per_domain;
	unsigned total;
	unsigned count;
	struct runner_slot_domain {
		char name[DNS_NAME_MAX + 1];
		unsigned used;
	} domains[RUNNER_DOMAINS_MAX];
};
/* true and the slot taken when both limits allow another connection */
bool runner_slot_take(struct runner_slots *s, const char *domain);
void runner_slot_release(struct runner_slots *s, const char *domain);

/* ---- runner_mx.c ---- */

struct runner_mx {
	unsigned pref;
	char host[DNS_NAME_MAX + 1];
	bool secure; /* the MX answer (or NODATA) was DNSSEC-validated */
};
/* Sort by preference, shuffling each run of equal preferences with
 * rnd(ctx) (RFC 5321 5.1: "randomize them"). */
void runner_mx_order(struct runner_mx *mx, unsigned count,
		     uint32_t (*rnd)(void *ctx), void *ctx);

enum runner_mx_status {
	RUNNER_MX_OK,       /* hosts[] in order */
	RUNNER_MX_NULL,     /* RFC 7505 null MX: accepts no mail */
	RUNNER_MX_NXDOMAIN, /* the domain does not exist */
	RUNNER_MX_TEMPFAIL, /* try again later */
};
/* MX rdata to hosts: null MX recognised, "." hosts dropped, ordered.
 * Returns the status and *count_r hosts. */
enum runner_mx_status runner_mx_from_rdata(const uint8_t *const *data,
					   const size_t *len, unsigned n,
					   struct runner_mx *hosts, unsigned *count_r,
					   uint32_t (*rnd)(void *ctx), void *ctx);

struct runner_mx_lookup;
typedef void runner_mx_callback_t(enum runner_mx_status status, const char *why,
				  const struct runner_mx *hosts, unsigned count,
				  void *ctx);
/* MX for domain; no MX: the domain itself (RFC 5321 5.1 implicit MX). */
struct runner_mx_lookup *runner_mx_resolve(struct dns_resolver *dns, const char *domain,
					   runner_mx_callback_t *cb, void *ctx);
/* A and AAAA of host: addrs as text, IPv6 first; secure when both
 * answers were DNSSEC-validated (DANE, RFC 7672 2.2.2). */
typedef void runner_addr_callback_t(char (*addrs)[64], unsigned count, bool secure,
				    const char *why, void *ctx);
struct runner_mx_lookup *runner_addr_resolve(struct dns_resolver *dns, const char *host,
					     runner_addr_callback_t *cb, void *ctx);
void runner_mx_lookup_cancel(struct runner_mx_lookup **l);
uint32_t runner_random(void *ctx);

/* ---- runner_smarthost.c ---- */

struct runner_smarthost;
/* Before the sandbox: the relayhost, its password and CA store; *rs_r
 * NULL (return 0) when relayhost is empty. */
int runner_smarthost_open(const struct config *config, struct runner_smarthost **rs_r,
			  const char **error_r);
void runner_smarthost_close(struct runner_smarthost **rs);
/* The one host of every domain: no MX lookup. */
void runner_smarthost_host(const struct runner_smarthost *rs, struct runner_mx *host_r);
/* 1 and addrs[0] when the relayhost is an address literal, else 0. */
unsigned runner_smarthost_literal(const struct runner_smarthost *rs, char (*addrs)[64]);
/* TLS required and verified, AUTH with the relayhost credentials. */
void runner_smarthost_dest(const struct runner_smarthost *rs, const char *ip,
			   struct smtp_client_dest *dest);
/* AUTH refused: every reply becomes a deferral (our configuration is
 * wrong, not the recipients), logged once. */
void runner_smarthost_replies(const struct runner_smarthost *rs, const char *queue_id,
			      const struct smtp_client_result *res,
			      struct smtp_client_reply *rep, unsigned count);

/* ---- runner.c / runner_entry.c / runner_attempt.c ---- */

struct runner_entry;
struct runner_attempt;
struct runner_reuse;

struct runner {
	const struct config *config;
	struct ioloop *loop;
	struct queue *queue;
	struct userdb *userdb;
	struct store_committer *committer;
	struct dns_resolver *dns;
	struct conn_tls_client *tls;
	struct runner_smarthost *smarthost; /* NULL: MX delivery */
	struct runner_mtasts *mtasts;   /* runner_mtasts.h */
	struct smtp_client_settings client_set;
	struct queue_schedule sched;
	char owner[48];             /* lease owner: runner-PID */
	struct runner_slots slots;
	struct runner_entry *entries;   /* in flight */
	struct runner_attempt *waiting; /* for a slot, oldest first */
	struct runner_reuse *reuse;     /* idle connections (runner_reuse.c) */
	struct threadpool *io;          /* queue I/O off the loop (runner_entry.c) */
	struct threadpool *io_finish;   /* removals: never queued behind leases */
	unsigned in_hand, in_hand_max;  /* entries leased or being leased */
	unsigned lease_secs;            /* RUNNER_LEASE_SECS; renewed at a third */
	struct timeout *renew_to;
	/* due entries not yet taken in hand (runner.c), oldest first */
	char (*backlog)[QUEUE_ID_MAX];
	unsigned backlog_count, backlog_at, backlog_size;
	struct timeout *wake_to;
	time_t wake_at;
	bool draining;
	unsigned long long attempts;
};

/* runner.c: the entry id is finished with (in flight no more); due is
 * when it wants another look (0: never). */
void runner_entry_finished(struct runner *r, struct runner_entry *e, time_t due);
void runner_wake_at(struct runner *r, time_t when);
/* Start id now when fewer than in_hand_max entries are in hand, else
 * keep it in the backlog for when one finishes. */
void runner_entry_want(struct runner *r, const char *id);

/* runner_entry.c */
/* Extend the lease of every entry in hand (an attempt, or a wait for a
 * slot, that outlasts lease_secs); run every lease_secs / 3. */
void runner_entries_renew(struct runner *r, time_t now);
bool runner_entry_busy(const struct runner *r, const char *id);
/* Lease id (on the I/O pool) and start its attempts; false when it is in
 * hand already or the runner drains. A live runner's lease, a gone entry
 * or nothing due end it quietly after the lease job. */
bool runner_entry_start(struct runner *r, const char *id);
/* One domain's results are in (runner_attempt.c): rcpt[i] replies for
 * idx[i]; host the MX tried last or NULL. */
void runner_entry_results(struct runner_entry *e, const unsigned *idx, unsigned count,
			  const struct smtp_client_reply *replies, const char *host);
struct queue_entry_info *runner_entry_info(struct runner_entry *e);
int runner_entry_message_fd(struct runner_entry *e);
const char *runner_entry_id(const struct runner_entry *e);
/* a copy living as long as the entry */
const char *runner_entry_strdup(struct runner_entry *e, const char *s);

/* runner_attempt.c: one attempt for the recipients idx[] of e, all in
 * domain; frees itself after runner_entry_results(). */
void runner_attempt_start(struct runner *r, struct runner_entry *e, const char *domain,
			  const unsigned *idx, unsigned count);
/* A slot came free: start waiting attempts that fit. */
void runner_attempts_kick(struct runner *r);
/* Draining: attempts still waiting for a slot give up (deferred 4.3.2). */
void runner_attempts_abandon_waiting(struct runner *r);

/* runner_reuse.c: an idle connection after a message, kept for the next
 * message to the same domain (RFC 5321 4.1.1.5 RSET starts it). */
#define RUNNER_REUSE_IDLE_MS 3000   /* a parked connection closes after */
#define RUNNER_REUSE_MAX_MSGS 100   /* messages per connection */
/* Park *c (taken; QUIT at once when the limits say no); uses: messages
 * it carried so far. */
void runner_reuse_put(struct runner *r, const char *domain, struct smtp_client **c,
		      const char *host, const char *ip, unsigned uses);
/* An idle connection to domain (its host, address and uses), or NULL. */
struct smtp_client *runner_reuse_take(struct runner *r, const char *domain,
				      char *host_r, size_t host_size,
				      char *ip_r, size_t ip_size, unsigned *uses_r);
/* Close every parked connection (QUIT when polite). */
void runner_reuse_close_all(struct runner *r, bool polite);

#endif
