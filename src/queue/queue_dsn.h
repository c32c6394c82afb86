/* queue_dsn.h: delivery status notifications (bounces and delay notices)
 * for a queue entry: RFC 3464 multipart/report messages, honouring the
 * RFC 3461 parameters the client gave (NOTIFY, RET, ENVID, ORCPT).
 *
 * Contract: pure (no I/O, no clock: the caller passes now), bounded
 * output (at most max_size bytes plus the fixed parts and one report
 * block per recipient; the original is cut to its header section, and
 * that at a line end, when it does not fit). Every header line the
 * builder writes is 7-bit printable, CRLF-terminated and under 998
 * octets (RFC 5322 2.1.1): remote reply text and envelope values are
 * cleaned of control and 8-bit bytes and cut.
 *
 * Who gets one (RFC 3461 4.1, 6.2; RFC 5321 4.5.5, 6.1):
 * - never the null sender ("<>"): a DSN is not answered with a DSN;
 * - a failure DSN lists FAILED recipients not yet notified whose NOTIFY
 *   is absent or includes FAILURE; a delay DSN lists DEFERRED ones whose
 *   NOTIFY is absent or includes DELAY; a success DSN lists DELIVERED ones
 *   not yet notified whose NOTIFY includes SUCCESS, as "relayed" (RFC 3461
 *   6.2.1: the next server did not take the NOTIFY on; the runner asks
 *   for one only then); NOTIFY=NEVER gets nothing.
 * The original: RET=HDRS, a delay or a success notice: its header section
 * (text/rfc822-headers); RET=FULL or no RET on a failure: the whole
 * message (message/rfc822) when it fits max_size, else its header.
 * The DSN is sent with an empty reverse-path (RFC 3464 2, RFC 5321 4.5.5)
 * and carries Auto-Submitted: auto-replied (RFC 3834 5). */
#ifndef POSTEL_QUEUE_DSN_H
#define POSTEL_QUEUE_DSN_H

#include "queue/queue.h"

enum queue_dsn_kind {
	QUEUE_DSN_FAILURE,
	QUEUE_DSN_DELAY,
	QUEUE_DSN_SUCCESS,
};

/* the largest original returned in full, unless the caller says less */
#define QUEUE_DSN_MAX_ORIGINAL (1024 * 1024)

struct queue_dsn_input {
	enum queue_dsn_kind kind;
	const char *hostname;       /* Reporting-MTA, MAILER-DAEMON@hostname */
	const char *queue_id;
	const struct queue_envelope *env;
	time_t now;
	time_t retry_until;         /* delay: when the entry would expire */
	/* the queued message (CRLF), or its first original_len bytes when
	 * the caller read only that much; original_size is the whole */
	const char *original;
	size_t original_len;
	uint64_t original_size;
	size_t max_size;            /* 0: QUEUE_DSN_MAX_ORIGINAL */
};

/* 1: out holds the message and included[i] says which recipients it
 * reports (the caller marks them notified); 0: no DSN is due (null
 * sender, no recipient asked for one); out is then untouched. included
 * has env->recipient_count entries. */
int queue_dsn_build(const struct queue_dsn_input *in, str_t *out, bool *included);

#endif
