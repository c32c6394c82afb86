/* store_maildir_sync.c: reconcile a user's index with the Maildir files.
 *
 * Files are the truth for which messages exist; the index is the truth
 * for UIDs, MODSEQs and UIDVALIDITY. A file the index does not know gets
 * the next UID (in name order, which is delivery-time order); its flags
 * come from the Maildir info suffix (":2,FRS"). Index rows whose file has
 * gone are left alone here (expunge handling belongs to the IMAP layer),
 * but one a crashed expunge left is expunged (store_maildir_expunge.c).
 * A full sync (new index) reads new/ and cur/; an ordinary open reads only
 * new/, and only when new/'s mtime is not the one the index recorded the
 * last time it knew every file there (deliveries and expunges keep it
 * current), so opening a big mailbox that nobody else touched reads no
 * directory at all (issue 8 item 7). The same pass cleans tmp/ every
 * MAILDIR_TMP_CHECK_SECS (store_maildir_tmp.c). */
#include "store/store_maildir.h"
#include "store/store_eol.h"
#include "store/store_watch.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* see mailbox_scan() */
#define MAILDIR_SCAN_LIST_MIN 64

const char *const maildir_default_mailboxes[] = {
	"Drafts", "Sent", "Junk", "Trash", "Archive",
};
const unsigned maildir_default_mailbox_count =
	sizeof(maildir_default_mailboxes) / sizeof(*maildir_default_mailboxes);

const char *maildir_folder_dir(const char *user_dir, const char *mailbox)
{
	if (strcmp(mailbox, "INBOX") == 0)
		return t_printf("%s", user_dir);
	char *folder = t_printf("%s/.%s", user_dir, mailbox);
	/* Maildir++: hierarchy separator '/' becomes '.' on disk */
	for (char *p = folder + strlen(user_dir) + 2; *p != '\0'; p++) {
		if (*p == '/')
			*p = '.';
	}
	return folder;
}

/* Maildir info flags to IMAP flags (RFC 3501 2.3.2). */
static const char *maildir_info_flags(const char *relpath, pool_t *pool)
{
	const char *info = strstr(relpath, ":2,");
	if (info == NULL)
		return "";
	static const struct { char c; const char *flag; } map[] = {
		{ 'D', "\\Draft" }, { 'F', "\\Flagged" }, { 'R', "\\Answered" },
		{ 'S', "\\Seen" }, { 'T', "\\Deleted" },
	};
	const char *flags = "";
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (strchr(info + 3, map[i].c) == NULL)
			continue;
		flags = flags[0] == '\0' ? map[i].flag :
			pool_printf(pool, "%s %s", flags, map[i].flag);
	}
	return flags;
}

static int string_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 if the index knows base, 0 if not, -1 on error. known: all names
 * in the index, sorted (full sync), or NULL to ask the index one by one. */
/* The size with CRLF line endings: from Dovecot's ",W=" in the name, else
 * counted from the file (written by other software). */
static int maildir_file_wire_size(const char *path, const char *base,
				  uint64_t *size_r)
{
	const char *w = strstr(base, ",W=");
	if (w != NULL) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(w + 3, &end, 10);
		if (errno == 0 && end != w + 3 && (*end == '\0' || *end == ',')) {
			*size_r = v;
			return 0;
		}
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	int ret = store_eol_wire_size(fd, size_r);
	close(fd);
	return ret;
}

static int file_is_known(struct maildir_user *user, int64_t mailbox_id,
			 const char *const *known, unsigned known_count,
			 const char *base, const char **error_r)
{
	if (known == NULL)
		return store_index_message_exists(user->index, mailbox_id,
						  base, error_r);
	return known_count > 0 &&
		bsearch(&base, known, known_count, sizeof(*known),
			string_cmp) != NULL ? 1 : 0;
}

/* Index the files of new/ (and cur/ if full) that the index does not
 * know. Asking the index file by file suits a small new/; past
 * MAILDIR_SCAN_LIST_MIN files one query for every name is cheaper. */
static int mailbox_scan(struct maildir_user *user, const char *mailbox,
			const struct store_index_mailbox *mb, bool full,
			pool_t *pool, const char **error_r)
{
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	struct maildir_file *files;
	unsigned file_count;
	store_stats_count(STORE_STAT_MAILDIR_SCANS);
	if (maildir_folder_scan(folder, full, pool, &files, &file_count,
				error_r) < 0)
		return -1;
	const char **known = NULL;
	unsigned row_count = 0;
	if (full || file_count >= MAILDIR_SCAN_LIST_MIN) {
		struct store_index_message *rows;
		if (store_index_message_list(user->index, mb->id, pool, &rows,
					     &row_count, error_r) < 0)
			return -1;
		known = pool_alloc(pool, (row_count + 1) * sizeof(*known));
		for (unsigned i = 0; i < row_count; i++)
			known[i] = rows[i].filename;
		qsort(known, row_count, sizeof(*known), string_cmp);
	}
	unsigned added = 0;
	for (unsigned i = 0; i < file_count; i++) {
		int ret = file_is_known(user, mb->id, known, row_count,
					files[i].base, error_r);
		if (ret < 0)
			return -1;
		if (ret > 0)
			continue;
		const char *path = pool_printf(pool, "%s/%s", folder,
					       files[i].relpath);
		struct stat st;
		uint64_t wire_size;
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    maildir_file_wire_size(path, files[i].base, &wire_size) < 0)
			continue; /* moved or removed while we looked */
		uint32_t uid;
		if (store_index_message_add(user->index, mb->id, files[i].base,
					    wire_size,
					    (int64_t)st.st_mtime,
					    maildir_info_flags(files[i].relpath,
							       pool),
					    &uid, error_r) < 0)
			return -1;
		added++;
	}
	log_info("event=maildir_scan user=%s mailbox=%s full=%s files=%u "
		 "added=%u", log_str(user->key), log_str(mailbox),
		 full ? "yes" : "no", file_count, added);
	if (added > 0) {
		log_warn("event=index_sync user=%s mailbox=%s added=%u",
			 log_str(user->key), log_str(mailbox), added);
	}
	return 0;
}

int64_t maildir_dir_mtime(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

/* What an open must do for one mailbox: rescan new/ (its mtime is not
 * the one recorded when the index last knew all of it) and/or clean
 * tmp/ (not done for MAILDIR_TMP_CHECK_SECS). */
struct mailbox_todo {
	bool scan, tmp;
	int64_t new_mtime; /* new/ now, taken before any scan */
};

static struct mailbox_todo mailbox_todo(const struct maildir_user *user,
					const char *mailbox,
					const struct store_index_mailbox *mb,
					bool full, time_t now)
{
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	struct mailbox_todo todo;
	todo.new_mtime = maildir_dir_mtime(t_printf("%s/new", folder));
	todo.scan = full || todo.new_mtime != mb->new_mtime;
	todo.tmp = now - mb->tmp_checked >= MAILDIR_TMP_CHECK_SECS ||
		now < mb->tmp_checked;
	return todo;
}

/* Within the index lock: index the files of new/ (and cur/ if full) the
 * index does not know, clean tmp/ if due, and record both. */
static int mailbox_sync(struct maildir_user *user, const char *mailbox,
			bool full, time_t now, pool_t *pool,
			const char **error_r)
{
	struct store_index_mailbox mb;
	int ret = store_index_mailbox_lookup(user->index, mailbox, &mb, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = t_printf("mailbox %s missing from index",
					    mailbox);
		return -1;
	}
	/* decided again under the lock: another process may have synced */
	struct mailbox_todo todo = mailbox_todo(user, mailbox, &mb, full, now);
	if (!todo.scan && !todo.tmp)
		return 0;
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	if (todo.tmp)
		maildir_tmp_clean(user, mailbox, folder, now);
	/* before the scan, or it would index a crashed MULTIAPPEND's files */
	if (todo.scan &&
	    maildir_expunge_legacy(user, mailbox, folder, pool, error_r) < 0)
		return -1;
	if (todo.scan && maildir_multi_recover(user->index, mb.id, folder, full,
					       error_r) < 0)
		return -1;
	if (todo.scan && mailbox_scan(user, mailbox, &mb, full, pool,
				      error_r) < 0)
		return -1;
	if (store_index_mailbox_set_synced(user->index, mb.id,
		todo.scan ? todo.new_mtime : mb.new_mtime,
		todo.tmp ? (int64_t)now : mb.tmp_checked, error_r) < 0)
		return -1;
	return 0;
}

/* Mailbox names of the ".NAME" folders in the user's directory, and the
 * intents there (same readdir: no cost on the open path). */
static int user_folders(const char *user_dir, pool_t *pool,
			const char ***names_r, unsigned *count_r,
			struct maildir_intents *intents, const char **error_r)
{
	DIR *dir = opendir(user_dir);
	if (dir == NULL) {
		*error_r = t_printf("opendir(%s) failed: %s", user_dir,
				    strerror(errno));
		return -1;
	}
	const char **names = NULL;
	unsigned count = 0, cap = 0;
	struct dirent *de;
	intents->head = NULL;
	while ((de = readdir(dir)) != NULL) {
		int kind = maildir_intent_kind(de->d_name);
		if (kind >= 0) {
			maildir_intents_add(intents, pool, de->d_name,
					    (enum maildir_intent_kind)kind);
			continue;
		}
		if (de->d_name[0] != '.' || de->d_name[1] == '\0' ||
		    de->d_name[1] == '.')
			continue;
		struct stat st;
		const char *cur = pool_printf(pool, "%s/%s/cur", user_dir,
					      de->d_name);
		if (stat(cur, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		char *name = pool_strdup(pool, de->d_name + 1);
		for (char *p = name; *p != '\0'; p++) {
			if (*p == '.')
				*p = '/';
		}
		const char *canonical, *error = "reserved name";
		if (store_mailbox_name_check(name, &canonical, &error) < 0 ||
		    strcmp(canonical, "INBOX") == 0) {
			log_warn("event=maildir_folder_skipped dir=%s error=%s",
				 log_str(de->d_name), log_str(error));
			continue;
		}
		if (count == cap) {
			cap = cap == 0 ? 16 : cap * 2;
			const char **bigger = pool_alloc(pool, cap * sizeof(*bigger));
			if (count > 0)
				memcpy(bigger, names, count * sizeof(*bigger));
			names = bigger;
		}
		names[count++] = name;
	}
	closedir(dir);
	*names_r = names;
	*count_r = count;
	return 0;
}

static const struct store_index_mailbox *
mailbox_row_find(const struct store_index_mailbox *rows, unsigned count,
		 const char *name)
{
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(rows[i].name, name) == 0)
			return &rows[i];
	}
	return NULL;
}

/* Without any lock: 0 if the index is up to date with the folders (no
 * row missing, no new/ changed, no tmp/ cleaning due), 1 if only tmp/
 * cleaning is due, 2 if a sync is needed, -1 on error. This is the whole
 * cost of a warm open: one query and a stat() per folder. */
static int user_sync_needed(struct maildir_user *user, bool with_defaults,
			    const char *const *folders, unsigned folder_count,
			    time_t now, pool_t *pool, const char **error_r)
{
	struct store_index_mailbox *rows;
	unsigned row_count;
	if (store_index_mailbox_list(user->index, pool, &rows, &row_count,
				     error_r) < 0)
		return -1;
	unsigned total = 1 + folder_count +
		(with_defaults ? maildir_default_mailbox_count : 0);
	int need = 0;
	for (unsigned i = 0; i < total && need < 2; i++) {
		bool on_disk = i <= folder_count;
		const char *name = i == 0 ? "INBOX" : on_disk ? folders[i - 1] :
			maildir_default_mailboxes[i - 1 - folder_count];
		const struct store_index_mailbox *mb =
			mailbox_row_find(rows, row_count, name);
		if (mb == NULL)
			return 2;
		if (!on_disk)
			continue;
		struct mailbox_todo todo = mailbox_todo(user, name, mb, false, now);
		if (todo.scan)
			need = 2;
		else if (todo.tmp)
			need = 1;
	}
	return need;
}

/* Whether list names mailbox (a kept intent's: left unscanned). */
static bool intents_name(const struct maildir_intents *list, const char *mailbox)
{
	for (const struct maildir_intent *it = list->head; it != NULL; it = it->next) {
		if (strcmp(it->name, mailbox) == 0)
			return true;
	}
	return false;
}

int maildir_user_sync(struct maildir_user *user, bool with_defaults,
		      bool full, uint32_t uidvalidity, const char **error_r)
{
	pool_t *pool = pool_create(16384);
	const char **folders;
	unsigned folder_count;
	time_t now = time(NULL);
	int ret = -1;
	struct maildir_intents intents = { NULL }, changed = { NULL };
	struct maildir_intents kept = { NULL };
	if (user_folders(user->dir, pool, &folders, &folder_count, &intents,
			 error_r) < 0)
		goto out;
	int need = 2;
	/* an intent is unfinished work (store_maildir_intent.c) */
	if (!full && intents.head == NULL) {
		need = user_sync_needed(user, with_defaults, folders, folder_count,
					now, pool, error_r);
		if (need <= 0) {
			ret = need;
			goto out;
		}
	}
	if (need == 1) {
		/* only housekeeping: never wait for it */
		int r = store_index_begin_try(user->index, error_r);
		if (r <= 0) {
			ret = r;
			goto out;
		}
	} else if (store_index_begin(user->index, error_r) < 0) {
		goto out;
	}
	/* a crashed RENAME: its folder must not become a new mailbox */
	bool renamed = false;
	if (!full && intents.head != NULL &&
	    (maildir_rename_recover(user, &intents, &renamed, error_r) < 0 ||
	     (renamed && user_folders(user->dir, pool, &folders, &folder_count,
				      &intents, error_r) < 0)))
		goto rollback;
	if (store_index_mailbox_add(user->index, "INBOX", uidvalidity,
				    error_r) < 0)
		goto rollback;
	for (unsigned i = 0; with_defaults && i < maildir_default_mailbox_count; i++) {
		if (store_index_mailbox_add(user->index,
					    maildir_default_mailboxes[i],
					    uidvalidity, error_r) < 0)
			goto rollback;
	}
	for (unsigned i = 0; i < folder_count; i++) {
		if (store_index_mailbox_add(user->index, folders[i],
					    uidvalidity, error_r) < 0)
			goto rollback;
	}
	/* crashed expunges and copies, before a scan of new/ could take
	 * a moved message's source for new mail */
	if (!full && intents.head != NULL &&
	    maildir_intents_recover(user, &intents, pool, &changed, &kept,
				    error_r) < 0)
		goto rollback;
	for (unsigned i = 0; i <= folder_count; i++) {
		const char *name = i == 0 ? "INBOX" : folders[i - 1];
		if (!intents_name(&kept, name) &&
		    mailbox_sync(user, name, full, now, pool, error_r) < 0)
			goto rollback;
	}
	ret = store_index_commit(user->index, error_r);
	if (ret == 0 && !full)
		maildir_intents_remove(user->dir, &intents);
	for (const struct maildir_intent *c = changed.head; ret == 0 && c != NULL;
	     c = c->next)
		store_notify_changed(user->key, c->name, 0);
	goto out;
rollback:
	store_index_rollback(user->index);
out:
	pool_destroy(&pool);
	return ret;
}
