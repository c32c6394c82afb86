/* store_maildir_delivery.h: one delivery of the maildir-sqlite backend,
 * shared by store_maildir_delivery.c (begin, write, commit) and
 * store_maildir_group.c (group commit). See store_maildir_delivery.c for
 * the commit order and the file names. */
#ifndef POSTEL_STORE_MAILDIR_DELIVERY_H
#define POSTEL_STORE_MAILDIR_DELIVERY_H

#include "store/store_maildir.h"
#include "store/store_eol.h"
#include "store/store_seek.h"
#include "store/store_thread.h"

#include <sys/stat.h>

struct maildir_delivery {
	struct store_delivery delivery;
	struct maildir_store *store;
	struct store_address addr;
	char *mailbox;
	char *folder_dir;
	char *name;      /* SEC.M<usec>P<pid>Q<seq> */
	char *tmp_path;
	char *new_name;  /* once prepared for a group commit */
	int fd;          /* -1 once closed */
	uint64_t size;   /* of the file (LF) */
	uint64_t wire_size; /* of the file with CRLF line endings */
	struct store_eol_state eol, eol_count;
	struct store_ckpt_builder ckpt; /* LF/CRLF checkpoints (store_seek.h) */
	struct store_thread_hdr thread; /* the header, to thread it (store_thread.h) */
	uint32_t import_uid; /* store_delivery_set_uid(); 0: the next UID */
	char *flags;     /* store_delivery_set_meta(): flag text, or NULL */
	time_t internaldate; /* 0: the commit's time */
	bool failed;     /* a write failed: the tmp file is already gone */
	bool synced;
};

void maildir_delivery_free(struct maildir_delivery *d);
/* After store_index_message_add() gave it uid, within the transaction:
 * the delivery's checkpoints into the row, and its thread (schema 7). */
int maildir_delivery_index_checkpoints(struct maildir_delivery *d,
				       struct store_index *index,
				       int64_t mailbox_id, uint32_t uid,
				       const char **error_r);
/* The flag text and internal date its index row gets. */
#define maildir_delivery_flags(d) ((d)->flags != NULL ? (d)->flags : "")
#define maildir_delivery_date(d) \
	((d)->internaldate != 0 ? (int64_t)(d)->internaldate : (int64_t)time(NULL))
/* Drop the partial file at once (a full disk is not made fuller). */
void maildir_delivery_discard(struct maildir_delivery *d);
int maildir_delivery_check(struct maildir_delivery *d, const char **error_r);
/* The name in new/ of a synced delivery whose file is st (temp string). */
const char *maildir_delivery_new_name(const struct maildir_delivery *d,
				      const struct stat *st);
/* fsync and close the tmp file and fix its name in new/ (d->new_name);
 * idempotent. For the group and multi commits. */
int maildir_delivery_prepare(struct maildir_delivery *d, const char **error_r);
/* Undo a rename into new/ after a later step failed. */
void maildir_delivery_unpublish(const char *new_path, const char *new_dir);

#endif
