/* store_maildir_expunge.c: removing messages and the per-mailbox session
 * lock of the maildir-sqlite backend (see store.h).
 *
 * Expunge order, all under the index's write lock:
 *  1. write the intent USER/postel-expunge.PID.N (lines "MAILBOX" then
 *     one UID a line; store_maildir_intent.c: fsync'd, the user
 *     directory fsync'd): durable, and listed by the next open's readdir
 *     of the user directory, before any file goes;
 *  2. unlink each file, fsync the new/ and cur/ directories that lost
 *     entries;
 *  3. delete the rows (expunge log, MODSEQ), record new/'s mtime and
 *     commit; remove the intent; then notify watchers.
 * A file never goes before a durable intent names it, and a row never
 * goes before its file: so no file outlives its row (the next sync of
 * new/ would bring it back as a new message). A crash between 1 and the
 * removal leaves the intent, which makes the next open of the user sync
 * and finish the expunge through the same path (expunge log, MODSEQ,
 * watchers) for the rows still there: none if it had committed. An
 * intent that is present is so the only sign of unfinished work, and
 * neither a rescan nor an expunge reads anything when there is none.
 * Its name is unique, so one expunge never removes another's; it names
 * UIDs, which are never reused, under its UIDVALIDITY, so one from
 * before an index rebuild is ignored. new/ and cur/ never hold it:
 * Maildir readers take every file there for a message. */
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
#include <sys/stat.h>
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

/* Step 1: the intent naming uids (the rows about to go), durable. */
static int intent_write(const struct maildir_user *user, const char *mailbox,
			uint32_t uidvalidity, const uint32_t *uids,
			unsigned count, const char **path_r,
			const char **error_r)
{
	str_t lines = STR_INIT;
	str_printf(&lines, "%s\n", mailbox);
	for (unsigned i = 0; i < count; i++)
		str_printf(&lines, "%" PRIu32 "\n", uids[i]);
	int ret = maildir_intent_write(user->dir, MAILDIR_INTENT_EXPUNGE,
				       uidvalidity, &lines, path_r, error_r);
	str_free(&lines);
	return ret;
}

/* Steps 2 and 3 but the commit, inside the caller's transaction, for
 * the wanted UIDs that still have a row; with intent_r: step 1 first
 * (*intent_r: its path, NULL if none was written). *gone_r: how many
 * rows went; on an unlink failure the ones already unlinked still go
 * and the call returns 1 (error_r) with *gone_r set; -1 on an index
 * error. */
static int expunge_rows(struct maildir_user *user, const char *mailbox,
			const struct store_index_mailbox *mb,
			const uint32_t *uids, unsigned count,
			const char **intent_r, unsigned *gone_r,
			const char **error_r)
{
	const char *folder = maildir_folder_dir(user->dir, mailbox);
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
	if (intent_r != NULL &&
	    intent_write(user, mailbox, mb->uidvalidity, gone, want, intent_r,
			 error_r) < 0)
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
				unlinked = 1;
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

int maildir_expunge_recover(struct maildir_user *user, uint32_t uidvalidity,
			    char *lines, pool_t *pool, const char **mailbox_r,
			    const char **error_r)
{
	char *nl = strchr(lines, '\n');
	struct store_index_mailbox mb;
	*mailbox_r = NULL;
	if (nl == NULL)
		return 0;
	*nl = '\0';
	const char *mailbox = lines;
	int ret = store_index_mailbox_lookup(user->index, mailbox, &mb, error_r);
	if (ret <= 0 || mb.uidvalidity != uidvalidity)
		return ret < 0 ? -1 : 0; /* gone, or rebuilt since */
	struct stat st;
	if (stat(maildir_folder_dir(user->dir, mailbox), &st) < 0 &&
	    errno == ENOENT)
		return 0; /* its folder is gone: no file left to unlink */
	uint32_t *uids = pool_alloc(pool, (strlen(nl + 1) / 2 + 1) * sizeof(*uids));
	unsigned count = 0, gone;
	for (char *p = nl + 1, *end; *p != '\0'; p = end + 1) {
		unsigned long v = strtoul(p, &end, 10);
		if (end == p || *end != '\n' || v == 0 || v > UINT32_MAX)
			return 0; /* not ours */
		uids[count++] = (uint32_t)v;
	}
	if (count == 0)
		return 0;
	ret = expunge_rows(user, mailbox, &mb, uids, count, NULL, &gone, error_r);
	if (ret < 0)
		return -1;
	if (gone > 0) {
		*mailbox_r = pool_strdup(pool, mailbox);
		log_warn("event=expunge_recovered user=%s mailbox=%s count=%u",
			 log_str(user->key), log_str(mailbox), gone);
	}
	return ret;
}

/* The previous build's intent FOLDER/postel-expunge ("postel-expunge 1
 * UIDVALIDITY\n" then a UID a line, written whole by a rename; it stayed
 * after its commit). A simple one goes through maildir_expunge_recover()
 * and is removed once it has nothing left to do (while it removed rows it
 * stays until a later scan: the commit is still to come); anything else
 * is removed with a log line. */
int maildir_expunge_legacy(struct maildir_user *user, const char *mailbox,
			   const char *folder, pool_t *pool, const char **error_r)
{
	const char *path = t_printf("%s/postel-expunge", folder);
	char *data;
	size_t len;
	if (fileio_read_file(path, 1024u * 1024u * 16u, &data, &len) < 0) {
		if (errno != ENOENT)
			log_warn("event=expunge_legacy_unreadable path=%s error=%s",
				 log_str(path), log_str(strerror(errno)));
		return 0;
	}
	uint32_t uv;
	size_t pos = maildir_intent_header(data, "postel-expunge", &uv);
	bool simple = pos > 0 && strlen(data) == len && len > pos &&
		data[len - 1] == '\n' && strspn(data + pos, "0123456789\n") == len - pos;
	char *lines = simple ? pool_printf(pool, "%s\n%s", mailbox, data + pos) : NULL;
	free(data);
	const char *changed = NULL;
	int ret = simple ? maildir_expunge_recover(user, uv, lines, pool, &changed,
						   error_r) : 0;
	if (ret < 0)
		return -1;
	if (ret > 0) {
		log_warn("event=expunge_legacy_kept user=%s mailbox=%s error=%s",
			 log_str(user->key), log_str(mailbox), log_str(*error_r));
		return 0;
	}
	if (changed != NULL)
		return 0;
	log_info("event=expunge_legacy_removed user=%s mailbox=%s simple=%s",
		 log_str(user->key), log_str(mailbox), simple ? "yes" : "no");
	(void)unlink(path);
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
	const char *new_dir = t_printf("%s/new",
				       maildir_folder_dir(user->dir, mailbox));
	int64_t new_mtime = maildir_dir_mtime(new_dir);
	unsigned gone_count;
	const char *intent = NULL;
	int ret = expunge_rows(user, mailbox, &mb, uids, count, &intent,
			       &gone_count, error_r);
	if (ret < 0 || (ret > 0 && gone_count == 0))
		goto fail;
	/* our own unlinks in new/ need no rescan (store_maildir_delivery.c) */
	if (store_index_mailbox_set_new_mtime(user->index, mb.id, new_mtime,
					      maildir_dir_mtime(new_dir),
					      error_r) < 0 ||
	    store_index_commit(user->index, error_r) < 0)
		goto fail;
	/* done: rows and files gone (a crash before this unlink leaves an
	 * intent whose rows are gone, which the next open drops) */
	if (intent != NULL)
		(void)unlink(intent);
	*expunged_r = gone_count;
	if (gone_count > 0)
		store_notify_changed(user->key, mailbox, 0);
	return ret > 0 ? -1 : 0;
fail:
	/* the intent stays: files it names may be gone, rows not; the
	 * cached user would show those rows until it left the cache, so
	 * it goes now and the next access recovers through the intent */
	store_index_rollback(user->index);
	if (!maildir_user_damaged((struct maildir_store *)store, user) &&
	    intent != NULL)
		maildir_user_forget((struct maildir_store *)store, user);
	return -1;
}
