/* store_index_stmt.c: a small cache of prepared statements per index,
 * keyed by their SQL text, for the statements that have no slot of their
 * own in enum index_stmt.
 *
 * Contract: index_prepare_sql() hands out a statement for sql, ready to
 * bind; index_stmt_release() gives it back (reset, bindings cleared) and
 * must be called exactly where sqlite3_finalize() was. A statement is
 * handed to one user at a time: asked for again while out (a nested
 * query with the same text), a fresh one is prepared and finalized on
 * release. At most INDEX_SQL_CACHE_MAX texts are kept; a new one replaces
 * the oldest that is not out. Everything is finalized by
 * store_index_close() (index_sql_cache_free()).
 *
 * Why: parsing SQL was ~11% of the non-login CPU of bench/imap.py (the
 * FETCH batch query, the structure cache, LIST, EXPUNGE, the expunge
 * horizon); SQLite re-prepares a kept statement itself after a schema
 * change (sqlite3_prepare_v3), so keeping them is safe. */
#include "store/store_index_private.h"
#include "lib/mem.h"

#include <string.h>

static uint32_t sql_hash(const char *sql)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)sql; *p != '\0'; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

int index_prepare_sql(struct store_index *idx, const char *sql,
		      sqlite3_stmt **stmt_r)
{
	uint32_t h = sql_hash(sql);
	struct index_sql_cache *c = &idx->sql_cache;
	for (unsigned i = 0; i < INDEX_SQL_CACHE_MAX; i++) {
		struct index_cached_stmt *e = &c->entries[i];
		if (e->stmt == NULL || e->hash != h || strcmp(e->sql, sql) != 0)
			continue;
		if (e->out) /* nested use of the same text: one not kept */
			return sqlite3_prepare_v2(idx->db, sql, -1, stmt_r, NULL);
		e->out = true;
		*stmt_r = e->stmt;
		return SQLITE_OK;
	}
	int rc = sqlite3_prepare_v3(idx->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
				    stmt_r, NULL);
	if (rc != SQLITE_OK)
		return rc;
	/* keep it in the oldest slot that is not out, if any */
	for (unsigned n = 0; n < INDEX_SQL_CACHE_MAX; n++) {
		struct index_cached_stmt *e = &c->entries[c->next];
		c->next = (c->next + 1) % INDEX_SQL_CACHE_MAX;
		if (e->out)
			continue;
		sqlite3_finalize(e->stmt);
		free(e->sql);
		e->sql = xstrdup(sql);
		e->hash = h;
		e->stmt = *stmt_r;
		e->out = true;
		break;
	}
	return SQLITE_OK;
}

void index_stmt_release(struct store_index *idx, sqlite3_stmt *stmt)
{
	if (stmt == NULL)
		return;
	struct index_sql_cache *c = &idx->sql_cache;
	for (unsigned i = 0; i < INDEX_SQL_CACHE_MAX; i++) {
		struct index_cached_stmt *e = &c->entries[i];
		if (e->stmt == stmt) {
			index_stmt_done(stmt);
			e->out = false;
			return;
		}
	}
	sqlite3_finalize(stmt);
}

void index_sql_cache_free(struct store_index *idx)
{
	struct index_sql_cache *c = &idx->sql_cache;
	for (unsigned i = 0; i < INDEX_SQL_CACHE_MAX; i++) {
		sqlite3_finalize(c->entries[i].stmt);
		free(c->entries[i].sql);
		c->entries[i] = (struct index_cached_stmt){ 0 };
	}
}
