/* store_maildir.c: the "maildir-sqlite" store backend (see store_maildir.h).
 *
 * This file: the handle, folder creation, the per-handle cache of open
 * users, mailbox status and listing. Deliveries: store_maildir_delivery.c. */
#include "store/store_maildir.h"
#include "store/fileio.h"
#include "lib/log.h"
#include "lib/str.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *escape_hostname(void)
{
	char host[256];
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		return "localhost";
	host[sizeof(host) - 1] = '\0';
	str_t out = STR_INIT;
	for (const char *p = host; *p != '\0'; p++) {
		/* Maildir: these would break the name's structure */
		if (*p == '/' || *p == ':' || *p == ',' ||
		    (unsigned char)*p < 0x20)
			str_printf(&out, "\\%03o", (unsigned char)*p);
		else
			str_appendc(&out, *p);
	}
	const char *result = t_printf("%s", str_c(&out));
	str_free(&out);
	return result;
}

static int maildir_open(const char *data_dir, struct store **store_r,
			const char **error_r)
{
	const char *mail_dir = t_printf("%s/mail", data_dir);
	bool created;
	if (fileio_mkdir(mail_dir, 0700, &created) < 0) {
		*error_r = t_printf("mkdir(%s) failed: %s", mail_dir,
				    strerror(errno));
		return -1;
	}
	if (created && fileio_fsync_parent(mail_dir) < 0) {
		*error_r = t_printf("fsync of %s failed: %s", data_dir,
				    strerror(errno));
		return -1;
	}
	struct maildir_store *s = xcalloc(1, sizeof(*s));
	s->mail_dir = xstrdup(mail_dir);
	s->hostname = xstrdup(escape_hostname());
	maildir_park_handle_opened();
	*store_r = &s->store;
	return 0;
}

void maildir_user_destroy(struct maildir_user **user)
{
	store_index_close(&(*user)->index);
	free((*user)->key);
	free((*user)->dir);
	free((*user)->index_path);
	xfree(user);
}

static void maildir_close(struct store *store, bool keep)
{
	struct maildir_store *s = (struct maildir_store *)store;
	/* the users stay open for the next handle of this process, unless
	 * the caller gives them up */
	while (s->users != NULL) {
		struct maildir_user *user = s->users;
		s->users = user->next;
		if (keep)
			maildir_park_put(user);
		else
			maildir_user_destroy(&user);
	}
	maildir_park_handle_closed();
	free(s->mail_dir);
	free(s->hostname);
	free(s);
}

static int mkdir_durable(const char *path, const char **error_r)
{
	bool created;
	if (fileio_mkdir(path, 0700, &created) < 0) {
		*error_r = t_printf("mkdir(%s) failed: %s", path,
				    strerror(errno));
		return -1;
	}
	if (created && fileio_fsync_parent(path) < 0) {
		*error_r = t_printf("fsync of parent of %s failed: %s", path,
				    strerror(errno));
		return -1;
	}
	return 0;
}

/* A Maildir folder: DIR/{cur,new,tmp}, plus maildirfolder if a subfolder. */
int maildir_folder_create(const char *dir, bool subfolder, const char **error_r)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	if (mkdir_durable(dir, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < 3; i++) {
		if (mkdir_durable(t_printf("%s/%s", dir, subs[i]), error_r) < 0)
			return -1;
	}
	if (!subfolder)
		return 0;
	const char *marker = t_printf("%s/maildirfolder", dir);
	if (access(marker, F_OK) == 0)
		return 0;
	int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fsync(fd) < 0 || fileio_fsync_dir(dir) < 0) {
		*error_r = t_printf("creating %s failed: %s", marker,
				    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static const char *user_dir_path(struct maildir_store *s,
				 const struct store_address *addr)
{
	return t_printf("%s/%s/%s", s->mail_dir, addr->domain, addr->local);
}

static int user_dirs_create(struct maildir_store *s,
			    const struct store_address *addr,
			    const char **error_r)
{
	const char *user_dir = user_dir_path(s, addr);
	if (mkdir_durable(t_printf("%s/%s", s->mail_dir, addr->domain),
			  error_r) < 0 ||
	    maildir_folder_create(user_dir, false, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < maildir_default_mailbox_count; i++) {
		const char *folder = maildir_folder_dir(
			user_dir, maildir_default_mailboxes[i]);
		if (maildir_folder_create(folder, true, error_r) < 0)
			return -1;
	}
	return 0;
}

/* Take user out of the handle's cache: closed, or parked for another
 * handle of this process (store_maildir_park.c). */
static void user_cache_remove(struct maildir_store *s, struct maildir_user *user,
			      bool park)
{
	for (struct maildir_user **p = &s->users; *p != NULL; p = &(*p)->next) {
		if (*p == user) {
			*p = user->next;
			s->user_count--;
			if (park)
				maildir_park_put(user);
			else
				maildir_user_destroy(&user);
			return;
		}
	}
}

static void user_cache_drop(struct maildir_store *s, struct maildir_user *user)
{
	user_cache_remove(s, user, false);
}

static bool user_index_is_current(struct maildir_user *user)
{
	struct stat st;
	return stat(user->index_path, &st) == 0 &&
		st.st_dev == user->index_dev && st.st_ino == user->index_ino;
}

/* SQLite reported damage while we used the index: set the file aside
 * (unless another process already replaced it), so that the next open
 * rebuilds it instead of failing the same way forever. */
static void user_index_discard(struct maildir_user *user)
{
	const char *error;
	if (!user_index_is_current(user)) {
		store_index_close(&user->index);
		return;
	}
	if (store_index_close_set_aside(&user->index, &error) < 0)
		log_error("event=index_set_aside_failed user=%s error=%s",
			  log_str(user->key), log_str(error));
}

/* Open the index and sync it with the files; one retry if the index
 * turns out to be damaged only once it is read. */
static int user_open(const char *key, const char *dir, bool create,
		     struct maildir_user **user_r, const char **error_r)
{
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = xcalloc(1, sizeof(*user));
		user->key = xstrdup(key);
		user->dir = xstrdup(dir);
		user->index_path = xstrdup(t_printf("%s/%s", dir,
						    STORE_INDEX_FILENAME));
		bool rebuilt;
		uint32_t uidvalidity;
		struct stat st;
		if (store_index_open(user->index_path, &user->index, &rebuilt,
				     &uidvalidity, error_r) < 0) {
			maildir_user_destroy(&user);
			return -1;
		}
		if (stat(user->index_path, &st) < 0) {
			*error_r = t_printf("stat(%s) failed: %s",
					    user->index_path, strerror(errno));
			maildir_user_destroy(&user);
			return -1;
		}
		user->index_dev = st.st_dev;
		user->index_ino = st.st_ino;
		if (maildir_user_sync(user, create, rebuilt, uidvalidity,
				      error_r) == 0) {
			if (rebuilt && !create)
				log_warn("event=index_rebuilt user=%s",
					 log_str(key));
			log_debug("event=store_user_open user=%s rebuilt=%s",
				  log_str(key), rebuilt ? "yes" : "no");
			*user_r = user;
			return 0;
		}
		bool corrupt = store_index_is_corrupt(user->index);
		if (corrupt && attempt == 0) {
			log_error("event=index_corrupt user=%s error=%s",
				  log_str(key), log_str(*error_r));
			user_index_discard(user);
		}
		maildir_user_destroy(&user);
		if (!corrupt || attempt > 0)
			return -1;
	}
}

/* A user another handle of this process parked, checked as an open
 * would (damage, a replaced index, new/ changed behind our back), or
 * NULL to open it. */
static struct maildir_user *user_unpark(const char *dir, bool create)
{
	struct maildir_user *user = maildir_park_take(dir);
	if (user == NULL)
		return NULL;
	const char *error;
	if (store_index_is_corrupt(user->index) || !user_index_is_current(user) ||
	    maildir_user_sync(user, create, false, (uint32_t)time(NULL),
			      &error) < 0) {
		maildir_user_destroy(&user);
		return NULL;
	}
	log_debug("event=store_user_open user=%s from=park", log_str(user->key));
	return user;
}

int maildir_user_get(struct maildir_store *s, const struct store_address *addr,
		     bool create, struct maildir_user **user_r,
		     const char **error_r)
{
	const char *key = t_printf("%s@%s", addr->local, addr->domain);
	for (struct maildir_user **p = &s->users; *p != NULL; p = &(*p)->next) {
		struct maildir_user *user = *p;
		if (strcmp(user->key, key) != 0)
			continue;
		if (store_index_is_corrupt(user->index)) {
			user_index_discard(user);
			user_cache_drop(s, user);
			break;
		}
		if (!user_index_is_current(user)) {
			/* another process set it aside or removed it */
			user_cache_drop(s, user);
			break;
		}
		*p = user->next;
		user->next = s->users;
		s->users = user;
		*user_r = user;
		return 0;
	}

	const char *dir = user_dir_path(s, addr);
	struct stat st;
	if (create) {
		if (user_dirs_create(s, addr, error_r) < 0)
			return -1;
	} else if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*error_r = t_printf("no such user %s", key);
		return -1;
	}
	struct maildir_user *user = user_unpark(dir, create);
	if (user == NULL && user_open(key, dir, create, &user, error_r) < 0)
		return -1;
	if (s->user_count >= MAILDIR_USER_CACHE_MAX) {
		struct maildir_user *last = s->users;
		while (last->next != NULL)
			last = last->next;
		user_cache_remove(s, last, true);
	}
	user->next = s->users;
	s->users = user;
	s->user_count++;
	*user_r = user;
	return 0;
}

static int maildir_user_create(struct store *store,
			       const struct store_address *addr,
			       const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	/* always recreate missing folders, even for a cached user */
	if (user_dirs_create(s, addr, error_r) < 0 ||
	    maildir_user_get(s, addr, true, &user, error_r) < 0)
		return -1;
	return maildir_user_sync(user, true, false, (uint32_t)time(NULL),
				 error_r);
}

int maildir_mailbox_get(struct maildir_store *s,
			const struct store_address *addr, const char *mailbox,
			bool create_user, struct maildir_user **user_r,
			struct store_index_mailbox *mb_r, const char **error_r)
{
	if (maildir_user_get(s, addr, create_user, user_r, error_r) < 0)
		return -1;
	int ret = store_index_mailbox_lookup((*user_r)->index, mailbox, mb_r,
					     error_r);
	if (ret == 0)
		*error_r = t_printf("no such mailbox %s", log_str(mailbox));
	return ret > 0 ? 0 : -1;
}

static int maildir_mailbox_create(struct store *store,
				  const struct store_address *addr,
				  const char *mailbox, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	if (maildir_user_get(s, addr, false, &user, error_r) < 0)
		return -1;
	if (strcmp(mailbox, "INBOX") == 0)
		return 0;
	if (maildir_folder_create(maildir_folder_dir(user->dir, mailbox), true,
			  error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	if (store_index_mailbox_add(user->index, mailbox, (uint32_t)time(NULL),
				    error_r) < 0) {
		store_index_rollback(user->index);
		return -1;
	}
	return store_index_commit(user->index, error_r);
}

void maildir_user_forget(struct maildir_store *s, struct maildir_user *user)
{
	log_debug("event=store_user_forget user=%s", log_str(user->key));
	user_cache_drop(s, user);
}

bool maildir_user_damaged(struct maildir_store *s, struct maildir_user *user)
{
	if (user == NULL || !store_index_is_corrupt(user->index))
		return false;
	log_error("event=index_corrupt user=%s", log_str(user->key));
	user_index_discard(user);
	user_cache_drop(s, user);
	return true;
}

void maildir_message_info(pool_t *pool, const struct store_index_message *row,
			  struct store_message_info *info_r)
{
	info_r->uid = row->uid;
	info_r->modseq = row->modseq;
	info_r->size = row->size;
	info_r->internaldate = (time_t)row->internaldate;
	info_r->flags = pool_strdup(pool, row->flags);
	info_r->sysflags = row->sysflags;
	memcpy(info_r->guid, row->guid, STORE_GUID_SIZE);
	info_r->lost = false;
	info_r->savedate = (time_t)row->savedate;
	memcpy(info_r->threadid, row->threadid, STORE_GUID_SIZE);
	info_r->hdr_8bit = row->hdr_8bit;
	info_r->dg_size = row->dg_size;
}

static int mailbox_list_once(struct maildir_store *s,
			     const struct store_address *addr,
			     const char *mailbox, pool_t *pool,
			     struct store_message_info **messages_r,
			     unsigned *count_r, struct maildir_user **user_r,
			     const char **error_r)
{
	struct store_index_mailbox mb;
	if (maildir_mailbox_get(s, addr, mailbox, false, user_r, &mb,
				error_r) < 0)
		return -1;
	struct maildir_user *user = *user_r;
	pool_t *scratch = pool_create(16384);
	struct store_index_message *rows;
	struct maildir_file *files;
	unsigned row_count, file_count;
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	if (store_index_message_list(user->index, mb.id, scratch, &rows,
				     &row_count, error_r) < 0 ||
	    maildir_folder_scan(folder, true, scratch, &files, &file_count,
				error_r) < 0) {
		pool_destroy(&scratch);
		return -1;
	}
	struct store_message_info *messages =
		pool_alloc(pool, (row_count + 1) * sizeof(*messages));
	for (unsigned i = 0; i < row_count; i++) {
		const struct maildir_file *f =
			maildir_file_find(files, file_count, rows[i].filename);
		maildir_message_info(pool, &rows[i], &messages[i]);
		messages[i].lost = f == NULL;
	}
	pool_destroy(&scratch);
	*messages_r = messages;
	*count_r = row_count;
	return 0;
}

/* Reads retry once on a rebuilt index when SQLite finds damage: an open
 * no longer runs an integrity check, so damage shows up here. */
static int maildir_mailbox_list_messages(struct store *store,
					 const struct store_address *addr,
					 const char *mailbox, pool_t *pool,
					 struct store_message_info **messages_r,
					 unsigned *count_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		int ret = mailbox_list_once(s, addr, mailbox, pool, messages_r,
					    count_r, &user, error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}

const struct store_backend store_backend_maildir = {
	.name = "maildir-sqlite",
	.open = maildir_open,
	.close = maildir_close,
	.user_create = maildir_user_create,
	.mailbox_create = maildir_mailbox_create,
	.mailbox_status = maildir_mailbox_status,
	.mailbox_list_messages = maildir_mailbox_list_messages,
	.delivery_begin = maildir_delivery_begin,
	.delivery_commit_group = maildir_delivery_commit_group,
	.delivery_commit_multi = maildir_delivery_commit_multi,
	.delivery_write = maildir_delivery_write,
	.delivery_write_fd = maildir_delivery_write_fd,
	.delivery_sync = maildir_delivery_sync,
	.delivery_commit = maildir_delivery_commit,
	.delivery_abort = maildir_delivery_abort,
	.mailbox_lock = maildir_mailbox_lock,
	.mailbox_expunge = maildir_mailbox_expunge,
	.delivery_set_meta = maildir_delivery_set_meta,
	.delivery_set_uid = maildir_delivery_set_uid,
	.mailbox_import = maildir_mailbox_import,
	.view_read = maildir_view_read,
	.view_select_info = maildir_view_select_info,
	.messages_get = maildir_messages_get,
	.mailbox_deleted = maildir_mailbox_deleted,
	.view_expunged = maildir_view_expunged,
	.message_open = maildir_message_open,
	.message_structure = maildir_message_structure,
	.message_set_structure = maildir_message_set_structure,
	.message_preview = maildir_message_preview,
	.message_set_preview = maildir_message_set_preview,
	.message_set_hdr_8bit = maildir_message_set_hdr_8bit,
	.thread_backfill = maildir_thread_backfill,
	.messages_sortkeys = maildir_messages_sortkeys,
	.messages_set_sortkeys = maildir_messages_set_sortkeys,
	.set_flags = maildir_set_flags,
	.copy = maildir_copy,
	.claim_recent = maildir_claim_recent,
	.mailbox_list = maildir_mailbox_list,
	.mailbox_delete = maildir_mailbox_delete,
	.mailbox_rename = maildir_mailbox_rename,
	.mailbox_subscribe = maildir_mailbox_subscribe,
	.mailbox_subscriptions = maildir_mailbox_subscriptions,
};
