/* store_maildir_structure.c: the maildir backend's side of the MIME
 * structure cache (store_view_message_structure(), store_structure.c):
 * read and store messages.structure. Storing is best effort: it takes the
 * index lock only if free (a cache must never make a reader wait). */
#include "store/store_maildir.h"
#include "lib/log.h"

int maildir_message_structure(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox, uint32_t uid, pool_t *pool,
			      void **blob_r, size_t *len_r, uint64_t *size_r,
			      const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, &user, &mb, &began,
				     error_r) < 0)
		return -1;
	int ret = store_index_message_structure(user->index, mb.id, uid, pool,
						blob_r, len_r, size_r, error_r);
	maildir_read_end(user, began);
	if (ret < 0)
		(void)maildir_user_damaged(s, user);
	return ret;
}

int maildir_cache_write(struct store *store, const struct store_address *addr,
			const char *mailbox, uint32_t uid,
			maildir_cache_write_fn *write, const void *ctx,
			const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(s, addr, mailbox, false, &user, &mb, error_r) < 0)
		return -1;
	/* a cache: no fsync for it (FETCH ENVELOPE of new messages waited
	 * for one a message, bench/imap.py) */
	int r = store_index_begin_cache(user->index, error_r);
	if (r <= 0)
		return r;
	if (write(user->index, mb.id, uid, ctx, error_r) < 0) {
		store_index_rollback(user->index);
		return -1;
	}
	return store_index_commit(user->index, error_r) < 0 ? -1 : 1;
}

struct structure_blob {
	const void *blob;
	size_t len;
};

static int structure_write(struct store_index *idx, int64_t mailbox_id,
			   uint32_t uid, const void *ctx, const char **error_r)
{
	const struct structure_blob *b = ctx;
	return store_index_message_set_structure(idx, mailbox_id, uid, b->blob,
						 b->len, error_r);
}

int maildir_message_set_structure(struct store *store,
				  const struct store_address *addr,
				  const char *mailbox, uint32_t uid,
				  const void *blob, size_t len,
				  const char **error_r)
{
	struct structure_blob b = { blob, len };
	return maildir_cache_write(store, addr, mailbox, uid, structure_write, &b,
				   error_r);
}

struct downgrade_facts {
	bool eight_bit;
	uint64_t dg_size;
};

static int hdr_8bit_write(struct store_index *idx, int64_t mailbox_id, uint32_t uid,
			  const void *ctx, const char **error_r)
{
	const struct downgrade_facts *f = ctx;
	return store_index_message_set_downgrade(idx, mailbox_id, uid, f->eight_bit,
						 f->dg_size, error_r);
}

int maildir_message_set_hdr_8bit(struct store *store, const struct store_address *addr,
				 const char *mailbox, uint32_t uid, bool eight_bit,
				 uint64_t dg_size, const char **error_r)
{
	struct downgrade_facts f = { eight_bit, dg_size };
	return maildir_cache_write(store, addr, mailbox, uid, hdr_8bit_write, &f, error_r);
}

/* roots given their key per transaction: the index lock is let go
 * between batches, so deliveries go on */
#define BACKFILL_BATCH 256

int maildir_thread_backfill(struct store *store, const struct store_address *addr,
			    const char *mailbox,
			    const char *(*subject)(void *ctx, uint32_t uid, pool_t *pool),
			    void *ctx, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(s, addr, mailbox, false, &user, &mb, error_r) < 0)
		return -1;
	if (mb.thread_keys)
		return 0;       /* done before: the row just read says so */
	pool_t *pool = pool_create(4096);
	uint32_t *uids;
	unsigned count;
	int ret = store_index_thread_unkeyed(user->index, mb.id, pool, &uids, &count, error_r);
	/* bounded: count roots, each read once */
	for (unsigned i = 0; i < count && ret == 0; i += BACKFILL_BATCH) {
		unsigned end = count - i < BACKFILL_BATCH ? count : i + BACKFILL_BATCH;
		const char **subjects = pool_alloc(pool, (end - i) * sizeof(*subjects));
		/* the files are read outside the transaction */
		for (unsigned k = i; k < end; k++)
			subjects[k - i] = subject(ctx, uids[k], pool);
		if ((ret = store_index_begin(user->index, error_r)) < 0)
			break;
		for (unsigned k = i; k < end && ret == 0; k++)
			if (subjects[k - i] != NULL)
				ret = store_index_thread_subject(user->index, mb.id, uids[k],
								 subjects[k - i], error_r);
		if (ret == 0 && end == count)
			ret = store_index_thread_keys_done(user->index, mb.id, error_r);
		if (ret < 0)
			store_index_rollback(user->index);
		else
			ret = store_index_commit(user->index, error_r);
	}
	if (ret == 0 && count == 0 && store_index_begin(user->index, error_r) == 0) {
		/* no root: mark */
		ret = store_index_thread_keys_done(user->index, mb.id, error_r);
		ret = ret < 0 ? (store_index_rollback(user->index), -1) :
			store_index_commit(user->index, error_r);
	}
	if (count > 0)
		log_info("event=thread_keys_backfilled mailbox_id=%lld roots=%u ret=%d",
			 (long long)mb.id, count, ret);
	pool_destroy(&pool);
	return ret < 0 ? -1 : 0;
}
