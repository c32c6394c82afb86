/* store_maildir_select.c: the maildir-sqlite side of the view calls that
 * read only what they need (store_view.h store_view_select_info(),
 * store_view_list_uids(), store_view_deleted()): SELECT's first unseen
 * message, keywords and MAILBOXID in one snapshot, the rows of a batch of UIDs, and
 * the \Deleted ones. Neither reads every
 * message of the mailbox nor scans its folder; a retry on a rebuilt
 * index when SQLite reports damage, as store_maildir_view.c does. */
#include "store/store_maildir.h"
#include "lib/log.h"

#include <string.h>

static int select_info_once(struct maildir_store *s,
			    const struct store_address *addr,
			    const char *mailbox, uint32_t below,
			    unsigned max_keywords, pool_t *pool,
			    struct store_view_select_info *info_r,
			    struct maildir_user **user_r, const char **error_r)
{
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, user_r, &mb, &began,
				     error_r) < 0)
		return -1;
	struct store_index *idx = (*user_r)->index;
	int ret = store_index_first_unseen(idx, mb.id, 1, below,
					   &info_r->first_unseen_uid, error_r);
	if (ret == 0)
		ret = store_index_keywords(idx, mb.id, max_keywords, pool,
					   &info_r->keywords,
					   &info_r->keyword_count, error_r);
	if (ret == 0)
		ret = store_index_mailbox_objectid(idx, mb.id, info_r->mailboxid,
						   error_r);
	maildir_read_end(*user_r, began);
	return ret;
}

int maildir_view_select_info(struct store *store,
			     const struct store_address *addr,
			     const char *mailbox, uint32_t below,
			     unsigned max_keywords, pool_t *pool,
			     struct store_view_select_info *info_r,
			     const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		memset(info_r, 0, sizeof(*info_r));
		int ret = select_info_once(s, addr, mailbox, below, max_keywords,
					   pool, info_r, &user, error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}

static int deleted_once(struct maildir_store *s, const struct store_address *addr,
			const char *mailbox, uint32_t below, pool_t *pool,
			uint32_t **uids_r, unsigned *count_r,
			struct maildir_user **user_r, const char **error_r)
{
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, user_r, &mb, &began,
				     error_r) < 0)
		return -1;
	int ret = store_index_deleted((*user_r)->index, mb.id, below, pool, uids_r,
				      count_r, error_r);
	maildir_read_end(*user_r, began);
	return ret;
}

int maildir_mailbox_deleted(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, uint32_t below, pool_t *pool,
			    uint32_t **uids_r, unsigned *count_r,
			    const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		*uids_r = NULL;
		*count_r = 0;
		int ret = deleted_once(s, addr, mailbox, below, pool, uids_r,
				       count_r, &user, error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}

static int messages_get_once(struct maildir_store *s,
			     const struct store_address *addr,
			     const char *mailbox, const uint32_t *uids,
			     unsigned count, pool_t *pool,
			     struct store_message_info **messages_r,
			     unsigned *count_r, struct maildir_user **user_r,
			     const char **error_r)
{
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, user_r, &mb, &began,
				     error_r) < 0)
		return -1;
	pool_t *scratch = pool_create(16384);
	struct store_index_message *rows;
	unsigned n;
	int ret = store_index_messages_get((*user_r)->index, mb.id, uids, count,
					   scratch, &rows, &n, error_r);
	maildir_read_end(*user_r, began);
	if (ret < 0) {
		pool_destroy(&scratch);
		return -1;
	}
	struct store_message_info *messages =
		pool_alloc(pool, (n + 1) * sizeof(*messages));
	/* lost is not checked: message_open tells */
	for (unsigned i = 0; i < n; i++)
		maildir_message_info(pool, &rows[i], &messages[i]);
	pool_destroy(&scratch);
	*messages_r = messages;
	*count_r = n;
	return 0;
}

int maildir_messages_get(struct store *store, const struct store_address *addr,
			 const char *mailbox, const uint32_t *uids,
			 unsigned count, pool_t *pool,
			 struct store_message_info **messages_r,
			 unsigned *count_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		int ret = messages_get_once(s, addr, mailbox, uids, count, pool,
					    messages_r, count_r, &user, error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}
