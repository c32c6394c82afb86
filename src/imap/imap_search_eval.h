/* imap_search_eval.h: evaluate a parsed SEARCH program
 * (imap_search_parse.h) over a mailbox view (store_view.h).
 *
 * Contract: imap_search_run() is session-independent and meant for a
 * store lane thread (it reads messages: never on the event loop). It
 * answers the UIDs of the view's messages that match, ascending. Cheap
 * keys (flags, keywords, sequence and UID sets, sizes, INTERNALDATE)
 * come from store_view_list() without opening a message and are
 * evaluated first; a message is opened only when they leave the answer
 * open. Header keys (FROM, TO, CC, BCC, SUBJECT, HEADER, SENT*) read the
 * header alone (read up to IMAP_SEARCH_HEADER_MAX bytes, RFC 2047 decoded);
 * BODY and TEXT read the message in chunks and decode each text part
 * (quoted-printable, base64, charset to UTF-8), never holding more than
 * a chunk and the MIME part tree. Strings match as case-insensitive
 * UTF-8 substrings (RFC 9051 6.4.4). A message whose content cannot be
 * read matches no content key (it is not an error: one damaged file
 * does not fail the SEARCH). The program is not changed ("*" is
 * resolved on the fly). */
#ifndef POSTEL_IMAP_SEARCH_EVAL_H
#define POSTEL_IMAP_SEARCH_EVAL_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_search_parse.h"
#include "lib/mem.h"
#include "store/store_view.h"

#define IMAP_SEARCH_HEADER_MAX (256 * 1024)

struct imap_search_ctx {
	/* RFC 3501 2.3.2 \Recent (rev1 RECENT, NEW, OLD): the UIDs
	 * recent_first <= uid < recent_end, as store_view_claim_recent()
	 * gave them to this session; 0, 0: none */
	uint32_t recent_first, recent_end;
	/* RFC 5182 "$": the saved result as ascending UIDs; NULL/0: none,
	 * and "$" is the empty set (RFC 5182 2.1) */
	const uint32_t *saved;
	unsigned saved_count;
	/* RFC 9051 6.4.4 BEFORE/ON/SINCE compare the day of INTERNALDATE,
	 * "disregarding time and timezone": the day in the server's local
	 * time zone (as Dovecot), or in UTC when dates_utc */
	bool dates_utc;
	/* Checked before each message and every chunk read: true stops the
	 * search (the client went away, the server stops). May be NULL. */
	bool (*cancelled)(void *context);
	void *cancel_context;
	/* Bytes read from messages at most (0: no limit) */
	uint64_t max_read_bytes;
	/* RFC 6858: a session that reads no UTF-8 headers sees the
	 * synthetic message; LARGER and SMALLER compare its RFC822.SIZE
	 * (imap_search_downgrade.c) */
	bool downgrade_sizes;
};

/* imap_search_downgrade.c: with ctx->downgrade_sizes and a LARGER or
 * SMALLER key in p, the size of every message of msgs[0..count) some of
 * whose headers are 8-bit (or not known yet) made the RFC 6858 message's
 * (store_view_message_downgraded_size()); a message that cannot be read
 * keeps its stored size. */
void imap_search_downgrade_sizes(const struct imap_search_program *p,
				 struct store_view *view, const struct imap_search_ctx *ctx,
				 struct store_message_info *msgs, unsigned count);
/* Whether imap_search_downgrade_sizes() would read messages for p */
bool imap_search_downgrade_reads(const struct imap_search_program *p,
				 const struct imap_search_ctx *ctx);

/* 0: *uids_r (from pool, ascending) and *count_r set; -1: the view
 * could not be listed (*error_r); -2: cancelled or over max_read_bytes
 * (*error_r says which; the session answers NO [LIMIT] or nothing). */
int imap_search_run(const struct imap_search_program *p,
		    struct store_view *view, const struct imap_search_ctx *ctx,
		    pool_t *pool, uint32_t **uids_r, unsigned *count_r,
		    const char **error_r);
/* imap_search_run() giving the matching rows (in pool, UID order, as
 * store_view_list() gives them: the sizes are downgraded ones where
 * imap_search_downgrade_reads()), for a caller that needs more than
 * their UIDs (SORT); imap_search_rows_uids(): their UIDs (pool). */
int imap_search_run_rows(const struct imap_search_program *p, struct store_view *view,
			 const struct imap_search_ctx *ctx, pool_t *pool,
			 struct store_message_info **rows_r, unsigned *count_r,
			 const char **error_r);
uint32_t *imap_search_rows_uids(const struct store_message_info *rows, unsigned count,
				pool_t *pool);

/* For SEARCH without UID: the sequence numbers of uids in view (pool). */
uint32_t *imap_search_uids_to_seqs(struct store_view *view,
				   const uint32_t *uids, unsigned count,
				   pool_t *pool);

#endif
