/* store_maildir_copy.c: COPY and MOVE within one user (store_view.h
 * store_view_copy()) for the maildir-sqlite backend.
 *
 * Order, under the user's index lock (one index holds every mailbox):
 *   pick each source that still has a file and its new unique name
 *   DEST/cur/NEWNAME:2,LETTERS; write the intent USER/postel-copy.PID.N
 *   naming the new names and, for a move, the sources (lines "SRC",
 *   "DEST", then "d NEWNAME" / "s SOURCENAME"; store_maildir_intent.c:
 *   durable before any link); hard-link each source (the same inode, no
 *   data copied); fsync DEST/cur; add the rows (dest's next UIDs, the
 *   source's flags, size and internal date); for a move, delete the
 *   source rows (the expunge log records them); COMMIT; then, for a
 *   move, unlink the source files; remove the intent.
 * A failure before the commit removes the links again and leaves the
 * sources untouched. A crash leaves the intent, and the next open
 * (store_maildir_sync.c, before any scan) unlinks each file it names
 * that no row of its mailbox names: after the commit the sources of a
 * move (else a rescan would bring them back as new mail), before it the
 * links (else a full rescan would show the copy twice). Each of those
 * files is in no row, so no message is lost either way. */
#include "store_watch.h"
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "lib/log.h"
#include "lib/str.h"

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

/* Every source that still has a file, with its new name: items_r. */
static int copy_prepare(struct maildir_store *s, struct maildir_user *user,
			int64_t src_id, const char *src_folder,
			const char *dst_folder, const uint32_t *uids,
			unsigned count, pool_t *pool, struct copy_item *items,
			unsigned *count_r, const char **error_r)
{
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		struct copy_item *it = &items[n];
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
		n++;
	}
	*count_r = n;
	return 0;
}

/* The intent naming every file a crash could orphan: the links to make
 * and, for a move, the sources. */
static int copy_intent(const struct maildir_user *user, const char *mailbox,
		       uint32_t uidvalidity, const char *dest,
		       const struct copy_item *items, unsigned count, bool move,
		       const char **path_r, const char **error_r)
{
	str_t lines = STR_INIT;
	str_printf(&lines, "%s\n%s\n", mailbox, dest);
	for (unsigned i = 0; i < count; i++) {
		if (move)
			str_printf(&lines, "s %s\n", items[i].msg.filename);
		str_printf(&lines, "d %s\n", items[i].dst_base);
	}
	int ret = maildir_intent_write(user->dir, MAILDIR_INTENT_COPY, uidvalidity,
				       &lines, path_r, error_r);
	str_free(&lines);
	return ret;
}

static int copy_link(const struct copy_item *items, unsigned count,
		     unsigned *linked_r, const char **error_r)
{
	for (*linked_r = 0; *linked_r < count; (*linked_r)++) {
		const struct copy_item *it = &items[*linked_r];
		if (link(it->src_path, it->dst_path) < 0) {
			*error_r = t_printf("link(%s, %s) failed: %s", it->src_path,
					    it->dst_path, strerror(errno));
			return -1;
		}
	}
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

/* After a move's commit: unlink the sources and fsync the new/ and cur/
 * that lost one; false if any of that failed (logged). */
static bool move_unlink_sources(const char *src_folder,
				const struct copy_item *items, unsigned count)
{
	bool dirty[2] = { false, false }, ok = true; /* new/, cur/ */
	size_t flen = strlen(src_folder);
	for (unsigned i = 0; i < count; i++) {
		const char *path = items[i].src_path;
		if (unlink(path) < 0) {
			if (errno == ENOENT)
				continue;
			log_warn("event=store_move_unlink_failed path=%s error=%s",
				 log_str(path), log_str(strerror(errno)));
			ok = false;
			continue;
		}
		dirty[strncmp(path + flen, "/new/", 5) == 0 ? 0 : 1] = true;
	}
	for (unsigned i = 0; i < 2; i++) {
		const char *dir = t_printf("%s/%s", src_folder, i == 0 ? "new" : "cur");
		if (dirty[i] && fileio_fsync_dir(dir) < 0) {
			log_warn("event=store_move_fsync_failed path=%s error=%s",
				 log_str(dir), log_str(strerror(errno)));
			ok = false;
		}
	}
	return ok;
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
	unsigned linked = 0, found = 0;
	const char *intent = NULL;
	const char *src_folder = maildir_folder_dir(user->dir, mailbox);
	const char *dst_folder = maildir_folder_dir(user->dir, dest);
	const char *dst_cur = t_printf("%s/cur", dst_folder);
	if (copy_mailboxes(user->index, mailbox, uidvalidity, dest, &src, &dst,
			   error_r) < 0 ||
	    copy_prepare(s, user, src.id, src_folder, dst_folder, uids, count,
			 scratch, items, &found, error_r) < 0 ||
	    (found > 0 &&
	     (copy_intent(user, mailbox, src.uidvalidity, dest, items, found,
			  move, &intent, error_r) < 0 ||
	      copy_link(items, found, &linked, error_r) < 0)))
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
	/* done once the sources' unlinks are durable: until then (a crash,
	 * a failed unlink or fsync) the intent stays for the next open */
	if ((!move || move_unlink_sources(src_folder, items, linked)) &&
	    intent != NULL)
		(void)unlink(intent);
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
	bool undone = true;
	for (unsigned i = 0; i < linked; i++)
		undone &= unlink(items[i].dst_path) == 0 || errno == ENOENT;
	if (intent != NULL && undone &&
	    (linked == 0 || fileio_fsync_dir(t_printf("%s/cur", dst_folder)) == 0))
		(void)unlink(intent);
	memset(result_r, 0, sizeof(*result_r));
	pool_destroy(&scratch);
	(void)maildir_user_damaged(s, user);
	return -1;
}

/* One mailbox's side of a copy intent: unlink each file a line
 * "TAG BASE" names that no row of mailbox names (tag 's': the sources
 * of a committed move; 'd': the links of one that never committed). */
static int recover_side(struct maildir_user *user, const char *mailbox,
			char tag, const char *lines, pool_t *pool,
			const char **error_r)
{
	struct store_index_mailbox mb;
	int ret = store_index_mailbox_lookup(user->index, mailbox, &mb, error_r);
	if (ret <= 0)
		return ret; /* gone since: no scan can bring its files back */
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	struct maildir_file *files;
	unsigned file_count, removed = 0;
	int kept = 0;
	bool dirty[2] = { false, false }; /* new/, cur/ */
	struct stat st;
	if (stat(folder, &st) < 0 && errno == ENOENT)
		return 0; /* the folder is gone: nothing left to unlink */
	if (maildir_folder_scan(folder, true, pool, &files, &file_count,
				error_r) < 0)
		return 1;
	for (const char *p = lines, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		if (p[0] != tag || p[1] != ' ')
			continue;
		const char *base = pool_strndup(pool, p + 2, (size_t)(nl - p - 2));
		const struct maildir_file *f = maildir_file_find(files, file_count, base);
		if (f == NULL)
			continue;
		int r = store_index_message_exists(user->index, mb.id, base, error_r);
		if (r < 0)
			return -1;
		const char *path = t_printf("%s/%s", folder, f->relpath);
		if (r > 0)
			continue; /* a row names it: it stays */
		if (unlink(path) < 0) {
			if (errno == ENOENT)
				continue;
			*error_r = t_printf("unlink(%s) failed: %s", path,
					    strerror(errno));
			kept = 1;
			continue;
		}
		dirty[strncmp(f->relpath, "new/", 4) == 0 ? 0 : 1] = true;
		removed++;
	}
	for (unsigned i = 0; i < 2; i++) {
		const char *dir = t_printf("%s/%s", folder, i == 0 ? "new" : "cur");
		if (dirty[i] && fileio_fsync_dir(dir) < 0) {
			*error_r = t_printf("fsync(%s) failed: %s", dir, strerror(errno));
			kept = 1;
		}
	}
	if (removed > 0)
		log_warn("event=copy_recovered user=%s mailbox=%s removed=%u",
			 log_str(user->key), log_str(mailbox), removed);
	return kept;
}

int maildir_copy_recover(struct maildir_user *user, char *lines, pool_t *pool,
			 const char **error_r)
{
	char *nl = strchr(lines, '\n'), *nl2;
	if (nl == NULL || (nl2 = strchr(nl + 1, '\n')) == NULL)
		return 0;
	*nl = *nl2 = '\0';
	int src = recover_side(user, lines, 's', nl2 + 1, pool, error_r);
	if (src < 0)
		return -1;
	const char *src_error = *error_r;
	int dst = recover_side(user, nl + 1, 'd', nl2 + 1, pool, error_r);
	if (dst < 0)
		return -1;
	if (dst == 0 && src > 0)
		*error_r = src_error;
	return src > 0 || dst > 0 ? 1 : 0;
}
