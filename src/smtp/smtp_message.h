/* smtp_message.h: what final delivery reads from, and adds to, a received
 * message: a scanner for its header section, the generated Date and
 * Message-ID, and the reply class of a failed delivery.
 *
 * Contract: pure; no I/O (smtp_message_id() reads getrandom() only). The
 * scanner takes the decoded message (CRLF line ends, dot-stuffing removed)
 * in chunks split anywhere; its results never depend on the splits.
 *
 * The header section (RFC 5322 2.1, 2.2): lines from the start of the
 * message up to the first empty line, or up to the first line that is
 * neither a header field nor the continuation of one. A header field line
 * starts with a field name, 1*ftext (printable US-ASCII but ':', RFC 5322
 * 3.6.8), then ':'; later lines may put WSP before the ':' (the obsolete
 * form of RFC 5322 4.5.3), the first line may not. A line that starts
 * with WSP continues the field before it (folding, RFC 5322 2.2.3).
 *
 * "The first line is a header field" means the strict form exactly:
 * 1*ftext ":" at the very start. When it is not (the message starts with
 * text, with "From " or "name : value", or with WSP) and the message is
 * not empty and does not start with the empty line, the fields the server
 * puts in front would swallow that line into the header: delivery then
 * inserts the empty line that ends the header section, so the whole
 * original text becomes the body, as Postfix's cleanup does. */
#ifndef POSTEL_SMTP_MESSAGE_H
#define POSTEL_SMTP_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/str.h"

/* Longest Delivered-To value compared; longer ones cannot be an address
 * (RFC 5321 4.5.3.1: 64 + 1 + 255) and are skipped. */
#define SMTP_MESSAGE_VALUE_MAX 512

/* [start, end): a whole field, continuation lines and final CRLF included */
struct smtp_message_range {
	uint64_t start, end;
};

/* Called with each Delivered-To value of the header section: unfolded,
 * surrounding WSP and one pair of angle brackets removed. */
typedef void smtp_message_delivered_to_t(void *context, const char *value,
					 size_t len);

struct smtp_message_scan {
	/* Results, final once feed returned true or after finish. */
	bool first_line_field;	/* strict: 1*ftext ":" at offset 0 */
	bool first_line_empty;	/* the message starts with CRLF */
	uint64_t size;		/* octets scanned */
	/* client Return-Path fields in the header section (heap) */
	struct smtp_message_range *return_paths;
	unsigned return_path_count;

	/* Private state. */
	smtp_message_delivered_to_t *delivered_to;
	void *context;
	unsigned char state, kind;
	bool first_line, value_overflow;
	char name[13];
	unsigned name_len;
	uint64_t field_start;
	unsigned return_path_alloc;
	size_t value_len;
	char value[SMTP_MESSAGE_VALUE_MAX];
};

/* delivered_to may be NULL. */
void smtp_message_scan_init(struct smtp_message_scan *scan,
			    smtp_message_delivered_to_t *delivered_to,
			    void *context);
/* Returns true once the header section has ended: the rest of the
 * message need not be fed. */
bool smtp_message_scan_feed(struct smtp_message_scan *scan, const void *data,
			    size_t len);
/* At the end of the message (a header section without body). */
void smtp_message_scan_finish(struct smtp_message_scan *scan);
void smtp_message_scan_deinit(struct smtp_message_scan *scan);

/* True when the delivered copy needs an empty line between the fields the
 * server adds and the message (see above). Call after finish. */
bool smtp_message_needs_separator(const struct smtp_message_scan *scan);

/* An RFC 5322 3.3 date-time in local time and the C locale, in
 * pool_temp(): "Thu, 1 Jan 2026 12:00:00 +0100". */
const char *smtp_message_date(time_t t);

/* Append a Message-ID (RFC 5322 3.6.4 msg-id, with the "<>") unique to
 * this message: time, session id, the session's message number and 64
 * random bits, "@hostname". */
void smtp_message_id(str_t *out, time_t now, const char *sid, unsigned seq,
		     const char *hostname);

/* The reply class of a failed delivery from its error text: true when
 * it failed for lack of space (the store, the queue and the index name
 * strerror(ENOSPC) or strerror(EDQUOT) then): 452 4.3.1 (RFC 3463 3.4),
 * else 451 4.3.0. */
bool smtp_message_error_is_storage_full(const char *error);

#endif
