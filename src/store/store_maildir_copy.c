/* store_maildir_copy.c: COPY and MOVE within one user (store_view.h
 * store_view_copy()) for the maildir-sqlite backend.
 *
 * Order, under the user's index lock (one index holds every mailbox):
 *   hard-link each source file as DEST/cur/NEWNAME:2,LETTERS (a new
 *   unique name; the same inode, so no data is copied);
 *   fsync DEST/cur; add the rows (dest's next UIDs, the source's flags,
 *   size and internal date); for a move, delete the source rows (the
 *   expunge log records them); COMMIT;
 *   then, for a move, unlink the source files.
 * A failure before the commit removes the links again and leaves the
 * sources untouched. A crash after the commit but before the unlinks
 * leaves a source file without a row: at worst the message shows up
 * twice after a rescan, never lost. */
#include "store_watch.h"
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "lib/log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

struct copy_item {
	struct store_index_message msg;
	const char *src_path;
	const char *dst_base;
	const char *dst_path;
};

/* Link every source that still has a file; items_r gets what was linked. */
static int copy_link(struct maildir_store *s, struct maildir_user *user,
		     int64_t src_id, const char *src_folder,
		     const char *dst_folder, const uint32_t *uids,
		     unsigned count, pool_t *pool, struct copy_item *items,
		     unsigned *linked_r, const char **error_r)
{
	unsigned linked = 0;
	for (unsigned i = 0; i < count; i++) {
		struct copy_item *it = &items[linked];
		int ret = store_index_message_get(user->index, src_id, uids[i], pool,
						  &it->msg, error_r);
		if (ret < 0)
			return -1;
		const char *rel = ret == 0 ? NULL :
			maildir_message_locate(src_folder, it->msg.filename,
					       it->msg.sysflags, pool);
		struct stat st;
		if (rel == NULL)
			continue; /* expunged, or lost in a crash */
		it->src_path = pool_printf(pool, "%s/%s", src_folder, rel);
		if (stat(it->src_path, &st) < 0)
			continue;
		struct timeval tv;
		gettimeofday(&tv, NULL);
		it->dst_base = pool_printf(pool, "%lld.M%ldP%ldQ%uC.%s,S=%llu,W=%llu",
					   (long long)tv.tv_sec, (long)tv.tv_usec,
					   (long)getpid(), ++s->delivery_seq,
					   s->hostname,
					   (unsigned long long)st.st_size,
					   (unsigned long long)it->msg.size);
		it->dst_path = pool_printf(pool, "%s/cur/%s%s", dst_folder,
					   it->dst_base,
					   maildir_flags_info(it->msg.sysflags, NULL));
		if (link(it->src_path, it->dst_path) < 0) {
			*error_r = t_printf("link(%s, %s) failed: %s", it->src_path,
					    it->dst_path, strerror(errno));
			*linked_r = linked;
			return -1;
		}
		linked++;
	}
	*linked_r = linked;
	return 0;
}

static int copy_rows(struct store_index *idx, int64_t src_id, int64_t dst_id,
		     struct copy_item *items, unsigned count, bool move,
		     struct store_copy_result *result, pool_t *pool,
		     const char **error_r)
{
	result->src_uids = pool_alloc(pool, (count + 1) * sizeof(uint32_t));
	result->dst_uids = pool_alloc(pool, (count + 1) * sizeof(uint32_t));
	for (unsigned i = 0; i < count; i++) {
		uint32_t uid;
		if (store_index_message_add(idx, dst_id, items[i].dst_base,
					    items[i].msg.size,
					    items[i].msg.internaldate,
					    items[i].msg.flags, &uid, error_r) < 0 ||
		    store_index_message_copy_checkpoints(idx, src_id,
							 items[i].msg.uid, dst_id,
							 uid, error_r) < 0)
			return -1;
		result->src_uids[i] = items[i].msg.uid;
		result->dst_uids[i] = uid;
	}
	result->count = count;
	if (move && count > 0 &&
	    store_index_messages_remove(idx, src_id, result->src_uids, count,
					error_r) < 0)
		return -1;
	return 0;
}

/* Both mailboxes' rows, looked up under the lock. */
static int copy_mailboxes(struct store_index *idx, const char *mailbox,
			  uint32_t uidvalidity, const char *dest,
			  struct store_index_mailbox *src,
			  struct store_index_mailbox *dst, const char **error_r)
{
	int ret = store_index_mailbox_lookup(idx, mailbox, src, error_r);
	if (ret > 0 && src->uidvalidity != uidvalidity) {
		*error_r = t_printf("mailbox %s has a new UIDVALIDITY",
				    log_str(mailbox));
		return -1;
	}
	if (ret > 0)
		ret = store_index_mailbox_lookup(idx, dest, dst, error_r);
	if (ret == 0)
		*error_r = t_printf("no such mailbox %s", log_str(dest));
	return ret > 0 ? 0 : -1;
}

int maildir_copy(struct store *store, const struct store_address *addr,
		 const char *mailbox, uint32_t uidvalidity, const uint32_t *uids,
		 unsigned count, const char *dest, bool move, pool_t *pool,
		 struct store_copy_result *result_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox src, dst;
	if (maildir_mailbox_get(s, addr, mailbox, false, &user, &src, error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	pool_t *scratch = pool_create(16384);
	struct copy_item *items = pool_alloc(scratch, (count + 1) * sizeof(*items));
	unsigned linked = 0;
	const char *src_folder = maildir_folder_dir(user->dir, mailbox);
	const char *dst_folder = maildir_folder_dir(user->dir, dest);
	const char *dst_cur = t_printf("%s/cur", dst_folder);
	if (copy_mailboxes(user->index, mailbox, uidvalidity, dest, &src, &dst,
			   error_r) < 0 ||
	    copy_link(s, user, src.id, src_folder, dst_folder, uids, count,
		      scratch, items, &linked, error_r) < 0)
		goto fail;
	if (linked > 0 && fileio_fsync_dir(dst_cur) < 0) {
		*error_r = t_printf("fsync(%s) failed: %s", dst_cur, strerror(errno));
		goto fail;
	}
	result_r->dst_uidvalidity = dst.uidvalidity;
	if (copy_rows(user->index, src.id, dst.id, items, linked, move, result_r,
		      pool, error_r) < 0 ||
	    store_index_commit(user->index, error_r) < 0)
		goto fail;
	for (unsigned i = 0; move && i < linked; i++) {
		if (unlink(items[i].src_path) < 0 && errno != ENOENT)
			log_warn("event=store_move_unlink_failed path=%s error=%s",
				 log_str(items[i].src_path), log_str(strerror(errno)));
	}
	if (linked > 0) {
		const char *who = t_printf("%s@%s", addr->local, addr->domain);
		store_notify_changed(who, dest, 0);
		if (move)
			store_notify_changed(who, mailbox, 0);
	}
	log_debug("event=store_copy mailbox=%s dest=%s move=%s messages=%u",
		  log_str(mailbox), log_str(dest), move ? "yes" : "no", linked);
	pool_destroy(&scratch);
	return 0;
fail:
	store_index_rollback(user->index);
	for (unsigned i = 0; i < linked; i++)
		(void)unlink(items[i].dst_path);
	memset(result_r, 0, sizeof(*result_r));
	pool_destroy(&scratch);
	(void)maildir_user_damaged(s, user);
	return -1;
}
