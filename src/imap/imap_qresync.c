/* imap_qresync.c: QRESYNC (RFC 7162 3.2): SELECT/EXAMINE ... (QRESYNC
 * (uidvalidity modseq [known-uids [seq-match]])) answered with VANISHED
 * (EARLIER) and the FETCH of each changed message (3.2.5), UID FETCH ...
 * (CHANGEDSINCE n VANISHED) (3.2.6), and VANISHED in place of EXPUNGE
 * once enabled (3.2.10).
 *
 * What was expunged since a MODSEQ comes from the store's expunge log
 * (store_view_changes_since()). Past its horizon (config keys
 * expunge_log_days, expunge_log_max) the log no longer covers the
 * client's MODSEQ, and the answer is every UID of the client's known set
 * (or 1:UIDNEXT-1) that the mailbox does not hold (3.2.5.2): larger, never
 * wrong; the client's seq-match pairs narrow it to the UIDs above the
 * highest pair that still matches (imap_qresync_match.c). The FETCH of
 * changed messages names only the known UIDs (3.2.5: the client fetches
 * the others itself). The lines are built on the lane into a pool and
 * written by the caller as the client reads. */
#include "imap_condstore.h"
#include "imap/imap_condstore_parse.h"
#include "imap/imap_msgset.h"
#include "imap/imap_reply.h"
#include "imap/imap_seqset.h"
#include "imap/imap_session_private.h"
#include "lib/conn.h"
#include "store/store_view.h"

#include <string.h>

/* UIDs in one unsolicited VANISHED line (3.2.10), as a compressed set */
#define IMAP_VANISHED_LINE_UIDS 2000

static void append_range(str_t *out, bool *first, uint32_t lo, uint32_t hi)
{
	if (!*first)
		str_appendc(out, ',');
	*first = false;
	if (lo == hi)
		str_printf(out, "%u", lo);
	else
		str_printf(out, "%u:%u", lo, hi);
}

/* RFC 7162 3.2.5.2: the UIDs of set (resolved) above floor that the
 * view's map lacks, as ranges: O(ranges of the set + messages of the map
 * within it). */
static void append_missing(str_t *out, bool *first, const struct imap_seqset *set,
			   uint32_t floor, const struct store_view *view)
{
	unsigned count = store_view_count(view);
	for (unsigned r = 0; r < set->count; r++) {
		uint64_t cur = set->ranges[r].lo, hi = set->ranges[r].hi;
		if (cur <= floor)
			cur = (uint64_t)floor + 1;
		if (cur == 0 || hi > IMAP_SEQ_MAX || cur > hi)
			continue;
		unsigned idx = imap_msgset_view_count_below(view, (uint32_t)cur) + 1;
		while (cur <= hi) {
			uint32_t uid = idx <= count ? store_view_uid(view, idx) : 0;
			if (uid == 0 || uid > hi) {
				append_range(out, first, (uint32_t)cur, (uint32_t)hi);
				break;
			}
			if (uid > cur)
				append_range(out, first, (uint32_t)cur, uid - 1);
			cur = (uint64_t)uid + 1;
			idx++;
		}
	}
}

/* The VANISHED (EARLIER) set: from the log when it covers since, else
 * what the map lacks above floor (the seq-match, 3.2.5.2); known NULL:
 * 1:UIDNEXT-1. */
static int vanished_set(struct store_view *view, const struct imap_seqset *known,
			uint32_t floor, const uint32_t *expunged, unsigned expunged_count,
			bool complete, str_t *out)
{
	struct imap_seq_range all = { 1, store_view_uidnext(view) - 1 };
	struct imap_seqset whole = { .ranges = &all, .count = all.hi >= 1 ? 1 : 0 };
	const struct imap_seqset *set = known != NULL ? known : &whole;
	bool first = true;
	if (!complete) {
		append_missing(out, &first, set, floor, view);
		return first ? 0 : 1;
	}
	uint32_t lo = 0, hi = 0;
	for (unsigned i = 0; i < expunged_count; i++) {
		uint32_t uid = expunged[i];
		/* a UID the map still holds is not gone for this session yet:
		 * its sync reports it (3.2.10) */
		if (!imap_seqset_contains(set, uid) || store_view_seq(view, uid) != 0)
			continue;
		if (lo != 0 && uid == hi + 1) {
			hi = uid;
			continue;
		}
		if (lo != 0)
			append_range(out, &first, lo, hi);
		lo = hi = uid;
	}
	if (lo != 0)
		append_range(out, &first, lo, hi);
	return first ? 0 : 1;
}

int imap_qresync_select(struct store_view *view, const struct imap_qresync_params *params,
			pool_t *pool, const char **text_r, const char **error_r)
{
	*text_r = "";
	/* RFC 7162 3.2.5: another UIDVALIDITY: the client's cache is void,
	 * no VANISHED and no FETCH */
	if (params->uidvalidity != store_view_uidvalidity(view))
		return 0;
	struct store_view_flag_change *rows;
	uint32_t *expunged;
	unsigned row_count, expunged_count;
	bool complete;
	if (store_view_changes_since(view, params->modseq, pool, &rows, &row_count, &expunged,
				     &expunged_count, &complete, error_r) < 0)
		return -1;
	str_t text = STR_INIT;
	const struct imap_seqset *known = params->has_known_uids ? &params->known_uids : NULL;
	uint32_t floor = 0;
	if (!complete && params->has_seq_match)
		floor = imap_qresync_match_floor(view, &params->match_seqs, &params->match_uids);
	str_appendz(&text, "* VANISHED (EARLIER) ");
	if (vanished_set(view, known, floor, expunged, expunged_count, complete, &text) > 0)
		str_appendz(&text, "\r\n");
	else
		str_truncate(&text, 0);
	/* 3.2.5.1: every message changed since, with UID, FLAGS, MODSEQ */
	for (unsigned i = 0; i < row_count; i++) {
		const struct store_view_flag_change *row = &rows[i];
		if (known != NULL && !imap_seqset_contains(known, row->uid))
			continue;
		str_printf(&text, "* %u FETCH (UID %u FLAGS (%s) MODSEQ (%llu))\r\n",
			   store_view_seq(view, row->uid), row->uid, row->flags,
			   (unsigned long long)row->modseq);
	}
	*text_r = pool_strndup(pool, text.data != NULL ? text.data : "", text.len);
	str_free(&text);
	return 0;
}

int imap_qresync_fetch_vanished(struct store_view *view, uint64_t since,
				const struct imap_seqset *uid_set, pool_t *pool,
				const char **line_r, const char **error_r)
{
	struct store_view_flag_change *rows;
	uint32_t *expunged;
	unsigned row_count, expunged_count;
	bool complete;
	*line_r = "";
	if (store_view_changes_since(view, since, pool, &rows, &row_count, &expunged,
				     &expunged_count, &complete, error_r) < 0)
		return -1;
	str_t text = STR_INIT;
	str_appendz(&text, "* VANISHED (EARLIER) ");
	if (vanished_set(view, uid_set, 0, expunged, expunged_count, complete, &text) > 0) {
		str_appendz(&text, "\r\n");
		*line_r = pool_strndup(pool, text.data, text.len);
	}
	str_free(&text);
	return 0;
}

bool imap_qresync_report_vanished(struct imap_session *s, const uint32_t *uids,
				  unsigned count, unsigned *next)
{
	while (*next < count) {
		/* a line of at most ~24 KB (2000 UIDs, worst case all apart) */
		if (conn_output_room(s->base.conn) < IMAP_VANISHED_LINE_UIDS * 12 + 256)
			return false;
		unsigned n = count - *next;
		if (n > IMAP_VANISHED_LINE_UIDS)
			n = IMAP_VANISHED_LINE_UIDS;
		str_t line = STR_INIT;
		imap_msgset_append_uids(&line, uids + *next, n);
		imap_untagged(s, "VANISHED %s", str_c(&line));
		str_free(&line);
		*next += n;
	}
	return true;
}
