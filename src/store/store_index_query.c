/* store_index_query.c: the mailbox and message statements of the index
 * (store_index.h); opening, locking and transactions are store_index.c. */
#include "store/store_index_private.h"

#include <string.h>
#include <time.h>

void *row_array_room(pool_t *pool, void *array, unsigned count,
			    unsigned *cap, size_t size)
{
	if (count < *cap)
		return array;
	*cap = *cap == 0 ? 64 : *cap * 2;
	void *bigger = pool_alloc(pool, *cap * size);
	if (count > 0)
		memcpy(bigger, array, count * size);
	return bigger;
}

int store_index_mailbox_lookup(struct store_index *idx, const char *name,
			       struct store_index_mailbox *mailbox_r,
			       const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MAILBOX_LOOKUP,
		"SELECT id, uidvalidity, uidnext, highestmodseq, new_mtime,"
		" tmp_checked, thread_keys FROM mailboxes WHERE name = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox lookup", error_r);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	int ret;
	if (rc == SQLITE_ROW) {
		mailbox_r->id = sqlite3_column_int64(stmt, 0);
		mailbox_r->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 1);
		mailbox_r->uidnext = (uint32_t)sqlite3_column_int64(stmt, 2);
		mailbox_r->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 3);
		mailbox_r->messages = 0; /* see store_index_mailbox_counters() */
		mailbox_r->new_mtime = sqlite3_column_int64(stmt, 4);
		mailbox_r->tmp_checked = sqlite3_column_int64(stmt, 5);
		mailbox_r->thread_keys = sqlite3_column_int(stmt, 6) != 0;
		mailbox_r->name = NULL;
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = index_error(idx, rc, "mailbox lookup", error_r);
	}
	index_stmt_done(stmt);
	return ret;
}

int store_index_mailbox_list(struct store_index *idx, pool_t *pool,
			     struct store_index_mailbox **mailboxes_r,
			     unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MAILBOX_LIST,
		"SELECT id, uidvalidity, uidnext, highestmodseq, new_mtime,"
		" tmp_checked, name, thread_keys FROM mailboxes ORDER BY id", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox list", error_r);
	struct store_index_mailbox *mbs = NULL;
	unsigned count = 0, cap = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		mbs = row_array_room(pool, mbs, count, &cap, sizeof(*mbs));
		struct store_index_mailbox *mb = &mbs[count++];
		mb->id = sqlite3_column_int64(stmt, 0);
		mb->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 1);
		mb->uidnext = (uint32_t)sqlite3_column_int64(stmt, 2);
		mb->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 3);
		mb->messages = 0;
		mb->new_mtime = sqlite3_column_int64(stmt, 4);
		mb->tmp_checked = sqlite3_column_int64(stmt, 5);
		mb->thread_keys = sqlite3_column_int(stmt, 7) != 0;
		const char *name = (const char *)sqlite3_column_text(stmt, 6);
		mb->name = pool_strdup(pool, name != NULL ? name : "");
	}
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "mailbox list", error_r);
	*mailboxes_r = mbs;
	*count_r = count;
	return 0;
}

/* Run a cached UPDATE of mailboxes with three integer parameters. */
static int mailbox_update(struct store_index *idx, enum index_stmt which,
			  const char *sql, int64_t p1, int64_t p2, int64_t p3,
			  const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox update", error_r);
	sqlite3_bind_int64(stmt, 1, p1);
	sqlite3_bind_int64(stmt, 2, p2);
	sqlite3_bind_int64(stmt, 3, p3);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "mailbox update", error_r);
	return 0;
}

int store_index_mailbox_set_new_mtime(struct store_index *idx,
				      int64_t mailbox_id, int64_t expect,
				      int64_t new_mtime, const char **error_r)
{
	return mailbox_update(idx, INDEX_STMT_NEW_MTIME,
			      "UPDATE mailboxes SET new_mtime = ?3"
			      " WHERE id = ?1 AND new_mtime = ?2",
			      mailbox_id, expect, new_mtime, error_r);
}

int store_index_mailbox_set_synced(struct store_index *idx, int64_t mailbox_id,
				   int64_t new_mtime, int64_t tmp_checked,
				   const char **error_r)
{
	return mailbox_update(idx, INDEX_STMT_SYNCED,
			      "UPDATE mailboxes SET new_mtime = ?2, tmp_checked = ?3"
			      " WHERE id = ?1", mailbox_id, new_mtime, tmp_checked,
			      error_r);
}

int store_index_mailbox_add(struct store_index *idx, const char *name,
			    uint32_t uidvalidity, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MAILBOX_ADD,
		"INSERT OR IGNORE INTO mailboxes"
		" (name, uidvalidity, uidnext, highestmodseq)"
		" VALUES (?1, ?2, 1, 1)", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox add", error_r);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, uidvalidity == 0 ? 1 : uidvalidity);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "mailbox add", error_r);
	return 0;
}

int store_index_message_add(struct store_index *idx, int64_t mailbox_id,
			    const char *filename, uint64_t size,
			    int64_t internaldate, const char *flags,
			    uint32_t *uid_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_UIDNEXT,
		"SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		index_stmt_done(stmt);
		if (rc == SQLITE_DONE) {
			*error_r = "index message add: mailbox vanished";
			return -1;
		}
		return index_error(idx, rc, "message add", error_r);
	}
	int64_t uid = sqlite3_column_int64(stmt, 0);
	/* one MODSEQ per transaction (schema 8, store_index_modseq.c): a
	 * scan or an import of many messages raises HIGHESTMODSEQ by one */
	int64_t modseq = index_txn_modseq(idx, mailbox_id,
					  sqlite3_column_int64(stmt, 1));
	index_stmt_done(stmt);
	if (uid < 1 || uid >= (int64_t)UINT32_MAX || modseq < 1) {
		/* RFC 3501 2.3.1.1: UIDs are 32-bit; a new UIDVALIDITY would
		 * be needed to go on */
		*error_r = t_printf("mailbox UIDs exhausted (%s)", idx->path);
		return -1;
	}
	if (size > (uint64_t)INT64_MAX)
		size = (uint64_t)INT64_MAX;

	rc = index_prepare(idx, INDEX_STMT_MESSAGE_INSERT,
		"INSERT INTO messages (mailbox_id, uid, modseq, flags, filename,"
		" size, internaldate, sysflags, guid, savedate)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, randomblob(16),"
		" CAST(strftime('%s', 'now') AS INTEGER))", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, modseq);
	sqlite3_bind_text(stmt, 4, flags, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, filename, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, (int64_t)size);
	sqlite3_bind_int64(stmt, 7, internaldate);
	sqlite3_bind_int64(stmt, 8, store_flags_text_bits(flags));
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message add", error_r);

	rc = index_prepare(idx, INDEX_STMT_MAILBOX_UPDATE,
		"UPDATE mailboxes SET uidnext = ?2,"
		" highestmodseq = max(highestmodseq, ?3) WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid + 1);
	sqlite3_bind_int64(stmt, 3, modseq);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message add", error_r);
	*uid_r = (uint32_t)uid;
	return 0;
}

int store_index_message_exists(struct store_index *idx, int64_t mailbox_id,
			       const char *filename, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MESSAGE_EXISTS,
		"SELECT 1 FROM messages WHERE mailbox_id = ?1 AND filename = ?2",
		&stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message lookup", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_text(stmt, 2, filename, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	int ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 :
		index_error(idx, rc, "message lookup", error_r);
	index_stmt_done(stmt);
	return ret;
}

void index_message_row(sqlite3_stmt *stmt, pool_t *pool,
		       struct store_index_message *m)
{
	m->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
	m->modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
	m->size = (uint64_t)sqlite3_column_int64(stmt, 2);
	m->internaldate = sqlite3_column_int64(stmt, 3);
	const char *flags = (const char *)sqlite3_column_text(stmt, 4);
	const char *filename = (const char *)sqlite3_column_text(stmt, 5);
	m->flags = pool_strdup(pool, flags != NULL ? flags : "");
	m->filename = pool_strdup(pool, filename != NULL ? filename : "");
	m->sysflags = (unsigned)sqlite3_column_int64(stmt, 6);
	const void *guid = sqlite3_column_blob(stmt, 7);
	if (guid != NULL && sqlite3_column_bytes(stmt, 7) == STORE_GUID_SIZE)
		memcpy(m->guid, guid, STORE_GUID_SIZE);
	else
		memset(m->guid, 0, STORE_GUID_SIZE);
	m->savedate = sqlite3_column_int64(stmt, 8);
	const void *thread = sqlite3_column_blob(stmt, 9);
	if (thread != NULL && sqlite3_column_bytes(stmt, 9) == STORE_GUID_SIZE)
		memcpy(m->threadid, thread, STORE_GUID_SIZE);
	else
		memset(m->threadid, 0, STORE_GUID_SIZE);
	m->hdr_8bit = sqlite3_column_type(stmt, 10) == SQLITE_NULL ? -1 :
		sqlite3_column_int(stmt, 10) != 0;
	sqlite3_int64 dg = sqlite3_column_int64(stmt, 11); /* NULL reads 0 */
	m->dg_size = dg > 0 ? (uint64_t)dg : 0;
}

int store_index_message_list(struct store_index *idx, int64_t mailbox_id,
			     pool_t *pool,
			     struct store_index_message **messages_r,
			     unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MESSAGE_LIST,
		"SELECT " INDEX_MESSAGE_COLUMNS
		" FROM messages WHERE mailbox_id = ?1 ORDER BY uid", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message list", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	struct store_index_message *messages = NULL;
	unsigned count = 0, cap = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		messages = row_array_room(pool, messages, count, &cap,
					  sizeof(*messages));
		index_message_row(stmt, pool, &messages[count++]);
	}
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message list", error_r);
	*messages_r = messages;
	*count_r = count;
	return 0;
}

int store_index_messages_remove(struct store_index *idx, int64_t mailbox_id,
				const uint32_t *uids, unsigned count,
				const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MESSAGE_REMOVE,
		"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message remove", error_r);
	for (unsigned i = 0; i < count; i++) {
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, uids[i]);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE) {
			index_stmt_done(stmt);
			return index_error(idx, rc, "message remove", error_r);
		}
	}
	index_stmt_done(stmt);
	/* the messages_del trigger gave each row a MODSEQ of its own and
	 * logged it (store_index_schema.c); the log is trimmed to its
	 * horizon in the same commit (store_index_horizon.c) */
	uint64_t horizon;
	int64_t max_age;
	unsigned max_count;
	store_index_expunge_keep(&max_age, &max_count);
	return count == 0 ? 0 :
		store_index_expunges_trim(idx, mailbox_id, (int64_t)time(NULL),
					  max_age, max_count, &horizon, error_r);
}
