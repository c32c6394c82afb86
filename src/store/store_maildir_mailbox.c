/* store_maildir_mailbox.c: mailbox management for the maildir-sqlite
 * backend (store.h store_mailbox_list() ... store_mailbox_subscriptions()).
 *
 * Every change runs under the user's index lock and looks the mailboxes
 * up there. Folders first, then the index commit:
 * - delete renames the folder to USER/..postel-deleted-ID (a name no
 *   scan takes for a mailbox), fsyncs the user directory, removes the
 *   rows and commits, then removes the renamed folder's files;
 * - rename renames ".Old" and every ".Old.Child" (Maildir++ folders are
 *   siblings) after writing its intent, fsyncs, renames the rows and
 *   commits; on a failure the folders are renamed back;
 * - renaming INBOX creates the new mailbox, then moves every message
 *   into it (store_maildir_copy.c).
 * A crash between a delete's folder step and its commit leaves an index
 * row whose folder is gone, which reads as an error for that mailbox
 * until it is deleted again; never a message of another mailbox. A
 * rename writes a durable intent first, and the next open finishes a
 * rename a crash interrupted (store_maildir_rename.c): the mailbox comes
 * back under the new name with its UIDVALIDITY and UIDs. */
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "lib/log.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int maildir_mailbox_list(struct store *store, const struct store_address *addr,
			 pool_t *pool, const char ***names_r, unsigned *count_r,
			 const char **error_r)
{
	struct maildir_user *user;
	struct store_index_mailbox *rows;
	unsigned count;
	if (maildir_user_get((struct maildir_store *)store, addr, false, &user,
			     error_r) < 0 ||
	    store_index_mailbox_list(user->index, pool, &rows, &count, error_r) < 0)
		return -1;
	const char **names = pool_alloc(pool, (count + 1) * sizeof(*names));
	for (unsigned i = 0; i < count; i++)
		names[i] = rows[i].name;
	if (count > 1)
		qsort(names, count, sizeof(*names), name_cmp);
	*names_r = names;
	*count_r = count;
	return 0;
}

/* True if name is below parent ("parent/..."). */
static bool name_below(const char *name, const char *parent)
{
	size_t len = strlen(parent);
	return strncmp(name, parent, len) == 0 && name[len] == '/';
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	if (remove(path) < 0)
		log_warn("event=mailbox_delete_remove_failed path=%s error=%s",
			 log_str(path), log_str(strerror(errno)));
	return 0;
}

/* Under the lock: the mailbox rows of the user (pool) and the one named. */
static int locked_lookup(struct store_index *idx, const char *name,
			 pool_t *pool, struct store_index_mailbox **rows_r,
			 unsigned *count_r, struct store_index_mailbox *mb_r,
			 const char **error_r)
{
	if (store_index_mailbox_list(idx, pool, rows_r, count_r, error_r) < 0)
		return -1;
	int ret = store_index_mailbox_lookup(idx, name, mb_r, error_r);
	if (ret == 0)
		*error_r = t_printf("no such mailbox %s", log_str(name));
	return ret > 0 ? 0 : -1;
}

int maildir_mailbox_delete(struct store *store, const struct store_address *addr,
			   const char *mailbox, const char **error_r)
{
	struct maildir_user *user;
	if (maildir_user_get((struct maildir_store *)store, addr, false, &user,
			     error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	pool_t *pool = pool_create(4096);
	struct store_index_mailbox *rows, mb;
	unsigned count;
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	const char *aside = NULL;
	if (locked_lookup(user->index, mailbox, pool, &rows, &count, &mb,
			  error_r) < 0)
		goto fail;
	for (unsigned i = 0; i < count; i++) {
		if (name_below(rows[i].name, mailbox)) {
			*error_r = t_printf("mailbox %s has mailboxes below it",
					    log_str(mailbox));
			goto fail;
		}
	}
	aside = t_printf("%s/..postel-deleted-%lld-%lld", user->dir,
			 (long long)mb.id, (long long)time(NULL));
	if (rename(folder, aside) < 0 && errno != ENOENT) {
		*error_r = t_printf("rename(%s) failed: %s", folder, strerror(errno));
		aside = NULL;
		goto fail;
	}
	if (fileio_fsync_dir(user->dir) < 0) {
		*error_r = t_printf("fsync(%s) failed: %s", user->dir, strerror(errno));
		goto fail;
	}
	if (store_index_mailbox_remove(user->index, mb.id, error_r) < 0 ||
	    store_index_commit(user->index, error_r) < 0)
		goto fail;
	(void)nftw(aside, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	log_info("event=mailbox_deleted user=%s mailbox=%s", log_str(user->key),
		 log_str(mailbox));
	pool_destroy(&pool);
	return 0;
fail:
	store_index_rollback(user->index);
	if (aside != NULL && rename(aside, folder) < 0)
		log_error("event=mailbox_delete_undo_failed path=%s error=%s",
			  log_str(aside), log_str(strerror(errno)));
	pool_destroy(&pool);
	return -1;
}

/* Rename the folders of rows old and below to new...; undo on failure. */
static int rename_folders(const char *user_dir,
			  const struct store_index_mailbox *rows, unsigned count,
			  const char *old_name, const char *new_name, bool undo,
			  const char **error_r)
{
	size_t old_len = strlen(old_name);
	for (unsigned i = 0; i < count; i++) {
		const char *name = rows[i].name;
		if (strcmp(name, old_name) != 0 && !name_below(name, old_name))
			continue;
		const char *to_name = t_printf("%s%s", new_name, name + old_len);
		const char *from = maildir_folder_dir(user_dir, undo ? to_name : name);
		const char *to = maildir_folder_dir(user_dir, undo ? name : to_name);
		if (fileio_rename_noreplace(from, to) == 0 || undo)
			continue;
		*error_r = t_printf("rename(%s, %s) failed: %s", from, to,
				    strerror(errno));
		/* put back what moved: everything before row i */
		(void)rename_folders(user_dir, rows, i, old_name, new_name, true,
				     error_r);
		return -1;
	}
	return 0;
}

static int rename_inbox(struct maildir_store *s, const struct store_address *addr,
			struct maildir_user *user, const char *new_name,
			const char **error_r)
{
	/* the new mailbox first, durable, then the messages */
	if (maildir_folder_create(maildir_folder_dir(user->dir, new_name), true,
				  error_r) < 0 ||
	    store_index_mailbox_add(user->index, new_name, (uint32_t)time(NULL),
				    error_r) < 0 ||
	    store_index_commit(user->index, error_r) < 0) {
		store_index_rollback(user->index);
		return -1;
	}
	pool_t *pool = pool_create(16384);
	struct store_index_mailbox mb;
	struct store_index_message *msgs;
	unsigned count;
	struct store_copy_result result;
	int ret = maildir_mailbox_get(s, addr, "INBOX", false, &user, &mb, error_r);
	if (ret == 0)
		ret = store_index_message_list(user->index, mb.id, pool, &msgs,
					       &count, error_r);
	uint32_t *uids = ret < 0 ? NULL : pool_alloc(pool, (count + 1) * sizeof(*uids));
	for (unsigned i = 0; ret == 0 && i < count; i++)
		uids[i] = msgs[i].uid;
	if (ret == 0)
		ret = maildir_copy(&s->store, addr, "INBOX", mb.uidvalidity, uids,
				   count, new_name, true, pool, &result, error_r);
	pool_destroy(&pool);
	return ret;
}

int maildir_mailbox_rename(struct store *store, const struct store_address *addr,
			   const char *old_name, const char *new_name,
			   const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	if (maildir_user_get(s, addr, false, &user, error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	pool_t *pool = pool_create(4096);
	struct store_index_mailbox *rows, mb, exists;
	unsigned count;
	struct stat st;
	int ret = -1;
	if (locked_lookup(user->index, old_name, pool, &rows, &count, &mb,
			  error_r) < 0)
		goto fail;
	int found = store_index_mailbox_lookup(user->index, new_name, &exists,
					       error_r);
	if (found != 0 || stat(maildir_folder_dir(user->dir, new_name), &st) == 0) {
		if (found >= 0)
			*error_r = t_printf("mailbox %s exists", log_str(new_name));
		goto fail;
	}
	if (strcmp(old_name, "INBOX") == 0) {
		pool_destroy(&pool);
		return rename_inbox(s, addr, user, new_name, error_r);
	}
	/* durable before any folder moves (store_maildir_rename.c) */
	const char *intent;
	if (maildir_rename_intent_write(user->dir, mb.uidvalidity, old_name,
					new_name, &intent, error_r) < 0)
		goto fail;
	if (rename_folders(user->dir, rows, count, old_name, new_name, false,
			   error_r) < 0) {
		(void)unlink(intent);
		goto fail;
	}
	if (fileio_fsync_dir(user->dir) < 0 ||
	    store_index_mailbox_rename(user->index, old_name, new_name,
				       error_r) < 0 ||
	    store_index_commit(user->index, error_r) < 0) {
		(void)rename_folders(user->dir, rows, count, old_name, new_name,
				     true, error_r);
		(void)unlink(intent);
		goto fail;
	}
	(void)unlink(intent);
	log_info("event=mailbox_renamed user=%s mailbox=%s to=%s",
		 log_str(user->key), log_str(old_name), log_str(new_name));
	ret = 0;
fail:
	if (ret < 0)
		store_index_rollback(user->index);
	pool_destroy(&pool);
	return ret;
}

int maildir_mailbox_subscribe(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox, bool on, const char **error_r)
{
	struct maildir_user *user;
	if (maildir_user_get((struct maildir_store *)store, addr, false, &user,
			     error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	if (store_index_subscribe(user->index, mailbox, on, error_r) < 0) {
		store_index_rollback(user->index);
		return -1;
	}
	return store_index_commit(user->index, error_r);
}

int maildir_mailbox_subscriptions(struct store *store,
				  const struct store_address *addr, pool_t *pool,
				  const char ***names_r, unsigned *count_r,
				  const char **error_r)
{
	struct maildir_user *user;
	if (maildir_user_get((struct maildir_store *)store, addr, false, &user,
			     error_r) < 0)
		return -1;
	return store_index_subscriptions(user->index, pool, names_r, count_r,
					 error_r);
}
