/* store_maildir_expunge.c: removing messages and the per-mailbox session
 * lock of the maildir-sqlite backend (see store.h).
 *
 * Expunge order, all under the index's write lock:
 *  1. write the intent FOLDER/postel-expunge ("postel-expunge 1
 *     UIDVALIDITY" then one UID a line) to a temporary name, fsync it,
 *     rename it in place, fsync the folder; then create and remove a dot
 *     file in new/ and fsync new/, so that new/'s mtime is no longer the
 *     one the index recorded: the intent is durable, and noticed, before
 *     any file goes;
 *  2. unlink each file, fsync the new/ and cur/ directories that lost
 *     entries;
 *  3. delete the rows (expunge log, MODSEQ), record new/'s mtime and
 *     commit; then notify watchers.
 * A file never goes before a durable intent names it, and a row never
 * goes before its file: so no file outlives its row (the next sync of
 * new/ would bring it back as a new message). A crash between 2 and 3
 * leaves rows whose files are gone, but new/'s mtime is then not the one
 * the index recorded, so the next open of the user rescans that mailbox
 * (store_maildir_sync.c) and maildir_expunge_recover() finishes the
 * expunge through the same path (expunge log, MODSEQ, watchers); an
 * expunge in a process that kept the user open finishes it first too.
 * The intent stays after the commit (removing it then could race with
 * the next expunge's): the next expunge replaces it. It names UIDs,
 * which are never reused, under its UIDVALIDITY, so an old intent can
 * only name rows already gone, and one from before an index rebuild is
 * ignored. The open path pays nothing: the check rides on the stat() of
 * new/ an open already does. new/ and cur/ never hold it: Maildir
 * readers take every file there for a message. */
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "store/store_watch.h"
#include "lib/log.h"
#include "lib/str.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* In the folder, so each mailbox has its own; not a message (Maildir
 * readers only look in new/ and cur/). */
#define MAILDIR_LOCK_FILENAME "postel-session.lock"
/* A dot file: not a message to any Maildir reader (Maildir spec). */
#define MAILDIR_INTENT "postel-expunge"
#define MAILDIR_INTENT_TMP "postel-expunge.tmp"
#define MAILDIR_INTENT_TOUCH "new/.postel-expunge"
#define MAILDIR_INTENT_MAX (64u * 1024u * 1024u)

int maildir_mailbox_lock(struct store *store, const struct store_address *addr,
			 const char *mailbox, int *fd_r, const char **error_r)
{
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (maildir_mailbox_get((struct maildir_store *)store, addr, mailbox,
				false, &user, &mb, error_r) < 0)
		return -1;
	const char *path = t_printf("%s/%s", maildir_folder_dir(user->dir, mailbox),
				    MAILDIR_LOCK_FILENAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = t_printf("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	/* flock() locks belong to the open file description: a second open()
	 * in this same process conflicts too, unlike fcntl() locks */
	int r;
	while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK)
			return 0;
		*error_r = t_printf("flock(%s) failed: %s", path, strerror(e));
		return -1;
	}
	*fd_r = fd;
	return 1;
}

static bool uid_wanted(const uint32_t *uids, unsigned count, uint32_t uid)
{
	for (unsigned i = 0; i < count; i++) {
		if (uids[i] == uid)
			return true;
	}
	return false;
}

/* Step 1: the intent naming uids (the rows about to go), durable. */
static int intent_write(const char *folder, uint32_t uidvalidity,
			const uint32_t *uids, unsigned count, const char **error_r)
{
	const char *tmp = t_printf("%s/" MAILDIR_INTENT_TMP, folder);
	const char *path = t_printf("%s/" MAILDIR_INTENT, folder);
	str_t buf = STR_INIT;
	str_printf(&buf, "postel-expunge 1 %" PRIu32 "\n", uidvalidity);
	for (unsigned i = 0; i < count; i++)
		str_printf(&buf, "%" PRIu32 "\n", uids[i]);
	int ret = fileio_write_sync(tmp, buf.data, buf.len);
	int e = errno;
	str_free(&buf);
	if (ret == 0 && rename(tmp, path) < 0) {
		ret = -1;
		e = errno;
	}
	if (ret == 0 && fileio_fsync_parent(path) < 0) {
		ret = -1;
		e = errno;
	}
	/* new/ changes, durably: the next open rescans it (and recovers) */
	const char *touch = t_printf("%s/" MAILDIR_INTENT_TOUCH, folder);
	/* (a folder without new/ has nothing a rescan could bring back) */
	if (ret == 0 && (fileio_write_sync(touch, "", 0) < 0 || unlink(touch) < 0 ||
			 fileio_fsync_parent(touch) < 0) && errno != ENOENT) {
		ret = -1;
		e = errno;
		path = touch;
	}
	if (ret < 0)
		*error_r = t_printf("expunge intent %s failed: %s", path, strerror(e));
	return ret;
}

/* The UIDs of the intent in folder, or 0 with none (absent, or of
 * another UIDVALIDITY: an index since rebuilt). */
static int intent_read(const char *folder, uint32_t uidvalidity, pool_t *pool,
		       uint32_t **uids_r, unsigned *count_r, const char **error_r)
{
	const char *path = t_printf("%s/" MAILDIR_INTENT, folder);
	char *data;
	size_t len;
	*count_r = 0;
	if (fileio_read_file(path, MAILDIR_INTENT_MAX, &data, &len) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("read(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	uint32_t uv;
	size_t pos = maildir_intent_header(data, "postel-expunge", &uv);
	if (pos == 0 || uv != uidvalidity) {
		free(data);
		return 0;
	}
	uint32_t *uids = pool_alloc(pool, (len / 2 + 1) * sizeof(*uids));
	unsigned count = 0;
	for (char *p = data + pos, *end; *p != '\0'; p = end + 1) {
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || *end != '\n' || v == 0 || v > UINT32_MAX)
			break; /* torn: never renamed in place, so not ours */
		uids[count++] = (uint32_t)v;
	}
	free(data);
	*uids_r = uids;
	*count_r = count;
	return count > 0 ? 1 : 0;
}

/* Steps 2 and 3 but the commit, inside the caller's transaction, for
 * the wanted UIDs that still have a row; with_intent: step 1 first.
 * *gone_r: how many rows went; on an unlink failure the ones already
 * unlinked still go and the call returns -1 with *gone_r set. */
static int expunge_rows(struct maildir_user *user,
			const struct store_index_mailbox *mb, const char *folder,
			const uint32_t *uids, unsigned count, bool with_intent,
			unsigned *gone_r, const char **error_r)
{
	pool_t *scratch = pool_create(16384);
	struct store_index_message *rows;
	struct maildir_file *files;
	unsigned row_count, file_count, gone_count = 0;
	bool dirty[2] = { false, false }; /* new/, cur/ */
	int ret = -1;
	*gone_r = 0;
	if (store_index_message_list(user->index, mb->id, scratch, &rows,
				     &row_count, error_r) < 0 ||
	    maildir_folder_scan(folder, true, scratch, &files, &file_count,
				error_r) < 0)
		goto out;
	uint32_t *gone = pool_alloc(scratch, (row_count + 1) * sizeof(*gone));
	unsigned want = 0;
	for (unsigned i = 0; i < row_count; i++) {
		if (uid_wanted(uids, count, rows[i].uid))
			gone[want++] = rows[i].uid;
	}
	if (want == 0) {
		ret = 0;
		goto out;
	}
	if (with_intent &&
	    intent_write(folder, mb->uidvalidity, gone, want, error_r) < 0)
		goto out;
	int unlinked = 0;
	for (unsigned i = 0; i < row_count && unlinked == 0; i++) {
		if (!uid_wanted(uids, count, rows[i].uid))
			continue;
		const struct maildir_file *f =
			maildir_file_find(files, file_count, rows[i].filename);
		if (f != NULL) {
			const char *path = t_printf("%s/%s", folder, f->relpath);
			if (unlink(path) < 0 && errno != ENOENT) {
				*error_r = t_printf("unlink(%s) failed: %s", path,
						    strerror(errno));
				unlinked = -1;
				break;
			}
			dirty[strncmp(f->relpath, "new/", 4) == 0 ? 0 : 1] = true;
		}
		gone_count++;
	}
	/* whatever was unlinked must be durable before its rows go */
	for (unsigned i = 0; i < 2; i++) {
		const char *dir = t_printf("%s/%s", folder, i == 0 ? "new" : "cur");
		if (dirty[i] && fileio_fsync_dir(dir) < 0) {
			*error_r = t_printf("fsync(%s) failed: %s", dir, strerror(errno));
			goto out;
		}
	}
	if (gone_count > 0 &&
	    store_index_messages_remove(user->index, mb->id, gone, gone_count,
					error_r) < 0)
		goto out;
	*gone_r = gone_count;
	ret = unlinked;
out:
	pool_destroy(&scratch);
	return ret;
}

int maildir_expunge_recover(struct maildir_user *user,
			    const struct store_index_mailbox *mb,
			    const char *mailbox, unsigned *expunged_r,
			    const char **error_r)
{
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	pool_t *pool = pool_create(1024);
	uint32_t *uids;
	unsigned count;
	*expunged_r = 0;
	int ret = intent_read(folder, mb->uidvalidity, pool, &uids, &count, error_r);
	/* the intent stays after its commit: two keyed lookups tell a done
	 * one (its rows go in one commit; after an unlink failure the
	 * highest remain) before any listing of rows or files */
	uint32_t lo = UINT32_MAX, hi = 0;
	for (unsigned i = 0; ret > 0 && i < count; i++) {
		lo = uids[i] < lo ? uids[i] : lo;
		hi = uids[i] > hi ? uids[i] : hi;
	}
	struct store_index_message row;
	if (ret > 0 &&
	    (ret = store_index_message_get(user->index, mb->id, hi, pool, &row,
					   error_r)) == 0)
		ret = store_index_message_get(user->index, mb->id, lo, pool, &row,
					      error_r);
	if (ret > 0)
		ret = expunge_rows(user, mb, folder, uids, count, false, expunged_r,
				   error_r);
	pool_destroy(&pool);
	if (ret == 0 && *expunged_r > 0)
		log_warn("event=expunge_recovered user=%s mailbox=%s count=%u",
			 log_str(user->key), log_str(mailbox), *expunged_r);
	return ret;
}

int maildir_mailbox_expunge(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, const uint32_t *uids,
			    unsigned count, unsigned *expunged_r,
			    const char **error_r)
{
	struct maildir_user *user;
	struct store_index_mailbox mb;
	*expunged_r = 0;
	if (count == 0)
		return 0;
	if (maildir_mailbox_get((struct maildir_store *)store, addr, mailbox,
				false, &user, &mb, error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	const char *new_dir = t_printf("%s/new", folder);
	int64_t new_mtime = maildir_dir_mtime(new_dir);
	unsigned recovered, gone_count;
	/* a crashed expunge this process did not reopen for: finish it */
	if (maildir_expunge_recover(user, &mb, mailbox, &recovered, error_r) < 0)
		goto fail;
	int ret = expunge_rows(user, &mb, folder, uids, count, true, &gone_count,
			       error_r);
	if (ret < 0 && gone_count == 0)
		goto fail;
	/* the touch and our own unlinks in new/ need no rescan
	 * (store_maildir_delivery.c) */
	if (store_index_mailbox_set_new_mtime(user->index, mb.id, new_mtime,
					      maildir_dir_mtime(new_dir),
					      error_r) < 0 ||
	    store_index_commit(user->index, error_r) < 0)
		goto fail;
	*expunged_r = gone_count;
	if (gone_count + recovered > 0)
		store_notify_changed(user->key, mailbox, 0);
	return ret;
fail:
	store_index_rollback(user->index);
	(void)maildir_user_damaged((struct maildir_store *)store, user);
	return -1;
}
