/* store_index_horizon.c: the expunge log's horizon (store_index.h).
 *
 * The log (table expunges, schema 3/4) would grow without end; RFC 7162
 * 3.2.5.2 lets a server forget old expunges if it then answers QRESYNC
 * for older MODSEQs from the UIDs still present. An entry goes only when
 * it is both older than max_age and not among the newest max_count of
 * its mailbox; entries migrated from schema 3 have no time (0) and count
 * as old; the count keeps a MODSEQ (one per transaction, shared by all
 * its expunges: schema 8) whole. mailboxes.expunge_horizon is the largest
 * MODSEQ ever trimmed: changes since X are complete in the log iff
 * X >= horizon.
 *
 * Cost: one probe of the oldest entry (index expunges_modseq); only if it
 * is older than max_age, a walk of at most max_count index entries to
 * find the count cutoff, and the delete. */
#include "store/store_index_private.h"
#include "store/store.h"

static int query_i64(struct store_index *idx, enum index_stmt which,
		     const char *sql, int64_t a, int64_t b, int64_t c,
		     int64_t *v_r, int64_t *w_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "expunge trim", error_r);
	sqlite3_bind_int64(stmt, 1, a);
	sqlite3_bind_int64(stmt, 2, b);
	sqlite3_bind_int64(stmt, 3, c);
	rc = sqlite3_step(stmt);
	int found = 0;
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
		*v_r = sqlite3_column_int64(stmt, 0);
		if (w_r != NULL)
			*w_r = sqlite3_column_int64(stmt, 1);
		found = 1;
	}
	index_stmt_done(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return index_error(idx, rc, "expunge trim", error_r);
	return found;
}

static int64_t keep_secs = STORE_EXPUNGE_KEEP_SECS;
static unsigned keep_count = STORE_EXPUNGE_KEEP_COUNT;

void store_expunge_log_limits(unsigned days, unsigned max_count)
{
	keep_secs = (int64_t)days * 24 * 3600;
	keep_count = max_count;
}

void store_index_expunge_keep(int64_t *max_age_r, unsigned *max_count_r)
{
	*max_age_r = keep_secs;
	*max_count_r = keep_count;
}

int store_index_expunge_horizon(struct store_index *idx, int64_t mailbox_id,
				uint64_t *horizon_r, const char **error_r)
{
	int64_t v = 0;
	int ret = query_i64(idx, INDEX_STMT_HORIZON,
			    "SELECT expunge_horizon FROM mailboxes"
			    " WHERE id = ?1 AND ?2 = ?3", mailbox_id, 0, 0,
			    &v, NULL, error_r);
	*horizon_r = ret > 0 && v > 0 ? (uint64_t)v : 0;
	return ret < 0 ? -1 : 0;
}

int store_index_expunges_trim(struct store_index *idx, int64_t mailbox_id,
			      int64_t now, int64_t max_age, unsigned max_count,
			      uint64_t *horizon_r, const char **error_r)
{
	int64_t oldest_modseq, oldest_at, cutoff;
	int64_t old_before = now - max_age;
	if (store_index_expunge_horizon(idx, mailbox_id, horizon_r, error_r) < 0)
		return -1;
	int ret = query_i64(idx, INDEX_STMT_EXPUNGE_OLDEST,
			    "SELECT modseq, expunged_at FROM expunges"
			    " WHERE mailbox_id = ?1 AND ?2 = ?3"
			    " ORDER BY modseq LIMIT 1", mailbox_id, 0, 0,
			    &oldest_modseq, &oldest_at, error_r);
	if (ret <= 0 || oldest_at >= old_before)
		return ret < 0 ? -1 : 0;
	/* the oldest of the max_count newest entries: older MODSEQs may
	 * go, if old enough. Entries below it, not at or below the one past
	 * it: one transaction's expunges share a MODSEQ (schema 8), and a
	 * MODSEQ is kept or trimmed whole, so at least max_count stay. */
	cutoff = INT64_MAX;
	if (max_count > 0) {
		ret = query_i64(idx, INDEX_STMT_EXPUNGE_CUTOFF,
				"SELECT modseq FROM expunges WHERE"
				" mailbox_id = ?1 AND ?3 = ?3 ORDER BY modseq DESC"
				" LIMIT 1 OFFSET ?2", mailbox_id, max_count - 1, 0,
				&cutoff, NULL, error_r);
		if (ret <= 0) /* max_count or fewer entries: nothing goes */
			return ret < 0 ? -1 : 0;
	}
	int64_t trimmed;
	ret = query_i64(idx, INDEX_STMT_EXPUNGE_TRIMMED,
			"SELECT max(modseq) FROM expunges WHERE"
			" mailbox_id = ?1 AND modseq < ?2 AND expunged_at < ?3",
			mailbox_id, cutoff, old_before, &trimmed, NULL, error_r);
	if (ret <= 0)
		return ret < 0 ? -1 : 0;
	int64_t dummy;
	if (query_i64(idx, INDEX_STMT_EXPUNGE_DELETE,
		      "DELETE FROM expunges WHERE mailbox_id = ?1"
		      " AND modseq < ?2 AND expunged_at < ?3", mailbox_id,
		      cutoff, old_before, &dummy, NULL, error_r) < 0 ||
	    query_i64(idx, INDEX_STMT_HORIZON_SET,
		      "UPDATE mailboxes SET expunge_horizon ="
		      " max(expunge_horizon, ?2) WHERE id = ?1 AND ?3 = ?3",
		      mailbox_id, trimmed, 0, &dummy, NULL, error_r) < 0)
		return -1;
	if ((uint64_t)trimmed > *horizon_r)
		*horizon_r = (uint64_t)trimmed;
	return 0;
}
