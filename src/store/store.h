/* store.h: the mail store, the one seam between protocols and storage.
 *
 * Protocols (SMTP delivery, IMAP, POP3) never touch files or SQL: they call
 * these functions, which dispatch to a backend ("maildir-sqlite" today).
 *
 * Promises:
 * - Durability: a 0 return from store_delivery_commit() means the message
 *   file is fsync'd, in place, its directory fsync'd and its index row
 *   committed. A crash at any point leaves either no visible message or a
 *   complete one; a committed message is never lost.
 * - Addresses are "local@domain"; both parts are lower-cased and must be
 *   safe as path components (no '/', not "." or "..", no leading '.', no
 *   control characters, local <= 64 bytes, domain <= 255). Others are
 *   refused with -1 before any file is touched.
 * - Messages go in and come out in wire form (CRLF line endings); how a
 *   backend keeps them on disk is its own business (maildir: LF).
 * - Mailbox names: "INBOX" (any case) or names of '/'-separated components
 *   without '.', backslash, control characters or empty components, not
 *   starting with '~', <= 255 bytes.
 *   Every user has INBOX, Drafts, Sent, Junk, Trash and Archive.
 * - UIDs are strictly increasing per mailbox; UIDVALIDITY only changes if
 *   the index has to be rebuilt, and then to a larger value.
 * - A store handle and its deliveries are used by one thread at a time.
 *   Handles share, under a mutex or atomically, only what is idle or
 *   statistical: process-wide counters (store_stats_get()), the memo of
 *   index files already integrity-checked, and the users a closed or full
 *   handle parked for the next handle to take over (maildir backend: one
 *   thread owns an open index at a time), so different handles may live
 *   on different threads, and store_delivery_sync() (the slow fsync of
 *   the message file) may run on a worker thread.
 * - Opening a user costs the same whatever the mailbox size: no
 *   integrity check after the first open of an index in a process, and
 *   no Maildir rescan unless a folder's new/ changed behind the store's
 *   back (another MDA, a mail reader). Stale files in a folder's tmp/
 *   (older than 36 hours, as Dovecot does) are removed at an open, at
 *   most every 8 hours per folder.
 * - No call waits for another process's lock without a bound: a user
 *   whose index stays locked gets -1 (a temporary failure: 451 or -ERR
 *   [SYS/TEMP]) after at most a few seconds, never a hung thread.
 * - Errors: -1 and *error_r, a temporary string (pool_temp()) for the
 *   log; it may name paths, so protocol replies should use their own
 *   generic text. No function aborts on bad input.
 * - A damaged index is set aside and rebuilt from the Maildir files, with
 *   a new UIDVALIDITY; it never costs a message.
 */
#ifndef POSTEL_STORE_H
#define POSTEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "lib/mem.h"

#define STORE_DEFAULT_BACKEND "maildir-sqlite"
#define STORE_LOCAL_MAX 64
#define STORE_DOMAIN_MAX 255
#define STORE_MAILBOX_NAME_MAX 255

struct store;
struct store_delivery;

/* RFC 9051 6.3.11 STATUS items, from counters the backend keeps: no
 * call reads every message. recent: messages no session has claimed as
 * \Recent yet (store_view_claim_recent(), store_view.h). */
/* RFC 8474 3: an objectid is 1 to 255 of ALPHA, DIGIT, "_", "-"; ours
 * are a letter and at most 32 hex digits */
#define STORE_OBJECTID_SIZE 40

struct store_mailbox_status {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;
	uint32_t deleted;
	uint32_t recent;
	uint64_t size;      /* sum of the messages' wire sizes */
	/* RFC 8474 4 MAILBOXID: kept across RENAME, new after DELETE and
	 * CREATE; "" if the backend has none */
	char mailboxid[STORE_OBJECTID_SIZE];
};

/* 128 random bits the index gives a message when it first records it:
 * unique per message for the life of the index (a rebuilt index gives
 * new ones, with its new UIDVALIDITY). A COPY or MOVE keeps it: it is
 * the message's RFC 8474 EMAILID (5.1: the same for copies). */
#define STORE_GUID_SIZE 16

struct store_message_info {
	uint32_t uid;
	uint8_t guid[STORE_GUID_SIZE];
	uint64_t modseq;
	uint64_t size;      /* octets with CRLF line endings: what POP3 LIST
			     * and IMAP RFC822.SIZE report (RFC 1939 5,
			     * RFC 9051 2.3.4), not the file's own size */
	time_t internaldate;
	const char *flags;  /* space-separated IMAP flags, "" for none */
	unsigned sysflags;  /* the system flags in flags (store_view.h) */
	bool lost;          /* its content is gone: a file removed behind the
			     * store's back (a crash mid-expunge is finished
			     * on reopen, store_mailbox_expunge()) */
	/* RFC 8514 SAVEDATE: when it entered this mailbox (append,
	 * delivery, copy, move); its internaldate for older rows */
	time_t savedate;
	/* RFC 8474 5.2 THREADID: shared by the messages of a thread in
	 * every mailbox of the user (store_thread.h) */
	uint8_t threadid[STORE_GUID_SIZE];
	/* RFC 6858 downgrade: the top-level header holds an octet >= 0x80
	 * (1), does not (0), not known yet (-1: stored before schema 9, or
	 * a header longer than the delivery keeps; store_view.h
	 * store_view_message_set_hdr_8bit() records it once learnt) */
	int8_t hdr_8bit;
	/* schema 10: the size of the RFC 6858 message of an 8-bit one once
	 * learnt (store_downgrade.c), 0 not known */
	uint64_t dg_size;
};

/* Work done since the process started, over all handles: what tests
 * count instead of timing (opening a user must not scan its mailbox). */
struct store_stats {
	uint64_t index_opens;      /* index connections opened */
	uint64_t integrity_checks; /* PRAGMA quick_check runs */
	uint64_t maildir_scans;    /* reads of a folder's new/ (or cur/) to
				    * find files the index does not know */
	uint64_t folder_lists;     /* listings of a folder's new/ and cur/
				    * (store_view_list()'s lost, expunge, copy) */
	uint64_t tmp_cleaned;      /* stale files removed from tmp/ */
	uint64_t lock_timeouts;    /* lock waits given up */
};
void store_stats_get(struct store_stats *stats_r);

/* The expunge log (RFC 7162 3.2.5.2 QRESYNC) keeps every expunge younger
 * than days and the newest max_count of each mailbox whatever their age
 * (config keys expunge_log_days, expunge_log_max); process-wide, set
 * before the first store is opened. */
void store_expunge_log_limits(unsigned days, unsigned max_count);

/* Open the default backend over data_dir (mail lives in DATA_DIR/mail/). */
int store_open(const char *data_dir, struct store **store_r,
	       const char **error_r);
int store_open_backend(const char *backend, const char *data_dir,
		       struct store **store_r, const char **error_r);
void store_close(struct store **store);
/* Like store_close(), but the backend keeps nothing of this handle for
 * the next handle of the process (the Maildir backend parks the users a
 * closed handle had open, store_maildir_park.c): for a caller closing
 * because the user rests, to give its memory back. */
void store_close_release(struct store **store);

/* Idempotent: creates the user's folders (INBOX, Drafts, Sent, Junk, Trash,
 * Archive) and index, durably. */
int store_user_create(struct store *store, const char *address,
		      const char **error_r);
/* Create a further mailbox for an existing user. 0 if it already existed. */
int store_mailbox_create(struct store *store, const char *address,
			 const char *mailbox, const char **error_r);
/* Mailbox management (RFC 9051 6.3), store_mailbox_ops.c. Each looks
 * the mailbox up under the index lock and is durable when it returns 0.
 * list: every mailbox's name, sorted (pool). delete: never INBOX, nor a
 * mailbox with mailboxes below it (delete those first, as Dovecot asks);
 * its messages are gone. rename: the mailbox and those below it keep
 * UIDVALIDITY and UIDs under the new name; -1 if the new name exists or
 * lies below the old; renaming INBOX moves its messages into the new
 * mailbox and leaves INBOX empty (RFC 9051 6.3.6). Subscriptions
 * (6.3.7, 6.3.8) may name mailboxes that do not exist. */
int store_mailbox_list(struct store *store, const char *address, pool_t *pool,
		       const char ***names_r, unsigned *count_r,
		       const char **error_r);
int store_mailbox_delete(struct store *store, const char *address,
			 const char *mailbox, const char **error_r);
int store_mailbox_rename(struct store *store, const char *address,
			 const char *old_name, const char *new_name,
			 const char **error_r);
int store_mailbox_subscribe(struct store *store, const char *address,
			    const char *mailbox, bool on, const char **error_r);
int store_mailbox_subscriptions(struct store *store, const char *address,
				pool_t *pool, const char ***names_r,
				unsigned *count_r, const char **error_r);
/* -1 on error (including unknown user or mailbox). */
int store_mailbox_status(struct store *store, const char *address,
			 const char *mailbox,
			 struct store_mailbox_status *status_r,
			 const char **error_r);
/* All messages of a mailbox in UID order, allocated from pool. */
int store_mailbox_list_messages(struct store *store, const char *address,
				const char *mailbox, pool_t *pool,
				struct store_message_info **messages_r,
				unsigned *count_r, const char **error_r);

/* Reading one message (opened by store_view_message_open(), store_view.h)
 * in wire form, a chunk at a time: never more than a few KiB in memory,
 * whatever the message's size. */
struct store_message_reader;
/* Up to size bytes (size >= 2) of the message into buf; 0 at its end. */
ssize_t store_message_read(struct store_message_reader *r, void *buf,
			   size_t size, const char **error_r);
void store_message_close(struct store_message_reader **r);
/* Position the reader at byte wire_offset of the wire form (IMAP partial
 * FETCH, RFC 9051 6.4.5 BODY[]<start.len>): what it reads from there is
 * exactly what a read from the start gives after skipping wire_offset
 * bytes (nothing past the end). Cost: at most one checkpoint interval
 * (store_seek.h) is converted and dropped, not the message up to there;
 * a message delivered before checkpoints existed is converted from its
 * start. May be called again at any time, also backwards. */
int store_message_seek(struct store_message_reader *r, uint64_t wire_offset,
		       const char **error_r);
/* RFC 6858 downgrading (mime_downgrade.h): from now on the reader shows
 * hdr[0..len) (copied) in place of the message's first old_len wire
 * octets, the rest unchanged after it; offsets given to
 * store_message_seek() are those of that form. Positioned at 0. */
void store_message_reader_replace_header(struct store_message_reader *r, const void *hdr,
					 size_t len, uint64_t old_len);
/* The same for any stored region: data[0..len) (copied) is shown in
 * place of the stored wire octets [old_off, old_off + old_len); regions
 * are given in ascending order without overlap, at most
 * STORE_READ_REGIONS_MAX (the header of each 8-bit MIME part); -1 (no
 * change) otherwise. Positioned at 0. */
#define STORE_READ_REGIONS_MAX 64
int store_message_reader_replace(struct store_message_reader *r, uint64_t old_off,
				 uint64_t old_len, const void *data, size_t len);
/* Physical facts of a stored message for the server's own use (planning
 * reads, statistics); never shown to a client, and never a path. */
struct store_message_physical {
	uint64_t wire_size;   /* octets in wire form (RFC822.SIZE) */
	uint64_t file_size;   /* octets as stored (LF line ends) */
	unsigned checkpoints; /* LF/CRLF checkpoints recorded (0: none) */
};
int store_message_physical(struct store_message_reader *r,
			   struct store_message_physical *phys_r,
			   const char **error_r);

/* Start writing one message into mailbox (normally "INBOX"). Creates the
 * user's store if missing. NULL and *error_r on error. */
struct store_delivery *
store_delivery_begin(struct store *store, const char *address,
		     const char *mailbox, const char **error_r);
/* Append the message in wire form: CRLF line endings, SMTP dot-stuffing
 * already removed. The maildir backend stores LF line endings, as Maildir
 * readers (mutt, Dovecot) expect, and reading gives CRLF back
 * (store_eol.h); a lone CR or LF is kept as it is. A write
 * error (ENOSPC, EDQUOT, ...) removes the partial file at once; commit
 * then fails and the caller must still abort. */
int store_delivery_write(struct store_delivery *d, const void *data,
			 size_t len, const char **error_r);
/* Append len bytes of fd from offset (a spool file), without moving fd's
 * file position. */
int store_delivery_write_fd(struct store_delivery *d, int fd, uint64_t offset,
			    uint64_t len, const char **error_r);
/* Optional: fsync the message file now. Touches nothing but the delivery's
 * own file, so it may run on a worker thread; commit skips it if done. */
int store_delivery_sync(struct store_delivery *d, const char **error_r);
/* Make the message durable and visible and return its UID. Always frees
 * *d and sets it to NULL; on -1 nothing is visible and no file is left. */
int store_delivery_commit(struct store_delivery **d, uint32_t *uid_r,
			  const char **error_r);
/* Remove the partial message and free *d (sets it to NULL). */
void store_delivery_abort(struct store_delivery **d);
/* Group commit: commit n written deliveries, begun on any handles of the
 * same backend, through this handle (the caller must be the only thread
 * using it, and the deliveries' own handles must not be in use by their
 * threads meanwhile). Per user one index transaction, per folder one
 * directory fsync; each result is as durable as store_delivery_commit()'s.
 * results_r[i] is 0 or -1 with errors_r[i]; frees every ds[i] and sets it
 * to NULL. Returns 0 if all succeeded. */
int store_delivery_commit_group(struct store *store, struct store_delivery **ds,
				unsigned n, uint32_t *uids_r, int *results_r,
				const char **errors_r);
/* As store_delivery_commit_group(), but a user whose index another
 * process holds locked is not waited for: results_r[i] is 1 and ds[i]
 * stays as it was, to be passed again later (store_committer.c). */
int store_delivery_commit_group_try(struct store *store,
				    struct store_delivery **ds, unsigned n,
				    uint32_t *uids_r, int *results_r,
				    const char **errors_r);

/* All or nothing (IMAP MULTIAPPEND, RFC 3502): commit n written
 * deliveries, all begun for the same user and mailbox on this handle, in
 * one step. 0: every one is durable and visible, uids_r[i] ascending in
 * the order given; -1 and *error_r: none is visible, also after a crash
 * at any point of the call. Frees every ds[i] and sets it to NULL. */
#define STORE_MULTI_MAX 1000
int store_delivery_commit_multi(struct store *store, struct store_delivery **ds,
				unsigned n, uint32_t *uids_r, const char **error_r);

/* An exclusive advisory lock on a mailbox, held by one session at a time
 * in any process (the POP3 maildrop lock, RFC 1939 section 8). 1: locked,
 * *fd_r holds it until close(*fd_r); 0: another session holds it; -1:
 * error. Two calls in one process conflict too. */
int store_mailbox_lock(struct store *store, const char *address,
		       const char *mailbox, int *fd_r, const char **error_r);
/* Remove the messages with these UIDs, durably: when it returns 0 their
 * files are unlinked, the folder's directories fsync'd and their index
 * rows deleted and committed, so no reader (IMAP, a new POP3 session)
 * sees them again. UIDs already gone are skipped; *expunged_r counts the
 * messages removed. On -1 some may be gone and the rest remain. A crash
 * mid-expunge is finished by the next open of the user that sees the
 * mailbox's new/ changed (or the next expunge there): each message is
 * then gone or still there, never listed without its content, and an
 * expunged message never comes back as new mail. */
int store_mailbox_expunge(struct store *store, const char *address,
			  const char *mailbox, const uint32_t *uids,
			  unsigned count, unsigned *expunged_r,
			  const char **error_r);

/* Helpers shared by every backend, exported for tests and callers that
 * want to validate early (e.g. at RCPT TO). */
struct store_address {
	char local[STORE_LOCAL_MAX + 1];   /* lower-cased */
	char domain[STORE_DOMAIN_MAX + 1]; /* lower-cased */
};
int store_address_parse(const char *address, struct store_address *addr_r,
			const char **error_r);
/* Canonical mailbox name ("INBOX" for any case of inbox) in *name_r
 * (a temp string), or -1 for an unsafe or malformed name. */
int store_mailbox_name_check(const char *mailbox, const char **name_r,
			     const char **error_r);

/* store_user_delete.c: remove the user's whole mail store (every folder,
 * message and index) so that a user added later under the same address
 * starts empty. The mail vanishes at once (one rename), then is removed
 * without following links. 1: removed, 0: there was none, -1: error.
 * For "postel user del", after the account is gone. */
int store_user_delete(struct store *store, const char *address, const char **error_r);

#endif
