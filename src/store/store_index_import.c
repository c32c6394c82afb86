/* store_index_import.c: the index rows' schema-4 extras: a message's
 * LF/CRLF checkpoints (store_seek.h) and what an importer (`postel
 * import`) sets that delivery never does: a given UID, the UIDVALIDITY
 * of an empty mailbox, UIDNEXT and HIGHESTMODSEQ floors. Every setter
 * runs within the caller's transaction, so it is durable with its
 * commit; none ever lowers a counter (RFC 9051 2.3.1.1: UIDs ascend,
 * RFC 7162 3.1.1: MODSEQs never go back). */
#include "store/store_index_private.h"

#include <string.h>

/* Run sql with ?1 = a, ?2 = b and ?3 = the blob (NULL if none). */
static int exec_bound(struct store_index *idx, const char *sql, int64_t a,
		      int64_t b, const void *blob, size_t len,
		      const char *what, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db, sql, -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	sqlite3_bind_int64(stmt, 1, a);
	sqlite3_bind_int64(stmt, 2, b);
	if (blob != NULL && len > 0 && len <= INT32_MAX)
		sqlite3_bind_blob(stmt, 3, blob, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, what, error_r);
}

int store_index_message_set_checkpoints(struct store_index *idx,
					int64_t mailbox_id, uint32_t uid,
					const void *blob, size_t len,
					const char **error_r)
{
	return exec_bound(idx, "UPDATE messages SET checkpoints = ?3"
			  " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
			  blob, len, "set checkpoints", error_r);
}

int store_index_message_copy_checkpoints(struct store_index *idx,
					 int64_t src_id, uint32_t src_uid,
					 int64_t dst_id, uint32_t dst_uid,
					 const char **error_r)
{
	sqlite3_stmt *stmt;
	/* the MIME structure cache (schema 5) is of the same file too; the
	 * copy is the same message (RFC 8474 5.1 EMAILID, 5.2 THREADID:
	 * schema 7), its save date is the copy's own (RFC 8514) */
	int rc = sqlite3_prepare_v2(idx->db, "UPDATE messages SET"
		" (checkpoints, structure, guid, threadid, preview, hdr8bit) ="
		" (SELECT checkpoints, structure, guid, threadid, preview, hdr8bit"
		" FROM messages WHERE mailbox_id = ?3"
		" AND uid = ?4) WHERE mailbox_id = ?1 AND uid = ?2", -1, &stmt,
		NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "copy checkpoints", error_r);
	sqlite3_bind_int64(stmt, 1, dst_id);
	sqlite3_bind_int64(stmt, 2, dst_uid);
	sqlite3_bind_int64(stmt, 3, src_id);
	sqlite3_bind_int64(stmt, 4, src_uid);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 :
		index_error(idx, rc, "copy checkpoints", error_r);
}

int store_index_message_checkpoints(struct store_index *idx,
				    int64_t mailbox_id, uint32_t uid,
				    pool_t *pool, void **blob_r, size_t *len_r,
				    const char **error_r)
{
	sqlite3_stmt *stmt;
	*blob_r = NULL;
	*len_r = 0;
	int rc = index_prepare(idx, INDEX_STMT_CHECKPOINTS,
			       "SELECT checkpoints FROM messages"
			       " WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "checkpoints", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(stmt, 0);
		int n = sqlite3_column_bytes(stmt, 0);
		if (b != NULL && n > 0) {
			*blob_r = pool_alloc(pool, (size_t)n);
			memcpy(*blob_r, b, (size_t)n);
			*len_r = (size_t)n;
		}
		rc = SQLITE_DONE;
	}
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "checkpoints", error_r);
}

static int mailbox_row(struct store_index *idx, int64_t mailbox_id,
		       int64_t *uidnext_r, int64_t *messages_r,
		       const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db, "SELECT uidnext, n_messages FROM"
				    " mailboxes WHERE id = ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "import", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*uidnext_r = sqlite3_column_int64(stmt, 0);
		*messages_r = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE) {
		*error_r = "import: no such mailbox";
		return -1;
	}
	return rc == SQLITE_ROW ? 0 : index_error(idx, rc, "import", error_r);
}

int store_index_import_uid(struct store_index *idx, int64_t mailbox_id,
			   uint32_t uid, const char **error_r)
{
	int64_t uidnext, messages;
	if (mailbox_row(idx, mailbox_id, &uidnext, &messages, error_r) < 0)
		return -1;
	if (uid == 0 || uid == UINT32_MAX || (int64_t)uid < uidnext) {
		*error_r = t_printf("import UID %u refused: UIDNEXT is %lld",
				    uid, (long long)uidnext);
		return -1;
	}
	return exec_bound(idx, "UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1",
			  mailbox_id, uid, NULL, 0, "import uid", error_r);
}

int store_index_import_uidvalidity(struct store_index *idx,
				   int64_t mailbox_id, uint32_t uidvalidity,
				   const char **error_r)
{
	int64_t uidnext, messages;
	if (mailbox_row(idx, mailbox_id, &uidnext, &messages, error_r) < 0)
		return -1;
	if (uidvalidity == 0) {
		*error_r = "UIDVALIDITY 0 refused (RFC 9051 2.3.1.1: nonzero)";
		return -1;
	}
	if (messages > 0) {
		*error_r = "UIDVALIDITY of a mailbox with messages refused";
		return -1;
	}
	/* the old UIDs are void: so are their expunge entries */
	return exec_bound(idx, "UPDATE mailboxes SET uidvalidity = ?2"
			  " WHERE id = ?1", mailbox_id, uidvalidity, NULL, 0,
			  "import uidvalidity", error_r) < 0 ||
		exec_bound(idx, "DELETE FROM expunges WHERE mailbox_id = ?1",
			   mailbox_id, 0, NULL, 0, "import uidvalidity",
			   error_r) < 0 ? -1 : 0;
}

int store_index_import_floors(struct store_index *idx, int64_t mailbox_id,
			      uint32_t uidnext, uint64_t highestmodseq,
			      const char **error_r)
{
	if (uidnext == UINT32_MAX || highestmodseq > (uint64_t)INT64_MAX) {
		*error_r = "import floor out of range";
		return -1;
	}
	return exec_bound(idx, "UPDATE mailboxes SET uidnext = max(uidnext, ?2)"
			  " WHERE id = ?1", mailbox_id, uidnext, NULL, 0,
			  "import floors", error_r) < 0 ||
		exec_bound(idx, "UPDATE mailboxes SET highestmodseq ="
			   " max(highestmodseq, ?2) WHERE id = ?1", mailbox_id,
			   (int64_t)highestmodseq, NULL, 0, "import floors",
			   error_r) < 0 ? -1 : 0;
}
