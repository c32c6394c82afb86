/* store_maildir.h: internals shared by the maildir-sqlite backend files.
 *
 * Layout, readable by mutt and Dovecot (Maildir++):
 *   DATA_DIR/mail/DOMAIN/LOCAL/{cur,new,tmp}       INBOX
 *   DATA_DIR/mail/DOMAIN/LOCAL/.NAME/{cur,new,tmp} other mailboxes, with an
 *                                                  empty maildirfolder file
 *   DATA_DIR/mail/DOMAIN/LOCAL/postel-index.sqlite the index (store_index.h)
 * Mailbox "a/b" lives in ".a.b". store_maildir.c: handle, user cache,
 * folders, listing; store_maildir_delivery.c: deliveries;
 * store_maildir_sync.c: reconciling the index with the files;
 * store_maildir_group.c: group commit; store_maildir_tmp.c: removing
 * stale files from tmp/. */
#ifndef POSTEL_STORE_MAILDIR_H
#define POSTEL_STORE_MAILDIR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "store/store_private.h"
#include "store/store_index.h"

/* Open users kept per store handle; each holds one SQLite connection. */
#define MAILDIR_USER_CACHE_MAX 16
/* Open users parked per process between handles (store_maildir_park.c). */
#define MAILDIR_PARK_MAX 32

struct maildir_user {
	struct maildir_user *next;
	char *key;        /* local@domain, lower-cased */
	char *dir;        /* DATA_DIR/mail/DOMAIN/LOCAL */
	char *index_path;
	struct store_index *index;
	dev_t index_dev;  /* to notice another process replacing the file */
	ino_t index_ino;
};

struct maildir_store {
	struct store store;
	char *mail_dir;  /* DATA_DIR/mail */
	char *hostname;  /* for file names: '/', ':' and ',' escaped */
	unsigned delivery_seq;
	struct maildir_user *users; /* most recently used first */
	unsigned user_count;
};

/* One message file found on disk. */
struct maildir_file {
	const char *base;    /* name without ":2,..." */
	const char *relpath; /* "new/NAME" or "cur/NAME:2,FLAGS" */
};

/* The mailboxes every user has, besides INBOX. */
extern const char *const maildir_default_mailboxes[];
extern const unsigned maildir_default_mailbox_count;

/* The folder directory of a canonical mailbox name (temp string). */
const char *maildir_folder_dir(const char *user_dir, const char *mailbox);

/* Files in folder/new (and folder/cur if with_cur), sorted by base name,
 * one per base. A missing folder is an error; a missing new/ or cur/ is
 * not. */
int maildir_folder_scan(const char *folder_dir, bool with_cur, pool_t *pool,
			struct maildir_file **files_r, unsigned *count_r,
			const char **error_r);
const struct maildir_file *
maildir_file_find(const struct maildir_file *files, unsigned count,
		  const char *base);

void maildir_user_destroy(struct maildir_user **user);

/* store_maildir_park.c: idle open users handed between the handles of
 * this process. put takes ownership; take gives it back (NULL if none
 * is parked for that user directory). */
void maildir_park_handle_opened(void);
void maildir_park_handle_closed(void);
void maildir_park_put(struct maildir_user *user);
struct maildir_user *maildir_park_take(const char *dir);

/* Find or open a user. create: make missing folders first (delivery,
 * user creation); otherwise a user without a directory is an error.
 * The result is valid until the next call on this store handle. */
int maildir_user_get(struct maildir_store *s, const struct store_address *addr,
		     bool create, struct maildir_user **user_r,
		     const char **error_r);
/* store_maildir_view.c: maildir_mailbox_get() (no user created) with the lookup and what the
 * caller reads next in one read transaction of the index: one WAL
 * snapshot and one round of SQLite's file locks instead of one per
 * statement (fcntl() was a third of a FETCH's system calls). *began_r
 * says whether it opened one (not when a transaction was already open);
 * maildir_read_end() ends it. On failure nothing is left open. */
int maildir_mailbox_get_read(struct maildir_store *s,
			     const struct store_address *addr, const char *mailbox,
			     struct maildir_user **user_r,
			     struct store_index_mailbox *mb_r, bool *began_r,
			     const char **error_r);
void maildir_read_end(struct maildir_user *user, bool began);
/* maildir_user_get() and the mailbox's index row; a missing mailbox is an
 * error. */
int maildir_mailbox_get(struct maildir_store *s,
			const struct store_address *addr, const char *mailbox,
			bool create_user, struct maildir_user **user_r,
			struct store_index_mailbox *mb_r, const char **error_r);

/* After a failed operation on user: if SQLite reported damage, set the
 * index aside now (a short-lived handle would forget it) and drop the
 * user from the cache, so the next get rebuilds it. True if it did;
 * user is then freed. NULL is allowed. */
/* Drop user from this handle's cache (not parked): the next access
 * reopens and syncs it, finishing its intents. user is freed. */
void maildir_user_forget(struct maildir_store *s, struct maildir_user *user);
bool maildir_user_damaged(struct maildir_store *s, struct maildir_user *user);

/* store_maildir_delivery.c, store_maildir_group.c */
struct store_delivery *
maildir_delivery_begin(struct store *store, const struct store_address *addr,
		       const char *mailbox, const char **error_r);
int maildir_delivery_write(struct store_delivery *d, const void *data,
			   size_t len, const char **error_r);
int maildir_delivery_write_fd(struct store_delivery *d, int fd,
			      uint64_t offset, uint64_t len,
			      const char **error_r);
int maildir_delivery_sync(struct store_delivery *d, const char **error_r);
int maildir_delivery_commit(struct store_delivery *d, uint32_t *uid_r,
			    const char **error_r);
void maildir_delivery_abort(struct store_delivery *d);
int maildir_delivery_set_meta(struct store_delivery *d, const char *flags,
			      time_t internaldate, const char **error_r);
int maildir_delivery_set_uid(struct store_delivery *d, uint32_t uid,
			     const char **error_r);
/* store_maildir_import.c */
int maildir_mailbox_import(struct store *store,
			   const struct store_address *addr,
			   const char *mailbox,
			   const struct store_import_meta *meta,
			   const char **error_r);
int maildir_delivery_commit_group(struct store *store, struct store_delivery **ds,
				  unsigned n, bool wait, uint32_t *uids_r,
				  int *results_r, const char **errors_r);
/* store_maildir_multi.c */
int maildir_delivery_commit_multi(struct store *store, struct store_delivery **ds,
				  unsigned n, uint32_t *uids_r, const char **error_r);
/* A crashed multi commit's leftovers in the folder, under the index lock
 * before a scan of new/ (full: a rebuilt index, whose rows prove
 * nothing: only the markers go). */
int maildir_multi_recover(struct store_index *index, int64_t mailbox_id,
			  const char *folder_dir, bool full, const char **error_r);

/* store_maildir_expunge.c */
int maildir_mailbox_lock(struct store *store, const struct store_address *addr,
			 const char *mailbox, int *fd_r, const char **error_r);
int maildir_mailbox_expunge(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, const uint32_t *uids,
			    unsigned count, unsigned *expunged_r,
			    const char **error_r);
/* store_maildir_intent.c: durable intents USER/KIND.PID.N (see there) */
enum maildir_intent_kind {
	MAILDIR_INTENT_RENAME,
	MAILDIR_INTENT_EXPUNGE,
	MAILDIR_INTENT_COPY,
};
struct maildir_intent {
	struct maildir_intent *next;
	const char *name; /* in the user directory (a mailbox in a changed list) */
	enum maildir_intent_kind kind;
	bool keep; /* its recovery could not finish: not removed */
};
/* The intents a readdir of the user directory found (in a pool). */
struct maildir_intents {
	struct maildir_intent *head;
};
/* The kind of an entry of the user directory, -1 if not an intent. */
int maildir_intent_kind(const char *name);
void maildir_intents_add(struct maildir_intents *in, pool_t *pool,
			 const char *name, enum maildir_intent_kind kind);
/* The length of an intent's first line "MAGIC 1 UIDVALIDITY\n", its
 * UIDVALIDITY in *uidvalidity_r; 0 if data does not begin so. */
size_t maildir_intent_header(const char *data, const char *magic,
			     uint32_t *uidvalidity_r);
/* Under the index lock, before what it names happens: write lines (each
 * ending in '\n') as a new durable intent; *path_r (t_printf'd) to
 * unlink once the operation is done. */
int maildir_intent_write(const char *user_dir, enum maildir_intent_kind kind,
			 uint32_t uidvalidity, const str_t *lines,
			 const char **path_r, const char **error_r);
/* 1 with the lines (pool), 0 if absent or torn. */
int maildir_intent_read(const char *user_dir, const struct maildir_intent *it,
			pool_t *pool, uint32_t *uidvalidity_r, char **lines_r,
			const char **error_r);
/* Under the index lock, the mailboxes' rows there: finish the expunges
 * and copies of in; changed_r lists the mailboxes whose rows went (to
 * notify after the commit). One whose file could not be unlinked is
 * logged and marked keep, its mailboxes listed in kept_r (not to be
 * scanned); -1 only on an index error. */
int maildir_intents_recover(struct maildir_user *user,
			    struct maildir_intents *in, pool_t *pool,
			    struct maildir_intents *changed_r,
			    struct maildir_intents *kept_r, const char **error_r);
/* After the commit: remove the intents (finished or stale), not the
 * ones marked keep. */
void maildir_intents_remove(const char *user_dir,
			    const struct maildir_intents *in);

/* store_maildir_expunge.c: an expunge intent's lines ("MAILBOX\n" then a
 * UID a line): expunge the rows still there (expunge log, MODSEQ);
 * *mailbox_r set if any went. 1 if a file could not be unlinked (error_r;
 * the rows of those unlinked went), 0 done or nothing to do. */
int maildir_expunge_recover(struct maildir_user *user, uint32_t uidvalidity,
			    char *lines, pool_t *pool, const char **mailbox_r,
			    const char **error_r);
/* During a scan of mailbox: finish or drop the previous build's
 * FOLDER/postel-expunge (store_maildir_expunge.c); -1 on an index error. */
int maildir_expunge_legacy(struct maildir_user *user, const char *mailbox,
			   const char *folder, pool_t *pool, const char **error_r);
/* store_maildir_copy.c: a copy intent's lines: unlink each file it names
 * that no row of its mailbox names. 1 if one could not be unlinked
 * (error_r), 0 done or nothing to do (a mailbox or folder gone). */
int maildir_copy_recover(struct maildir_user *user, char *lines, pool_t *pool,
			 const char **error_r);

/* store_maildir_rename.c: a RENAME's intent, finished after a crash.
 * Under the index lock, before any folder moves: the durable intent
 * USER/postel-rename.PID.N; *path_r (t_printf'd) to unlink once the
 * rename committed or failed. */
int maildir_rename_intent_write(const char *user_dir, uint32_t uidvalidity,
				const char *old_name, const char *new_name,
				const char **path_r, const char **error_r);
/* Under the index lock, before folders get rows: finish the renames a
 * crash interrupted (the rename intents of in); *changed_r if a folder
 * or row moved. */
int maildir_rename_recover(struct maildir_user *user,
			   const struct maildir_intents *in, bool *changed_r,
			   const char **error_r);

/* store_maildir_view.c: mailbox views and status (store_private.h) */
int maildir_mailbox_status(struct store *store, const struct store_address *addr,
			   const char *mailbox,
			   struct store_mailbox_status *status_r,
			   const char **error_r);
int maildir_view_read(struct store *store, const struct store_address *addr,
		      const char *mailbox, uint64_t since, pool_t *pool,
		      struct store_view_delta *delta_r, const char **error_r);
struct store_message_reader *
maildir_message_open(struct store *store, const struct store_address *addr,
		     const char *mailbox, uint32_t uid, const char **error_r);
/* store_maildir.c: an index row as the seam's message info (flags
 * copied to pool; lost false). */
void maildir_message_info(pool_t *pool, const struct store_index_message *row,
			  struct store_message_info *info_r);
/* store_maildir_select.c (store_private.h) */
int maildir_view_select_info(struct store *store,
			     const struct store_address *addr,
			     const char *mailbox, uint32_t below,
			     unsigned max_keywords, pool_t *pool,
			     struct store_view_select_info *info_r,
			     const char **error_r);
/* store_maildir_expunged.c */
int maildir_view_expunged(struct store *store, const struct store_address *addr,
			  const char *mailbox, uint64_t since, pool_t *pool,
			  uint32_t **uids_r, unsigned *count_r, bool *forgotten_r,
			  const char **error_r);
int maildir_mailbox_deleted(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, uint32_t below, pool_t *pool,
			    uint32_t **uids_r, unsigned *count_r,
			    const char **error_r);
int maildir_messages_get(struct store *store, const struct store_address *addr,
			 const char *mailbox, const uint32_t *uids,
			 unsigned count, pool_t *pool,
			 struct store_message_info **messages_r,
			 unsigned *count_r, const char **error_r);
/* store_maildir_structure.c; maildir_cache_write(): write(ctx) in a
 * cache transaction (store_index_begin_cache()) if the lock is free:
 * 1 written, 0 busy (nothing written), -1 error */
typedef int maildir_cache_write_fn(struct store_index *idx, int64_t mailbox_id,
				   uint32_t uid, const void *ctx,
				   const char **error_r);
int maildir_cache_write(struct store *store, const struct store_address *addr,
			const char *mailbox, uint32_t uid,
			maildir_cache_write_fn *write, const void *ctx,
			const char **error_r);
int maildir_message_structure(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox, uint32_t uid, pool_t *pool,
			      void **blob_r, size_t *len_r, uint64_t *size_r,
			      const char **error_r);
int maildir_message_set_structure(struct store *store,
				  const struct store_address *addr,
				  const char *mailbox, uint32_t uid,
				  const void *blob, size_t len,
				  const char **error_r);
int maildir_message_set_hdr_8bit(struct store *store, const struct store_address *addr,
				 const char *mailbox, uint32_t uid, bool eight_bit,
				 uint64_t dg_size, const char **error_r);
/* store_maildir_sortkeys.c */
int maildir_messages_sortkeys(struct store *store, const struct store_address *addr,
			      const char *mailbox, const uint32_t *uids, unsigned count,
			      pool_t *pool, struct store_blob **blobs_r, const char **error_r);
int maildir_messages_set_sortkeys(struct store *store, const struct store_address *addr,
				  const char *mailbox, const uint32_t *uids,
				  const struct store_blob *blobs, unsigned count,
				  const char **error_r);
int maildir_thread_backfill(struct store *store, const struct store_address *addr,
			    const char *mailbox,
			    const char *(*subject)(void *ctx, uint32_t uid, pool_t *pool),
			    void *ctx, const char **error_r);
/* store_maildir_objectid.c */
int maildir_message_preview(struct store *store,
			    const struct store_address *addr,
			    const char *mailbox, uint32_t uid, pool_t *pool,
			    const char **preview_r, const char **error_r);
int maildir_message_set_preview(struct store *store,
				const struct store_address *addr,
				const char *mailbox, uint32_t uid,
				const char *preview, const char **error_r);
int maildir_claim_recent(struct store *store, const struct store_address *addr,
			 const char *mailbox, uint32_t uidvalidity,
			 uint32_t uidnext, uint32_t *first_r,
			 const char **error_r);
int maildir_set_flags(struct store *store, const struct store_address *addr,
		      const char *mailbox, uint32_t uidvalidity,
		      const uint32_t *uids, unsigned count,
		      const struct store_flags_update *update, pool_t *pool,
		      uint32_t **modified_r, unsigned *modified_count_r,
		      struct store_view_flag_change **results_r,
		      unsigned *result_count_r, const char **error_r);

/* A Maildir folder: DIR/{cur,new,tmp}, plus the maildirfolder file if a
 * subfolder; durable (store_maildir.c). */
int maildir_folder_create(const char *dir, bool subfolder, const char **error_r);

/* store_maildir_mailbox.c: mailbox management (store.h) */
int maildir_mailbox_list(struct store *store, const struct store_address *addr,
			 pool_t *pool, const char ***names_r, unsigned *count_r,
			 const char **error_r);
int maildir_mailbox_delete(struct store *store, const struct store_address *addr,
			   const char *mailbox, const char **error_r);
int maildir_mailbox_rename(struct store *store, const struct store_address *addr,
			   const char *old_name, const char *new_name,
			   const char **error_r);
int maildir_mailbox_subscribe(struct store *store,
			      const struct store_address *addr,
			      const char *mailbox, bool on, const char **error_r);
int maildir_mailbox_subscriptions(struct store *store,
				  const struct store_address *addr, pool_t *pool,
				  const char ***names_r, unsigned *count_r,
				  const char **error_r);

/* store_maildir_copy.c */
int maildir_copy(struct store *store, const struct store_address *addr,
		 const char *mailbox, uint32_t uidvalidity, const uint32_t *uids,
		 unsigned count, const char *dest, bool move, pool_t *pool,
		 struct store_copy_result *result_r, const char **error_r);

/* store_maildir_flags.c: the ":2,LETTERS" info of sysflags, keeping the
 * letters of old_info (NULL: none) that are not system flags (temp). */
const char *maildir_flags_info(unsigned sysflags, const char *old_info);
/* "new/NAME" or "cur/NAME:2,..." of the message file with this base name
 * (pool), or NULL if there is none; sysflags: the index's, to guess the
 * name before reading cur/. */
const char *maildir_message_locate(const char *folder, const char *base,
				   unsigned sysflags, pool_t *pool);
/* After a committed flag change: rename the file to cur/BASE:2,LETTERS.
 * Best effort, logged: the index already holds the flags. */
void maildir_message_rename_flags(const char *folder, const char *base,
				  unsigned old_sysflags, unsigned sysflags,
				  pool_t *pool);

/* The mtime of a directory in ns, 0 if it is missing. */
int64_t maildir_dir_mtime(const char *dir);

/* store_maildir_tmp.c: remove files in FOLDER/tmp older than
 * MAILDIR_TMP_MAX_AGE_SECS; returns how many, logged and counted. */
#define MAILDIR_TMP_MAX_AGE_SECS (36 * 3600)
#define MAILDIR_TMP_CHECK_SECS (8 * 3600)
unsigned maildir_tmp_clean(const struct maildir_user *user, const char *mailbox,
			   const char *folder_dir, time_t now);

/* store_maildir_sync.c: bring the index up to date with the files.
 * Under the index lock (taken here, bounded): add a row for every mailbox folder on disk
 * (and the default ones if with_defaults) and a row, with a new UID, for
 * every message file the index does not know. full: look in cur/ too
 * (after the index was lost or rebuilt); otherwise only new/, which is
 * where a crash between a delivery's rename and its index commit leaves
 * a file, and which stays small once mail is read (POP3 leaves it in
 * new/, hence the next rule). Only folders whose new/ mtime differs
 * from the one the index recorded are read at all, and when none does,
 * no row is missing and no tmp/ cleaning is due, no lock is taken: the
 * call then costs one query and a stat() per folder. */
int maildir_user_sync(struct maildir_user *user, bool with_defaults,
		      bool full, uint32_t uidvalidity, const char **error_r);

#endif
