/* store_index_private.h: what store_index.c (open, locks, transactions),
 * store_index_query.c (the mailbox and message statements) and the
 * other store_index_*.c files share. Nothing outside them (and their
 * unit tests) includes it. */
#ifndef POSTEL_STORE_INDEX_PRIVATE_H
#define POSTEL_STORE_INDEX_PRIVATE_H

#include "store/store_index.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

enum index_stmt {
	INDEX_STMT_MAILBOX_LOOKUP,
	INDEX_STMT_UIDNEXT,
	INDEX_STMT_MESSAGE_INSERT,
	INDEX_STMT_MAILBOX_UPDATE,
	INDEX_STMT_BEGIN,
	INDEX_STMT_COMMIT,
	INDEX_STMT_NEW_MTIME,
	INDEX_STMT_SYNCED,
	INDEX_STMT_MESSAGE_GET,   /* per POP3 RETR / message open */
	INDEX_STMT_CHECKPOINTS,
	/* what every IMAP command's sync and STORE, STATUS and SELECT run
	 * (prepared once: parsing was the largest part of their cost in
	 * the bench/imap.py profile) */
	INDEX_STMT_READ_BEGIN,
	INDEX_STMT_READ_END,
	INDEX_STMT_CHANGES_SINCE,
	INDEX_STMT_VIEW_UIDS,
	INDEX_STMT_EXPUNGES_SINCE,
	INDEX_STMT_NEXT_MODSEQ,
	INDEX_STMT_SET_FLAGS,
	INDEX_STMT_KEYWORD_ADD,
	INDEX_STMT_COUNTERS,
	INDEX_STMT_FIRST_UNSEEN,
	INDEX_STMT_KEYWORDS,
	INDEX_STMT_DELETED,
	INDEX_STMT_MAILBOX_OBJECTID, /* SELECT's MAILBOXID */
	INDEX_STMT_SYNC_NORMAL,   /* store_index_begin_cache() */
	INDEX_STMT_SYNC_FULL,
	/* one message's cached columns (FETCH BODYSTRUCTURE, PREVIEW) and
	 * the thread of a delivery (store_index_objectid.c) */
	INDEX_STMT_STRUCTURE,
	INDEX_STMT_SET_STRUCTURE,
	INDEX_STMT_PREVIEW,
	INDEX_STMT_SET_PREVIEW,
	INDEX_STMT_THREAD_LOOKUP,
	INDEX_STMT_THREAD_SET,
	INDEX_STMT_THREAD_RECORD,
	/* mailbox management, LIST, LSUB (store_index_mailbox.c, _query.c) */
	INDEX_STMT_MAILBOX_LIST,
	INDEX_STMT_MAILBOX_ADD,
	INDEX_STMT_REMOVE_MESSAGES,
	INDEX_STMT_REMOVE_EXPUNGES,
	INDEX_STMT_REMOVE_KEYWORDS,
	INDEX_STMT_REMOVE_MAILBOX,
	INDEX_STMT_RENAME,
	INDEX_STMT_SUBSCRIBE,
	INDEX_STMT_UNSUBSCRIBE,
	INDEX_STMT_SUBSCRIPTIONS,
	/* messages: rescans, FETCH batches, EXPUNGE, \Recent */
	INDEX_STMT_MESSAGE_EXISTS,
	INDEX_STMT_MESSAGE_LIST,
	INDEX_STMT_MESSAGE_REMOVE,
	INDEX_STMT_MESSAGES_RANGE,
	INDEX_STMT_RECENT_GET,
	INDEX_STMT_RECENT_SET,
	/* the expunge log's horizon (store_index_horizon.c) */
	INDEX_STMT_HORIZON,
	INDEX_STMT_HORIZON_SET,
	INDEX_STMT_EXPUNGE_OLDEST,
	INDEX_STMT_EXPUNGE_CUTOFF,
	INDEX_STMT_EXPUNGE_TRIMMED,
	INDEX_STMT_EXPUNGE_DELETE,
	INDEX_STMT_SET_DGSIZE,    /* schema 10, learnt once */
	/* THREADID subject keys of old mail (store_index_objectid.c) */
	INDEX_STMT_THREAD_ROOTS,
	INDEX_STMT_THREAD_KEYS_SET,
	INDEX_STMT_SORTKEYS,      /* schema 11 (store_index_sortkeys.c) */
	INDEX_STMT_SET_SORTKEYS,
	INDEX_STMT_COUNT
};

/* store_index_modseq.c: the MODSEQ this transaction gave a mailbox */
#define INDEX_TXN_MODSEQS 8
struct index_txn_modseq {
	int64_t mailbox_id, modseq;
};

struct store_index {
	sqlite3 *db;
	char *path;
	bool corrupt;
	/* PATH.lock, flock()ed around every write transaction: writers in
	 * every process and thread queue in the kernel and wake the moment
	 * the lock is free, instead of in SQLite's sleep-and-retry busy
	 * handler, which under concurrent delivery costs milliseconds */
	int lock_fd;
	bool locked;
	bool cache_txn; /* synchronous=NORMAL until the transaction ends */
	/* every statement the index runs, one slot each, prepared on
	 * first use and kept until store_index_close() */
	sqlite3_stmt *stmts[INDEX_STMT_COUNT];
	/* one MODSEQ per transaction and mailbox (schema 8), cleared at
	 * every commit and rollback */
	struct index_txn_modseq txn_modseq[INDEX_TXN_MODSEQS];
	unsigned txn_modseq_count, txn_modseq_next;
};

/* Record the error in *error_r and remember corruption for the caller. */
int index_error(struct store_index *idx, int rc, const char *what,
		const char **error_r);
/* The index's one statement cache: the statement of slot which (sql
 * is its text, always the same for a slot), prepared on first use and
 * kept; index_stmt_done() hands it back, reset, bindings cleared. A
 * slot serves one user at a time: asking for it while it is still
 * stepping (a nested use, or a missing index_stmt_done()) panics.
 * Why slots, not a cache keyed by text: a lookup is an array index
 * (hashing and comparing the text cost ~850 instructions a call in
 * callgrind, several percent of a small statement's step), and the set
 * of statements is fixed, so nothing ever needs evicting. */
int index_prepare(struct store_index *idx, enum index_stmt which,
		  const char *sql, sqlite3_stmt **stmt_r);
void index_stmt_done(sqlite3_stmt *stmt);

/* store_index_structure.c: one message row's columns through a cached
 * statement whose ?1 is mailbox_id and ?2 uid. index_message_get():
 * copy() takes the row's columns into pool; 1 found, 0 no such
 * message, -1 error (what names it). index_message_set(): binds ?3 the
 * blob and ?4 the text unless NULL, expects no row; 0 or -1. */
typedef void index_row_copy_fn(sqlite3_stmt *stmt, pool_t *pool, void *ctx);
int index_message_get(struct store_index *idx, enum index_stmt which,
		      const char *sql, int64_t mailbox_id, uint32_t uid,
		      index_row_copy_fn *copy, pool_t *pool, void *ctx,
		      const char *what, const char **error_r);
int index_message_set(struct store_index *idx, enum index_stmt which,
		      const char *sql, int64_t mailbox_id, uint32_t uid,
		      const void *blob, size_t blob_len, const char *text,
		      const char *what, const char **error_r);

/* store_index_schema.c: 2 mailboxes.new_mtime and tmp_checked;
 * 3 mailbox views (store_view.h): flags bits, counters, expunge log;
 * 4 checkpoints, expunge log horizon; 5 messages.structure;
 * 6 the unseen index and the keyword triggers; 7 object ids, save
 * dates, previews and the thread table (RFC 8474, 8514, 8970);
 * 8 one MODSEQ per transaction (the expunge trigger's, store_index_modseq.c);
 * 9 messages.hdr8bit (RFC 6858 downgrade: is the top-level header 8-bit);
 * 10 messages.dgsize (the RFC 6858 message's size, learnt once);
 * 11 messages.sortkeys (SORT's keys, store_index_sortkeys.c) */
#define STORE_INDEX_VERSION 11
/* The SQL that brings an index of from_version (0: a new file) to
 * STORE_INDEX_VERSION, ending with its PRAGMA user_version. */
const char *index_schema_sql(int from_version);

/* store_index_query.c: a row array in pool with room for one more,
 * doubled when full; a messages row selected as INDEX_MESSAGE_COLUMNS. */
void *row_array_room(pool_t *pool, void *array, unsigned count, unsigned *cap,
		     size_t size);
/* A row of schema 6 has no savedate nor threadid: its save date is its
 * internal date (RFC 8514 allows either it or NIL) and it is a thread
 * of its own (RFC 8474 5.2), named by its guid. hdr8bit NULL: not known
 * (a row of schema 8 or older, or a header past STORE_THREAD_HDR_MAX). */
#define INDEX_MESSAGE_COLUMNS \
	"uid, modseq, size, internaldate, flags, filename, sysflags, guid," \
	" coalesce(savedate, internaldate), coalesce(threadid, guid), hdr8bit, dgsize"
void index_message_row(sqlite3_stmt *stmt, pool_t *pool,
		       struct store_index_message *m);
/* store_index_view.c: step a cached statement whose first column is a
 * UID to its end (then index_stmt_done()): the UIDs in pool. */
int index_uid_rows(struct store_index *idx, sqlite3_stmt *stmt, pool_t *pool,
		   uint32_t **uids_r, unsigned *count_r, const char *what,
		   const char **error_r);

/* store_index_select.c: run a cached statement (sql, ?1 the mailbox,
 * ?2 and ?3 the first and last UID, rows in UID order, the UID first)
 * over uids[0..count) ascending, one range scan merged with them: row()
 * for each row whose UID is uids[k], with k; then index_stmt_done(). */
typedef void index_range_row_fn(sqlite3_stmt *stmt, unsigned k, void *ctx);
int index_uid_range(struct store_index *idx, enum index_stmt which, const char *sql,
		    int64_t mailbox_id, const uint32_t *uids, unsigned count,
		    index_range_row_fn *row, void *ctx, const char *what, const char **error_r);

/* The statements that must not read every row of a mailbox (unit tests
 * check their query plans): the first unseen message below a UID, from
 * the partial index messages_unseen (store_index_select.c), and a view's
 * map, from the primary key (store_index_view.c, since 0). */
#define INDEX_SQL_FIRST_UNSEEN \
	"SELECT uid FROM messages WHERE mailbox_id = ?1" \
	" AND (sysflags & 1) = 0 AND uid >= ?2 AND uid < ?3" \
	" ORDER BY uid LIMIT 1"
#define INDEX_SQL_DELETED \
	"SELECT uid FROM messages WHERE mailbox_id = ?1" \
	" AND (sysflags & 8) != 0 AND uid < ?2 ORDER BY uid"
#define INDEX_SQL_VIEW_UIDS \
	"SELECT uid, 0, 0, '' FROM messages" \
	" WHERE mailbox_id = ?1 AND ?2 = 0 ORDER BY uid"

/* store_index_modseq.c: the MODSEQ of a change to mailbox_id whose
 * highestmodseq is highest, one per transaction (see there); what the
 * SQL function postel_txn_modseq() returns. Registered (with the commit
 * and rollback hooks that forget the values) before the schema is read. */
int64_t index_txn_modseq(struct store_index *idx, int64_t mailbox_id,
			 int64_t highest);
int index_txn_modseq_register(struct store_index *idx, const char **error_r);

/* store_index_check.c: PRAGMA quick_check; 0 ok, -1 error
 * (idx->corrupt tells whether it was damage). */
int index_check_integrity(struct store_index *idx, const char **error_r);
/* True if this process has not checked (dev, ino) yet; it counts as
 * checked from now on. Thread-safe. */
bool index_checked_memo_first(dev_t dev, ino_t ino);

#endif
