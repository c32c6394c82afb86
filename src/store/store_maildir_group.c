/* store_maildir_group.c: group commit of maildir deliveries (store.h,
 * store_delivery_commit_group()): the renames and index rows of all the
 * deliveries of one user in one transaction, then each new/ directory
 * fsync'd once. Each delivery keeps the guarantees of a single commit
 * (store_maildir_delivery.c). Without wait, a user whose index another
 * process holds locked is skipped, its deliveries left for a later call
 * (store_committer.c retries them). */
#include "store/store_maildir_delivery.h"
#include "store/fileio.h"
#include "store/store_watch.h"
#include "lib/log.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Group commit (see store.h): renames and index rows of all deliveries of
 * one user in one transaction, then each new/ directory fsync'd once. */
struct group_item {
	struct maildir_delivery *d;
	const char *new_path, *new_dir, *filename;
	int64_t mailbox_id;
	bool published;
};

/* Idempotent: a delivery left for later by a try commit is prepared
 * again in the next call. */
int maildir_delivery_prepare(struct maildir_delivery *d, const char **error_r)
{
	struct stat st;
	if (maildir_delivery_check(d, error_r) < 0)
		return -1;
	if (d->new_name == NULL) {
		if (maildir_delivery_sync(&d->delivery, error_r) < 0)
			return -1;
		if (fstat(d->fd, &st) < 0) {
			*error_r = t_printf("fstat of mail file failed: %s", strerror(errno));
			return -1;
		}
		close(d->fd);
		d->fd = -1;
		d->new_name = xstrdup(maildir_delivery_new_name(d, &st));
	}
	return 0;
}

static int group_prepare(struct group_item *it, const char **error_r)
{
	struct maildir_delivery *d = it->d;
	if (maildir_delivery_prepare(d, error_r) < 0)
		return -1;
	it->new_dir = t_printf("%s/new", d->folder_dir);
	it->filename = d->new_name;
	it->new_path = t_printf("%s/%s", it->new_dir, it->filename);
	return 0;
}

static bool group_same_user(const struct maildir_delivery *a,
			    const struct maildir_delivery *b)
{
	return strcmp(a->addr.local, b->addr.local) == 0 &&
		strcmp(a->addr.domain, b->addr.domain) == 0;
}

/* One user's items in [first, n) (those with same user and no result yet):
 * one transaction. */
static void group_commit_user(struct maildir_store *s, struct group_item *items,
			      unsigned first, unsigned n, bool wait, uint32_t *uids_r,
			      int *results_r, const char **errors_r)
{
	struct maildir_user *user;
	struct store_index_mailbox mb;
	const char *error;
	struct maildir_delivery *lead = items[first].d;
	bool *in_group = pool_alloc(pool_temp(), n * sizeof(bool));
	for (unsigned j = first; j < n; j++)
		in_group[j] = results_r[j] == 1 && group_same_user(lead, items[j].d);
	int r = maildir_mailbox_get(s, &lead->addr, lead->mailbox, false, &user,
				    &mb, &error) < 0 ? -1 :
		wait ? (store_index_begin(user->index, &error) < 0 ? -1 : 1) :
		store_index_begin_try(user->index, &error);
	if (r <= 0) {
		/* 0: locked by someone else; left for a later call (2) */
		for (unsigned j = first; j < n; j++) {
			if (in_group[j]) {
				results_r[j] = r < 0 ? -1 : 2;
				errors_r[j] = error;
			}
		}
		return;
	}
	for (unsigned j = first; j < n; j++) {
		if (!in_group[j])
			continue;
		struct group_item *it = &items[j];
		struct maildir_user *u;
		results_r[j] = -1;
		if (maildir_mailbox_get(s, &it->d->addr, it->d->mailbox, false, &u, &mb,
					&errors_r[j]) < 0)
			continue;
		if (it->d->import_uid != 0) { /* store_delivery_set_uid() */
			errors_r[j] = "a given UID needs store_delivery_commit()";
			continue;
		}
		int64_t new_mtime = maildir_dir_mtime(it->new_dir);
		if (fileio_rename_noreplace(it->d->tmp_path, it->new_path) < 0) {
			errors_r[j] = t_printf("rename to %s failed: %s", it->new_path,
					       strerror(errno));
			continue;
		}
		it->published = true;
		it->d->failed = true; /* no longer under tmp_path */
		if (store_index_message_add(user->index, mb.id, it->filename, it->d->wire_size,
					    maildir_delivery_date(it->d),
					    maildir_delivery_flags(it->d), &uids_r[j],
					    &errors_r[j]) < 0 ||
		    maildir_delivery_index_checkpoints(it->d, user->index, mb.id,
						       uids_r[j], &errors_r[j]) < 0 ||
		    store_index_mailbox_set_new_mtime(user->index, mb.id, new_mtime,
						      maildir_dir_mtime(it->new_dir),
						      &errors_r[j]) < 0) {
			maildir_delivery_unpublish(it->new_path, it->new_dir);
			it->published = false;
			continue;
		}
		results_r[j] = 0;
	}
	if (store_index_commit(user->index, &error) < 0) {
		for (unsigned j = first; j < n; j++) {
			if (!in_group[j] || !items[j].published)
				continue;
			maildir_delivery_unpublish(items[j].new_path, items[j].new_dir);
			items[j].published = false;
			results_r[j] = -1;
			errors_r[j] = error;
		}
	}
}

int maildir_delivery_commit_group(struct store *store, struct store_delivery **ds,
				  unsigned n, bool wait, uint32_t *uids_r,
				  int *results_r, const char **errors_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct group_item *items = xcalloc(n + 1, sizeof(*items));
	/* results_r: 1 = still to do, 0 = committed, -1 = failed,
	 * 2 = user locked elsewhere (wait == false): left in ds[i] */
	for (unsigned i = 0; i < n; i++) {
		items[i].d = (struct maildir_delivery *)ds[i];
		uids_r[i] = 0;
		errors_r[i] = NULL;
		results_r[i] = group_prepare(&items[i], &errors_r[i]) < 0 ? -1 : 1;
	}
	for (unsigned i = 0; i < n; i++) {
		if (results_r[i] == 1)
			group_commit_user(s, items, i, n, wait, uids_r, results_r,
					  errors_r);
	}
	/* every new/ that received a file, fsync'd once */
	for (unsigned i = 0; i < n; i++) {
		if (results_r[i] != 0)
			continue;
		bool seen = false;
		for (unsigned j = 0; j < i && !seen; j++)
			seen = results_r[j] == 0 && strcmp(items[j].new_dir, items[i].new_dir) == 0;
		if (seen)
			continue;
		if (fileio_fsync_dir(items[i].new_dir) < 0) {
			/* committed but maybe not durable: report failure */
			const char *error = t_printf("fsync of %s failed: %s", items[i].new_dir,
						     strerror(errno));
			for (unsigned j = i; j < n; j++) {
				if (results_r[j] == 0 && strcmp(items[j].new_dir, items[i].new_dir) == 0) {
					results_r[j] = -1;
					errors_r[j] = error;
				}
			}
		}
	}
	int ret = 0;
	for (unsigned i = 0; i < n; i++) {
		struct maildir_delivery *d = items[i].d;
		if (results_r[i] == 2) {
			results_r[i] = 1;
			continue;
		}
		const char *user = t_printf("%s@%s", d->addr.local, d->addr.domain);
		if (results_r[i] == 0) {
			log_info("event=store_delivered user=%s mailbox=%s uid=%u size=%llu group=%u",
				 log_str(user), log_str(d->mailbox), uids_r[i],
				 (unsigned long long)d->wire_size, n);
			store_notify_changed(user, d->mailbox, 0);
		} else {
			ret = -1;
			log_error("event=store_delivery_failed user=%s mailbox=%s error=%s",
				  log_str(user), log_str(d->mailbox), log_str(errors_r[i]));
			maildir_delivery_discard(d);
		}
		maildir_delivery_free(d);
		ds[i] = NULL;
	}
	free(items);
	return ret;
}
