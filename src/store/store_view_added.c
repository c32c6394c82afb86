/* store_view_added.c: store_view_sync_added() (store_view.h), the new
 * messages of a view's mailbox taken into its map while the expunges
 * wait: RFC 5465 6 SELECTED-DELAYED reports new messages (EXISTS, 5.2)
 * between commands but expunges only at a command that allows them
 * (RFC 9051 7.5.1).
 *
 * Contract: one backend read above min(flags_since, read_modseq)
 * (store_view_private.h: every new message has a MODSEQ above
 * read_modseq), backend-neutral. The view's MODSEQ does not move, so the
 * next store_view_sync() still reads every expunge and flag change since
 * the last full sync and applies them to the map, which by then holds
 * the added UIDs too (their sequence numbers counted the messages whose
 * expunge was pending), and repeats no flag change of an added message
 * that a call here accounted for (store_view_private.h added_told): both
 * take the rows they read through store_view_take_rows(). Costs O(changes + their lookups in the map). */
#include "store/store_view_private.h"

#include <string.h>

void store_view_take_rows(struct store_view *view, const struct store_view_delta *delta,
			  uint64_t flags_above, pool_t *pool,
			  struct store_view_changes *changes)
{
	changes->added = pool_alloc(pool, (delta->row_count + 1) * sizeof(uint32_t));
	changes->flag_changes = pool_alloc(pool, (delta->row_count + 1) *
					   sizeof(*changes->flag_changes));
	for (unsigned i = 0; i < delta->row_count; i++) {
		const struct store_view_flag_change *row = &delta->rows[i];
		if (row->uid >= view->uidnext) {
			/* rows come in UID order: the map stays sorted */
			store_view_map_append(view, row->uid);
			changes->added[changes->added_count++] = row->uid;
		} else if (row->modseq > flags_above && store_view_seq(view, row->uid) != 0 &&
			   (row->uid < view->added_from || row->modseq > view->added_told)) {
			changes->flag_changes[changes->flag_change_count++] = *row;
		}
	}
}

uint64_t store_view_read_modseq(const struct store_view *view)
{
	return view->read_modseq;
}

int store_view_sync_added(struct store_view *view, uint64_t flags_since,
			  pool_t *pool, struct store_view_changes *changes_r,
			  const char **error_r)
{
	struct store *store = view->store;
	struct store_view_delta delta;
	memset(changes_r, 0, sizeof(*changes_r));
	uint64_t since = flags_since < view->read_modseq ? flags_since : view->read_modseq;
	if (store->backend->view_read(store, VIEW_ADDR(view), view->mailbox, since,
				      pool, &delta, error_r) < 0)
		return -1;
	if (delta.uidvalidity != view->uidvalidity)
		return 0; /* a rebuilt mailbox: store_view_sync() resets the map */
	/* every change of the messages added before is returned now (or
	 * there are none): what the caller tells covers all added ones up
	 * to this read, and the full sync need not repeat it */
	bool none_yet = view->count == 0 || view->uids[view->count - 1] < view->added_from;
	bool covered = none_yet || (since > 0 && flags_since <= view->added_told);
	store_view_take_rows(view, &delta, since > 0 ? flags_since : UINT64_MAX, pool,
			     changes_r);
	if (delta.uidnext > view->uidnext)
		view->uidnext = delta.uidnext;
	if (delta.highestmodseq > view->read_modseq)
		view->read_modseq = delta.highestmodseq;
	if (covered)
		view->added_told = view->read_modseq;
	return 0;
}
