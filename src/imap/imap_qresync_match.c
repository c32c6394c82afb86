/* imap_qresync_match.c: QRESYNC's message sequence match data (RFC 7162
 * 3.2.5.2): SELECT ... (QRESYNC (uidvalidity modseq known-uids
 * (known-sequence-set known-uid-set))) pairs the client's sequence
 * numbers with the UIDs it had for them.
 *
 * Contract: imap_qresync_match_floor() returns the highest UID u of the
 * pairs whose sequence number s is u's sequence number in the view now,
 * or 0. Such a match proves the client's messages below u are the
 * mailbox's (none of them gone since): UIDs are given out ascending, so
 * every message now below u was below u for the client too, and equal
 * counts make the sets equal. The caller then leaves UIDs <= u out of
 * VANISHED (EARLIER) past the expunge log's horizon; a client that lies
 * only confuses itself. The walk starts at the highest pair and looks at
 * no more than IMAP_QRESYNC_MATCH_PAIRS pairs (a floor of 0, the full
 * answer, past that). imap_qresync_match_ascending() checks the ABNF's
 * "in ascending order" on the raw set text, since the parsed set is
 * sorted and merged and would pair the wrong numbers otherwise. */
#include "imap_condstore.h"
#include "imap/imap_condstore_parse.h"
#include "imap/imap_seqset.h"
#include "store/store_view.h"

/* pairs compared against the view, from the highest down */
#define IMAP_QRESYNC_MATCH_PAIRS 4096

/* one step down within a set walked from the top; false at its end */
static bool step_down(const struct imap_seqset *set, unsigned *range, uint64_t *n)
{
	if (*n > set->ranges[*range].lo) {
		(*n)--;
		return true;
	}
	if (*range == 0)
		return false;
	(*range)--;
	*n = set->ranges[*range].hi;
	return true;
}

uint32_t imap_qresync_match_floor(const struct store_view *view,
				  const struct imap_seqset *seqs,
				  const struct imap_seqset *uids)
{
	if (seqs->count == 0 || uids->count == 0 || seqs->has_star || uids->has_star)
		return 0;
	unsigned rs = seqs->count - 1, ru = uids->count - 1;
	uint64_t s = seqs->ranges[rs].hi, u = uids->ranges[ru].hi;
	for (unsigned n = 0; n < IMAP_QRESYNC_MATCH_PAIRS; n++) {
		if (u <= IMAP_SEQ_MAX && s <= IMAP_SEQ_MAX &&
		    store_view_seq(view, (uint32_t)u) == s)
			return (uint32_t)u;
		if (!step_down(seqs, &rs, &s) || !step_down(uids, &ru, &u))
			break;
	}
	return 0;
}

bool imap_qresync_match_ascending(const char *s, size_t len)
{
	uint64_t last = 0, num = 0;
	bool digits = false, range_end = false;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : ',';
		if (c >= '0' && c <= '9') {
			num = num * 10 + (uint64_t)(c - '0');
			if (num > IMAP_SEQ_MAX)
				return false;
			digits = true;
			continue;
		}
		/* each number above the one before; a range's end may equal
		 * its start ("4:4") */
		if (!digits || num < last || (num == last && !range_end) ||
		    (c != ',' && c != ':'))
			return false;
		range_end = c == ':';
		last = num;
		num = 0;
		digits = false;
	}
	return true;
}
