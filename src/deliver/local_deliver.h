/* local_deliver.h: local delivery, the one service that writes a message
 * into local mailboxes (and, in the same all-or-nothing step, an outbound
 * queue entry for the remote recipients of the same message). SMTP uses
 * it for DATA/BDAT; the queue runner uses it for bounces to local senders
 * (ARCHITECTURE.md "deliver/": one path for SMTP, bounces and imports).
 *
 * Contract:
 * - local_deliver_run() blocks (file writes, fsync, index commits): call
 *   it on a delivery thread, never on an event loop. Each thread keeps
 *   its own store and queue handles, opened on first use.
 * - Durability (ARCHITECTURE.md): it returns with failed=false only once
 *   every local copy and the queue entry are committed (fsync'd file,
 *   fsync'd directory, committed index). All copies are written first and
 *   committed only when every write succeeded, so a write failure (disk
 *   full) leaves nothing behind.
 * - Before writing it scans the header section (smtp/smtp_message.h, a
 *   pure scanner): local copies leave out the Return-Path fields in the
 *   message and get "Return-Path:" and "Delivered-To:" in front (RFC 5321
 *   4.4); copies whose Delivered-To is already in the header are dropped
 *   as mail loops (logged); when no copy is left at all and nothing is
 *   queued, loop is set and nothing is written. An empty line follows the
 *   added fields when the message's first line is no header field.
 * - The message is either a file (msg_fd, read with pread: its offset is
 *   not moved) or memory (msg_mem); msg_size bytes, CRLF line ends.
 * - local[] is sorted in place; addresses must be distinct.
 * - dkim_sign: the queue entry gets DKIM-Signature fields in front when
 *   the From: domain has keys; local copies are never signed. */
#ifndef POSTEL_LOCAL_DELIVER_H
#define POSTEL_LOCAL_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/str.h"
#include "queue/queue.h"

struct store_committer;

struct local_delivery {
	/* input: read-only for local_deliver_run() but local[] (sorted)
	 * and prefix (may get the separating empty line) */
	const char *sid;         /* for log lines */
	const char *data_dir;
	struct store_committer *committer;
	int msg_fd;              /* -1: the message is msg_mem */
	uint64_t msg_size;
	const char *msg_mem;
	const char *sender;      /* reverse-path without <>; "" for <> */
	str_t prefix;            /* trace fields put in front of every copy */
	const char **local;      /* distinct local mailboxes */
	unsigned nlocal;
	struct queue_envelope env; /* env.recipient_count == 0: none remote */
	bool dkim_sign;          /* sign the queue copy (dkim/dkim_deliver.h) */
	/* output */
	bool failed, storage_full, loop;
	unsigned looped;         /* local copies dropped as mail loops */
	char *error;             /* heap, when failed */
	char queue_id[QUEUE_ID_MAX]; /* "" when nothing was queued */
	/* private */
	bool *looping;
};

void local_deliver_run(struct local_delivery *d);
/* Frees what local_deliver_run() and the caller put in prefix. */
void local_delivery_deinit(struct local_delivery *d);

#endif
