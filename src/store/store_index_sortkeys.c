/* store_index_sortkeys.c: SORT's keys of each message in the index
 * (messages.sortkeys, schema 11): an opaque blob (imap_sort_cache.c
 * writes and reads it), NULL until the first SORT that needs it. The keys
 * depend only on the message's content, which never changes, so no flag
 * change, expunge or delivery makes one stale; a row made again (an index
 * rebuilt, a message copied) starts NULL. */
#include "store/store_index_private.h"

#include <string.h>

struct sortkeys_rows {
	pool_t *pool;
	struct store_blob *blobs;
};

static void sortkeys_row(sqlite3_stmt *stmt, unsigned k, void *ctx)
{
	struct sortkeys_rows *r = ctx;
	const void *b = sqlite3_column_blob(stmt, 1);
	int n = sqlite3_column_bytes(stmt, 1);
	if (b == NULL || n <= 0)
		return;
	void *copy = pool_alloc(r->pool, (size_t)n);
	memcpy(copy, b, (size_t)n);
	r->blobs[k].data = copy;
	r->blobs[k].len = (size_t)n;
}

int store_index_sortkeys(struct store_index *idx, int64_t mailbox_id, const uint32_t *uids,
			 unsigned count, pool_t *pool, struct store_blob **blobs_r,
			 const char **error_r)
{
	struct sortkeys_rows r = { pool, pool_alloc(pool, ((size_t)count + 1) * sizeof(*r.blobs)) };
	*blobs_r = r.blobs;
	/* one range scan from the first UID to the last: SORT asks for
	 * most of the mailbox */
	return index_uid_range(idx, INDEX_STMT_SORTKEYS,
		"SELECT uid, sortkeys FROM messages WHERE mailbox_id = ?1"
		" AND uid >= ?2 AND uid <= ?3 ORDER BY uid", mailbox_id, uids, count,
		sortkeys_row, &r, "sortkeys", error_r);
}

int store_index_set_sortkeys(struct store_index *idx, int64_t mailbox_id, uint32_t uid,
			     const void *blob, size_t len, const char **error_r)
{
	return index_message_set(idx, INDEX_STMT_SET_SORTKEYS,
				 "UPDATE messages SET sortkeys = ?3"
				 " WHERE mailbox_id = ?1 AND uid = ?2", mailbox_id, uid,
				 blob, len, NULL, "set sortkeys", error_r);
}
