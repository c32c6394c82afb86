/* store_maildir_objectid.c: the maildir backend's side of the RFC 8970
 * PREVIEW cache (messages.preview, schema 7). Storing is best effort, as
 * the MIME structure cache (store_maildir_structure.c): the index lock
 * only if free, no fsync. */
#include "store/store_maildir.h"

int maildir_message_preview(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, uint32_t uid, pool_t *pool,
			    const char **preview_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(s, addr, mailbox, false, &user, &mb, error_r) < 0)
		return -1;
	int ret = store_index_message_preview(user->index, mb.id, uid, pool,
					      preview_r, error_r);
	if (ret < 0)
		(void)maildir_user_damaged(s, user);
	return ret;
}

static int preview_write(struct store_index *idx, int64_t mailbox_id,
			 uint32_t uid, const void *ctx, const char **error_r)
{
	return store_index_message_set_preview(idx, mailbox_id, uid, ctx, error_r);
}

int maildir_message_set_preview(struct store *store,
				const struct store_address *addr,
				const char *mailbox, uint32_t uid,
				const char *preview, const char **error_r)
{
	return maildir_cache_write(store, addr, mailbox, uid, preview_write, preview,
				   error_r);
}
