/* dkim_field.h: the text of a DKIM-Signature field (RFC 6376 3.5), folded
 * so that no line is longer than DKIM_FIELD_WIDTH octets.
 *
 * Contract: dkim_field_begin() writes "DKIM-Signature: v=1; a=...;
 * c=relaxed/relaxed; d=; s=; t=; h=; bh=; b=" (b= empty, no CRLF): the
 * text whose relaxed form is hashed last. dkim_field_finish() appends
 * the signature, folded inside the base64 (FWS is allowed there, RFC 6376
 * 3.5 b=), and the final CRLF. Folding uses CRLF SP. */
#ifndef POSTEL_DKIM_FIELD_H
#define POSTEL_DKIM_FIELD_H

#include <stddef.h>
#include <time.h>

#include "dkim/dkim_key.h"
#include "lib/str.h"

#define DKIM_FIELD_WIDTH 78
#define DKIM_FIELD_NAMES_MAX 64

/* Lower-case names of the fields signed when present, NULL-terminated. */
extern const char *const dkim_signed_fields[];

struct dkim_field_builder {
	str_t *out;
	size_t col; /* octets on the current line */
};

void dkim_field_begin(struct dkim_field_builder *fb, str_t *out,
		      const struct dkim_key *key, time_t t,
		      const char *const *names, unsigned count,
		      const unsigned char bh[32]);
void dkim_field_finish(struct dkim_field_builder *fb, const char *b64, size_t len);

#endif
