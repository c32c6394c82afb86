/* store_view.c: mailbox views (store_view.h), the backend-neutral part:
 * the sequence-number/UID map and applying what the backend reports
 * changed since the view's MODSEQ (struct store_view_delta).
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

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
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
		qsort(delta.expunged, delta.expunged_count, sizeof(uint32_t), uid_cmp);
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
		qsort(delta.expunged, delta.expunged_count, sizeof(uint32_t), uid_cmp);
	*rows_r = delta.rows;
	*row_count_r = out;
	*expunged_r = delta.expunged;
	*expunged_count_r = delta.expunged_count;
	*complete_r = delta.uidvalidity == view->uidvalidity &&
		since >= delta.expunge_horizon;
	return 0;
}

int store_view_list(struct store_view *view, pool_t *pool,
		    struct store_message_info **messages_r, unsigned *count_r,
		    const char **error_r)
{
	struct store *store = view->store;
	struct store_message_info *all;
	unsigned all_count, out = 0;
	if (store->backend->mailbox_list_messages(store, VIEW_ADDR(view),
						  view->mailbox, pool, &all,
						  &all_count, error_r) < 0)
		return -1;
	/* both in UID order: keep the rows the map holds */
	unsigned m = 0;
	for (unsigned i = 0; i < all_count && m < view->count; i++) {
		while (m < view->count && view->uids[m] < all[i].uid)
			m++;
		if (m < view->count && view->uids[m] == all[i].uid)
			all[out++] = all[i];
	}
	*messages_r = all;
	*count_r = out;
	return 0;
}

struct store_message_reader *
store_view_message_open(struct store_view *view, uint32_t uid,
			const char **error_r)
{
	return view->store->backend->message_open(view->store, VIEW_ADDR(view),
						  view->mailbox, uid, error_r);
}

static int view_set_flags(struct store_view *view, const uint32_t *uids,
			  unsigned count, const struct store_flags_update *update,
			  pool_t *pool, uint32_t **modified_r,
			  unsigned *modified_count_r,
			  struct store_view_flag_change **results_r,
			  unsigned *result_count_r, const char **error_r)
{
	for (unsigned i = 0; i < update->keyword_count; i++) {
		if (store_keyword_check(update->keywords[i], error_r) < 0)
			return -1;
	}
	uint32_t *modified = NULL;
	unsigned modified_count = 0;
	pool_t *own = pool == NULL ? pool_create(1024) : NULL;
	int ret = view->store->backend->set_flags(view->store, VIEW_ADDR(view),
						  view->mailbox, view->uidvalidity,
						  uids, count, update,
						  own != NULL ? own : pool,
						  &modified, &modified_count,
						  results_r, result_count_r,
						  error_r);
	if (own != NULL) {
		pool_destroy(&own);
		modified = NULL;
	}
	if (modified_r != NULL)
		*modified_r = modified; /* NULL without a pool */
	if (modified_count_r != NULL)
		*modified_count_r = modified_count;
	return ret;
}

int store_view_set_flags(struct store_view *view, const uint32_t *uids,
			 unsigned count, const struct store_flags_update *update,
			 pool_t *pool, uint32_t **modified_r,
			 unsigned *modified_count_r, const char **error_r)
{
	return view_set_flags(view, uids, count, update, pool, modified_r,
			      modified_count_r, NULL, NULL, error_r);
}

int store_view_set_flags_result(struct store_view *view, const uint32_t *uids,
				unsigned count,
				const struct store_flags_update *update,
				pool_t *pool,
				struct store_view_flag_change **results_r,
				unsigned *result_count_r, const char **error_r)
{
	*results_r = NULL;
	*result_count_r = 0;
	return view_set_flags(view, uids, count, update, pool, NULL, NULL,
			      results_r, result_count_r, error_r);
}

int store_view_set_flags_modified(struct store_view *view, const uint32_t *uids,
				  unsigned count, const struct store_flags_update *update,
				  pool_t *pool, struct store_view_flag_change **results_r,
				  unsigned *result_count_r, uint32_t **modified_r,
				  unsigned *modified_count_r, const char **error_r)
{
	*results_r = NULL;
	*result_count_r = 0;
	return view_set_flags(view, uids, count, update, pool, modified_r, modified_count_r,
			      results_r, result_count_r, error_r);
}

int store_view_select_info(struct store_view *view, unsigned max_keywords,
			   pool_t *pool, struct store_view_select_info *info_r,
			   const char **error_r)
{
	/* messages appended since the view's sync are not in its map */
	if (view->store->backend->view_select_info(view->store, VIEW_ADDR(view),
						   view->mailbox, view->uidnext,
						   max_keywords, pool, info_r,
						   error_r) < 0)
		return -1;
	info_r->first_unseen_seq = info_r->first_unseen_uid == 0 ? 0 :
		store_view_seq(view, info_r->first_unseen_uid);
	if (info_r->first_unseen_seq == 0)
		info_r->first_unseen_uid = 0;
	return 0;
}

int store_view_deleted(struct store_view *view, pool_t *pool, uint32_t **uids_r,
		       unsigned *count_r, const char **error_r)
{
	uint32_t *uids;
	unsigned count, out = 0;
	if (view->store->backend->mailbox_deleted(view->store, VIEW_ADDR(view),
						  view->mailbox, view->uidnext,
						  pool, &uids, &count, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < count; i++)
		if (store_view_seq(view, uids[i]) != 0)
			uids[out++] = uids[i];
	*uids_r = out > 0 ? uids : NULL;
	*count_r = out;
	return 0;
}

int store_view_list_uids(struct store_view *view, const uint32_t *uids,
			 unsigned count, pool_t *pool,
			 struct store_message_info **messages_r,
			 unsigned *count_r, const char **error_r)
{
	struct store_message_info *all;
	unsigned all_count, out = 0;
	if (view->store->backend->messages_get(view->store, VIEW_ADDR(view),
					       view->mailbox, uids, count, pool,
					       &all, &all_count, error_r) < 0)
		return -1;
	/* expunged since the last sync but the row is back? never: UIDs
	 * are not reused; keep only what the map holds */
	for (unsigned i = 0; i < all_count; i++)
		if (store_view_seq(view, all[i].uid) != 0)
			all[out++] = all[i];
	*messages_r = all;
	*count_r = out;
	return 0;
}

int store_delivery_set_meta(struct store_delivery *d,
			    const struct store_flags_update *flags,
			    time_t internaldate, const char **error_r)
{
	struct store_flags_update replace = { .op = STORE_FLAGS_REPLACE };
	if (flags != NULL) {
		replace = *flags;
		replace.op = STORE_FLAGS_REPLACE;
	}
	for (unsigned i = 0; i < replace.keyword_count; i++) {
		if (store_keyword_check(replace.keywords[i], error_r) < 0)
			return -1;
	}
	if (internaldate < 0) {
		*error_r = "internal date before 1970";
		return -1;
	}
	const char *text = store_flags_text_apply("", &replace, pool_temp());
	return d->store->backend->delivery_set_meta(d, text, internaldate, error_r);
}

int store_view_copy(struct store_view *view, const uint32_t *uids,
		    unsigned count, const char *dest, bool move, pool_t *pool,
		    struct store_copy_result *result_r, const char **error_r)
{
	const char *name;
	memset(result_r, 0, sizeof(*result_r));
	if (store_mailbox_name_check(dest, &name, error_r) < 0)
		return -1;
	if (move && strcmp(name, view->mailbox) == 0) {
		*error_r = "cannot move messages into their own mailbox";
		return -1;
	}
	/* ascending and without repeats: UIDs are assigned in this order */
	uint32_t *sorted = pool_alloc(pool, (count + 1) * sizeof(*sorted));
	memcpy(sorted, uids, count * sizeof(*sorted));
	if (count > 1)
		qsort(sorted, count, sizeof(*sorted), uid_cmp);
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		if (n == 0 || sorted[n - 1] != sorted[i])
			sorted[n++] = sorted[i];
	}
	return view->store->backend->copy(view->store, VIEW_ADDR(view), view->mailbox,
					  view->uidvalidity, sorted, n, name, move,
					  pool, result_r, error_r);
}

int store_view_claim_recent(struct store_view *view, uint32_t *first_r,
			    const char **error_r)
{
	return view->store->backend->claim_recent(view->store, VIEW_ADDR(view),
						  view->mailbox, view->uidvalidity,
						  view->uidnext, first_r, error_r);
}

int store_delivery_set_uid(struct store_delivery *d, uint32_t uid,
			   const char **error_r)
{
	if (uid == 0) {
		*error_r = "UID 0 refused";
		return -1;
	}
	return d->store->backend->delivery_set_uid(d, uid, error_r);
}

int store_mailbox_import_meta(struct store *store, const char *address,
			      const char *mailbox,
			      const struct store_import_meta *meta,
			      const char **error_r)
{
	struct store_address addr;
	const char *name;
	if (store_target_parse(address, mailbox, &addr, &name, error_r) < 0)
		return -1;
	return store->backend->mailbox_import(store, &addr, name, meta, error_r);
}

int store_view_message_preview(struct store_view *view, uint32_t uid,
			       pool_t *pool, const char **preview_r,
			       const char **error_r)
{
	int ret = view->store->backend->message_preview(view->store, VIEW_ADDR(view),
							view->mailbox, uid, pool,
							preview_r, error_r);
	if (ret == 0)
		*error_r = t_printf("message uid %u is expunged", uid);
	return ret > 0 ? 0 : -1;
}

int store_view_message_set_preview(struct store_view *view, uint32_t uid,
				   const char *preview, const char **error_r)
{
	return view->store->backend->message_set_preview(view->store, VIEW_ADDR(view),
							 view->mailbox, uid, preview,
							 error_r) < 0 ? -1 : 0;
}

int store_view_message_set_hdr_8bit(struct store_view *view, uint32_t uid,
				    bool eight_bit, const char **error_r)
{
	return view->store->backend->message_set_hdr_8bit(view->store, VIEW_ADDR(view),
							  view->mailbox, uid, eight_bit,
							  error_r) < 0 ? -1 : 0;
}

int store_view_message_structure(struct store_view *view, uint32_t uid,
				 pool_t *pool, struct mime_tree **tree_r,
				 const char **error_r)
{
	return store_message_structure_get(view->store, VIEW_ADDR(view),
					   view->mailbox, uid, pool, tree_r,
					   error_r);
}
