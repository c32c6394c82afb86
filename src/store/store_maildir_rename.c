/* store_maildir_rename.c: the intent that makes a mailbox RENAME of the
 * maildir-sqlite backend recoverable after a crash (store.h: a RENAME is
 * atomic).
 *
 * maildir_mailbox_rename() (store_maildir_mailbox.c) renames the folders
 * (".Old", then each ".Old.Child": Maildir++ folders are siblings, the
 * parent first) and then the index rows in one commit. Before the first
 * folder moves it writes USER/postel-rename.PID.N ("postel-rename 1
 * UIDVALIDITY\nOLD\nNEW\n", fsync'd, the user directory fsync'd); after
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
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RENAME_INTENT_MAX 4096

size_t maildir_intent_header(const char *data, const char *magic,
			     uint32_t *uidvalidity_r)
{
	unsigned version;
	unsigned long long uv;
	int pos = 0;
	char fmt[64];
	if (snprintf(fmt, sizeof(fmt), "%s %%u %%llu\n%%n", magic) >= (int)sizeof(fmt) ||
	    sscanf(data, fmt, &version, &uv, &pos) != 2 || pos <= 0 ||
	    version != 1 || uv > UINT32_MAX)
		return 0;
	*uidvalidity_r = (uint32_t)uv;
	return (size_t)pos;
}

bool maildir_rename_intent_name(const char *name)
{
	return strncmp(name, MAILDIR_RENAME_INTENT_PREFIX,
		       strlen(MAILDIR_RENAME_INTENT_PREFIX)) == 0;
}

void maildir_rename_intents_add(struct maildir_rename_intents *in, pool_t *pool,
				const char *name)
{
	if (in->count == in->cap) {
		in->cap = in->cap == 0 ? 4 : in->cap * 2;
		const char **bigger = pool_alloc(pool, in->cap * sizeof(*bigger));
		if (in->count > 0)
			memcpy(bigger, in->names, in->count * sizeof(*bigger));
		in->names = bigger;
	}
	in->names[in->count++] = pool_strdup(pool, name);
}

int maildir_rename_intent_write(const char *user_dir, uint32_t uidvalidity,
				const char *old_name, const char *new_name,
				const char **path_r, const char **error_r)
{
	static unsigned counter;
	const char *path = t_printf("%s/" MAILDIR_RENAME_INTENT_PREFIX "%ld.%u",
				    user_dir, (long)getpid(), ++counter);
	str_t buf = STR_INIT;
	str_printf(&buf, "postel-rename 1 %" PRIu32 "\n%s\n%s\n", uidvalidity,
		   old_name, new_name);
	int ret = fileio_write_sync(path, buf.data, buf.len);
	int e = errno;
	str_free(&buf);
	if (ret == 0 && fileio_fsync_dir(user_dir) < 0) {
		ret = -1;
		e = errno;
	}
	if (ret < 0) {
		(void)unlink(path);
		*error_r = t_printf("rename intent %s failed: %s", path, strerror(e));
		return -1;
	}
	*path_r = path;
	return 0;
}

static bool dir_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Finish one intent's rename if the crash state holds; 1 if done. */
static int recover_one(struct maildir_user *user, const char *file,
		       pool_t *pool, const char **error_r)
{
	const char *path = t_printf("%s/%s", user->dir, file);
	char *data;
	size_t len;
	if (fileio_read_file(path, RENAME_INTENT_MAX, &data, &len) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("read(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	char *old_name = NULL, *new_name = NULL, *nl;
	uint32_t uv = 0;
	size_t pos = maildir_intent_header(data, "postel-rename", &uv);
	if (pos > 0 && (nl = strchr(data + pos, '\n')) != NULL) {
		old_name = pool_strndup(pool, data + pos, (size_t)(nl - data) - pos);
		char *nl2 = strchr(nl + 1, '\n');
		if (nl2 != NULL)
			new_name = pool_strndup(pool, nl + 1, (size_t)(nl2 - nl - 1));
	}
	free(data);
	if (new_name == NULL)
		return 0; /* torn: written before any folder moved */
	struct store_index_mailbox old_mb, new_mb;
	int r = store_index_mailbox_lookup(user->index, old_name, &old_mb, error_r);
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
			   const char *const *intents, unsigned count,
			   bool *changed_r, const char **error_r)
{
	pool_t *pool = pool_create(4096);
	int ret = 0;
	*changed_r = false;
	for (unsigned i = 0; i < count && ret == 0; i++) {
		int r = recover_one(user, intents[i], pool, error_r);
		if (r < 0)
			ret = -1;
		else if (r > 0)
			*changed_r = true;
	}
	pool_destroy(&pool);
	return ret;
}

void maildir_rename_intents_remove(const char *user_dir,
				   const char *const *intents, unsigned count)
{
	for (unsigned i = 0; i < count; i++)
		(void)unlink(t_printf("%s/%s", user_dir, intents[i]));
}
