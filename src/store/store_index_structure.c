/* store_index_structure.c: a message's cached MIME structure in the index
 * (messages.structure, schema 5): the mime_cache.h blob of its tree,
 * parsed from the wire form, so offsets are wire offsets. NULL means not
 * computed yet; store_structure.c fills it on the first request.
 * Also the one-row helpers (store_index_private.h) that the structure,
 * the preview and the thread statements share: each statement is
 * prepared once per index handle (FETCH BODYSTRUCTURE and PREVIEW run
 * them once a message). */
#include "store/store_index_private.h"

#include <string.h>

int index_message_get(struct store_index *idx, enum index_stmt which,
		      const char *sql, int64_t mailbox_id, uint32_t uid,
		      index_row_copy_fn *copy, pool_t *pool, void *ctx,
		      const char *what, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	int found = 0;
	if (rc == SQLITE_ROW) {
		copy(stmt, pool, ctx);
		found = 1;
		rc = SQLITE_DONE;
	}
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? found : index_error(idx, rc, what, error_r);
}

int index_message_set(struct store_index *idx, enum index_stmt which,
		      const char *sql, int64_t mailbox_id, uint32_t uid,
		      const void *blob, size_t blob_len, const char *text,
		      const char *what, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	if (blob != NULL && blob_len > 0 && blob_len <= INT32_MAX)
		sqlite3_bind_blob(stmt, 3, blob, (int)blob_len, SQLITE_STATIC);
	if (text != NULL)
		sqlite3_bind_text(stmt, 4, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, what, error_r);
}

struct structure_row {
	void *blob;
	size_t len;
	uint64_t size;
};

static void structure_copy(sqlite3_stmt *stmt, pool_t *pool, void *ctx)
{
	struct structure_row *row = ctx;
	const void *b = sqlite3_column_blob(stmt, 0);
	int n = sqlite3_column_bytes(stmt, 0);
	if (b != NULL && n > 0) {
		row->blob = pool_alloc(pool, (size_t)n);
		memcpy(row->blob, b, (size_t)n);
		row->len = (size_t)n;
	}
	sqlite3_int64 size = sqlite3_column_int64(stmt, 1);
	row->size = size > 0 ? (uint64_t)size : 0;
}

int store_index_message_structure(struct store_index *idx, int64_t mailbox_id,
				  uint32_t uid, pool_t *pool, void **blob_r,
				  size_t *len_r, uint64_t *size_r,
				  const char **error_r)
{
	struct structure_row row = { NULL, 0, 0 };
	int ret = index_message_get(idx, INDEX_STMT_STRUCTURE,
				    "SELECT structure, size FROM messages"
				    " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id,
				    uid, structure_copy, pool, &row, "structure", error_r);
	*blob_r = row.blob;
	*len_r = row.len;
	*size_r = row.size;
	return ret;
}

int store_index_message_set_downgrade(struct store_index *idx, int64_t mailbox_id,
				      uint32_t uid, bool eight_bit, uint64_t dg_size,
				      const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_SET_DGSIZE,
			       "UPDATE messages SET hdr8bit = ?3, dgsize = coalesce(?4, dgsize)"
			       " WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "set dgsize", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int(stmt, 3, eight_bit);
	if (dg_size > 0 && dg_size <= INT64_MAX)
		sqlite3_bind_int64(stmt, 4, (sqlite3_int64)dg_size);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	return rc == SQLITE_DONE ? 0 : index_error(idx, rc, "set dgsize", error_r);
}

int store_index_message_set_structure(struct store_index *idx,
				      int64_t mailbox_id, uint32_t uid,
				      const void *blob, size_t len,
				      const char **error_r)
{
	return index_message_set(idx, INDEX_STMT_SET_STRUCTURE,
				 "UPDATE messages SET structure = ?3"
				 " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
				 blob, len, NULL, "set structure", error_r);
}
