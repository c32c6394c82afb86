/* mime_header.h: header field value decoding for the MIME parser and IMAP.
 *
 * Contract: every function takes a byte slice (not NUL-terminated), never
 * reads outside it, and appends UTF-8 to a str_t. Invalid input is
 * tolerated: undecodable bytes become U+FFFD, malformed encoded words are
 * kept literally (RFC 2047 section 6.3 says ignore, not reject). */
#ifndef POSTEL_MIME_HEADER_H
#define POSTEL_MIME_HEADER_H

#include <stddef.h>
#include <stdint.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_parser.h"

/* Value of a hex digit, -1 when c is not one. */
int mime_hex_value(unsigned char c);
/* RFC 2231 4: %XX decoded (a stray % is kept) */
void mime_pct_decode(const char *s, str_t *out);
/* RFC 5322 2.2.3: remove CRLF (or bare LF) that precede WSP. */
void mime_header_unfold(const char *in, size_t len, str_t *out);
/* Charset conversion via iconv; invalid or unknown -> U+FFFD per byte. */
void mime_charset_to_utf8(const char *charset, const char *in, size_t len,
			  str_t *out);
/* RFC 2047: decode encoded words in unstructured text (section 6.2:
 * white space between adjacent encoded words is dropped). */
void mime_header_decode(const char *in, size_t len, str_t *out);
/* RFC 2045 5.1 / 2183: "type/subtype; params" (want_subtype) or
 * "disposition; params". Quoted strings are unescaped, comments skipped,
 * RFC 2231 continuations and charset'lang' values joined and decoded.
 * Returns 0, or -1 when the value has no usable type (params still set). */
/* The same value's parameters as written (the first pass of
 * mime_header_parse_params, at most MIME_MAX_PARAMS into raw): name lower
 * case without the RFC 2231 "*N*" suffix, value unquoted and not decoded;
 * what the RFC 6858 downgrade (mime_downgrade_param.c) rewrites. */
struct mime_raw_param {
	char *name;
	int section;   /* RFC 2231 3 continuation number, -1 when none */
	bool extended; /* RFC 2231 4: charset'lang'%XX (first) or %XX */
	char *value;
};
int mime_header_raw_params(pool_t *pool, const char *in, size_t len, bool want_subtype,
			   char **type_r, char **subtype_r, struct mime_raw_param *raw,
			   uint32_t *n_r);
int mime_header_parse_params(pool_t *pool, const char *in, size_t len,
			     bool want_subtype, char **type_r,
			     char **subtype_r, struct mime_param **params_r,
			     uint32_t *n_r);

#endif
