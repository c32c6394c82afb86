/* store_index_objectid.c: the index statements of schema 7 (RFC 8474
 * object ids, RFC 8970 previews; store_index.h).
 *
 * Threads (RFC 8474 5.2 THREADID), built at delivery by the linking rule
 * THREAD=REFERENCES uses (RFC 5256 4; which ids a message names:
 * mime_references.h): the per-user table msgids maps every message-id
 * the user's mail named (in Message-ID, References or In-Reply-To) to
 * a thread id. A new message joins the thread of the first of its
 * references (root first) the table knows, else the thread its own
 * Message-ID was put in by a reply that arrived before it, else, if it
 * is a reply or forward (RFC 5256 4 steps 5-6: threads whose roots share
 * a base subject are gathered), the thread whose root had its base
 * subject, else it starts a thread named by its own guid. Then every id
 * it names not yet in the table points at its thread, and a message
 * that started one records its base subject under the key " subject "
 * + the subject (no msg-id holds a space, mime_msgid.h, so the keys
 * never meet; no schema change). So a reply and its parent share a
 * thread whichever arrives first, siblings meet through a common
 * reference even if the parent never arrives, and mail delivered
 * parents first gets the top-level groups of THREAD=REFERENCES.
 * Two threads are never merged later (a THREADID never changes): a
 * message whose references lie in two known threads joins the first,
 * where THREAD=REFERENCES shows one thread (README, OBJECTID). */
#include "store/store_index_private.h"

#include <string.h>

/* Bytes of a subject kept in its key (cut at a character boundary) */
#define THREAD_SUBJECT_MAX 200
#define THREAD_SUBJECT_KEY " subject "

/* The thread of the first of ids[0..count) the table knows: 1 found
 * (thread_r), 0 none. */
static int thread_lookup(struct store_index *idx, const char *const *ids,
			 unsigned count, uint8_t thread_r[STORE_GUID_SIZE],
			 const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_THREAD_LOOKUP,
			       "SELECT threadid FROM msgids WHERE msgid = ?1", &stmt);
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
			index_stmt_done(stmt);
			return index_error(idx, rc, "thread lookup", error_r);
		}
		sqlite3_reset(stmt);
	}
	index_stmt_done(stmt);
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
	int rc = index_prepare(idx, INDEX_STMT_THREAD_RECORD, "INSERT OR IGNORE INTO msgids"
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
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "thread ids", error_r);
}

/* The msgids key of a base subject, NULL for an empty one. */
static const char *subject_key(const char *subject, pool_t *pool)
{
	size_t len = subject != NULL ? strlen(subject) : 0;
	if (len == 0)
		return NULL;
	if (len > THREAD_SUBJECT_MAX) {
		len = THREAD_SUBJECT_MAX;
		while (len > 0 && ((unsigned char)subject[len] & 0xc0) == 0x80)
			len--;
	}
	return pool_printf(pool, THREAD_SUBJECT_KEY "%.*s", (int)len, subject);
}

int store_index_thread_assign(struct store_index *idx, int64_t mailbox_id,
			      uint32_t uid, const char *own,
			      const char *const *refs, unsigned ref_count,
			      const char *subject, bool reply, int hdr_8bit,
			      const char **error_r)
{
	uint8_t thread[STORE_GUID_SIZE];
	pool_t *pool = pool_create(512);
	const char *key = subject_key(subject, pool);
	int found = thread_lookup(idx, refs, ref_count, thread, error_r);
	if (found == 0 && own != NULL)
		found = thread_lookup(idx, &own, 1, thread, error_r);
	bool linked = found != 0;
	/* RFC 5256 4 step 6: a reply or forward that links to nothing
	 * known joins the thread whose root has its base subject */
	if (found == 0 && reply && key != NULL)
		found = thread_lookup(idx, &key, 1, thread, error_r);
	int ret = found < 0 ? -1 :
		index_message_set(idx, INDEX_STMT_THREAD_SET,
				  "UPDATE messages SET threadid = coalesce(?3, guid),"
				  " hdr8bit = CAST(?4 AS INTEGER)"
				  " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
				  found > 0 ? thread : NULL, sizeof(thread),
				  hdr_8bit < 0 ? NULL : hdr_8bit ? "1" : "0",
				  "thread set", error_r);
	if (ret == 0)
		ret = thread_record(idx, mailbox_id, uid, refs, ref_count, error_r);
	if (ret == 0 && own != NULL)
		ret = thread_record(idx, mailbox_id, uid, &own, 1, error_r);
	/* the root of a new thread names its subject (the first root of a
	 * subject keeps it) */
	if (ret == 0 && !linked && key != NULL)
		ret = thread_record(idx, mailbox_id, uid, &key, 1, error_r);
	pool_destroy(&pool);
	return ret;
}

static void preview_copy(sqlite3_stmt *stmt, pool_t *pool, void *ctx)
{
	const char **preview_r = ctx;
	const char *text = (const char *)sqlite3_column_text(stmt, 0);
	*preview_r = text != NULL ? pool_strdup(pool, text) : NULL;
}

int store_index_message_preview(struct store_index *idx, int64_t mailbox_id,
				uint32_t uid, pool_t *pool,
				const char **preview_r, const char **error_r)
{
	*preview_r = NULL;
	return index_message_get(idx, INDEX_STMT_PREVIEW, "SELECT preview FROM messages"
				 " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
				 preview_copy, pool, preview_r, "preview", error_r);
}

int store_index_message_set_preview(struct store_index *idx,
				    int64_t mailbox_id, uint32_t uid,
				    const char *preview, const char **error_r)
{
	return index_message_set(idx, INDEX_STMT_SET_PREVIEW, "UPDATE messages SET preview = ?4"
				 " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
				 NULL, 0, preview, "set preview", error_r);
}

int store_index_thread_unkeyed(struct store_index *idx, int64_t mailbox_id, pool_t *pool,
			       uint32_t **uids_r, unsigned *count_r, const char **error_r)
{
	*uids_r = NULL;
	*count_r = 0;
	sqlite3_stmt *stmt;
	/* the roots: messages that started their thread (schema 6 rows
	 * have no threadid and are threads of their own) */
	int rc = index_prepare(idx, INDEX_STMT_THREAD_ROOTS,
			   "SELECT uid FROM messages WHERE mailbox_id = ?1"
			   " AND (threadid IS NULL OR threadid = guid) ORDER BY uid", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "thread roots", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	int ret = index_uid_rows(idx, stmt, pool, uids_r, count_r, "thread roots", error_r);
	index_stmt_done(stmt);
	return ret;
}

int store_index_thread_subject(struct store_index *idx, int64_t mailbox_id, uint32_t uid,
			       const char *subject, const char **error_r)
{
	pool_t *pool = pool_create(512);
	const char *key = subject_key(subject, pool);
	/* the first root of a subject keeps it (INSERT OR IGNORE) */
	int ret = key == NULL ? 0 : thread_record(idx, mailbox_id, uid, &key, 1, error_r);
	pool_destroy(&pool);
	return ret;
}

int store_index_thread_keys_done(struct store_index *idx, int64_t mailbox_id,
				 const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_THREAD_KEYS_SET,
			       "UPDATE mailboxes SET thread_keys = 1 WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "thread keys", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "thread keys", error_r);
}
