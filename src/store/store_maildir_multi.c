/* store_maildir_multi.c: all-or-nothing commit of several maildir
 * deliveries to one mailbox (store.h store_delivery_commit_multi(), for
 * IMAP MULTIAPPEND, RFC 3502).
 *
 * A single delivery is atomic because one rename makes it visible. Several
 * renames are not one step, and the open's rescan of new/ (files are the
 * truth for which messages exist, store_maildir_sync.c) would index the
 * files a crash left renamed but uncommitted. So the commit does, under
 * the index lock (BEGIN IMMEDIATE) throughout:
 *   fsync every tmp file; write tmp/.multi.<NAME> listing the names the
 *   files get in new/, fsync it and tmp/ (the marker is durable before any
 *   rename); rename each file into new/ and insert its row; COMMIT;
 * then fsync(new/) and unlink the marker. The COMMIT is the one point
 * where all become visible together. A crash before it leaves files in
 * new/ without rows and the marker: the next scan of new/ (its mtime
 * moved, so there is one) calls maildir_multi_recover() first, which
 * removes every listed file the index does not know, then the marker.
 * A crash after the COMMIT leaves only a marker whose names the index
 * knows: it is removed. Markers are dot files, which Maildir readers and
 * the tmp/ cleaner ignore; their names are unique (the first delivery's
 * name), so a marker unlinked late never hits another commit's.
 * Limit: an index rebuilt from the files (full scan) cannot tell a
 * crashed commit's files from committed ones and keeps them all. */
#include "store/store_maildir_delivery.h"
#include "store/fileio.h"
#include "store/store_watch.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MULTI_MARKER_PREFIX ".multi."
/* a marker lists at most this many bytes of names (STORE_MULTI_MAX of
 * names of ~100 bytes fit many times over) */
#define MULTI_MARKER_MAX (4 * 1024 * 1024)

static const char *multi_marker_path(const struct maildir_delivery *first)
{
	return t_printf("%s/tmp/" MULTI_MARKER_PREFIX "%s", first->folder_dir, first->name);
}

static int multi_marker_write(const char *path, struct maildir_delivery **ds, unsigned n,
			      const char **error_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = t_printf("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	int ret = 0;
	for (unsigned i = 0; i < n && ret == 0; i++) {
		const char *line = t_printf("%s\n", ds[i]->new_name);
		ret = fileio_write_full(fd, line, strlen(line));
	}
	if (ret == 0)
		ret = fsync(fd);
	if (ret < 0)
		*error_r = t_printf("write of %s failed: %s", path, strerror(errno));
	close(fd);
	if (ret == 0 && fileio_fsync_parent(path) < 0) {
		*error_r = t_printf("fsync of %s's directory failed: %s", path, strerror(errno));
		ret = -1;
	}
	if (ret < 0)
		(void)unlink(path);
	return ret;
}

static bool multi_same_mailbox(struct maildir_delivery *a, struct maildir_delivery *b)
{
	return strcmp(a->addr.local, b->addr.local) == 0 &&
		strcmp(a->addr.domain, b->addr.domain) == 0 &&
		strcmp(a->mailbox, b->mailbox) == 0;
}

/* Under the lock, marker durable: rename and index every file; on -1
 * the published files are unpublished again (the caller rolls back). */
static int multi_publish(struct maildir_user *user, int64_t mailbox_id,
			 struct maildir_delivery **ds, unsigned n, uint32_t *uids_r,
			 const char **error_r)
{
	const char *new_dir = t_printf("%s/new", ds[0]->folder_dir);
	int64_t new_mtime = maildir_dir_mtime(new_dir);
	unsigned published = 0;
	int ret = 0;
	for (; published < n && ret == 0; published++) {
		struct maildir_delivery *d = ds[published];
		const char *new_path = t_printf("%s/%s", new_dir, d->new_name);
		if (fileio_rename_noreplace(d->tmp_path, new_path) < 0) {
			*error_r = t_printf("rename to %s failed: %s", new_path, strerror(errno));
			ret = -1;
			break;
		}
		d->failed = true; /* no longer under tmp_path */
		ret = store_index_message_add(user->index, mailbox_id, d->new_name, d->wire_size,
					      maildir_delivery_date(d), maildir_delivery_flags(d),
					      &uids_r[published], error_r);
		if (ret == 0)
			ret = maildir_delivery_index_checkpoints(d, user->index, mailbox_id,
								 uids_r[published], error_r);
	}
	if (ret == 0)
		ret = store_index_mailbox_set_new_mtime(user->index, mailbox_id, new_mtime,
							maildir_dir_mtime(new_dir), error_r);
	if (ret < 0) {
		for (unsigned i = 0; i < published; i++)
			maildir_delivery_unpublish(t_printf("%s/%s", new_dir, ds[i]->new_name),
						   new_dir);
	}
	return ret;
}

static int multi_commit(struct maildir_store *s, struct maildir_delivery **ds, unsigned n,
			uint32_t *uids_r, const char **error_r)
{
	struct maildir_user *user;
	struct store_index_mailbox mb;
	for (unsigned i = 0; i < n; i++) {
		if (!multi_same_mailbox(ds[0], ds[i])) {
			*error_r = "a multi commit goes to one mailbox";
			return -1;
		}
		if (ds[i]->import_uid != 0) {
			*error_r = "a given UID needs store_delivery_commit()";
			return -1;
		}
		if (maildir_delivery_prepare(ds[i], error_r) < 0)
			return -1;
	}
	if (maildir_mailbox_get(s, &ds[0]->addr, ds[0]->mailbox, false, &user, &mb,
				error_r) < 0 ||
	    store_index_begin(user->index, error_r) < 0)
		return -1;
	const char *marker = multi_marker_path(ds[0]);
	if (multi_marker_write(marker, ds, n, error_r) < 0) {
		store_index_rollback(user->index);
		return -1;
	}
	if (multi_publish(user, mb.id, ds, n, uids_r, error_r) < 0) {
		store_index_rollback(user->index);
		(void)unlink(marker);
		return -1;
	}
	if (store_index_commit(user->index, error_r) < 0) {
		const char *new_dir = t_printf("%s/new", ds[0]->folder_dir);
		for (unsigned i = 0; i < n; i++)
			maildir_delivery_unpublish(t_printf("%s/%s", new_dir, ds[i]->new_name),
						   new_dir);
		(void)unlink(marker);
		return -1;
	}
	const char *new_dir = t_printf("%s/new", ds[0]->folder_dir);
	int ret = 0;
	if (fileio_fsync_dir(new_dir) < 0) {
		/* committed but maybe not durable: not acknowledged */
		*error_r = t_printf("fsync of %s failed: %s", new_dir, strerror(errno));
		ret = -1;
	}
	if (unlink(marker) < 0 && errno != ENOENT)
		log_warn("event=store_multi_marker_unlink_failed path=%s error=%s",
			 log_str(marker), log_str(strerror(errno)));
	return ret;
}

int maildir_delivery_commit_multi(struct store *store, struct store_delivery **ds,
				  unsigned n, uint32_t *uids_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_delivery **mds = (struct maildir_delivery **)ds;
	int ret = n == 0 ? 0 : multi_commit(s, mds, n, uids_r, error_r);
	const char *user = n == 0 ? "" : t_printf("%s@%s", mds[0]->addr.local,
						  mds[0]->addr.domain);
	if (n > 0 && ret == 0) {
		log_info("event=store_delivered_multi user=%s mailbox=%s count=%u uid_first=%u "
			 "uid_last=%u", log_str(user), log_str(mds[0]->mailbox), n, uids_r[0],
			 uids_r[n - 1]);
		store_notify_changed(user, mds[0]->mailbox, 0);
	} else if (n > 0) {
		log_error("event=store_delivery_failed user=%s mailbox=%s count=%u error=%s",
			  log_str(user), log_str(mds[0]->mailbox), n, log_str(*error_r));
	}
	for (unsigned i = 0; i < n; i++) {
		if (ret < 0)
			maildir_delivery_discard(mds[i]);
		maildir_delivery_free(mds[i]);
		ds[i] = NULL;
	}
	return ret;
}

/* One marker: unlink every listed file of new/ the index does not know. */
static unsigned multi_recover_marker(struct store_index *index, int64_t mailbox_id,
				     const char *folder_dir, const char *marker, bool full)
{
	char *data;
	size_t size;
	unsigned removed = 0;
	if (full || fileio_read_file(marker, MULTI_MARKER_MAX, &data, &size) < 0)
		return 0;
	char *line = data, *end = data + size;
	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (nl == NULL)
			break; /* torn last line: its rename never happened */
		*nl = '\0';
		const char *error;
		if (line[0] != '\0' && line[0] != '.' && strchr(line, '/') == NULL &&
		    store_index_message_exists(index, mailbox_id, line, &error) == 0 &&
		    unlink(t_printf("%s/new/%s", folder_dir, line)) == 0)
			removed++;
		line = nl + 1;
	}
	free(data);
	return removed;
}

int maildir_multi_recover(struct store_index *index, int64_t mailbox_id,
			  const char *folder_dir, bool full, const char **error_r)
{
	const char *tmp = t_printf("%s/tmp", folder_dir);
	DIR *dir = opendir(tmp);
	if (dir == NULL)
		return 0;
	unsigned removed = 0, markers = 0;
	int ret = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL && ret == 0) {
		if (strncmp(de->d_name, MULTI_MARKER_PREFIX, strlen(MULTI_MARKER_PREFIX)) != 0)
			continue;
		const char *marker = t_printf("%s/%s", tmp, de->d_name);
		unsigned n = multi_recover_marker(index, mailbox_id, folder_dir, marker, full);
		/* the removals are durable before the marker goes */
		if (n > 0 && fileio_fsync_dir(t_printf("%s/new", folder_dir)) < 0) {
			*error_r = t_printf("fsync of %s/new failed: %s", folder_dir,
					    strerror(errno));
			ret = -1;
		} else {
			(void)unlink(marker);
		}
		removed += n;
		markers++;
	}
	closedir(dir);
	if (markers > 0)
		log_warn("event=store_multi_recovered folder=%s markers=%u removed=%u full=%s",
			 log_str(folder_dir), markers, removed, full ? "yes" : "no");
	return ret;
}
