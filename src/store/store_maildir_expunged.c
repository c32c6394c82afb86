/* store_maildir_expunged.c: the maildir-sqlite side of
 * store_view_expunge_pending() (store_view.h): the UIDs the expunge log
 * holds above a MODSEQ, read in one snapshot from the expunges_modseq
 * index with the log's horizon, without reading a message row. Retries once on a rebuilt index,
 * as the other reads of the backend do. */
#include "store/store_maildir.h"

static int expunged_once(struct maildir_store *s, const struct store_address *addr,
			 const char *mailbox, uint64_t since, pool_t *pool,
			 uint32_t **uids_r, unsigned *count_r, bool *forgotten_r,
			 struct maildir_user **user_r, const char **error_r)
{
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, user_r, &mb, &began, error_r) < 0)
		return -1;
	int ret = store_index_expunges_since((*user_r)->index, mb.id, since, pool, uids_r,
					     count_r, error_r);
	uint64_t horizon = 0;
	if (ret == 0)
		ret = store_index_expunge_horizon((*user_r)->index, mb.id, &horizon, error_r);
	*forgotten_r = since < horizon;
	maildir_read_end(*user_r, began);
	return ret;
}

int maildir_view_expunged(struct store *store, const struct store_address *addr,
			  const char *mailbox, uint64_t since, pool_t *pool,
			  uint32_t **uids_r, unsigned *count_r, bool *forgotten_r,
			  const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		*uids_r = NULL;
		*count_r = 0;
		*forgotten_r = false;
		int ret = expunged_once(s, addr, mailbox, since, pool, uids_r, count_r,
					forgotten_r, &user, error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}
