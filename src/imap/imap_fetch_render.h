/* imap_fetch_render.h: the "* n FETCH (...)" response for one message
 * (RFC 9051 6.4.5 and 7.5.2), rendered as bounded chunks.
 *
 * Contract: pure, session-independent; meant to run on a store lane
 * thread. Given the parsed request (imap_fetch_parse.h), the message's
 * store_message_info, its MIME tree (store_view_message_structure():
 * WIRE offsets) and a store_message_reader, imap_fetch_render_next()
 * appends at most max bytes of the response to out each call and says
 * whether more follows. Body data is streamed: sections and partials are
 * reached with store_message_seek(), never by reading from the start, and
 * the renderer never holds a body; what it holds is the pending text of
 * one item (FLAGS, ENVELOPE, BODYSTRUCTURE, a HEADER.FIELDS result: sizes
 * bounded by the header and tree), a header read for ENVELOPE or
 * HEADER.FIELDS (at most IMAP_FETCH_HEADER_MAX bytes) and one read buffer.
 * Literal sizes are exact wire octets. Setting \Seen is the caller's
 * job: imap_fetch_render_sets_seen() says when (RFC 9051 6.4.5). BINARY
 * items (RFC 3516) are decoded and streamed (imap_fetch_render_binary.c).
 * The tree and reader may be NULL when imap_fetch_render_needs() says
 * they are not needed. */
#ifndef POSTEL_IMAP_FETCH_RENDER_H
#define POSTEL_IMAP_FETCH_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "imap/imap_fetch_parse.h"
#include "lib/str.h"
#include "mime/mime_parser.h"
#include "store/store.h"

/* Header bytes read for ENVELOPE and HEADER.FIELDS; fields past it are
 * ignored (no real header is this large; memory stays bounded). */
#define IMAP_FETCH_HEADER_MAX (256 * 1024)
/* The smallest max imap_fetch_render_next() accepts. */
#define IMAP_FETCH_RENDER_MIN_CHUNK 64

enum imap_fetch_render_result {
	IMAP_FETCH_RENDER_ERROR = -1,
	IMAP_FETCH_RENDER_DONE = 0,
	IMAP_FETCH_RENDER_MORE = 1,
};

#define IMAP_FETCH_NEEDS_TREE   0x1u /* ENVELOPE, BODY*, sections */
#define IMAP_FETCH_NEEDS_READER 0x2u /* ENVELOPE, bodies, headers */

struct imap_fetch_render;

/* What the request needs (IMAP_FETCH_NEEDS_*). */
unsigned imap_fetch_render_needs(const struct imap_fetch_request *req);
/* True if answering req marks the message \Seen (BODY[...] and
 * BINARY[...] without .PEEK, RFC822, RFC822.TEXT; RFC 9051 6.4.5). */
bool imap_fetch_render_sets_seen(const struct imap_fetch_request *req);

/* Everything given must outlive the renderer; flags is info->flags
 * unless the caller overrides it (after setting \Seen). NULL with
 * *error_r for a message this request cannot be answered for: *error_r
 * is imap_fetch_error_unknown_cte when a BINARY part's encoding is
 * unknown (the command answers NO [UNKNOWN-CTE], RFC 3516 4.3). */
extern const char imap_fetch_error_unknown_cte[];
/* False if a BINARY item of req names a part with an unknown encoding. */
bool imap_binary_check(const struct imap_fetch_request *req, const struct mime_tree *tree,
		       uint64_t msg_size);
struct imap_fetch_render *
imap_fetch_render_begin(const struct imap_fetch_request *req, uint32_t seq,
			const struct store_message_info *info,
			const struct mime_tree *tree,
			struct store_message_reader *reader,
			const char **error_r);
/* Append at most max (>= IMAP_FETCH_RENDER_MIN_CHUNK) bytes to out. */
enum imap_fetch_render_result
imap_fetch_render_next(struct imap_fetch_render *r, str_t *out, size_t max,
		       const char **error_r);
/* The most bytes the renderer held at once (buffers, pending text). */
size_t imap_fetch_render_peak(const struct imap_fetch_render *r);
void imap_fetch_render_free(struct imap_fetch_render **r);
/* RFC 8970 PREVIEW's text (imap_preview_get(); must outlive r). */
void imap_fetch_render_set_preview(struct imap_fetch_render *r, const char *preview);

#endif
