/* store_index.h: the per-user SQLite index of the maildir-sqlite backend.
 *
 * One WAL-mode database per user (postel-index.sqlite in the user's
 * directory) with synchronous=FULL, so a committed transaction is on disk.
 * Tables (schema: store_index_schema.c):
 *   mailboxes(id, name, uidvalidity, uidnext, highestmodseq, new_mtime,
 *             tmp_checked, first_recent_uid, n_messages, n_unseen,
 *             n_deleted, n_size, objectid)
 *   messages(mailbox_id, uid, modseq, flags, filename, size, internaldate,
 *            sysflags, guid, savedate, threadid, preview, ...)
 *   expunges(mailbox_id, uid, modseq)   the expunge log
 *   keywords(mailbox_id, name)          keywords ever set in a mailbox
 *   subscriptions(name)                 RFC 9051 6.3.7
 *   msgids(msgid, threadid)             RFC 8474 5.2 threads (schema 7)
 * Triggers on messages keep the n_* counters and the expunge log, and
 * give each deleted row a new HIGHESTMODSEQ, whichever code path
 * changes the rows (store_index_view.c reads them).
 * filename is the Maildir base name (without the ":2,..." info part, which
 * mail readers change when they set flags), unique per mailbox.
 * new_mtime is the mtime (ns) of the folder's new/ as of the last time
 * the index knew every file in it: an open compares it with stat() and
 * rescans new/ only if they differ. tmp_checked: when tmp/ was last
 * cleaned of stale files (seconds).
 *
 * store_index_open() never fails because of a damaged file: a database
 * SQLite calls corrupt, or that fails PRAGMA quick_check (run the first
 * time a process opens a given file, never on later opens), is renamed to
 * "<path>.corrupt-<UTC time>" (its WAL alongside), logged, and a new empty
 * one is created; the caller then rebuilds it from the Maildir files.
 * Transient errors (busy, I/O, permissions) are returned as errors and
 * never cause a set-aside.
 *
 * Writers take the database lock with store_index_begin() (a flock on
 * PATH.lock, then BEGIN IMMEDIATE), waiting at most STORE_INDEX_LOCK_MSECS
 * for the flock; SQLite's own busy wait is STORE_INDEX_BUSY_MSECS. An
 * open of an existing index in WAL mode takes no lock at all. */
#ifndef POSTEL_STORE_INDEX_H
#define POSTEL_STORE_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/mem.h"
#include "store/store.h"

#define STORE_INDEX_FILENAME "postel-index.sqlite"
#define STORE_INDEX_BUSY_MSECS 10000
#define STORE_INDEX_LOCK_MSECS 5000

struct store_index;

struct store_index_mailbox {
	int64_t id;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	int64_t new_mtime;   /* ns */
	int64_t tmp_checked; /* s */
	bool thread_keys;    /* schema 9: roots keyed (store_thread_backfill.c) */
	const char *name;    /* store_index_mailbox_list() only */
};

struct store_index_message {
	uint32_t uid;
	uint64_t modseq;
	uint64_t size;
	int64_t internaldate;
	const char *flags;
	unsigned sysflags; /* STORE_FLAG_* of flags */
	uint8_t guid[STORE_GUID_SIZE];
	const char *filename;
	int64_t savedate;                 /* RFC 8514 (schema 7) */
	uint8_t threadid[STORE_GUID_SIZE]; /* RFC 8474 5.2 (schema 7) */
	int8_t hdr_8bit;                  /* schema 9: 1, 0, -1 unknown */
	uint64_t dg_size;                 /* schema 10: RFC 6858 size, 0 unknown */
};

/* *rebuilt_r: the old file was set aside (or missing), so the caller must
 * index the Maildir files again. Any UIDVALIDITY it then assigns must be at
 * least *min_uidvalidity_r, which is later than any the old index used. */
int store_index_open(const char *path, struct store_index **idx_r,
		     bool *rebuilt_r, uint32_t *min_uidvalidity_r,
		     const char **error_r);
void store_index_close(struct store_index **idx);
/* Close and set the file aside as corrupt (see above). */
int store_index_close_set_aside(struct store_index **idx,
				const char **error_r);
/* True once SQLite reported corruption: drop the handle and reopen, which
 * sets the file aside. */
bool store_index_is_corrupt(const struct store_index *idx);

int store_index_begin(struct store_index *idx, const char **error_r);
/* As store_index_begin() without waiting: 1 begun, 0 someone else holds
 * the lock (*error_r says so), -1 error. */
int store_index_begin_try(struct store_index *idx, const char **error_r);
/* As store_index_begin_try() for a transaction that writes a cache only
 * (what can be computed again from the message file, such as its MIME
 * structure): its commit does not wait for the disk (synchronous=NORMAL,
 * back to FULL when it ends). A crash may lose that write alone: the next
 * durable commit syncs the WAL, this one's frames with it. */
int store_index_begin_cache(struct store_index *idx, const char **error_r);
int store_index_commit(struct store_index *idx, const char **error_r);
void store_index_rollback(struct store_index *idx);

/* 1 found, 0 no such mailbox, -1 error. mailbox_r->messages is 0: the
 * counters are store_index_mailbox_counters(). */
int store_index_mailbox_lookup(struct store_index *idx, const char *name,
			       struct store_index_mailbox *mailbox_r,
			       const char **error_r);
/* Every mailbox row, allocated from pool. */
int store_index_mailbox_list(struct store_index *idx, pool_t *pool,
			     struct store_index_mailbox **mailboxes_r,
			     unsigned *count_r, const char **error_r);
/* Within a transaction: record new/'s mtime, but only if the row still
 * holds expect (no change by anyone else went unindexed meanwhile). */
int store_index_mailbox_set_new_mtime(struct store_index *idx,
				      int64_t mailbox_id, int64_t expect,
				      int64_t new_mtime, const char **error_r);
/* Within a transaction: record new_mtime and tmp_checked unconditionally
 * (after a scan of new/ and a cleaning of tmp/). */
int store_index_mailbox_set_synced(struct store_index *idx, int64_t mailbox_id,
				   int64_t new_mtime, int64_t tmp_checked,
				   const char **error_r);
/* Adds the mailbox unless it exists. */
int store_index_mailbox_add(struct store_index *idx, const char *name,
			    uint32_t uidvalidity, const char **error_r);
/* Within a transaction: give the message the mailbox's next UID and
 * MODSEQ and record it. */
int store_index_message_add(struct store_index *idx, int64_t mailbox_id,
			    const char *filename, uint64_t size,
			    int64_t internaldate, const char *flags,
			    uint32_t *uid_r, const char **error_r);
/* 1 if the mailbox has a message with this file name, 0 if not. */
int store_index_message_exists(struct store_index *idx, int64_t mailbox_id,
			       const char *filename, const char **error_r);
/* Messages in UID order, allocated from pool. */
int store_index_message_list(struct store_index *idx, int64_t mailbox_id,
			     pool_t *pool,
			     struct store_index_message **messages_r,
			     unsigned *count_r, const char **error_r);
/* Within a transaction: delete the rows of these UIDs (absent ones are
 * ignored); each gets a new HIGHESTMODSEQ and an expunge log entry. */
int store_index_messages_remove(struct store_index *idx, int64_t mailbox_id,
				const uint32_t *uids, unsigned count,
				const char **error_r);

/* store_index_view.c: what mailbox views (store_view.h) need. */
#include "store/store_view.h"

/* A read transaction: the queries between see one snapshot. */
int store_index_read_begin(struct store_index *idx, const char **error_r);
void store_index_read_end(struct store_index *idx);
/* No transaction open on idx (each statement would be one of its own). */
bool store_index_autocommit(struct store_index *idx);
/* Messages whose MODSEQ is above since, in UID order (pool). since 0:
 * every message with its uid only (modseq and sysflags 0, flags ""),
 * read from the primary key index: what a view's map needs. */
int store_index_changes_since(struct store_index *idx, int64_t mailbox_id,
			      uint64_t since, pool_t *pool,
			      struct store_view_flag_change **rows_r,
			      unsigned *count_r, const char **error_r);
/* UIDs of the expunge log with a MODSEQ above since (pool). */
int store_index_expunges_since(struct store_index *idx, int64_t mailbox_id,
			       uint64_t since, pool_t *pool, uint32_t **uids_r,
			       unsigned *count_r, const char **error_r);
/* 1 found, 0 no such UID, -1 error. */
int store_index_message_get(struct store_index *idx, int64_t mailbox_id,
			    uint32_t uid, pool_t *pool,
			    struct store_index_message *msg_r,
			    const char **error_r);
/* Within a transaction: new flags for a message, with the mailbox's
 * next MODSEQ (*modseq_r). */
int store_index_message_set_flags(struct store_index *idx, int64_t mailbox_id,
				  uint32_t uid, const char *flags,
				  unsigned sysflags, uint64_t *modseq_r,
				  const char **error_r);
/* Within a transaction: remember a keyword used in the mailbox. */
int store_index_keyword_add(struct store_index *idx, int64_t mailbox_id,
			    const char *name, const char **error_r);
/* store_index_mailbox.c, within a transaction: remove a mailbox's rows
 * (messages, expunge log, keywords, the mailbox); rename a mailbox and
 * those below it ("old/..."); add or drop a subscription. */
int store_index_mailbox_remove(struct store_index *idx, int64_t mailbox_id,
			       const char **error_r);
int store_index_mailbox_rename(struct store_index *idx, const char *old_name,
			       const char *new_name, const char **error_r);
int store_index_subscribe(struct store_index *idx, const char *name, bool on,
			  const char **error_r);
/* Subscribed names, sorted (pool). */
int store_index_subscriptions(struct store_index *idx, pool_t *pool,
			      const char ***names_r, unsigned *count_r,
			      const char **error_r);
/* Within a transaction: raise first_recent_uid to uidnext (never lower
 * it); *first_r: its value before. */
int store_index_claim_recent(struct store_index *idx, int64_t mailbox_id,
			     uint32_t uidnext, uint32_t *first_r,
			     const char **error_r);
/* MESSAGES, UNSEEN, DELETED, SIZE and RECENT from the counters. */
int store_index_mailbox_counters(struct store_index *idx, int64_t mailbox_id,
				 struct store_mailbox_status *status_r,
				 const char **error_r);

/* store_index_import.c: within a transaction, the message's LF/CRLF
 * checkpoint blob (store_seek.h); NULL/0 clears it. */
int store_index_message_set_checkpoints(struct store_index *idx,
					int64_t mailbox_id, uint32_t uid,
					const void *blob, size_t len,
					const char **error_r);
/* The same file under another row (COPY, MOVE): the same blob, and the
 * same MIME structure blob (store_index_structure.c). */
int store_index_message_copy_checkpoints(struct store_index *idx,
					 int64_t src_id, uint32_t src_uid,
					 int64_t dst_id, uint32_t dst_uid,
					 const char **error_r);
/* The blob (from pool), NULL with *len_r 0 if none or no such message. */
int store_index_message_checkpoints(struct store_index *idx,
				    int64_t mailbox_id, uint32_t uid,
				    pool_t *pool, void **blob_r, size_t *len_r,
				    const char **error_r);
/* store_index_structure.c: the message's MIME structure blob
 * (mime_cache.h, wire offsets; from pool, NULL/0 if not computed yet) and
 * its wire size. 1 found, 0 no such message, -1 error. */
int store_index_message_structure(struct store_index *idx, int64_t mailbox_id,
				  uint32_t uid, pool_t *pool, void **blob_r,
				  size_t *len_r, uint64_t *size_r,
				  const char **error_r);
/* Within a transaction: store the blob (NULL/0 clears it). */
int store_index_message_set_structure(struct store_index *idx,
				      int64_t mailbox_id, uint32_t uid,
				      const void *blob, size_t len,
				      const char **error_r);
/* store_index_sortkeys.c (schema 11): the SORT keys blob of each of
 * uids (ascending), blobs_r[i] for uids[i] (pool; len 0: none stored, or
 * no such message); set: within a transaction (NULL/0 clears it). */
int store_index_sortkeys(struct store_index *idx, int64_t mailbox_id, const uint32_t *uids,
			 unsigned count, pool_t *pool, struct store_blob **blobs_r,
			 const char **error_r);
int store_index_set_sortkeys(struct store_index *idx, int64_t mailbox_id, uint32_t uid,
			     const void *blob, size_t len, const char **error_r);
/* Within a transaction: record whether a header of the message holds an
 * octet >= 0x80 (schema 9 messages.hdr8bit; RFC 6858) and the size of
 * its downgraded form (schema 10 messages.dgsize, learnt on first need;
 * 0: not known, left as it was). Delivery records hdr8bit with the
 * thread (store_index_thread_assign). */
int store_index_message_set_downgrade(struct store_index *idx, int64_t mailbox_id,
				      uint32_t uid, bool eight_bit, uint64_t dg_size,
				      const char **error_r);
/* store_index_objectid.c, schema 9 (store_thread_backfill.c): the
 * thread roots of a mailbox, ascending (pool; asked only while the
 * mailbox row's thread_keys is false); within a transaction: record a
 * root's base subject key (as a delivery does), and mark the mailbox
 * done. */
int store_index_thread_unkeyed(struct store_index *idx, int64_t mailbox_id, pool_t *pool,
			       uint32_t **uids_r, unsigned *count_r, const char **error_r);
int store_index_thread_subject(struct store_index *idx, int64_t mailbox_id, uint32_t uid,
			       const char *subject, const char **error_r);
int store_index_thread_keys_done(struct store_index *idx, int64_t mailbox_id,
				 const char **error_r);
/* Importer (within a transaction): make uid the UID the next
 * store_index_message_add() gives; refused (-1) below UIDNEXT. */
int store_index_import_uid(struct store_index *idx, int64_t mailbox_id,
			   uint32_t uid, const char **error_r);
/* Set UIDVALIDITY; refused unless the mailbox holds no message. */
int store_index_import_uidvalidity(struct store_index *idx,
				   int64_t mailbox_id, uint32_t uidvalidity,
				   const char **error_r);
/* Raise UIDNEXT and HIGHESTMODSEQ to at least these (never lowers). */
int store_index_import_floors(struct store_index *idx, int64_t mailbox_id,
			      uint32_t uidnext, uint64_t highestmodseq,
			      const char **error_r);

/* store_index_select.c: the lowest UID in [from, below) without \Seen
 * (*uid_r 0: none), from the partial index messages_unseen. */
int store_index_first_unseen(struct store_index *idx, int64_t mailbox_id,
			     uint32_t from, uint32_t below, uint32_t *uid_r,
			     const char **error_r);
/* The UIDs below `below` with \Deleted, ascending (pool), from the
 * partial index messages_deleted. */
int store_index_deleted(struct store_index *idx, int64_t mailbox_id,
			uint32_t below, pool_t *pool, uint32_t **uids_r,
			unsigned *count_r, const char **error_r);
/* The mailbox's keywords (every one a message of it was ever given),
 * sorted, at most max, from pool. */
int store_index_keywords(struct store_index *idx, int64_t mailbox_id,
			 unsigned max, pool_t *pool, const char ***names_r,
			 unsigned *count_r, const char **error_r);
/* The mailbox's RFC 8474 MAILBOXID (mailboxes.objectid; "" if none). */
int store_index_mailbox_objectid(struct store_index *idx, int64_t mailbox_id,
				 char objectid_r[STORE_OBJECTID_SIZE], const char **error_r);
/* The rows of these UIDs (ascending) that exist, in UID order (pool). */
int store_index_messages_get(struct store_index *idx, int64_t mailbox_id,
			     const uint32_t *uids, unsigned count, pool_t *pool,
			     struct store_index_message **rows_r,
			     unsigned *count_r, const char **error_r);

/* store_index_horizon.c: trim the mailbox's expunge log, keeping every
 * entry younger than max_age seconds before now and the newest max_count
 * ones whatever their age; the largest trimmed MODSEQ becomes the
 * mailbox's expunge horizon (*horizon_r; never lowered). Within a
 * transaction. Cheap when there is nothing to trim: one index probe. */
#define STORE_EXPUNGE_KEEP_SECS (30 * 24 * 3600)
#define STORE_EXPUNGE_KEEP_COUNT 100000
/* What the store's own trims keep (process-wide; the defaults above
 * until set: config keys expunge_log_days and expunge_log_max). */
void store_index_expunge_keep(int64_t *max_age_r, unsigned *max_count_r);
int store_index_expunges_trim(struct store_index *idx, int64_t mailbox_id,
			      int64_t now, int64_t max_age, unsigned max_count,
			      uint64_t *horizon_r, const char **error_r);
/* The horizon: a client that knew the mailbox at MODSEQ X learns every
 * expunge since X from the log iff X >= horizon (RFC 7162 3.2.5.2
 * QRESYNC); below it, it must be told the UIDs still there instead. */
int store_index_expunge_horizon(struct store_index *idx, int64_t mailbox_id,
				uint64_t *horizon_r, const char **error_r);

/* store_index_objectid.c (schema 7). Within a transaction, after
 * store_index_message_add(): give the message its thread from its own
 * Message-ID (or NULL), the ids it refers to (root first) and its folded
 * base subject ("" none) and whether that was a reply or forward, as
 * mime_references.h reads them; RFC 8474 5.2. The same UPDATE records
 * hdr_8bit (schema 9 messages.hdr8bit; -1: not known, NULL). */
int store_index_thread_assign(struct store_index *idx, int64_t mailbox_id,
			      uint32_t uid, const char *own,
			      const char *const *refs, unsigned ref_count,
			      const char *subject, bool reply, int hdr_8bit,
			      const char **error_r);
/* RFC 8970 PREVIEW cache: 1 found (*preview_r NULL if not computed,
 * else pool), 0 no such message. */
int store_index_message_preview(struct store_index *idx, int64_t mailbox_id,
				uint32_t uid, pool_t *pool,
				const char **preview_r, const char **error_r);
int store_index_message_set_preview(struct store_index *idx,
				    int64_t mailbox_id, uint32_t uid,
				    const char *preview, const char **error_r);

#endif
