/* store_private.h: the backend table behind store.h.
 *
 * A backend is store_<impl>.c exporting one const struct store_backend.
 * store.c validates addresses and mailbox names before calling it, so
 * backends receive only a parsed struct store_address and a canonical
 * mailbox name. A backend's handle embeds struct store as its first member,
 * and its delivery embeds struct store_delivery likewise. */
#ifndef POSTEL_STORE_PRIVATE_H
#define POSTEL_STORE_PRIVATE_H

#include <stdbool.h>

#include "store/store.h"
#include "store/store_view.h"

/* What a view reads from its backend, in one consistent snapshot:
 * the mailbox's numbers, every message whose MODSEQ is above since (all
 * of them for since 0, with their uid only), in UID order, and the UIDs
 * expunged above since (none for since 0). Arrays in the caller's pool. */
struct store_view_delta {
	uint32_t uidvalidity, uidnext;
	uint64_t highestmodseq;
	struct store_view_flag_change *rows;
	unsigned row_count;
	uint32_t *expunged;
	unsigned expunged_count;
	/* since > 0: the expunge log's horizon (store_index.h); the
	 * expunges above since are complete iff since >= horizon */
	uint64_t expunge_horizon;
};

struct store_backend {
	const char *name;
	int (*open)(const char *data_dir, struct store **store_r,
		    const char **error_r);
	/* keep: what the handle had open may serve the next handle */
	void (*close)(struct store *store, bool keep);
	int (*user_create)(struct store *store,
			   const struct store_address *addr,
			   const char **error_r);
	int (*mailbox_create)(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox, const char **error_r);
	int (*mailbox_status)(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox,
			      struct store_mailbox_status *status_r,
			      const char **error_r);
	int (*mailbox_list_messages)(struct store *store,
				     const struct store_address *addr,
				     const char *mailbox, pool_t *pool,
				     struct store_message_info **messages_r,
				     unsigned *count_r, const char **error_r);
	struct store_delivery *(*delivery_begin)(
		struct store *store, const struct store_address *addr,
		const char *mailbox, const char **error_r);
	int (*delivery_write)(struct store_delivery *d, const void *data,
			      size_t len, const char **error_r);
	int (*delivery_write_fd)(struct store_delivery *d, int fd,
				 uint64_t offset, uint64_t len,
				 const char **error_r);
	int (*delivery_sync)(struct store_delivery *d, const char **error_r);
	/* must free d, on success and on failure */
	int (*delivery_commit)(struct store_delivery *d, uint32_t *uid_r,
			       const char **error_r);
	/* must free d */
	void (*delivery_abort)(struct store_delivery *d);
	/* must free every ds[i] and set it to NULL, except (wait false)
	 * those of users whose index lock is held elsewhere: results_r 1 */
	int (*delivery_commit_group)(struct store *store, struct store_delivery **ds,
				     unsigned n, bool wait, uint32_t *uids_r,
				     int *results_r, const char **errors_r);
	/* all or nothing, one mailbox (store.h); must free every ds[i] */
	int (*delivery_commit_multi)(struct store *store, struct store_delivery **ds,
				     unsigned n, uint32_t *uids_r, const char **error_r);
	int (*mailbox_lock)(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, int *fd_r,
			    const char **error_r);
	int (*mailbox_expunge)(struct store *store,
			       const struct store_address *addr,
			       const char *mailbox, const uint32_t *uids,
			       unsigned count, unsigned *expunged_r,
			       const char **error_r);
	/* flags: a flag text (store_flags.c) */
	int (*delivery_set_meta)(struct store_delivery *d, const char *flags,
				 time_t internaldate, const char **error_r);
	/* the importer (store_view.h) */
	int (*delivery_set_uid)(struct store_delivery *d, uint32_t uid,
				const char **error_r);
	int (*mailbox_import)(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox,
			      const struct store_import_meta *meta,
			      const char **error_r);
	/* mailbox views (store_view.c) */
	int (*view_read)(struct store *store, const struct store_address *addr,
			 const char *mailbox, uint64_t since, pool_t *pool,
			 struct store_view_delta *delta_r, const char **error_r);
	/* SELECT's facts (store_view_select_info(): first_unseen_uid is a
	 * UID below `below`; pool) without a read of every message */
	int (*view_select_info)(struct store *store,
				const struct store_address *addr,
				const char *mailbox, uint32_t below,
				unsigned max_keywords, pool_t *pool,
				struct store_view_select_info *info_r,
				const char **error_r);
	/* the UIDs the expunge log holds above since (pool), without a
	 * read of message rows (store_view_expunge_pending()); *forgotten_r
	 * true when since is below the log's horizon (some may be missing) */
	int (*view_expunged)(struct store *store, const struct store_address *addr,
			     const char *mailbox, uint64_t since, pool_t *pool,
			     uint32_t **uids_r, unsigned *count_r, bool *forgotten_r,
			     const char **error_r);
	/* UIDs below `below` with \Deleted, ascending (pool) */
	int (*mailbox_deleted)(struct store *store,
			       const struct store_address *addr,
			       const char *mailbox, uint32_t below, pool_t *pool,
			       uint32_t **uids_r, unsigned *count_r,
			       const char **error_r);
	/* the rows of these UIDs (ascending) still there, in UID order */
	int (*messages_get)(struct store *store, const struct store_address *addr,
			    const char *mailbox, const uint32_t *uids,
			    unsigned count, pool_t *pool,
			    struct store_message_info **messages_r,
			    unsigned *count_r, const char **error_r);
	struct store_message_reader *(*message_open)(
		struct store *store, const struct store_address *addr,
		const char *mailbox, uint32_t uid, const char **error_r);
	/* the MIME structure cache (store_structure.c): the blob (pool;
	 * NULL if not computed) and wire size; 1 found, 0 no such message */
	int (*message_structure)(struct store *store,
				 const struct store_address *addr,
				 const char *mailbox, uint32_t uid, pool_t *pool,
				 void **blob_r, size_t *len_r, uint64_t *size_r,
				 const char **error_r);
	/* best effort: 1 stored, 0 index busy (not stored), -1 error */
	int (*message_set_structure)(struct store *store,
				     const struct store_address *addr,
				     const char *mailbox, uint32_t uid,
				     const void *blob, size_t len,
				     const char **error_r);
	/* RFC 8970 PREVIEW cache (store_view.h): 1 found (*preview_r NULL
	 * if not computed; pool), 0 no such message; set: best effort as
	 * message_set_structure */
	int (*message_preview)(struct store *store,
			       const struct store_address *addr,
			       const char *mailbox, uint32_t uid, pool_t *pool,
			       const char **preview_r, const char **error_r);
	int (*message_set_preview)(struct store *store,
				   const struct store_address *addr,
				   const char *mailbox, uint32_t uid,
				   const char *preview, const char **error_r);
	/* schema 9 thread subject keys of old mail (store_thread_backfill.c):
	 * subject() gives a root's folded base subject (pool; NULL: not
	 * readable, skipped) */
	int (*thread_backfill)(struct store *store, const struct store_address *addr,
			       const char *mailbox,
			       const char *(*subject)(void *ctx, uint32_t uid, pool_t *pool),
			       void *ctx, const char **error_r);
	/* schema 9 hdr8bit and schema 10 dgsize learnt late (store_view.h):
	 * best effort as message_set_structure */
	int (*message_set_hdr_8bit)(struct store *store,
				    const struct store_address *addr,
				    const char *mailbox, uint32_t uid,
				    bool eight_bit, uint64_t dg_size, const char **error_r);
	/* schema 11 SORT keys (store_view_sortkeys()): get as there;
	 * set best effort as message_set_structure, one transaction */
	int (*messages_sortkeys)(struct store *store, const struct store_address *addr,
				 const char *mailbox, const uint32_t *uids, unsigned count,
				 pool_t *pool, struct store_blob **blobs_r,
				 const char **error_r);
	int (*messages_set_sortkeys)(struct store *store, const struct store_address *addr,
				     const char *mailbox, const uint32_t *uids,
				     const struct store_blob *blobs, unsigned count,
				     const char **error_r);
	/* raise first_recent_uid to uidnext, *first_r: its value before */
	int (*claim_recent)(struct store *store, const struct store_address *addr,
			    const char *mailbox, uint32_t uidvalidity,
			    uint32_t uidnext, uint32_t *first_r,
			    const char **error_r);
	/* mailbox management (store.h); names canonical */
	int (*mailbox_list)(struct store *store, const struct store_address *addr,
			    pool_t *pool, const char ***names_r,
			    unsigned *count_r, const char **error_r);
	int (*mailbox_delete)(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox, const char **error_r);
	int (*mailbox_rename)(struct store *store,
			      const struct store_address *addr,
			      const char *old_name, const char *new_name,
			      const char **error_r);
	int (*mailbox_subscribe)(struct store *store,
				 const struct store_address *addr,
				 const char *mailbox, bool on,
				 const char **error_r);
	int (*mailbox_subscriptions)(struct store *store,
				     const struct store_address *addr,
				     pool_t *pool, const char ***names_r,
				     unsigned *count_r, const char **error_r);
	/* dest canonical; uids ascending */
	int (*copy)(struct store *store, const struct store_address *addr,
		    const char *mailbox, uint32_t uidvalidity,
		    const uint32_t *uids, unsigned count, const char *dest,
		    bool move, pool_t *pool, struct store_copy_result *result_r,
		    const char **error_r);
	/* -1 if the mailbox's UIDVALIDITY is no longer uidvalidity */
	int (*set_flags)(struct store *store, const struct store_address *addr,
			 const char *mailbox, uint32_t uidvalidity,
			 const uint32_t *uids, unsigned count,
			 const struct store_flags_update *update, pool_t *pool,
			 uint32_t **modified_r, unsigned *modified_count_r,
			 struct store_view_flag_change **results_r,
			 unsigned *result_count_r, const char **error_r);
};

struct store {
	const struct store_backend *backend;
};

struct store_delivery {
	struct store *store;
};

extern const struct store_backend store_backend_maildir;

/* store.c: the address and mailbox name every per-mailbox call starts
 * with, checked; *name_r is canonical (a temp string). */
int store_target_parse(const char *address, const char *mailbox,
		       struct store_address *addr_r, const char **name_r,
		       const char **error_r);
/* store_mailbox_ops.c: the user's list of mailboxes or subscriptions
 * changed (store_watch.h STORE_WATCH_MAILBOX_LIST). */
void store_mailbox_list_changed(const struct store_address *addr);

/* store_read.c: a reader over an open message file with LF line endings
 * (takes fd, closes it with the reader). */
struct store_message_reader *store_message_reader_fd(int fd);
/* What the index knows of it: its wire size and its LF/CRLF checkpoint
 * blob (store_seek.h; NULL: none), copied. */
void store_message_reader_set_info(struct store_message_reader *r,
				   uint64_t wire_size, const void *ckpt,
				   size_t ckpt_len);

/* The counters behind store_stats_get() (store.h). */
enum store_stat {
	STORE_STAT_INDEX_OPENS,
	STORE_STAT_INTEGRITY_CHECKS,
	STORE_STAT_MAILDIR_SCANS,
	STORE_STAT_TMP_CLEANED,
	STORE_STAT_FOLDER_LISTS,
	STORE_STAT_LOCK_TIMEOUTS,
	STORE_STAT_COUNT
};
void store_stats_add(enum store_stat which, uint64_t n);
#define store_stats_count(which) store_stats_add(which, 1)

/* store_structure.c: store_view_message_structure() for any backend */
struct mime_tree;
int store_message_structure_get(struct store *store,
				const struct store_address *addr,
				const char *mailbox, uint32_t uid, pool_t *pool,
				struct mime_tree **tree_r, const char **error_r);

#endif
