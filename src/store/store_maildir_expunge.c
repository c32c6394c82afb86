/* store_maildir_expunge.c: removing messages and the per-mailbox session
 * lock of the maildir-sqlite backend (see store.h).
 *
 * Expunge order: under the index's write lock, unlink each file, fsync the
 * new/ and cur/ directories that lost entries, then delete the rows and
 * commit. A crash after an unlink but before the commit leaves a row
 * without a file, which listings report with path NULL and a later
 * expunge removes; the opposite order could leave a file without a row,
 * which the next sync of new/ would bring back as a new message. */
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "store/store_watch.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* In the folder, so each mailbox has its own; not a message (Maildir
 * readers only look in new/ and cur/). */
#define MAILDIR_LOCK_FILENAME "postel-session.lock"

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

/* Unlink the files of the wanted rows; collect the UIDs to delete. */
static int expunge_files(const char *folder, const struct store_index_message *rows,
			 unsigned row_count, const struct maildir_file *files,
			 unsigned file_count, const uint32_t *uids, unsigned count,
			 uint32_t *gone_r, unsigned *gone_count_r, bool *dirty_new_r,
			 bool *dirty_cur_r, const char **error_r)
{
	unsigned gone = 0;
	for (unsigned i = 0; i < row_count; i++) {
		if (!uid_wanted(uids, count, rows[i].uid))
			continue;
		const struct maildir_file *f =
			maildir_file_find(files, file_count, rows[i].filename);
		if (f != NULL) {
			const char *path = t_printf("%s/%s", folder, f->relpath);
			if (unlink(path) < 0 && errno != ENOENT) {
				*error_r = t_printf("unlink(%s) failed: %s", path,
						    strerror(errno));
				*gone_count_r = gone;
				return -1;
			}
			if (strncmp(f->relpath, "new/", 4) == 0)
				*dirty_new_r = true;
			else
				*dirty_cur_r = true;
		}
		gone_r[gone++] = rows[i].uid;
	}
	*gone_count_r = gone;
	return 0;
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
	pool_t *scratch = pool_create(16384);
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	const char *new_dir = t_printf("%s/new", folder);
	int64_t new_mtime = maildir_dir_mtime(new_dir);
	struct store_index_message *rows;
	struct maildir_file *files;
	unsigned row_count, file_count, gone_count = 0;
	bool dirty_new = false, dirty_cur = false;
	if (store_index_message_list(user->index, mb.id, scratch, &rows,
				     &row_count, error_r) < 0 ||
	    maildir_folder_scan(folder, true, scratch, &files, &file_count,
				error_r) < 0)
		goto fail;
	uint32_t *gone = pool_alloc(scratch, (row_count + 1) * sizeof(*gone));
	/* on an unlink failure, what is already gone is still recorded */
	int ret = expunge_files(folder, rows, row_count, files, file_count,
				uids, count, gone, &gone_count, &dirty_new,
				&dirty_cur, error_r);
	/* whatever was unlinked must be durable before its rows go */
	const char *dirs[2] = { dirty_new ? "new" : NULL, dirty_cur ? "cur" : NULL };
	for (unsigned i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		const char *dir = t_printf("%s/%s", folder, dirs[i]);
		if (fileio_fsync_dir(dir) < 0) {
			*error_r = t_printf("fsync(%s) failed: %s", dir, strerror(errno));
			goto fail;
		}
	}
	if (gone_count > 0 &&
	    store_index_messages_remove(user->index, mb.id, gone, gone_count,
					error_r) < 0)
		goto fail;
	/* our own unlinks in new/ need no rescan (store_maildir_delivery.c) */
	if (dirty_new &&
	    store_index_mailbox_set_new_mtime(user->index, mb.id, new_mtime,
					      maildir_dir_mtime(new_dir),
					      error_r) < 0)
		goto fail;
	pool_destroy(&scratch);
	if (store_index_commit(user->index, error_r) < 0)
		return -1;
	*expunged_r = gone_count;
	if (gone_count > 0)
		store_notify_changed(t_printf("%s@%s", addr->local, addr->domain),
				     mailbox, 0);
	return ret;
fail:
	store_index_rollback(user->index);
	pool_destroy(&scratch);
	(void)maildir_user_damaged((struct maildir_store *)store, user);
	return -1;
}
