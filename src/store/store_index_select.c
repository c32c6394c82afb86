/* store_index_select.c: the index statements that let IMAP answer SELECT,
 * STORE and FETCH without a read of every message of the mailbox
 * (store_index.h): the first message without \Seen (from the partial
 * index messages_unseen, schema version 6), the mailbox's keyword list
 * (kept by triggers, store_index_schema.c) and MAILBOXID (schema
 * version 7), and the rows of a batch of
 * UIDs (a range scan when the batch is dense, point lookups when not). */
#include "store/store_index_private.h"

#include <stdio.h>
#include <string.h>

int store_index_first_unseen(struct store_index *idx, int64_t mailbox_id,
			     uint32_t from, uint32_t below, uint32_t *uid_r,
			     const char **error_r)
{
	sqlite3_stmt *stmt;
	/* the WHERE term is the partial index's own: a probe, no scan */
	int rc = index_prepare(idx, INDEX_STMT_FIRST_UNSEEN, INDEX_SQL_FIRST_UNSEEN,
			       &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "first unseen", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, from);
	sqlite3_bind_int64(stmt, 3, below);
	rc = sqlite3_step(stmt);
	*uid_r = rc == SQLITE_ROW ? (uint32_t)sqlite3_column_int64(stmt, 0) : 0;
	index_stmt_done(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return index_error(idx, rc, "first unseen", error_r);
	return 0;
}

int store_index_deleted(struct store_index *idx, int64_t mailbox_id,
			uint32_t below, pool_t *pool, uint32_t **uids_r,
			unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_DELETED, INDEX_SQL_DELETED, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "deleted", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, below);
	return index_uid_rows(idx, stmt, pool, uids_r, count_r, "deleted", error_r);
}

int store_index_keywords(struct store_index *idx, int64_t mailbox_id,
			 unsigned max, pool_t *pool, const char ***names_r,
			 unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_KEYWORDS,
		"SELECT name FROM keywords WHERE mailbox_id = ?1 ORDER BY name"
		" LIMIT ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "keywords", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, max);
	const char **names = pool_alloc(pool, (max + 1) * sizeof(*names));
	unsigned count = 0;
	while (count < max && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		names[count++] = pool_strdup(pool, name != NULL ? name : "");
	}
	index_stmt_done(stmt);
	if (count < max && rc != SQLITE_DONE)
		return index_error(idx, rc, "keywords", error_r);
	*names_r = names;
	*count_r = count;
	return 0;
}

int store_index_mailbox_objectid(struct store_index *idx, int64_t mailbox_id,
				 char objectid_r[STORE_OBJECTID_SIZE], const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MAILBOX_OBJECTID,
		"SELECT objectid FROM mailboxes WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox objectid", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	const char *oid = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(stmt, 0) : NULL;
	snprintf(objectid_r, STORE_OBJECTID_SIZE, "%s", oid != NULL ? oid : "");
	index_stmt_done(stmt);
	if (rc == SQLITE_DONE) {
		*error_r = "mailbox objectid: mailbox vanished";
		return -1;
	}
	if (rc != SQLITE_ROW)
		return index_error(idx, rc, "mailbox objectid", error_r);
	return 0;
}

int index_uid_range(struct store_index *idx, enum index_stmt which, const char *sql,
		    int64_t mailbox_id, const uint32_t *uids, unsigned count,
		    index_range_row_fn *row, void *ctx, const char *what, const char **error_r)
{
	if (count == 0)
		return 0;
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uids[0]);
	sqlite3_bind_int64(stmt, 3, uids[count - 1]);
	unsigned k = 0;
	while (k < count && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		uint32_t uid = (uint32_t)sqlite3_column_int64(stmt, 0);
		while (k < count && uids[k] < uid)
			k++;
		if (k == count || uids[k] != uid)
			continue;
		row(stmt, k++, ctx);
	}
	index_stmt_done(stmt);
	if (k < count && rc != SQLITE_DONE)
		return index_error(idx, rc, what, error_r);
	return 0;
}

struct range_rows {
	pool_t *pool;
	struct store_index_message *rows;
	unsigned n;
};

static void range_row(sqlite3_stmt *stmt, unsigned k, void *ctx)
{
	struct range_rows *r = ctx;
	(void)k;
	index_message_row(stmt, r->pool, &r->rows[r->n++]);
}

/* uids[0..count) ascending, dense enough: one range scan, merged */
static int messages_get_range(struct store_index *idx, int64_t mailbox_id,
			      const uint32_t *uids, unsigned count, pool_t *pool,
			      struct store_index_message *rows, unsigned *n_r,
			      const char **error_r)
{
	struct range_rows r = { pool, rows, 0 };
	int ret = index_uid_range(idx, INDEX_STMT_MESSAGES_RANGE,
		"SELECT " INDEX_MESSAGE_COLUMNS " FROM messages WHERE mailbox_id = ?1"
		" AND uid >= ?2 AND uid <= ?3 ORDER BY uid", mailbox_id, uids, count,
		range_row, &r, "messages get", error_r);
	*n_r = r.n;
	return ret;
}

int store_index_messages_get(struct store_index *idx, int64_t mailbox_id,
			     const uint32_t *uids, unsigned count, pool_t *pool,
			     struct store_index_message **rows_r,
			     unsigned *count_r, const char **error_r)
{
	struct store_index_message *rows =
		pool_alloc(pool, (count + 1) * sizeof(*rows));
	unsigned n = 0;
	*rows_r = rows;
	*count_r = 0;
	if (count == 0)
		return 0;
	/* a range costs the rows between first and last; lookups cost a
	 * B-tree descent each: the range while it reads at most ~4 rows a
	 * wanted one */
	if ((uint64_t)uids[count - 1] - uids[0] < (uint64_t)count * 4) {
		if (messages_get_range(idx, mailbox_id, uids, count, pool, rows,
				       &n, error_r) < 0)
			return -1;
		*count_r = n;
		return 0;
	}
	for (unsigned i = 0; i < count; i++) {
		int ret = store_index_message_get(idx, mailbox_id, uids[i], pool,
						  &rows[n], error_r);
		if (ret < 0)
			return -1;
		n += (unsigned)ret;
	}
	*count_r = n;
	return 0;
}
