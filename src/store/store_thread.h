/* store_thread.h: what a delivery keeps of a message to thread it
 * (RFC 8474 5.2 THREADID; the rule: store_index_objectid.c).
 *
 * Contract: store_thread_hdr_feed() takes the message as written (LF
 * line ends), keeps its header section alone, at most
 * STORE_THREAD_HDR_MAX bytes (a longer header is threaded from what was
 * kept); store_thread_index() reads Message-ID, References and
 * In-Reply-To from it as THREAD=REFERENCES does (mime_references.h)
 * and its base subject, and records the thread within the caller's
 * transaction (store_index_objectid.c). */
#ifndef POSTEL_STORE_THREAD_H
#define POSTEL_STORE_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/str.h"
#include "store/store_index.h"

#define STORE_THREAD_HDR_MAX (64 * 1024)

struct store_thread_hdr {
	str_t buf;
	bool done;  /* the empty line seen, or the cap reached */
	bool cut;   /* the cap reached before the empty line */
	bool body_8bit; /* an octet >= 0x80 after what buf kept */
};

void store_thread_hdr_feed(struct store_thread_hdr *h, const void *data,
			   size_t len);
void store_thread_hdr_free(struct store_thread_hdr *h);
/* Whether some header of the message may hold an octet >= 0x80 (RFC
 * 6532): the top-level one does, or the message is a multipart or
 * message type (body parts and enclosed messages have headers) and has an
 * 8-bit octet past the top-level header. */
bool store_thread_hdr_8bit(const struct store_thread_hdr *h);
/* ... and records the message's hdr8bit (schema 9) */
int store_thread_index(const struct store_thread_hdr *h,
		       struct store_index *idx, int64_t mailbox_id,
		       uint32_t uid, const char **error_r);

#endif
