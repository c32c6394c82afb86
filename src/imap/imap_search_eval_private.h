/* imap_search_eval_private.h: what imap_search_eval.c (the run and the
 * cheap keys) shares with imap_search_eval_msg.c (header and body keys
 * of one message). Not for other modules. */
#ifndef POSTEL_IMAP_SEARCH_EVAL_PRIVATE_H
#define POSTEL_IMAP_SEARCH_EVAL_PRIVATE_H

#include "imap/imap_search_eval.h"
#include "mime/mime_decode.h"

/* the answer of a content key for the current message */
enum search_res { RES_UNKNOWN = 0, RES_NO, RES_YES };

struct search_run {
	const struct imap_search_program *prog;
	const struct imap_search_ctx *ctx;
	struct store_view *view;
	struct mime_match *matchers;   /* per node: string keys */
	uint8_t *res;                  /* per node: enum search_res */
	bool has_header_keys, has_body_keys;
	uint64_t bytes_read;
	bool stopped;                  /* cancelled or over the limit */
	const char *stop_reason;
	str_t buf, dec, utf8;          /* reused between messages */
	pool_t *tmp;                   /* cleared for each message */
	/* the current message, opened once for its header and body */
	struct store_message_reader *reader;
	bool open_failed;
};

static inline bool search_key_is_header(enum imap_search_key k)
{
	return k == IMAP_SEARCH_FROM || k == IMAP_SEARCH_TO || k == IMAP_SEARCH_CC ||
		k == IMAP_SEARCH_BCC || k == IMAP_SEARCH_SUBJECT ||
		k == IMAP_SEARCH_HEADER || k == IMAP_SEARCH_SENTBEFORE ||
		k == IMAP_SEARCH_SENTON || k == IMAP_SEARCH_SENTSINCE;
}

static inline bool search_key_is_body(enum imap_search_key k)
{
	return k == IMAP_SEARCH_BODY || k == IMAP_SEARCH_TEXT;
}

/* Days since the epoch of a calendar date. */
int64_t search_day_number(int year, int month, int day);
/* Read the header of uid and answer every header key of the program
 * (and TEXT where the header already matches) into run->res. */
void search_eval_header(struct search_run *run, uint32_t uid);
/* Read the body of uid and answer BODY and TEXT keys still unknown. */
void search_eval_body(struct search_run *run, uint32_t uid);
/* Close the current message's reader, if open. */
void search_message_close(struct search_run *run);
/* Account n bytes read; false when the search must stop. */
bool search_account(struct search_run *run, size_t n);

/* imap_objectid.c: SEARCH EMAILID / THREADID (RFC 8474 6) */
bool imap_objectid_search_match(enum imap_search_key key, const char *want,
				size_t len, const struct store_message_info *info);
/* On the lane: when the program has THREADID, the mailbox's THREADID
 * subject keys first (imap_objectid_thread_backfill(), imap_fetch_cmd.h) */
void imap_objectid_search_backfill(const struct imap_search_program *prog,
				   struct store_view *view);

#endif
