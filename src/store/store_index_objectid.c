/* store_index_objectid.c: the index statements of schema 7 (RFC 8474
 * object ids, RFC 8970 previews; store_index.h).
 *
 * Threads (RFC 8474 5.2 THREADID, computed as RFC 5256 4 REFERENCES
 * links messages, incrementally at delivery): the per-user table
 * msgids maps every message-id the user's mail named (in Message-ID,
 * In-Reply-To or References) to a thread id. A new message joins the
 * thread of the first of its references (root first) the table knows,
 * else the thread its own Message-ID was put in by a reply that arrived
 * before it, else it starts a thread named by its own guid; then every
 * id it names not yet in the table points at its thread. So a reply and
 * its parent share a thread whichever arrives first, and siblings
 * meet through a common reference even if the parent never arrives.
 * Two threads are never merged later (a THREADID never changes): a
 * message whose references lie in two known threads joins the first. */
#include "store/store_index_private.h"

#include <string.h>

/* The thread of the first of ids[0..count) the table knows: 1 found
 * (thread_r), 0 none; one statement for all of them. */
static int thread_lookup(struct store_index *idx, const char *const *ids,
			 unsigned count, uint8_t thread_r[STORE_GUID_SIZE],
			 const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare_sql(idx, "SELECT threadid FROM msgids"
				   " WHERE msgid = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "thread lookup", error_r);
	int found = 0;
	for (unsigned i = 0; i < count && found == 0; i++) {
		sqlite3_bind_text(stmt, 1, ids[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == STORE_GUID_SIZE) {
			memcpy(thread_r, sqlite3_column_blob(stmt, 0), STORE_GUID_SIZE);
			found = 1;
		} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			index_stmt_release(idx, stmt);
			return index_error(idx, rc, "thread lookup", error_r);
		}
		sqlite3_reset(stmt);
	}
	index_stmt_release(idx, stmt);
	return found;
}

/* Every id of ids[0..count) not in the table yet points at the
 * thread of the message (placeholders for messages not seen yet: RFC
 * 5256 4 dummy parents). */
static int thread_record(struct store_index *idx, int64_t mailbox_id,
			 uint32_t uid, const char *const *ids, unsigned count,
			 const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare_sql(idx, "INSERT OR IGNORE INTO msgids"
				   " (msgid, threadid) SELECT ?3, threadid FROM messages"
				   " WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "thread ids", error_r);
	rc = SQLITE_DONE;
	for (unsigned i = 0; i < count && rc == SQLITE_DONE; i++) {
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, uid);
		sqlite3_bind_text(stmt, 3, ids[i], -1, SQLITE_STATIC);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
	}
	index_stmt_release(idx, stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "thread ids", error_r);
}

/* Run sql binding ?1 mailbox_id, ?2 uid, ?3 a blob, ?4 a text. */
static int run_row(struct store_index *idx, const char *sql, int64_t mailbox_id,
		   uint32_t uid, const void *blob, size_t blob_len,
		   const char *text, const char *what, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare_sql(idx, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	if (blob != NULL)
		sqlite3_bind_blob(stmt, 3, blob, (int)blob_len, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(stmt, 4, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	index_stmt_release(idx, stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, what, error_r);
}

int store_index_thread_assign(struct store_index *idx, int64_t mailbox_id,
			      uint32_t uid, const char *own,
			      const char *const *refs, unsigned ref_count,
			      const char **error_r)
{
	uint8_t thread[STORE_GUID_SIZE];
	int found = thread_lookup(idx, refs, ref_count, thread, error_r);
	if (found == 0 && own != NULL)
		found = thread_lookup(idx, &own, 1, thread, error_r);
	if (found < 0)
		return -1;
	if (found > 0) {
		if (run_row(idx, "UPDATE messages SET threadid = ?3"
			    " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
			    thread, sizeof(thread), NULL, "thread set", error_r) < 0)
			return -1;
	} else if (run_row(idx, "UPDATE messages SET threadid = guid"
			   " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
			   NULL, 0, NULL, "thread set", error_r) < 0)
		return -1;
	if (thread_record(idx, mailbox_id, uid, refs, ref_count, error_r) < 0)
		return -1;
	return own == NULL ? 0 : thread_record(idx, mailbox_id, uid, &own, 1, error_r);
}

int store_index_message_preview(struct store_index *idx, int64_t mailbox_id,
				uint32_t uid, pool_t *pool,
				const char **preview_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	*preview_r = NULL;
	int rc = index_prepare_sql(idx, "SELECT preview FROM messages"
				   " WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "preview", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	int found = 0;
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(stmt, 0);
		if (text != NULL)
			*preview_r = pool_strdup(pool, text);
		found = 1;
		rc = SQLITE_DONE;
	}
	index_stmt_release(idx, stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "preview", error_r);
	return found;
}

int store_index_message_set_preview(struct store_index *idx,
				    int64_t mailbox_id, uint32_t uid,
				    const char *preview, const char **error_r)
{
	return run_row(idx, "UPDATE messages SET preview = ?4"
		       " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
		       NULL, 0, preview, "set preview", error_r);
}
