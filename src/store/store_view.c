/* store_view.c: mailbox views (store_view.h), the backend-neutral part:
 * the sequence-number/UID map and applying what the backend reports
 * changed since the view's MODSEQ (struct store_view_delta). Reading
 * messages through a view is store_view_read.c, changing them (flags,
 * copy, \Recent) and the importer's calls store_view_write.c.
 *
 * The map is a sorted uint32_t array; a sync removes the expunged UIDs in
 * one pass and appends new ones (UIDs only grow, RFC 9051 2.3.1.1), so a
 * sync costs O(map + changes), never a read of every message. */
#include "store/store_view_private.h"
#include "lib/log.h"

#include <stdlib.h>
#include <string.h>

void store_view_map_append(struct store_view *view, uint32_t uid)
{
	if (view->count == view->cap) {
		view->cap = view->cap < 64 ? 64 : view->cap * 2;
		view->uids = xrealloc(view->uids, view->cap * sizeof(*view->uids));
	}
	view->uids[view->count++] = uid;
}

int store_view_open(struct store *store, const char *address,
		    const char *mailbox, struct store_view **view_r,
		    const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	pool_t *pool = pool_create(16384);
	struct store_view_delta delta;
	if (store->backend->view_read(store, &addr, name, 0, pool, &delta,
				      error_r) < 0) {
		pool_destroy(&pool);
		return -1;
	}
	struct store_view *view = xcalloc(1, sizeof(*view));
	view->store = store;
	view->addr = view_addr_pack(&addr);
	view->mailbox = xstrdup(name);
	view->uidvalidity = delta.uidvalidity;
	view->uidnext = view->added_from = delta.uidnext;
	view->modseq = view->read_modseq = delta.highestmodseq;
	/* the map sized exactly: an idle selected session keeps it as long as
	 * it stays selected (issue 9 item 15); new mail grows it by doubling */
	if (delta.row_count > 0) {
		view->cap = delta.row_count;
		view->uids = xmalloc(view->cap * sizeof(*view->uids));
	}
	for (unsigned i = 0; i < delta.row_count; i++)
		store_view_map_append(view, delta.rows[i].uid);
	pool_destroy(&pool);
	*view_r = view;
	return 0;
}

void store_view_close(struct store_view **viewp)
{
	struct store_view *view = *viewp;
	if (view == NULL)
		return;
	free(view->uids);
	free(view->addr);
	free(view->mailbox);
	free(view);
	*viewp = NULL;
}

void store_view_rebind(struct store_view *view, struct store *store)
{
	view->store = store;
}

void store_view_renamed(struct store_view *view, const char *mailbox)
{
	free(view->mailbox);
	view->mailbox = xstrdup(mailbox);
}

uint32_t store_view_uidvalidity(const struct store_view *view)
{
	return view->uidvalidity;
}

uint32_t store_view_uidnext(const struct store_view *view)
{
	return view->uidnext;
}

uint64_t store_view_modseq(const struct store_view *view)
{
	return view->modseq;
}

unsigned store_view_count(const struct store_view *view)
{
	return view->count;
}

uint32_t store_view_uid(const struct store_view *view, unsigned seq)
{
	return seq >= 1 && seq <= view->count ? view->uids[seq - 1] : 0;
}

unsigned store_view_seq(const struct store_view *view, uint32_t uid)
{
	unsigned lo = 0, hi = view->count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (view->uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < view->count && view->uids[lo] == uid ? lo + 1 : 0;
}

/* Drop the expunged UIDs the map holds (both sorted); they go to
 * changes->expunged. */
static void view_apply_expunges(struct store_view *view, const uint32_t *gone,
				unsigned gone_count, pool_t *pool,
				struct store_view_changes *changes)
{
	changes->expunged = pool_alloc(pool, (gone_count + 1) * sizeof(uint32_t));
	unsigned out = 0, g = 0;
	for (unsigned i = 0; i < view->count; i++) {
		uint32_t uid = view->uids[i];
		while (g < gone_count && gone[g] < uid)
			g++;
		if (g < gone_count && gone[g] == uid) {
			changes->expunged[changes->expunged_count++] = uid;
			continue;
		}
		view->uids[out++] = uid;
	}
	view->count = out;
}

/* The whole map again: the mailbox is not the one the view knew. */
static void view_reset(struct store_view *view,
		       const struct store_view_delta *delta, pool_t *pool,
		       struct store_view_changes *changes)
{
	log_warn("event=store_view_reset mailbox=%s old_uidvalidity=%u "
		 "uidvalidity=%u", log_str(view->mailbox), view->uidvalidity,
		 delta->uidvalidity);
	changes->reset = true;
	changes->expunged = pool_alloc(pool, (view->count + 1) * sizeof(uint32_t));
	memcpy(changes->expunged, view->uids, view->count * sizeof(uint32_t));
	changes->expunged_count = view->count;
	view->count = 0;
	changes->added = pool_alloc(pool, (delta->row_count + 1) * sizeof(uint32_t));
	for (unsigned i = 0; i < delta->row_count; i++) {
		store_view_map_append(view, delta->rows[i].uid);
		changes->added[changes->added_count++] = delta->rows[i].uid;
	}
	view->uidvalidity = delta->uidvalidity;
	view->uidnext = view->added_from = delta->uidnext;
	view->added_told = 0;
	view->modseq = view->read_modseq = delta->highestmodseq;
}

int store_view_sync(struct store_view *view, pool_t *pool,
		    struct store_view_changes *changes_r, const char **error_r)
{
	struct store *store = view->store;
	struct store_view_delta delta;
	memset(changes_r, 0, sizeof(*changes_r));
	if (store->backend->view_read(store, VIEW_ADDR(view), view->mailbox,
				      view->modseq, pool, &delta, error_r) < 0)
		return -1;
	if (delta.uidvalidity != view->uidvalidity) {
		if (store->backend->view_read(store, VIEW_ADDR(view), view->mailbox, 0,
					      pool, &delta, error_r) < 0)
			return -1;
		view_reset(view, &delta, pool, changes_r);
		return 0;
	}
	if (delta.expunged_count > 1)
		qsort(delta.expunged, delta.expunged_count, sizeof(uint32_t), store_view_uid_cmp);
	view_apply_expunges(view, delta.expunged, delta.expunged_count, pool,
			    changes_r);
	store_view_take_rows(view, &delta, 0, pool, changes_r);
	view->uidnext = view->added_from = delta.uidnext;
	view->added_told = 0;
	if (delta.highestmodseq > view->modseq)
		view->modseq = delta.highestmodseq;
	if (view->modseq > view->read_modseq)
		view->read_modseq = view->modseq;
	return 0;
}

int store_view_changes_since(struct store_view *view, uint64_t since, pool_t *pool,
			     struct store_view_flag_change **rows_r, unsigned *row_count_r,
			     uint32_t **expunged_r, unsigned *expunged_count_r,
			     bool *complete_r, const char **error_r)
{
	struct store *store = view->store;
	struct store_view_delta delta;
	if (since == 0)
		since = 1; /* 0 would list every message without its flags */
	if (store->backend->view_read(store, VIEW_ADDR(view), view->mailbox, since, pool,
				      &delta, error_r) < 0)
		return -1;
	unsigned out = 0;
	for (unsigned i = 0; i < delta.row_count; i++) {
		if (store_view_seq(view, delta.rows[i].uid) != 0)
			delta.rows[out++] = delta.rows[i];
	}
	if (delta.expunged_count > 1)
		qsort(delta.expunged, delta.expunged_count, sizeof(uint32_t), store_view_uid_cmp);
	*rows_r = delta.rows;
	*row_count_r = out;
	*expunged_r = delta.expunged;
	*expunged_count_r = delta.expunged_count;
	*complete_r = delta.uidvalidity == view->uidvalidity &&
		since >= delta.expunge_horizon;
	return 0;
}
