/* mime_parser.h: streaming MIME structure parser (RFC 2045, 2046, 5322).
 *
 * Contract: mime_parser_feed() takes the message in chunks of any size;
 * the result is the same for every split. The parser keeps at most
 * MIME_LINE_KEEP bytes of the current line and MIME_FIELD_MAX bytes of the
 * current header field, plus the part tree it builds (at most
 * MIME_MAX_PARTS parts). It never fails a message: beyond MIME_MAX_DEPTH or
 * MIME_MAX_PARTS the rest is opaque body of the parts already open; broken
 * or missing boundaries and headers without an empty separator line are
 * tolerated as Dovecot and mime4j do.
 *
 * Offsets are byte offsets into the input as given. Messages kept in wire
 * form (CRLF) have wire size == input size; for input with bare LF the
 * *_bare_lf counts give the wire size: octets = (end - start) + bare_lf.
 * A part's body ends before the line break that precedes the next
 * delimiter line (RFC 2046 5.1.1: that CRLF belongs to the delimiter).
 * Parts are stored in pre-order; parent always precedes its children.
 * For message/rfc822 the single child is the enclosed message, whose
 * hdr_off is the message part's body_off (ENVELOPE reads that header). */
#ifndef POSTEL_MIME_PARSER_H
#define POSTEL_MIME_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/mem.h"

#define MIME_MAX_DEPTH 32
#define MIME_MAX_PARTS 10000
#define MIME_LINE_KEEP 1024
#define MIME_FIELD_MAX 16384
/* RFC 2046 5.1.1: boundaries are 1..70 characters; senders exceed it, so
 * up to the RFC 5322 2.1.1 line limit is honoured. A longer one is cut to
 * this length and matched as a prefix (memory stays bounded). */
#define MIME_BOUNDARY_MAX 998
#define MIME_MAX_PARAMS 64
#define MIME_NONE UINT32_MAX

enum mime_part_flags {
	MIME_PART_MULTIPART = 1 << 0,   /* children are body parts */
	MIME_PART_MESSAGE = 1 << 1,     /* child is an enclosed message */
	MIME_PART_NO_HDR_SEP = 1 << 2,  /* header ended without empty line */
	MIME_PART_TRUNCATED = 1 << 3,   /* a limit made the rest opaque */
	MIME_PART_DEFAULT_TYPE = 1 << 4, /* no usable Content-Type */
	/* an octet >= 0x80 in the header (RFC 6532 UTF-8 header fields):
	 * what RFC 6858 downgrading looks at (mime_downgrade.h) */
	MIME_PART_HDR_8BIT = 1 << 5
};

struct mime_param {
	char *name;  /* lower case */
	char *value; /* UTF-8, RFC 2231 / 2047 decoded */
};

struct mime_part {
	uint64_t hdr_off, body_off, body_end;
	uint64_t hdr_bare_lf, body_bare_lf; /* bare LFs in header / body */
	uint64_t body_lines;                /* LFs in the body */
	uint32_t parent, first_child, next_sibling, depth;
	uint32_t flags;
	char *type, *subtype; /* lower case, never NULL */
	struct mime_param *params;
	uint32_t n_params;
	char *cte, *id, *description, *disposition, *language, *location, *md5;
	struct mime_param *disp_params;
	uint32_t n_disp_params;
};

struct mime_tree {
	pool_t *pool;
	struct mime_part *parts;
	uint32_t count;
};

struct mime_parser;

struct mime_parser *mime_parser_create(void);
void mime_parser_feed(struct mime_parser *p, const void *data, size_t len);
/* End of input: closes every open part at the end. The tree belongs to
 * the caller (mime_tree_free); the parser is freed. */
struct mime_tree *mime_parser_finish(struct mime_parser **p);
void mime_parser_abort(struct mime_parser **p);

/* Convenience: parse a whole buffer. */
struct mime_tree *mime_parse(const void *data, size_t len);
void mime_tree_free(struct mime_tree **tree);

/* Wire octets of a part's body (bare LFs count as CRLF). */
static inline uint64_t mime_part_body_octets(const struct mime_part *part)
{
	return part->body_end - part->body_off + part->body_bare_lf;
}
const char *mime_param_get(const struct mime_param *params, uint32_t n,
			   const char *name);

#endif
