/* imap_msgset.c: sequence sets against the selected view (see
 * imap_msgset.h). */
#include "imap/imap_msgset.h"
#include "imap/imap_search_render.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "store/store_view.h"

unsigned imap_msgset_count_below(imap_msgset_uid_at_t *uid_at, const void *ctx,
				 unsigned count, uint64_t uid)
{
	unsigned lo = 0, hi = count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (uid_at(ctx, mid + 1) < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* RFC 9051 9 seq-number: a number past the mailbox, or "*" in an empty
 * one, is a protocol error */
static int seq_check(const struct imap_seqset *set, unsigned count, const char **error_r)
{
	for (unsigned i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		bool star = r->lo == IMAP_SEQ_STAR || r->hi == IMAP_SEQ_STAR;
		if ((star && count == 0) ||
		    (r->lo != IMAP_SEQ_STAR && r->lo > count) ||
		    (r->hi != IMAP_SEQ_STAR && r->hi > count)) {
			*error_r = "Invalid message sequence number";
			return -1;
		}
	}
	return 0;
}

int imap_msgset_resolve(struct imap_seqset *set, bool uid, unsigned count,
			imap_msgset_uid_at_t *uid_at, const void *ctx, pool_t *pool,
			uint32_t **uids_r, unsigned *count_r, const char **error_r)
{
	*uids_r = NULL;
	*count_r = 0;
	if (set->saved) {
		/* RFC 5182 "$" needs SEARCHRES, not offered */
		*error_r = "No saved search result";
		return -1;
	}
	if (!uid && seq_check(set, count, error_r) < 0)
		return -1;
	uint32_t max = !uid ? count : count > 0 ? uid_at(ctx, count) : 0;
	imap_seqset_resolve(set, max);
	/* at most min(members, count) results: count members first */
	uint64_t members = imap_seqset_count(set);
	unsigned cap = members < count ? (unsigned)members : count;
	uint32_t *uids = pool_alloc(pool, ((size_t)cap + 1) * sizeof(*uids));
	unsigned n = 0;
	for (unsigned i = 0; i < set->count && n < cap; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		unsigned seq = uid ? imap_msgset_count_below(uid_at, ctx, count, r->lo) + 1 :
			(unsigned)r->lo;
		for (; seq <= count && n < cap; seq++) {
			uint32_t u = uid_at(ctx, seq);
			if (uid ? u > r->hi : seq > r->hi)
				break;
			uids[n++] = u;
		}
	}
	*uids_r = uids;
	*count_r = n;
	return 0;
}

static uint32_t view_uid_at(const void *ctx, unsigned seq)
{
	return store_view_uid(ctx, seq);
}

unsigned imap_msgset_view_count_below(const struct store_view *view, uint32_t uid)
{
	return imap_msgset_count_below(view_uid_at, view, store_view_count(view), uid);
}

int imap_msgset_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
		     pool_t *pool, uint32_t **uids_r, unsigned *count_r,
		     const char **error_r)
{
	struct imap_seqset set;
	*uids_r = NULL;
	*count_r = 0;
	if (arg->type != IMAP_ARG_ATOM) {
		*error_r = "Invalid sequence set";
		return -1;
	}
	if (imap_seqset_parse(arg->str, arg->len, IMAP_MSGSET_MAX_RANGES, &set, error_r) < 0)
		return -1;
	const struct store_view *view = s->sel->view;
	if (set.saved) {
		/* RFC 5182 2.1: "$" is the saved SEARCH result, as UIDs, in
		 * the UID and the sequence forms alike; messages expunged
		 * since are left out (2.4), an empty or missing one is empty */
		const struct imap_selected *sel = s->sel;
		uint32_t *uids = pool_alloc(pool, ((size_t)sel->saved_count + 1) * sizeof(*uids));
		unsigned n = 0;
		for (unsigned i = 0; i < sel->saved_count; i++)
			if (store_view_seq(view, sel->saved[i]) != 0)
				uids[n++] = sel->saved[i];
		imap_seqset_free(&set);
		*uids_r = uids;
		*count_r = n;
		return 0;
	}
	int r = imap_msgset_resolve(&set, uid, store_view_count(view), view_uid_at, view,
				    pool, uids_r, count_r, error_r);
	imap_seqset_free(&set);
	return r;
}

void imap_msgset_append_uids(str_t *out, const uint32_t *uids, unsigned count)
{
	/* the same compact form as ESEARCH ALL (RFC 4731) */
	imap_search_render_set(out, uids, count);
}
