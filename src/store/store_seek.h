/* store_seek.h: LF/CRLF checkpoints, so a reader can start a message's
 * wire form (CRLF, store_eol.h) anywhere without converting it from the
 * start (IMAP partial FETCH, BODY[]<start.len>, RFC 9051 6.4.5).
 *
 * A checkpoint is a pair (file offset, wire offset): the wire form of the
 * file's first `file offset` bytes is `wire offset` bytes long. Delivery
 * records one every STORE_CKPT_INTERVAL bytes of file; the reader seeks
 * to the last checkpoint at or before the wanted wire offset, and converts
 * and drops at most one interval's worth (twice that in wire bytes).
 *
 * Blob format (messages.checkpoints, schema 4), all integers unsigned
 * LEB128 varints:
 *   format (1), then sections: tag, payload length, payload.
 *   tag 1 (STORE_CKPT_TAG_EOL): count, then count pairs of deltas
 *     (file offset - previous file offset, wire offset - previous wire
 *     offset), the first from (0, 0); ascending.
 * A reader skips sections with tags it does not know (the length says
 * how far), so per-MIME-part offsets are added later as a new tag (2:
 * per part, its part path and the wire offsets of its header, body and
 * end, as the MIME parser finds them) without a schema change, and old
 * readers keep working. NULL or an empty blob: no checkpoints (messages
 * delivered before schema 4); seeking then converts from the start. */
#ifndef POSTEL_STORE_SEEK_H
#define POSTEL_STORE_SEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_eol.h"

#define STORE_CKPT_INTERVAL 32768
#define STORE_CKPT_FORMAT 1
#define STORE_CKPT_TAG_EOL 1

struct store_ckpt_builder {
	uint64_t file_off, wire_off;
	struct store_eol_state eol;
	uint64_t last_file, last_wire; /* the last pair recorded */
	unsigned count;
	unsigned char *buf; /* the pairs' varints */
	size_t len, cap;
};

/* Feed the bytes appended to the file (LF form), in order. */
void store_ckpt_feed(struct store_ckpt_builder *b, const void *data,
		     size_t len);
/* The blob (xmalloc'd, *len_r bytes), NULL with *len_r 0 if the message
 * is shorter than one interval. The builder is reset and may be freed. */
unsigned char *store_ckpt_finish(struct store_ckpt_builder *b, size_t *len_r);
void store_ckpt_builder_free(struct store_ckpt_builder *b);

/* The checkpoint with the largest wire offset <= wire_offset, from a
 * blob (NULL: none, gives (0, 0)). -1 if the blob is malformed. */
int store_ckpt_find(const unsigned char *blob, size_t len,
		    uint64_t wire_offset, uint64_t *file_r, uint64_t *wire_r);
/* How many line-end checkpoints a blob holds (0 if malformed). */
unsigned store_ckpt_count(const unsigned char *blob, size_t len);

#endif
