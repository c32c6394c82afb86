/* store_view_sortkeys.c: SORT's key cache through the view
 * (store_view.h store_view_sortkeys()): the view's mailbox, its backend. */
#include "store/store_private.h"
#include "store/store_view_private.h"

int store_view_sortkeys(struct store_view *view, const uint32_t *uids, unsigned count,
			pool_t *pool, struct store_blob **blobs_r, const char **error_r)
{
	return view->store->backend->messages_sortkeys(view->store, VIEW_ADDR(view),
						       view->mailbox, uids, count, pool,
						       blobs_r, error_r);
}

int store_view_set_sortkeys(struct store_view *view, const uint32_t *uids,
			    const struct store_blob *blobs, unsigned count, const char **error_r)
{
	if (count == 0)
		return 0;
	return view->store->backend->messages_set_sortkeys(view->store, VIEW_ADDR(view),
							   view->mailbox, uids, blobs, count,
							   error_r) < 0 ? -1 : 0;
}
