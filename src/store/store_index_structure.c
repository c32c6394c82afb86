/* store_index_structure.c: a message's cached MIME structure in the index
 * (messages.structure, schema 5): the mime_cache.h blob of its tree,
 * parsed from the wire form, so offsets are wire offsets. NULL means not
 * computed yet; store_structure.c fills it on the first request. */
#include "store/store_index_private.h"

#include <string.h>

int store_index_message_structure(struct store_index *idx, int64_t mailbox_id,
				  uint32_t uid, pool_t *pool, void **blob_r,
				  size_t *len_r, uint64_t *size_r,
				  const char **error_r)
{
	sqlite3_stmt *stmt;
	*blob_r = NULL;
	*len_r = 0;
	*size_r = 0;
	int rc = index_prepare_sql(idx, "SELECT structure, size FROM messages"
				   " WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "structure", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	int found = 0;
	if (rc == SQLITE_ROW) {
		const void *b = sqlite3_column_blob(stmt, 0);
		int n = sqlite3_column_bytes(stmt, 0);
		if (b != NULL && n > 0) {
			*blob_r = pool_alloc(pool, (size_t)n);
			memcpy(*blob_r, b, (size_t)n);
			*len_r = (size_t)n;
		}
		sqlite3_int64 size = sqlite3_column_int64(stmt, 1);
		*size_r = size > 0 ? (uint64_t)size : 0;
		found = 1;
		rc = SQLITE_DONE;
	}
	index_stmt_release(idx, stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "structure", error_r);
	return found;
}

int store_index_message_set_structure(struct store_index *idx,
				      int64_t mailbox_id, uint32_t uid,
				      const void *blob, size_t len,
				      const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare_sql(idx, "UPDATE messages SET structure = ?3"
				   " WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "set structure", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	if (blob != NULL && len > 0 && len <= INT32_MAX)
		sqlite3_bind_blob(stmt, 3, blob, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	index_stmt_release(idx, stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "set structure",
						   error_r);
}
