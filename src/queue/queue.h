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
 * Envelope file format (queue_envelope.c): a version line, then one
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

struct queue_recipient {
	struct queue_str address; /* forward-path without <> */
	struct queue_str orcpt;   /* ORCPT= as received ("rfc822;a%2Bb@x") */
	unsigned notify;          /* QUEUE_NOTIFY_* */
	unsigned attempts;        /* delivery attempts so far */
	time_t next_attempt;      /* not before this time */
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

#endif
