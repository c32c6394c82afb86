/* store_index_mailbox.c: the index statements of mailbox management
 * (store_index.h): removing and renaming mailboxes, subscriptions.
 * The caller holds the write transaction and does the folders. */
#include "store/store_index_private.h"

#include <string.h>

/* Run sql with up to two text and one integer parameter. */
static int run(struct store_index *idx, enum index_stmt which,
	       const char *sql, const char *t1, const char *t2, int64_t i3,
	       const char *what, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	if (t1 != NULL)
		sqlite3_bind_text(stmt, 1, t1, -1, SQLITE_STATIC);
	if (t2 != NULL)
		sqlite3_bind_text(stmt, 2, t2, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, i3);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, what, error_r);
	return 0;
}

int store_index_mailbox_remove(struct store_index *idx, int64_t mailbox_id,
			       const char **error_r)
{
	/* messages first: their trigger writes the expunge log, which
	 * goes next */
	static const struct {
		enum index_stmt which;
		const char *sql;
	} sqls[] = {
		{ INDEX_STMT_REMOVE_MESSAGES,
		  "DELETE FROM messages WHERE mailbox_id = ?3" },
		{ INDEX_STMT_REMOVE_EXPUNGES,
		  "DELETE FROM expunges WHERE mailbox_id = ?3" },
		{ INDEX_STMT_REMOVE_KEYWORDS,
		  "DELETE FROM keywords WHERE mailbox_id = ?3" },
		{ INDEX_STMT_REMOVE_MAILBOX, "DELETE FROM mailboxes WHERE id = ?3" },
	};
	for (unsigned i = 0; i < sizeof(sqls) / sizeof(*sqls); i++) {
		if (run(idx, sqls[i].which, sqls[i].sql, NULL, NULL, mailbox_id,
			"mailbox remove", error_r) < 0)
			return -1;
	}
	return 0;
}

int store_index_mailbox_rename(struct store_index *idx, const char *old_name,
			       const char *new_name, const char **error_r)
{
	/* substr, not LIKE: names may hold '%' and '_' */
	return run(idx, INDEX_STMT_RENAME, "UPDATE mailboxes SET name = ?2 || substr(name, length(?1) + 1)"
		   " WHERE name = ?1 OR substr(name, 1, length(?1) + 1) = ?1 || '/'",
		   old_name, new_name, 0, "mailbox rename", error_r);
}

int store_index_subscribe(struct store_index *idx, const char *name, bool on,
			  const char **error_r)
{
	if (on)
		return run(idx, INDEX_STMT_SUBSCRIBE,
			   "INSERT OR IGNORE INTO subscriptions (name) VALUES (?1)",
			   name, NULL, 0, "subscribe", error_r);
	return run(idx, INDEX_STMT_UNSUBSCRIBE,
		   "DELETE FROM subscriptions WHERE name = ?1", name, NULL, 0,
		   "subscribe", error_r);
}

int store_index_subscriptions(struct store_index *idx, pool_t *pool,
			      const char ***names_r, unsigned *count_r,
			      const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_SUBSCRIPTIONS,
		"SELECT name FROM subscriptions ORDER BY name", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "subscriptions", error_r);
	const char **names = NULL;
	unsigned count = 0, cap = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		names = row_array_room(pool, names, count, &cap, sizeof(*names));
		const char *name = (const char *)sqlite3_column_text(stmt, 0);
		names[count++] = pool_strdup(pool, name != NULL ? name : "");
	}
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "subscriptions", error_r);
	*names_r = names;
	*count_r = count;
	return 0;
}
