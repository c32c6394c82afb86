/* store_maildir_sortkeys.c: the maildir backend's side of SORT's key
 * cache (store_view_sortkeys(), messages.sortkeys, schema 11): one range
 * read for the whole request, and writes in batches, each a cache
 * transaction taken only when the index lock is free (as the MIME
 * structure cache, store_maildir_structure.c), so a delivery waits at
 * most one batch and a SORT never waits for a delivery. */
#include "store/store_maildir.h"

/* rows written per transaction */
#define SORTKEYS_WRITE_BATCH 1024

int maildir_messages_sortkeys(struct store *store, const struct store_address *addr,
			      const char *mailbox, const uint32_t *uids, unsigned count,
			      pool_t *pool, struct store_blob **blobs_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, &user, &mb, &began, error_r) < 0)
		return -1;
	int ret = store_index_sortkeys(user->index, mb.id, uids, count, pool, blobs_r, error_r);
	maildir_read_end(user, began);
	if (ret < 0)
		(void)maildir_user_damaged(s, user);
	return ret;
}

struct sortkeys_batch {
	const uint32_t *uids;
	const struct store_blob *blobs;
	unsigned count;
};

static int sortkeys_write(struct store_index *idx, int64_t mailbox_id, uint32_t uid,
			  const void *ctx, const char **error_r)
{
	const struct sortkeys_batch *b = ctx;
	(void)uid;      /* the batch's first: every row is in ctx */
	for (unsigned i = 0; i < b->count; i++) {
		if (b->blobs[i].len > 0 &&
		    store_index_set_sortkeys(idx, mailbox_id, b->uids[i], b->blobs[i].data,
					     b->blobs[i].len, error_r) < 0)
			return -1;
	}
	return 0;
}

int maildir_messages_set_sortkeys(struct store *store, const struct store_address *addr,
				  const char *mailbox, const uint32_t *uids,
				  const struct store_blob *blobs, unsigned count,
				  const char **error_r)
{
	for (unsigned i = 0; i < count; i += SORTKEYS_WRITE_BATCH) {
		unsigned n = count - i < SORTKEYS_WRITE_BATCH ? count - i : SORTKEYS_WRITE_BATCH;
		struct sortkeys_batch b = { uids + i, blobs + i, n };
		int ret = maildir_cache_write(store, addr, mailbox, uids[i], sortkeys_write, &b,
					      error_r);
		if (ret <= 0)
			return ret;     /* busy: the rest waits for another SORT */
	}
	return 1;
}
