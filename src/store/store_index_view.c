/* store_index_view.c: the index statements behind mailbox views
 * (store_index.h, store_view.h): changes and expunges since a MODSEQ,
 * one message by UID, flag changes and the STATUS counters. Opening,
 * locking and transactions are store_index.c. */
#include "store/store_index_private.h"

#include <stdio.h>
#include <string.h>

int store_index_read_begin(struct store_index *idx, const char **error_r)
{
	/* deferred: the first SELECT takes a WAL snapshot, no lock */
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_READ_BEGIN, "BEGIN", &stmt);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		index_stmt_done(stmt);
	}
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "read begin", error_r);
}

void store_index_read_end(struct store_index *idx)
{
	sqlite3_stmt *stmt;
	if (!sqlite3_get_autocommit(idx->db) &&
	    index_prepare(idx, INDEX_STMT_READ_END, "COMMIT", &stmt) == SQLITE_OK) {
		(void)sqlite3_step(stmt);
		index_stmt_done(stmt);
	}
}

bool store_index_autocommit(struct store_index *idx)
{
	return sqlite3_get_autocommit(idx->db) != 0;
}

static int prepare_since(struct store_index *idx, enum index_stmt which,
			 const char *sql, int64_t mailbox_id, uint64_t since,
			 sqlite3_stmt **stmt_r, const char **error_r)
{
	int rc = index_prepare(idx, which, sql, stmt_r);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "view read", error_r);
	sqlite3_bind_int64(*stmt_r, 1, mailbox_id);
	sqlite3_bind_int64(*stmt_r, 2, (int64_t)since);
	return 0;
}

int store_index_changes_since(struct store_index *idx, int64_t mailbox_id,
			      uint64_t since, pool_t *pool,
			      struct store_view_flag_change **rows_r,
			      unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	/* since 0 (a view's open): the UIDs alone, from the primary key
	 * index without reading a row (store_index.h) */
	if (since == 0 ?
	    prepare_since(idx, INDEX_STMT_VIEW_UIDS, INDEX_SQL_VIEW_UIDS, mailbox_id,
			  since, &stmt, error_r) < 0 :
	    prepare_since(idx, INDEX_STMT_CHANGES_SINCE,
			  "SELECT uid, modseq, sysflags, flags FROM messages"
			  " WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
			  mailbox_id, since, &stmt, error_r) < 0)
		return -1;
	struct store_view_flag_change *rows = NULL;
	unsigned count = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		rows = row_array_room(pool, rows, count, &cap, sizeof(*rows));
		struct store_view_flag_change *r = &rows[count++];
		r->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
		r->modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
		r->sysflags = (unsigned)sqlite3_column_int64(stmt, 2);
		const char *flags = (const char *)sqlite3_column_text(stmt, 3);
		r->flags = flags == NULL || *flags == '\0' ? "" :
			pool_strdup(pool, flags);
	}
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "view changes", error_r);
	*rows_r = rows;
	*count_r = count;
	return 0;
}

int store_index_expunges_since(struct store_index *idx, int64_t mailbox_id,
			       uint64_t since, pool_t *pool, uint32_t **uids_r,
			       unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	if (prepare_since(idx, INDEX_STMT_EXPUNGES_SINCE, "SELECT uid FROM expunges"
			  " WHERE mailbox_id = ?1 AND modseq > ?2 ORDER BY uid",
			  mailbox_id, since, &stmt, error_r) < 0)
		return -1;
	return index_uid_rows(idx, stmt, pool, uids_r, count_r, "view expunges",
			      error_r);
}

int index_uid_rows(struct store_index *idx, sqlite3_stmt *stmt, pool_t *pool,
		   uint32_t **uids_r, unsigned *count_r, const char *what,
		   const char **error_r)
{
	uint32_t *uids = NULL;
	unsigned count = 0, cap = 0;
	int rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		uids = row_array_room(pool, uids, count, &cap, sizeof(*uids));
		uids[count++] = (uint32_t)sqlite3_column_int64(stmt, 0);
	}
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, what, error_r);
	*uids_r = uids;
	*count_r = count;
	return 0;
}

int store_index_message_get(struct store_index *idx, int64_t mailbox_id,
			    uint32_t uid, pool_t *pool,
			    struct store_index_message *msg_r,
			    const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MESSAGE_GET,
		"SELECT " INDEX_MESSAGE_COLUMNS
		" FROM messages WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message get", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		index_message_row(stmt, pool, msg_r);
		ret = 1;
	} else if (rc != SQLITE_DONE) {
		ret = index_error(idx, rc, "message get", error_r);
	}
	index_stmt_done(stmt);
	return ret;
}

int store_index_message_set_flags(struct store_index *idx, int64_t mailbox_id,
				  uint32_t uid, const char *flags,
				  unsigned sysflags, uint64_t *modseq_r,
				  const char **error_r)
{
	sqlite3_stmt *stmt;
	/* RFC 7162 3.1.1: the change gets a MODSEQ above every committed
	 * one, shared by the transaction's other changes (schema 8) */
	int rc = index_prepare(idx, INDEX_STMT_NEXT_MODSEQ,
		"UPDATE mailboxes SET highestmodseq ="
		" postel_txn_modseq(id, highestmodseq)"
		" WHERE id = ?1 RETURNING highestmodseq", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "set flags", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	int64_t modseq = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE || modseq == 0)
		return index_error(idx, rc, "set flags", error_r);
	rc = index_prepare(idx, INDEX_STMT_SET_FLAGS,
		"UPDATE messages SET flags = ?3, sysflags = ?4, modseq = ?5"
		" WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "set flags", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_text(stmt, 3, flags, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, sysflags);
	sqlite3_bind_int64(stmt, 5, modseq);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "set flags", error_r);
	*modseq_r = (uint64_t)modseq;
	return 0;
}

int store_index_keyword_add(struct store_index *idx, int64_t mailbox_id,
			    const char *name, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_KEYWORD_ADD,
		"INSERT OR IGNORE INTO keywords (mailbox_id, name) VALUES (?1, ?2)",
		&stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "keyword add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_text(stmt, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "keyword add", error_r);
	return 0;
}

int store_index_mailbox_counters(struct store_index *idx, int64_t mailbox_id,
				 struct store_mailbox_status *status_r,
				 const char **error_r)
{
	sqlite3_stmt *stmt;
	/* RECENT: a range of the primary key, not a scan of the mailbox */
	int rc = index_prepare(idx, INDEX_STMT_COUNTERS,
		"SELECT n_messages, n_unseen, n_deleted, n_size,"
		" (SELECT count(*) FROM messages m WHERE m.mailbox_id = ?1"
		"  AND m.uid >= mailboxes.first_recent_uid), objectid"
		" FROM mailboxes WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox counters", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	int ret = 0;
	if (rc == SQLITE_ROW) {
		status_r->messages = (uint32_t)sqlite3_column_int64(stmt, 0);
		status_r->unseen = (uint32_t)sqlite3_column_int64(stmt, 1);
		status_r->deleted = (uint32_t)sqlite3_column_int64(stmt, 2);
		status_r->size = (uint64_t)sqlite3_column_int64(stmt, 3);
		status_r->recent = (uint32_t)sqlite3_column_int64(stmt, 4);
		const char *oid = (const char *)sqlite3_column_text(stmt, 5);
		snprintf(status_r->mailboxid, sizeof(status_r->mailboxid), "%s",
			 oid != NULL ? oid : "");
	} else {
		if (rc == SQLITE_DONE)
			*error_r = "mailbox counters: mailbox vanished";
		ret = rc == SQLITE_DONE ? -1 :
			index_error(idx, rc, "mailbox counters", error_r);
	}
	index_stmt_done(stmt);
	return ret;
}

int store_index_claim_recent(struct store_index *idx, int64_t mailbox_id,
			     uint32_t uidnext, uint32_t *first_r,
			     const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_RECENT_GET,
		"SELECT first_recent_uid FROM mailboxes WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "claim recent", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	int64_t first = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	index_stmt_done(stmt);
	if (rc != SQLITE_ROW)
		return index_error(idx, rc, "claim recent", error_r);
	*first_r = (uint32_t)first;
	if (first >= (int64_t)uidnext)
		return 0;
	rc = index_prepare(idx, INDEX_STMT_RECENT_SET,
		"UPDATE mailboxes SET first_recent_uid = ?2 WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "claim recent", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uidnext);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "claim recent", error_r);
}
