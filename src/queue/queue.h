/* queue.h: the durable outbound queue at DATA_DIR/queue/.
 *
 * An entry is a message file msg/ID and an envelope file env/ID. Both are
 * written and fsync'd in tmp/ first; the message is renamed into msg/ and
 * msg/ fsync'd, then the envelope into env/ and env/ fsync'd. The
 * envelope's presence marks a complete entry, so a 0 return from
 * queue_writer_commit() means the whole entry is on disk, and a crash at
 * any point leaves either a complete entry or one that queue_open() sets
 * aside. Readers (the queue runner, queue_list) look only at env/.
 *
 * Envelope file format (queue_envelope.c): a version line (2; version 1
 * files, written before per-recipient results, are still read), then one
 * "key=value" per line, "end" last. Every value that came from the network
 * is percent-encoded (only bytes 0x21-0x7E other than '%' stay literal), so
 * CR, LF, NUL or '=' in a value can never break a line or forge a field.
 *
 * Queue ids: 25 lower-case hex digits, time (seconds, microseconds), pid,
 * per-handle counter: unique, safe as file names, sorted by arrival.
 *
 * queue_open() recovers from crashes: leftovers in tmp/ are removed, and a
 * message without an envelope or an unparsable envelope is moved to
 * corrupt/ and logged. A file is only treated as a leftover once the
 * process that wrote it (its pid is in the id) is gone, or it is older than
 * QUEUE_STALE_SECS, so several processes can share one queue.
 *
 * A queue handle and its writers belong to one thread at a time; there is
 * no global mutable state. Errors: -1 and a temporary *error_r. */
#ifndef POSTEL_QUEUE_H
#define POSTEL_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>

#include "lib/mem.h"
#include "lib/str.h"

#define QUEUE_ID_LEN 25
#define QUEUE_ID_MAX 32 /* with the NUL, rounded up */
#define QUEUE_STALE_SECS (24 * 60 * 60)
#define QUEUE_MAX_RECIPIENTS 100000
#define QUEUE_VALUE_MAX 65536      /* any one envelope value, decoded */
#define QUEUE_ENVELOPE_MAX (64 * 1024 * 1024)

/* A byte string with explicit length: values from the network may hold
 * any byte. Strings the queue returns are also NUL-terminated.
 * data == NULL means "absent" (no AUTH, no ENVID, no ORCPT). */
struct queue_str {
	const char *data;
	size_t len;
};

enum queue_body {
	QUEUE_BODY_7BIT,       /* no BODY= given */
	QUEUE_BODY_8BITMIME,   /* RFC 6152 */
	QUEUE_BODY_BINARYMIME, /* RFC 3030 */
};

enum queue_dsn_ret {
	QUEUE_DSN_RET_NONE,    /* no RET= given */
	QUEUE_DSN_RET_FULL,    /* RFC 3461 4.3 */
	QUEUE_DSN_RET_HDRS,
};

/* RFC 3461 4.1 NOTIFY; 0 means NOTIFY was not given. */
#define QUEUE_NOTIFY_NEVER   0x01u
#define QUEUE_NOTIFY_SUCCESS 0x02u
#define QUEUE_NOTIFY_FAILURE 0x04u
#define QUEUE_NOTIFY_DELAY   0x08u

/* A recipient's delivery state (issue 10 item 6). Only PENDING and
 * DEFERRED recipients are still to be sent; DELIVERED and FAILED ones
 * stay in the envelope until the entry is done, for the DSN. */
enum queue_rcpt_state {
	QUEUE_RCPT_PENDING,   /* never tried */
	QUEUE_RCPT_DELIVERED, /* 2xx recorded: never sent again */
	QUEUE_RCPT_DEFERRED,  /* 4xx, timeout, connection failure */
	QUEUE_RCPT_FAILED,    /* 5xx or expired: to bounce */
};
#define QUEUE_RCPT_STATE_COUNT 4

struct queue_recipient {
	struct queue_str address; /* forward-path without <> */
	struct queue_str orcpt;   /* ORCPT= as received ("rfc822;a%2Bb@x") */
	unsigned notify;          /* QUEUE_NOTIFY_* */
	unsigned attempts;        /* delivery attempts so far */
	time_t next_attempt;      /* not before this time */
	/* the last attempt's result (version 2) */
	enum queue_rcpt_state state;
	unsigned reply_code;        /* 0: no reply (connection failed) */
	struct queue_str reply_status; /* RFC 3463 "x.y.z"; absent if none */
	struct queue_str reply_text;   /* the remote's text, or ours */
	struct queue_str mx;           /* host tried last; absent if none */
	bool notified;                 /* its failure or success DSN went out */
};

struct queue_envelope {
	struct queue_str sender;    /* reverse-path without <>; len 0: "<>" */
	struct queue_str auth_user; /* authenticated user, absent if none */
	struct queue_str client_ip; /* peer address as text */
	time_t received;
	bool smtputf8;              /* RFC 6531 SMTPUTF8 given */
	enum queue_body body;
	enum queue_dsn_ret dsn_ret;
	struct queue_str envid;     /* RFC 3461 ENVID, xtext as received */
	bool requiretls;            /* RFC 8689 REQUIRETLS given (v2 key) */
	/* a runner's lease (queue_lease.c): absent owner = not leased */
	struct queue_str lease_owner;
	time_t lease_expires;
	bool delay_warned;          /* the delay DSN went out */
	bool hold;                  /* "postel queue hold": never leased to send */
	struct queue_recipient *recipients;
	unsigned recipient_count;   /* 1..QUEUE_MAX_RECIPIENTS */
};

struct queue_entry_info {
	char id[QUEUE_ID_MAX];
	uint64_t size;              /* message bytes */
	struct queue_envelope env;  /* env.received is the time queued */
};

struct queue;
struct queue_writer;

static inline struct queue_str queue_str_c(const char *s)
{
	struct queue_str v = { s, s != NULL ? strlen(s) : 0 };
	return v;
}

/* Creates DATA_DIR/queue/{tmp,msg,env,corrupt} if needed and recovers. */
int queue_open(const char *data_dir, struct queue **q_r, const char **error_r);
/* For inspection (postel queue list): creates and changes nothing; a
 * missing queue directory is an empty queue. Writers are refused. */
int queue_open_readonly(const char *data_dir, struct queue **q_r,
			const char **error_r);
void queue_close(struct queue **q);

/* env is copied; the caller's may go away after this returns. */
struct queue_writer *queue_writer_begin(struct queue *q,
					const struct queue_envelope *env,
					const char **error_r);
/* A write error (ENOSPC, EDQUOT, ...) removes the partial file at once. */
int queue_writer_write(struct queue_writer *w, const void *data, size_t len,
		       const char **error_r);
/* Append len bytes of fd from offset without moving fd's position. */
int queue_writer_write_fd(struct queue_writer *w, int fd, uint64_t offset,
			  uint64_t len, const char **error_r);
/* Make the entry durable (see top). Always frees *w and sets it to NULL;
 * on -1 no part of the entry is left. */
int queue_writer_commit(struct queue_writer **w, char queue_id_r[QUEUE_ID_MAX],
			const char **error_r);
void queue_writer_abort(struct queue_writer **w);

/* Every complete entry, sorted by id; allocated from pool. Entries that
 * cannot be read are skipped and logged. */
int queue_list(struct queue *q, pool_t *pool,
	       struct queue_entry_info **entries_r, unsigned *count_r,
	       const char **error_r);

/* For the queue runner. */
bool queue_id_is_valid(const char *id);
int queue_entry_read(struct queue *q, const char *id, pool_t *pool,
		     struct queue_entry_info *entry_r, const char **error_r);
/* The message file, read-only. -1 on error. */
int queue_message_open(struct queue *q, const char *id, const char **error_r);
/* Replace the envelope atomically (new attempt counters, fewer
 * recipients). env->recipient_count must stay >= 1. */
int queue_envelope_update(struct queue *q, const char *id,
			  const struct queue_envelope *env, uint64_t size,
			  const char **error_r);
/* Remove an entry: envelope first, so a crash leaves no entry visible. */
int queue_remove(struct queue *q, const char *id, const char **error_r);
/* queue_remove(), and sync false leaves the removal's durability to the
 * kernel's writeback (or the next directory sync): for an entry whose
 * every recipient is done, where a crash of the machine just after can
 * at worst send it again (its 250 was not yet recorded durably; Postfix
 * never syncs a removal either). A crash of the process loses nothing. */
int queue_remove_sync(struct queue *q, const char *id, bool sync,
		      const char **error_r);

/* queue_status.c: the number of complete entries (a missing queue is
 * empty); and one start-up log line, event=queue_status waiting=N. */
int queue_count(struct queue *q, unsigned *count_r, const char **error_r);
void queue_log_status(const char *data_dir);

/* queue_envelope.c: the file format. Exposed for tests and fuzzing. */
void queue_envelope_format(const char *id, uint64_t size,
			   const struct queue_envelope *env, str_t *out);
int queue_envelope_parse(const char *data, size_t len, pool_t *pool,
			 struct queue_entry_info *entry_r,
			 const char **error_r);
/* -1 if env is not fit to queue (no recipient, value too long, ...). */
int queue_envelope_check(const struct queue_envelope *env,
			 const char **error_r);

/* queue_lease.c: leases, so that two runners (an old and a new generation
 * during a reload) never send one entry at the same time. The lease is
 * in the envelope (durable); leasing and updating happen under an
 * exclusive flock on DATA_DIR/queue/lease.lock, so the check and the
 * write are one step across processes. A lease held by another owner is
 * respected until it expires; an expired one is taken over.
 *
 * queue_lease(): 1 and *entry_r (the leased entry, lease set) when owner
 * now holds it; 0 when another owner holds an unexpired lease; -1 error. */
int queue_lease(struct queue *q, const char *id, const char *owner, time_t now,
		unsigned ttl_secs, pool_t *pool, struct queue_entry_info *entry_r,
		const char **error_r);
/* Write env (results) if owner still holds the lease: 1 written, 0 the
 * lease was lost (nothing written), -1 error. release ends the lease. */
/* Extend owner's lease to now + ttl_secs (an attempt that outlasts it):
 * 1 and *expires_r when renewed, 0 when owner holds it no more, -1 error. */
int queue_lease_renew(struct queue *q, const char *id, const char *owner, time_t now,
		      unsigned ttl_secs, time_t *expires_r, const char **error_r);
int queue_lease_update(struct queue *q, const char *id, const char *owner,
		       const struct queue_envelope *env, uint64_t size, bool release,
		       const char **error_r);

/* queue_schedule.c: outcomes and the retry schedule (issue 10 item 6). */
struct queue_schedule {
	unsigned retry_min;     /* first retry after this many seconds */
	unsigned retry_max;     /* doubling stops here */
	unsigned lifetime;      /* queue_lifetime: then bounce */
	unsigned delay_warning; /* delay_warning_time; 0: no delay DSN */
};
/* The wait after the attempts-th failed attempt (1 = the first):
 * retry_min doubling up to retry_max, then jittered by +-10% with
 * random (any value) so that a burst does not retry in lockstep. */
unsigned queue_backoff(const struct queue_schedule *sch, unsigned attempts,
		       uint32_t random);
/* Record one attempt's reply for r: 2xx delivered, 5xx failed, anything
 * else (4xx, 0 = no reply) deferred with the next attempt scheduled.
 * Strings are copied into pool. */
void queue_rcpt_result(struct queue_recipient *r, const struct queue_schedule *sch,
		       time_t now, uint32_t random, unsigned code, const char *status,
		       const char *text, const char *mx, pool_t *pool);
/* Recipients still deferred or pending once the entry is older than the
 * lifetime become FAILED (4.4.7, RFC 3463). Returns how many. */
unsigned queue_expire(struct queue_envelope *env, const struct queue_schedule *sch,
		      time_t now, pool_t *pool);
/* true when a delay DSN is due: delay_warning set, not yet sent, the
 * entry older than it, and a deferred recipient that asked for one
 * (NOTIFY=DELAY, or no NOTIFY given). */
bool queue_delay_warning_due(const struct queue_envelope *env,
			     const struct queue_schedule *sch, time_t now);
/* No recipient is pending or deferred: the entry can go (after DSNs). */
bool queue_entry_done(const struct queue_envelope *env);
const char *queue_rcpt_state_name(enum queue_rcpt_state state);
/* A deep copy of src (every string) into pool. */
void queue_envelope_copy(pool_t *pool, const struct queue_envelope *src,
			 struct queue_envelope *dest);

/* queue_control.c: "postel queue retry|flush|hold|release" (issue 10
 * item 9). Each change is one read-modify-write of the envelope under the
 * lease lock (queue_lease.c), so it never races a runner's lease. */
enum queue_control_op {
	QUEUE_CONTROL_RETRY,   /* its open recipients are due now */
	QUEUE_CONTROL_HOLD,    /* runners leave it alone until released */
	QUEUE_CONTROL_RELEASE, /* not held; its open recipients due now */
};
/* 1 changed; 0 nothing changed, *why_r says why ("held", "being
 * delivered", ...); -1 error, errno ENOENT when there is no entry id.
 * HOLD of an entry a runner has leased is 1 with *why_r set: the attempt
 * in flight finishes, then the runner leaves it. RETRY and RELEASE never
 * change a leased entry's schedule (the lease holder writes it). */
int queue_control(struct queue *q, const char *id, enum queue_control_op op,
		  time_t now, const char **why_r, const char **error_r);
/* queue_lease() on this handle also takes held entries (queue bounce). */
void queue_lease_held_entries(struct queue *q);

/* queue_wake.c: the runner publishes its pid at start (runner.pid in
 * the queue directory) and scans the whole queue on SIGUSR1. */
int queue_wake_publish(const char *data_dir, pid_t pid, const char **error_r);
/* After a change is durable: 1 the runner was signalled; 0 none is
 * running (*error_r says why; it scans at start anyway); -1 error. */
int queue_wake_runner(const char *data_dir, const char **error_r);

#endif
