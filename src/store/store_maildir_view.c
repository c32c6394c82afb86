/* store_maildir_view.c: the maildir-sqlite side of mailbox views
 * (store_view.h, store_private.h): reading changes since a MODSEQ in
 * one snapshot, mailbox status, opening a message by UID, flag changes (index first,
 * committed, then the file's ":2," suffix, store_maildir_flags.c).
 * Each call retries once on a rebuilt index when SQLite reports damage,
 * as the other reads of store_maildir.c do. */
#include "store_watch.h"
#include "store/store_maildir.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int maildir_mailbox_get_read(struct maildir_store *s,
			     const struct store_address *addr, const char *mailbox,
			     struct maildir_user **user_r,
			     struct store_index_mailbox *mb_r, bool *began_r,
			     const char **error_r)
{
	*began_r = false;
	if (maildir_user_get(s, addr, false, user_r, error_r) < 0)
		return -1;
	struct store_index *idx = (*user_r)->index;
	if (store_index_autocommit(idx)) {
		if (store_index_read_begin(idx, error_r) < 0)
			return -1;
		*began_r = true;
	}
	int ret = store_index_mailbox_lookup(idx, mailbox, mb_r, error_r);
	if (ret > 0)
		return 0;
	if (ret == 0)
		*error_r = t_printf("no such mailbox %s", log_str(mailbox));
	maildir_read_end(*user_r, *began_r);
	*began_r = false;
	return -1;
}

void maildir_read_end(struct maildir_user *user, bool began)
{
	if (began)
		store_index_read_end(user->index);
}

static int view_read_once(struct maildir_store *s,
			  const struct store_address *addr, const char *mailbox,
			  uint64_t since, pool_t *pool,
			  struct store_view_delta *delta_r,
			  struct maildir_user **user_r, const char **error_r)
{
	struct store_index_mailbox mb;
	bool began;
	memset(delta_r, 0, sizeof(*delta_r));
	/* the lookup inside the snapshot: the numbers must match the rows */
	if (maildir_mailbox_get_read(s, addr, mailbox, user_r, &mb, &began,
				     error_r) < 0)
		return -1;
	struct store_index *idx = (*user_r)->index;
	int ret = store_index_changes_since(idx, mb.id, since, pool,
					    &delta_r->rows, &delta_r->row_count,
					    error_r);
	if (ret == 0 && since > 0)
		ret = store_index_expunges_since(idx, mb.id, since, pool,
						 &delta_r->expunged,
						 &delta_r->expunged_count, error_r);
	if (ret == 0 && since > 0)
		ret = store_index_expunge_horizon(idx, mb.id, &delta_r->expunge_horizon,
						  error_r);
	maildir_read_end(*user_r, began);
	delta_r->uidvalidity = mb.uidvalidity;
	delta_r->uidnext = mb.uidnext;
	delta_r->highestmodseq = mb.highestmodseq;
	return ret;
}

int maildir_view_read(struct store *store, const struct store_address *addr,
		      const char *mailbox, uint64_t since, pool_t *pool,
		      struct store_view_delta *delta_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		int ret = view_read_once(s, addr, mailbox, since, pool, delta_r,
					 &user, error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}

struct store_message_reader *
maildir_message_open(struct store *store, const struct store_address *addr,
		     const char *mailbox, uint32_t uid, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	struct store_index_message msg;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, &user, &mb, &began,
				     error_r) < 0)
		return NULL;
	pool_t *pool = pool_create(1024);
	int ret = store_index_message_get(user->index, mb.id, uid, pool, &msg,
					  error_r);
	if (ret <= 0) {
		maildir_read_end(user, began);
		if (ret == 0)
			*error_r = t_printf("message uid %u is expunged", uid);
		(void)maildir_user_damaged(s, user);
		pool_destroy(&pool);
		return NULL;
	}
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	int fd = -1;
	/* a reader may rename it between our look and the open: twice */
	for (unsigned attempt = 0; attempt < 2 && fd < 0; attempt++) {
		const char *rel = maildir_message_locate(folder, msg.filename,
							 msg.sysflags, pool);
		if (rel == NULL)
			break;
		fd = open(t_printf("%s/%s", folder, rel),
			  O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 && errno != ENOENT) {
			*error_r = t_printf("opening %s/%s failed: %s", folder, rel,
					    strerror(errno));
			maildir_read_end(user, began);
			pool_destroy(&pool);
			return NULL;
		}
	}
	void *ckpt = NULL;
	size_t ckpt_len = 0;
	if (fd >= 0 && store_index_message_checkpoints(user->index, mb.id, uid,
						       pool, &ckpt, &ckpt_len,
						       error_r) < 0) {
		/* without them a seek converts from the start */
		ckpt = NULL;
		ckpt_len = 0;
	}
	maildir_read_end(user, began);
	struct store_message_reader *r = NULL;
	if (fd >= 0) {
		r = store_message_reader_fd(fd);
		store_message_reader_set_info(r, msg.size, ckpt, ckpt_len);
	}
	pool_destroy(&pool);
	if (r == NULL)
		*error_r = t_printf("message uid %u: file is gone", uid);
	return r;
}

static int mailbox_status_once(struct maildir_store *s,
			       const struct store_address *addr,
			       const char *mailbox,
			       struct store_mailbox_status *status_r,
			       struct maildir_user **user_r, const char **error_r)
{
	struct store_index_mailbox mb;
	bool began;
	if (maildir_mailbox_get_read(s, addr, mailbox, user_r, &mb, &began,
				     error_r) < 0)
		return -1;
	status_r->uidvalidity = mb.uidvalidity;
	status_r->uidnext = mb.uidnext;
	status_r->highestmodseq = mb.highestmodseq;
	int ret = store_index_mailbox_counters((*user_r)->index, mb.id, status_r,
					       error_r);
	maildir_read_end(*user_r, began);
	return ret;
}

/* STATUS from the counters (store_index_view.c); a retry as above. */
int maildir_mailbox_status(struct store *store,
				  const struct store_address *addr,
				  const char *mailbox,
				  struct store_mailbox_status *status_r,
				  const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	for (unsigned attempt = 0;; attempt++) {
		struct maildir_user *user = NULL;
		int ret = mailbox_status_once(s, addr, mailbox, status_r, &user,
					      error_r);
		if (ret == 0 || attempt > 0 || !maildir_user_damaged(s, user))
			return ret;
	}
}

/* A committed change whose file is to be renamed. */
struct flags_rename {
	const char *filename;
	unsigned old_sysflags, sysflags;
};

/* Under the write lock: the index side of maildir_set_flags(). */
static int set_flags_index(struct store_index *idx, int64_t mailbox_id,
			   const uint32_t *uids, unsigned count,
			   const struct store_flags_update *update, pool_t *pool,
			   struct flags_rename *renames, unsigned *rename_count_r,
			   uint32_t *modified, unsigned *modified_count_r,
			   struct store_view_flag_change *results,
			   unsigned *result_count_r, const char **error_r)
{
	unsigned rename_count = 0, modified_count = 0, result_count = 0;
	for (unsigned i = 0; i < count; i++) {
		struct store_index_message msg;
		int ret = store_index_message_get(idx, mailbox_id, uids[i], pool,
						  &msg, error_r);
		if (ret < 0)
			return -1;
		if (ret == 0)
			continue;
		struct store_view_flag_change *res =
			results != NULL ? &results[result_count++] : NULL;
		if (res != NULL) {
			/* as it is, unless changed below */
			res->uid = uids[i];
			res->modseq = msg.modseq;
			res->sysflags = msg.sysflags;
			res->flags = msg.flags;
		}
		if (update->unchangedsince != 0 &&
		    msg.modseq > update->unchangedsince) {
			modified[modified_count++] = uids[i];
			continue;
		}
		const char *flags = store_flags_text_apply(msg.flags, update, pool);
		if (strcmp(flags, msg.flags) == 0)
			continue; /* no change, no new MODSEQ */
		unsigned sysflags = store_flags_text_bits(flags);
		uint64_t modseq;
		if (store_index_message_set_flags(idx, mailbox_id, uids[i], flags,
						  sysflags, &modseq, error_r) < 0)
			return -1;
		if (res != NULL) {
			res->modseq = modseq;
			res->sysflags = sysflags;
			res->flags = flags;
		}
		if (sysflags != msg.sysflags) {
			renames[rename_count].filename = msg.filename;
			renames[rename_count].old_sysflags = msg.sysflags;
			renames[rename_count++].sysflags = sysflags;
		}
	}
	for (unsigned i = 0; update->op != STORE_FLAGS_REMOVE &&
		     i < update->keyword_count; i++) {
		if (store_index_keyword_add(idx, mailbox_id, update->keywords[i],
					    error_r) < 0)
			return -1;
	}
	*rename_count_r = rename_count;
	*modified_count_r = modified_count;
	*result_count_r = result_count;
	return 0;
}

/* Take the user's index lock and look the view's mailbox up under it:
 * it may have been deleted or rebuilt (a new UIDVALIDITY) meanwhile.
 * 0 with the lock held, -1 without it. */
static int view_mailbox_lock(struct maildir_store *s,
			     const struct store_address *addr,
			     const char *mailbox, uint32_t uidvalidity,
			     struct maildir_user **user_r,
			     struct store_index_mailbox *mb_r, const char **error_r)
{
	if (maildir_mailbox_get(s, addr, mailbox, false, user_r, mb_r, error_r) < 0 ||
	    store_index_begin((*user_r)->index, error_r) < 0)
		return -1;
	int ret = store_index_mailbox_lookup((*user_r)->index, mailbox, mb_r,
					     error_r);
	if (ret > 0 && mb_r->uidvalidity == uidvalidity)
		return 0;
	if (ret >= 0)
		*error_r = t_printf("mailbox %s is gone or has a new UIDVALIDITY",
				    log_str(mailbox));
	store_index_rollback((*user_r)->index);
	(void)maildir_user_damaged(s, *user_r);
	return -1;
}

int maildir_set_flags(struct store *store, const struct store_address *addr,
		      const char *mailbox, uint32_t uidvalidity,
		      const uint32_t *uids, unsigned count,
		      const struct store_flags_update *update, pool_t *pool,
		      uint32_t **modified_r, unsigned *modified_count_r,
		      struct store_view_flag_change **results_r,
		      unsigned *result_count_r, const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	*modified_r = pool_alloc(pool, (count + 1) * sizeof(uint32_t));
	*modified_count_r = 0;
	struct store_view_flag_change *results = NULL;
	unsigned result_count = 0;
	if (results_r != NULL) {
		*results_r = results = pool_alloc(pool, (count + 1) * sizeof(*results));
		*result_count_r = 0;
	}
	if (view_mailbox_lock(s, addr, mailbox, uidvalidity, &user, &mb,
			      error_r) < 0)
		return -1;
	pool_t *scratch = pool_create(16384);
	struct flags_rename *renames =
		pool_alloc(scratch, (count + 1) * sizeof(*renames));
	unsigned rename_count = 0;
	if (set_flags_index(user->index, mb.id, uids, count, update, scratch,
			    renames, &rename_count, *modified_r, modified_count_r,
			    results, &result_count, error_r) < 0) {
		store_index_rollback(user->index);
		pool_destroy(&scratch);
		(void)maildir_user_damaged(s, user);
		return -1;
	}
	if (store_index_commit(user->index, error_r) < 0) {
		pool_destroy(&scratch);
		return -1;
	}
	for (unsigned i = 0; i < result_count; i++)
		results[i].flags = pool_strdup(pool, results[i].flags);
	if (results_r != NULL)
		*result_count_r = result_count;
	/* other sessions, in any worker, see the flag change (IDLE) */
	if (count > *modified_count_r)
		store_notify_changed(t_printf("%s@%s", addr->local, addr->domain),
				     mailbox, 0);
	const char *folder = maildir_folder_dir(user->dir, mailbox);
	for (unsigned i = 0; i < rename_count; i++)
		maildir_message_rename_flags(folder, renames[i].filename,
					     renames[i].old_sysflags,
					     renames[i].sysflags, scratch);
	log_debug("event=store_set_flags mailbox=%s messages=%u renamed=%u "
		  "refused=%u", log_str(mailbox), count, rename_count,
		  *modified_count_r);
	pool_destroy(&scratch);
	return 0;
}

int maildir_claim_recent(struct store *store, const struct store_address *addr,
			 const char *mailbox, uint32_t uidvalidity,
			 uint32_t uidnext, uint32_t *first_r,
			 const char **error_r)
{
	struct maildir_store *s = (struct maildir_store *)store;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	if (view_mailbox_lock(s, addr, mailbox, uidvalidity, &user, &mb,
			      error_r) < 0)
		return -1;
	int ret = store_index_claim_recent(user->index, mb.id, uidnext, first_r,
					   error_r);
	if (ret < 0) {
		store_index_rollback(user->index);
		(void)maildir_user_damaged(s, user);
		return -1;
	}
	return store_index_commit(user->index, error_r);
}
