/* store_view_read.c: reading a view's messages (store_view.h): their
 * index rows (all, or of given UIDs), the \Deleted ones, SELECT's first
 * facts, pending expunges, a message's reader, cached structure and
 * preview. Each asks the backend and keeps only what the view's map
 * holds: a message appended since the view's last sync is not there yet,
 * one expunged meanwhile is left out. */
#include "store/store_view_private.h"

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

int store_view_expunge_pending(struct store_view *view, uint64_t since, bool *pending_r,
			       const char **error_r)
{
	pool_t *pool = pool_create(1024);
	uint32_t *uids;
	unsigned count;
	*pending_r = false;
	int ret = view->store->backend->view_expunged(view->store, VIEW_ADDR(view),
						      view->mailbox, since, pool, &uids,
						      &count, error_r);
	for (unsigned i = 0; ret == 0 && i < count && !*pending_r; i++)
		*pending_r = store_view_seq(view, uids[i]) != 0;
	pool_destroy(&pool);
	return ret < 0 ? -1 : 0;
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
