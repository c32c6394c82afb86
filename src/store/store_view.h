/* store_view.h: a mailbox opened as a view, the seam IMAP (and POP3)
 * read and change mailboxes through, whatever the backend.
 *
 * A view is one session's picture of one mailbox: the UIDs it knows in
 * ascending order (message sequence number n is the n-th, RFC 9051
 * 2.3.1.2), the mailbox's UIDVALIDITY, UIDNEXT and the MODSEQ up to
 * which it has seen changes. The map is a compact uint32_t array, 4
 * bytes a message. It changes only in store_view_sync(), which returns
 * what changed since the view's MODSEQ (new UIDs, flag changes with
 * their MODSEQ, expunged UIDs) and applies it, so a session decides when
 * its sequence numbers move (RFC 9051 7.5.1: not during FETCH/STORE/SEARCH).
 *
 * Promises:
 * - MODSEQ semantics of RFC 7162 from the start: every change to a
 *   message (append, flag change, expunge) gets a MODSEQ larger than any
 *   before it in that mailbox; HIGHESTMODSEQ is the largest. An expunge
 *   is remembered in the expunge log with its MODSEQ, so a view synced
 *   from any earlier MODSEQ learns it, back to the log's horizon
 *   (store_index.h store_index_expunges_trim(): 30 days, 100,000 a mailbox).
 * - Nothing that crosses the seam is a file path: a message is its UID in
 *   a view, read through store_view_message_open().
 * - store_view_set_flags() returns 0 only once the change is committed
 *   (durable); other views see it at their next sync.
 * - A view belongs to its store handle (closed before it) and is used by
 *   one thread at a time, like the handle.
 * - If the backend lost its index and rebuilt it (a new UIDVALIDITY),
 *   sync sets changes->reset and the map holds the new mailbox: every
 *   earlier UID is void (RFC 9051 2.3.1.1). */
#ifndef POSTEL_STORE_VIEW_H
#define POSTEL_STORE_VIEW_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "store/store.h"

/* System flags (RFC 9051 2.3.2) as bits; \Recent is not stored. */
#define STORE_FLAG_SEEN     0x01u
#define STORE_FLAG_ANSWERED 0x02u
#define STORE_FLAG_FLAGGED  0x04u
#define STORE_FLAG_DELETED  0x08u
#define STORE_FLAG_DRAFT    0x10u
#define STORE_FLAGS_SYSTEM  0x1fu
/* keyword names: IMAP atoms without '\', at most this long */
#define STORE_KEYWORD_MAX 100

struct store_view;

struct store_view_flag_change {
	uint32_t uid;
	uint64_t modseq;
	unsigned sysflags;   /* STORE_FLAG_* */
	const char *flags;   /* every flag, space-separated, as in listings */
};

/* What a sync found; arrays from the caller's pool, each in UID order. */
struct store_view_changes {
	bool reset;          /* UIDVALIDITY changed: the map was rebuilt */
	uint32_t *expunged;  /* removed from the map */
	unsigned expunged_count;
	uint32_t *added;     /* appended to the map */
	unsigned added_count;
	/* messages of the map (before the sync) whose flags changed */
	struct store_view_flag_change *flag_changes;
	unsigned flag_change_count;
};

int store_view_open(struct store *store, const char *address,
		    const char *mailbox, struct store_view **view_r,
		    const char **error_r);
void store_view_close(struct store_view **view);
/* The view's mailbox was renamed (store_mailbox_rename() keeps its
 * UIDVALIDITY and UIDs): follow it under its new (canonical) name. */
void store_view_renamed(struct store_view *view, const char *mailbox);
/* The view's user's handle was closed and another opened (a caller that
 * closes handles under resting views, session_user.h): use store from
 * now on. The map and MODSEQ are the view's own and stay. */
void store_view_rebind(struct store_view *view, struct store *store);

uint32_t store_view_uidvalidity(const struct store_view *view);
uint32_t store_view_uidnext(const struct store_view *view);
uint64_t store_view_modseq(const struct store_view *view);
/* The HIGHESTMODSEQ of the view's last read, by store_view_sync() or
 * store_view_sync_added(): at least store_view_modseq(). */
uint64_t store_view_read_modseq(const struct store_view *view);
unsigned store_view_count(const struct store_view *view);
/* The UID of sequence number seq (1-based), 0 if out of range. */
uint32_t store_view_uid(const struct store_view *view, unsigned seq);
/* The sequence number of uid, 0 if the view does not hold it. */
unsigned store_view_seq(const struct store_view *view, uint32_t uid);

/* Bring the view up to date; see above. */
int store_view_sync(struct store_view *view, pool_t *pool,
		    struct store_view_changes *changes_r, const char **error_r);

/* RFC 5465 6 (SELECTED-DELAYED): take the messages added to the mailbox
 * since the view's last read into the map (changes_r->added, ascending)
 * and leave every expunge pending: the new messages' sequence numbers
 * count the messages expunged meanwhile, which stay in the map until the
 * next store_view_sync() removes them and reports them in
 * changes->expunged, numbered in the map as it then is. The view's MODSEQ
 * does not move, so that sync reads every change since it.
 * changes_r->flag_changes: the messages the map held before the call
 * whose MODSEQ is above flags_since (> 0; UINT64_MAX: none wanted); a
 * caller that told them all passes store_view_read_modseq() next time.
 * The caller tells each added message; neither call reports again a flag
 * change of an added message up to the last read here that covered it
 * (one whose flag changes covered every message added before), and both
 * report the others again (a repeat of the same flags).
 * changes_r->expunged stays empty; a new UIDVALIDITY changes nothing
 * here (store_view_sync() resets the map). */
int store_view_sync_added(struct store_view *view, uint64_t flags_since,
			  pool_t *pool, struct store_view_changes *changes_r,
			  const char **error_r);

/* RFC 7162 3.2.5 (QRESYNC) and 3.2.6 (VANISHED): what changed since
 * `since` (> 0, a MODSEQ the client had), read now, without moving the
 * map: the messages of the map whose MODSEQ is above since (UID order,
 * with flags and MODSEQ) and the UIDs the expunge log holds above since
 * (ascending). *complete_r false: since is below the log's horizon and
 * expunges were forgotten: every UID the map lacks may be gone
 * (3.2.5.2). Arrays from pool. */
int store_view_changes_since(struct store_view *view, uint64_t since, pool_t *pool,
			     struct store_view_flag_change **rows_r, unsigned *row_count_r,
			     uint32_t **expunged_r, unsigned *expunged_count_r,
			     bool *complete_r, const char **error_r);

/* RFC 7162 3.2: *pending_r true if the expunge log holds an expunge
 * above since of a message the view's map still holds (one another
 * session expunged that this view has not synced), and true when since
 * is below the log's horizon (the log may have forgotten one). Reads the
 * expunge log only: the cost does not grow with flag changes since. */
int store_view_expunge_pending(struct store_view *view, uint64_t since, bool *pending_r,
			       const char **error_r);

/* \Recent (RFC 3501 2.3.2): claim, for this view's session alone, the
 * messages of its map no session has claimed yet: UIDs from *first_r up
 * to the view's UIDNEXT are recent for it (none if *first_r is at
 * UIDNEXT); later claims and STATUS RECENT count only newer ones.
 * Committed before it returns. IMAP4rev2 has no \Recent: only rev1 SELECT
 * calls it. */
int store_view_claim_recent(struct store_view *view, uint32_t *first_r,
			    const char **error_r);

/* The messages of the view's map as the index holds them now (flags,
 * size, ...), in map order; a message expunged since the last sync is
 * left out. lost: its content is gone (a file removed behind the
 * store's back; a crash mid-expunge is finished on reopen, store.h),
 * not a message to offer. */
int store_view_list(struct store_view *view, pool_t *pool,
		    struct store_message_info **messages_r, unsigned *count_r,
		    const char **error_r);

/* What SELECT reports (RFC 3501 6.3.1 [UNSEEN], RFC 9051 7.3.5 FLAGS,
 * RFC 8474 4.3 MAILBOXID) without a read of every message: the first
 * message of the map without \Seen (from an index of the unseen ones),
 * the mailbox's keywords: every keyword one of its messages was ever
 * given, sorted, at most max_keywords (pool), and its MAILBOXID (as
 * store_mailbox_status() gives it). */
struct store_view_select_info {
	uint32_t first_unseen_uid;   /* 0: every message is seen */
	unsigned first_unseen_seq;   /* its sequence number in the map */
	const char **keywords;
	unsigned keyword_count;
	char mailboxid[STORE_OBJECTID_SIZE]; /* "" if the backend has none */
};
int store_view_select_info(struct store_view *view, unsigned max_keywords,
			   pool_t *pool, struct store_view_select_info *info_r,
			   const char **error_r);

/* As store_view_list(), for the messages of the map with these UIDs
 * (ascending) only: a batch of a FETCH, read without the rest of the
 * mailbox; lost is not checked (false): store_view_message_open() fails
 * on a message whose content is gone. */
int store_view_list_uids(struct store_view *view, const uint32_t *uids,
			 unsigned count, pool_t *pool,
			 struct store_message_info **messages_r,
			 unsigned *count_r, const char **error_r);

/* EXPUNGE and CLOSE (RFC 9051 6.4.3, 6.4.1): the UIDs of the view's map
 * whose message has \Deleted now, ascending (pool), from an index of
 * those messages, not a read of every one. */
int store_view_deleted(struct store_view *view, pool_t *pool, uint32_t **uids_r,
		       unsigned *count_r, const char **error_r);

/* Read one message of the view in wire form (store.h: read, seek,
 * physical, close). */
struct store_message_reader *
store_view_message_open(struct store_view *view, uint32_t uid,
			const char **error_r);

/* The MIME structure of one message of the view (mime_parser.h), parsed
 * once from its wire form and kept in the index (store_structure.c).
 * Offsets in the tree are WIRE offsets (CRLF form, what
 * store_view_message_open() reads and store_message_seek() takes) and
 * every *_bare_lf count is 0. pool holds temporaries only; *tree_r is the
 * caller's, freed with mime_tree_free(). */
struct mime_tree;
int store_view_message_structure(struct store_view *view, uint32_t uid,
				 pool_t *pool, struct mime_tree **tree_r,
				 const char **error_r);

/* The header of one MIME part, read through r (store_view_message_open()):
 * its wire octets [hdr_off, body_off) -- the empty line that ends it
 * included -- into hdr (cleared first, NUL-terminated), at most max octets
 * (a longer header is cut there). part NULL: the message's top header
 * without a parsed structure, read from the start up to and including its
 * empty line (RFC 5322 2.1; a message with no empty line is all header).
 * Leaves r positioned after what it read. 0, or -1 on a read error. */
struct mime_part;
struct str;
int store_message_read_header(struct store_message_reader *r,
			      const struct mime_part *part, size_t max,
			      struct str *hdr, const char **error_r);

/* RFC 8970 PREVIEW, cached in the index once computed (the computing
 * is the caller's: imap_preview.c): *preview_r the cached text (pool),
 * NULL if none yet; -1 if the message is gone. set: best effort (0 also
 * when the index was busy and nothing was stored). */
int store_view_message_preview(struct store_view *view, uint32_t uid,
			       pool_t *pool, const char **preview_r,
			       const char **error_r);
int store_view_message_set_preview(struct store_view *view, uint32_t uid,
				   const char *preview, const char **error_r);
/* store_downgrade.c: RFC 6858 synthetic messages for a client that
 * does not read UTF-8 headers (RFC 6855 7, RFC 6856 2).
 * hdr_8bit: 1 if a header of the message (its own, a body part's, an
 * enclosed message's) holds an octet >= 0x80, 0 if none; reads the MIME
 * structure into *tree (pool) unless info->hdr_8bit is 0 or *tree is
 * set, and records what a row of schema 8 did not know. -1 on error.
 * downgrade: makes the reader show every such header rewritten
 * (mime_downgrade.h), and tree (offsets, lines, BODYSTRUCTURE fields,
 * message/global shown as message/rfc822) and *size those of that
 * message; the reader is left at 0. -1 with *error_r ==
 * store_downgrade_error_limit when the message has no synthetic form
 * within the limits (more than STORE_READ_REGIONS_MAX 8-bit headers, or
 * one over 256 KiB): never shown raw. downgraded_size: info->size made
 * the synthetic message's (unchanged for a 7-bit one), read from
 * info->dg_size when the row knows it (schema 10), else computed once
 * and recorded. */
struct mime_tree;
extern const char store_downgrade_error_limit[];
int store_view_message_hdr_8bit(struct store_view *view, uint32_t uid,
				struct store_message_info *info, pool_t *pool,
				struct mime_tree **tree, const char **error_r);
int store_message_downgrade(struct store_message_reader *r, struct mime_tree *tree,
			    uint64_t *size, const char **error_r);
/* Whether tree's 8-bit headers are within those limits, from the tree
 * alone (no read): false when store_message_downgrade() would refuse */
bool store_message_downgrade_fits(const struct mime_tree *tree);
/* Every message/global part of tree described as message/rfc822 (RFC
 * 3501 7.4.2: body-type-msg is MESSAGE/RFC822's grammar), as a session
 * without UTF-8 headers sees it, also when no header is 8-bit */
void store_tree_global_as_rfc822(struct mime_tree *tree);
/* store_message_downgrade() of message uid, recording the synthetic size
 * (schema 10 messages.dgsize) when the row did not know it */
int store_view_message_downgrade(struct store_view *view, uint32_t uid,
				 struct store_message_info *info, struct mime_tree *tree,
				 struct store_message_reader *r, const char **error_r);
int store_view_message_downgraded_size(struct store_view *view, uint32_t uid,
				       struct store_message_info *info,
				       const char **error_r);

/* store_view_sortkeys.c: SORT's per-message keys kept in the index
 * (schema 11), opaque to the store (imap_sort_cache.c makes them from the
 * message's header: they depend on nothing that changes). get: for each
 * of uids (ascending) its blob, blobs_r[i] for uids[i] (pool), len 0 when
 * none is stored yet. set: store blobs[i] for uids[i] (len 0: skipped),
 * best effort as store_view_message_set_preview(): one cache transaction,
 * nothing stored (and 0) when the index is busy. */
struct store_blob {
	const void *data;
	size_t len;
};
int store_view_sortkeys(struct store_view *view, const uint32_t *uids, unsigned count,
			pool_t *pool, struct store_blob **blobs_r, const char **error_r);
int store_view_set_sortkeys(struct store_view *view, const uint32_t *uids,
			    const struct store_blob *blobs, unsigned count, const char **error_r);

/* store_thread_backfill.c: give the thread roots of the view's mailbox
 * stored before session 7 their subject keys (once per mailbox, where
 * THREADID is served; see there). On the user's lane: it reads message
 * files. */
int store_view_thread_backfill(struct store_view *view, const char **error_r);

/* Record what store_message_info.hdr_8bit did not know yet (a message
 * stored before schema 9), once learnt from its MIME structure, and the
 * downgraded size dg_size (schema 10; 0: not known, kept as it was);
 * best effort as store_view_message_set_preview(). */
int store_view_message_set_hdr_8bit(struct store_view *view, uint32_t uid,
				    bool eight_bit, uint64_t dg_size, const char **error_r);

enum store_flags_op {
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
	STORE_FLAGS_REPLACE,
};

struct store_flags_update {
	enum store_flags_op op;
	unsigned sysflags;              /* STORE_FLAG_* */
	const char *const *keywords;    /* validated: store_keyword_check() */
	unsigned keyword_count;
	/* RFC 7162 3.1.3 UNCHANGEDSINCE: a message whose MODSEQ is above
	 * it is left alone and reported as modified; 0: no condition */
	uint64_t unchangedsince;
};

/* Change the flags of the messages with these UIDs (UIDs not in the
 * mailbox any more are skipped). The messages whose flags change get one
 * new MODSEQ, above every earlier one (one per call: RFC 7162 3.1.1);
 * one that would not change keeps its MODSEQ. Durable
 * when it returns 0. *modified_r (from pool), *modified_count_r: the UIDs
 * refused by unchangedsince; pool and both may be NULL if not wanted. */
int store_view_set_flags(struct store_view *view, const uint32_t *uids,
			 unsigned count, const struct store_flags_update *update,
			 pool_t *pool, uint32_t **modified_r,
			 unsigned *modified_count_r, const char **error_r);
/* As store_view_set_flags(), and *results_r (pool, not NULL) holds the
 * flags every message of uids that is still there has after the change
 * (changed or not, refused ones included), in the order of uids, with
 * its MODSEQ: what STORE reports (RFC 9051 6.4.6) without listing the
 * mailbox. */
int store_view_set_flags_result(struct store_view *view, const uint32_t *uids,
				unsigned count,
				const struct store_flags_update *update,
				pool_t *pool,
				struct store_view_flag_change **results_r,
				unsigned *result_count_r, const char **error_r);

/* Both: the results and the UIDs refused by update->unchangedsince
 * (RFC 7162 3.1.3 STORE ... [MODIFIED set]). */
int store_view_set_flags_modified(struct store_view *view, const uint32_t *uids,
				  unsigned count, const struct store_flags_update *update,
				  pool_t *pool, struct store_view_flag_change **results_r,
				  unsigned *result_count_r, uint32_t **modified_r,
				  unsigned *modified_count_r, const char **error_r);

/* COPY and MOVE (RFC 9051 6.4.7, RFC 6851): the messages with these
 * UIDs that are still there go to dest, with their flags and internal
 * date, and get dest's next UIDs in UID order. src_uids[i] became
 * dst_uids[i] (RFC 4315 COPYUID), arrays from pool. move: the sources
 * are expunged in the same commit. Durable when it returns 0. A missing
 * dest is an error (the caller answers [TRYCREATE]). */
struct store_copy_result {
	uint32_t dst_uidvalidity;
	uint32_t *src_uids, *dst_uids;
	unsigned count;
};
int store_view_copy(struct store_view *view, const uint32_t *uids,
		    unsigned count, const char *dest, bool move, pool_t *pool,
		    struct store_copy_result *result_r, const char **error_r);

/* Optional, after the last write and before the commit of a delivery
 * (store.h): the new message's flags (update->op is ignored: they
 * replace none) and internal date (RFC 9051 6.3.12 APPEND; 0: the time
 * of the commit; call it before store_delivery_sync()). store_delivery_commit() renames the file to carry the
 * flags' Maildir suffix after its commit, as store_view_set_flags() does;
 * a group commit (store_delivery_commit_group(), SMTP) records them in
 * the index only. */
int store_delivery_set_meta(struct store_delivery *d,
			    const struct store_flags_update *flags,
			    time_t internaldate, const char **error_r);

/* The importer (`postel import`): before the commit of a delivery (a
 * single store_delivery_commit(), not a group commit), the UID it gets.
 * The commit fails, and nothing is stored, if uid is below the mailbox's
 * UIDNEXT (UIDs only ascend, RFC 9051 2.3.1.1); UIDNEXT becomes uid + 1. */
int store_delivery_set_uid(struct store_delivery *d, uint32_t uid,
			   const char **error_r);
/* Committed at once: uidvalidity (0: leave it) is set only while the
 * mailbox holds no message (else refused, nothing changed); UIDNEXT and
 * HIGHESTMODSEQ are raised to at least uidnext and highestmodseq, never
 * lowered (RFC 7162 3.1.1). */
struct store_import_meta {
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
};
int store_mailbox_import_meta(struct store *store, const char *address,
			      const char *mailbox,
			      const struct store_import_meta *meta,
			      const char **error_r);

/* store_flags.c: the flag text of listings ("\Seen $Label1") */
/* -1 if name is not a valid keyword (an IMAP atom, no '\'). */
int store_keyword_check(const char *name, const char **error_r);
/* The STORE_FLAG_* bits named in a flag text. */
unsigned store_flags_text_bits(const char *text);
/* The flag text after update is applied to text (pool). */
const char *store_flags_text_apply(const char *text,
				   const struct store_flags_update *update,
				   pool_t *pool);

#endif
