/* store_maildir_rename.c: the intent that makes a mailbox RENAME of the
 * maildir-sqlite backend recoverable after a crash (store.h: a RENAME is
 * atomic).
 *
 * maildir_mailbox_rename() (store_maildir_mailbox.c) renames the folders
 * (".Old", then each ".Old.Child": Maildir++ folders are siblings, the
 * parent first) and then the index rows in one commit. Before the first
 * folder moves it writes the intent USER/postel-rename.PID.N (lines
 * "OLD\nNEW\n", store_maildir_intent.c: fsync'd, the user directory
 * fsync'd); after
 * the commit it removes it. A crash in between leaves ".New" without an
 * index row, which the next open notices (store_maildir_sync.c: a folder
 * without a row forces a sync; the intent is listed by the same readdir
 * of the user directory, so the open path pays nothing more). Under the
 * index lock, before any folder gets a row, maildir_rename_recover()
 * finishes the rename when the crash state holds: a row OLD with the
 * intent's UIDVALIDITY, no row NEW, the folder of NEW there and the one
 * of OLD gone. It moves the children still under OLD and renames the
 * rows: the mailbox is back under NEW with its UIDVALIDITY, UIDs,
 * MAILBOXID and flags, never imported as a new mailbox. Any other state
 * means the rename committed or never moved a folder, and the intent is
 * stale: every intent is removed after that sync's commit (all of them
 * are then of finished or crashed renames: a rename writes its intent
 * under the index lock the sync holds). */
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "lib/log.h"
#include "lib/str.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int maildir_rename_intent_write(const char *user_dir, uint32_t uidvalidity,
				const char *old_name, const char *new_name,
				const char **path_r, const char **error_r)
{
	str_t lines = STR_INIT;
	str_printf(&lines, "%s\n%s\n", old_name, new_name);
	int ret = maildir_intent_write(user_dir, MAILDIR_INTENT_RENAME, uidvalidity,
				       &lines, path_r, error_r);
	str_free(&lines);
	return ret;
}

static bool dir_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finish one intent's rename if the crash state holds; 1 if done. */
static int recover_one(struct maildir_user *user,
		       const struct maildir_intent *it, pool_t *pool,
		       const char **error_r)
{
	uint32_t uv;
	char *lines, *nl, *nl2;
	int r = maildir_intent_read(user->dir, it, pool, &uv, &lines, error_r);
	if (r <= 0)
		return r; /* absent, or torn: written before any folder moved */
	if ((nl = strchr(lines, '\n')) == NULL ||
	    (nl2 = strchr(nl + 1, '\n')) == NULL)
		return 0;
	*nl = *nl2 = '\0';
	const char *old_name = lines, *new_name = nl + 1;
	struct store_index_mailbox old_mb, new_mb;
	r = store_index_mailbox_lookup(user->index, old_name, &old_mb, error_r);
	if (r <= 0 || old_mb.uidvalidity != uv)
		return r < 0 ? -1 : 0;
	r = store_index_mailbox_lookup(user->index, new_name, &new_mb, error_r);
	if (r != 0 || !dir_exists(maildir_folder_dir(user->dir, new_name)) ||
	    dir_exists(maildir_folder_dir(user->dir, old_name)))
		return r < 0 ? -1 : 0;
	/* the children still under the old name follow their parent */
	struct store_index_mailbox *rows;
	unsigned count;
	if (store_index_mailbox_list(user->index, pool, &rows, &count, error_r) < 0)
		return -1;
	size_t old_len = strlen(old_name);
	for (unsigned i = 0; i < count; i++) {
		if (strncmp(rows[i].name, old_name, old_len) != 0 ||
		    rows[i].name[old_len] != '/')
			continue;
		const char *from = maildir_folder_dir(user->dir, rows[i].name);
		const char *to = maildir_folder_dir(user->dir,
			t_printf("%s%s", new_name, rows[i].name + old_len));
		if (fileio_rename_noreplace(from, to) < 0 && errno != ENOENT &&
		    errno != EEXIST) {
			*error_r = t_printf("rename(%s, %s) failed: %s", from, to,
					    strerror(errno));
			return -1;
		}
	}
	if (fileio_fsync_dir(user->dir) < 0) {
		*error_r = t_printf("fsync(%s) failed: %s", user->dir, strerror(errno));
		return -1;
	}
	if (store_index_mailbox_rename(user->index, old_name, new_name, error_r) < 0)
		return -1;
	log_warn("event=mailbox_rename_recovered user=%s mailbox=%s to=%s",
		 log_str(user->key), log_str(old_name), log_str(new_name));
	return 1;
}

int maildir_rename_recover(struct maildir_user *user,
			   const struct maildir_intents *in, bool *changed_r,
			   const char **error_r)
{
	pool_t *pool = pool_create(4096);
	int ret = 0;
	*changed_r = false;
	for (const struct maildir_intent *it = in->head; it != NULL && ret == 0;
	     it = it->next) {
		if (it->kind != MAILDIR_INTENT_RENAME)
			continue;
		int r = recover_one(user, it, pool, error_r);
		if (r < 0)
			ret = -1;
		else if (r > 0)
			*changed_r = true;
	}
	pool_destroy(&pool);
	return ret;
}
