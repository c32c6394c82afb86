/* mime_references.h: which message-ids a message names for threading:
 * the one linking rule of RFC 5256 section 4 REFERENCES step 1 that
 * both THREAD=REFERENCES (imap/imap_thread_refs.c) and THREADID
 * (RFC 8474 5.2, store/store_thread.c) follow, and the base subject
 * steps 5-6 group threads by.
 *
 * Contract: pure functions over field values (byte slices, folded or
 * not, never read outside them); ids are parsed by mime_msgid_next()
 * (mime_msgid.h) and live in pool.
 *  - message_id: the first valid msg-id of Message-ID, NULL if none
 *    (RFC 5256 4 1.A: such a message is unique).
 *  - refs: the msg-ids of References in order, oldest (the thread's
 *    root) first; when References names none, the first msg-id of
 *    In-Reply-To (1.A). Over MIME_REFERENCES_MAX of them: the first and
 *    the last MIME_REFERENCES_MAX - 1 (the nearest ancestors). Repeats
 *    and the message's own id are kept: what they mean is the tree's
 *    loop check ("would not introduce a loop", 1.A and 1.B), done by
 *    whoever links (imap_thread_refs.c; the store links to a thread,
 *    not a parent, so it cannot loop).
 *  - the parent (1.B) is the last of refs: mime_references_parent().
 *  - mime_references_subject(): the base subject (RFC 5256 2.1,
 *    mime_subject.h), case folded (mime_utf8_fold), and whether it was
 *    a reply or forward (step 6). */
#ifndef POSTEL_MIME_REFERENCES_H
#define POSTEL_MIME_REFERENCES_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/mem.h"

#define MIME_REFERENCES_MAX 100

struct mime_references {
	const char *message_id;  /* without "<>", NULL: none or invalid */
	const char *const *refs; /* oldest first, the parent last */
	unsigned count;
};

/* From the three field values (NULL with length 0 when absent). */
void mime_references_parse(const char *message_id, size_t message_id_len,
			   const char *references, size_t references_len,
			   const char *in_reply_to, size_t in_reply_to_len,
			   pool_t *pool, struct mime_references *r);
/* From a header block (LF or CRLF lines; the first field of each name
 * counts, RFC 5322 3.6). */
void mime_references_from_header(const char *hdr, size_t len, pool_t *pool,
				 struct mime_references *r);
/* RFC 5256 4 1.B: the id of the message's parent, NULL: none. */
const char *mime_references_parent(const struct mime_references *r);
/* The folded base subject of a Subject value (never NULL, "" when
 * empty); *reply_r: a "Re:"/"Fwd:" marker was removed. */
const char *mime_references_subject(const char *value, size_t len,
				    pool_t *pool, bool *reply_r);

#endif
