/* bounce.h: sending a delivery status notification (queue/queue_dsn.h)
 * for a queue entry: "bounces and notices are mail like any other"
 * (issue 10 item 8).
 *
 * bounce_entry() builds the DSN of one kind for the entry, resolves the
 * original sender through the account database and hands the DSN to
 * local delivery (local_deliver.h) in one step: copies for the sender's
 * local mailboxes (aliases expanded) and, when the sender is remote, a
 * new queue entry to it with the null reverse-path (RFC 5321 4.5.5) and
 * NOTIFY=NEVER (RFC 3461 5.2.2: no DSN about a DSN). It then marks the
 * reported recipients (notified, or delay_warned) in *entry for the
 * caller to write back with the entry's lease.
 *
 * Blocking (file writes, fsync, SQLite): a delivery thread or a command
 * line tool, never an event loop. Returns 1 sent, 0 nothing was due
 * (null sender, no recipient asked for it), -1 error (nothing sent). */
#ifndef POSTEL_BOUNCE_H
#define POSTEL_BOUNCE_H

#include "queue/queue_dsn.h"

struct store_committer;
struct userdb;

struct bounce_context {
	const char *sid;          /* for log lines */
	const char *data_dir;
	const char *hostname;
	struct store_committer *committer;
	struct userdb *userdb;
	time_t now;
	time_t retry_until;       /* delay notices: when the entry expires */
};

/* The message: fd of the queued message (read with pread, at most
 * QUEUE_DSN_MAX_ORIGINAL bytes). */
int bounce_entry(const struct bounce_context *ctx, struct queue_entry_info *entry,
		 int msg_fd, enum queue_dsn_kind kind, pool_t *pool,
		 char dsn_queue_id_r[QUEUE_ID_MAX], const char **error_r);

#endif
