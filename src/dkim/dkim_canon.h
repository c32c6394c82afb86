/* dkim_canon.h: the "relaxed" canonicalisations of RFC 6376 3.4.2 (header
 * fields) and 3.4.4 (body).
 *
 * Contract: the body canonicaliser is streamed: feed the body in pieces of
 * any size (a CRLF may be split between pieces) and the output is the same
 * as for the whole body at once; it holds only a count of pending empty
 * lines and one pending-space flag, so memory is constant whatever the
 * size of the message. Output goes to a callback in runs of at most
 * DKIM_CANON_BUF bytes. The header canonicaliser is a pure function of
 * one field. Neither can fail. */
#ifndef POSTEL_DKIM_CANON_H
#define POSTEL_DKIM_CANON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"

#define DKIM_CANON_BUF 4096

typedef void dkim_canon_out_t(void *ctx, const void *data, size_t len);

struct dkim_body_canon {
	dkim_canon_out_t *out;
	void *ctx;
	uint64_t empty_lines; /* line ends seen but not yet written */
	bool wsp;             /* WSP seen on this line, not yet written */
	bool cr;              /* the last byte fed was a CR */
	bool any;             /* some content was written */
	uint64_t written;     /* canonical bytes so far (for tests) */
	size_t buf_len;
	unsigned char buf[DKIM_CANON_BUF];
};

void dkim_body_canon_init(struct dkim_body_canon *c, dkim_canon_out_t *out, void *ctx);
void dkim_body_canon_feed(struct dkim_body_canon *c, const void *data, size_t len);
/* Writes the final CRLF of a non-empty body and flushes. */
void dkim_body_canon_finish(struct dkim_body_canon *c);

/* Appends the relaxed form of one header field (name, colon, value, as
 * it appears in the message, with or without its final CRLF) to out,
 * without a line end. */
void dkim_header_canon(const char *field, size_t len, str_t *out);

#endif
