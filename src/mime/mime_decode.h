/* mime_decode.h: streaming decoders for MIME part bodies, for SEARCH
 * (and later FETCH BINARY): content-transfer-encoding (RFC 2045 6),
 * charset conversion to UTF-8, and case-insensitive UTF-8 substring
 * matching (RFC 9051 6.4.4).
 *
 * Contract: every decoder takes its input in chunks of any size and
 * gives the same output for every split; its state is a few bytes
 * (a decoder) or a fixed buffer (a charset converter, a matcher), never
 * the body. Nothing fails: malformed input is decoded as far as it can
 * be (a stray "=" in quoted-printable is kept, a non-alphabet character
 * in base64 skipped, an unknown charset passes the bytes through as
 * they are), so a broken message is still searched, never hidden.
 * Output is appended to a str_t the caller clears between chunks. */
#ifndef POSTEL_MIME_DECODE_H
#define POSTEL_MIME_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

enum mime_cte {
	MIME_CTE_IDENTITY, /* 7bit, 8bit, binary, missing or unknown */
	MIME_CTE_BASE64,
	MIME_CTE_QP,
};

/* The Content-Transfer-Encoding value (case-insensitive, RFC 2045 6.1);
 * NULL or an unknown token is identity (RFC 2045 6.4: treat as opaque,
 * here: search its bytes). */
enum mime_cte mime_cte_parse(const char *value);

struct mime_decoder {
	enum mime_cte cte;
	unsigned char pend[2]; /* QP: "=" [hex digit | CR] not yet decided */
	unsigned npend;
	unsigned b64_bits, b64_nbits; /* base64: bits of the quantum so far */
};

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte);
void mime_decoder_feed(struct mime_decoder *d, const void *in, size_t len,
		       str_t *out);
/* End of input: whatever is pending (a dangling "=" of QP) goes out. */
void mime_decoder_finish(struct mime_decoder *d, str_t *out);

/* Charset conversion to UTF-8 through iconv. UTF-8, US-ASCII, an empty
 * name and a charset iconv does not know pass bytes through unchanged;
 * ISO-8859-1 works even where iconv's modules cannot be loaded (the
 * sandboxed worker). An invalid byte becomes U+FFFD. */
struct mime_charset_conv;
struct mime_charset_conv *mime_charset_conv_create(const char *charset);
void mime_charset_conv_feed(struct mime_charset_conv *c, const void *in,
			    size_t len, str_t *out);
void mime_charset_conv_finish(struct mime_charset_conv *c, str_t *out);
void mime_charset_conv_free(struct mime_charset_conv **c);

/* Simple case folding (Unicode CaseFolding.txt status C+S) for Latin,
 * Greek, Cyrillic and Armenian letters, enough for "Ä" to match "ä";
 * bytes that are not valid UTF-8 are kept as they are. Appends to out. */
void mime_utf8_fold(const void *in, size_t len, str_t *out);
/* Case-insensitive substring test of UTF-8 text (RFC 9051 6.4.4). */
bool mime_utf8_icontains(const void *hay, size_t hay_len,
			 const void *needle, size_t needle_len);

/* A streaming matcher: the needle, folded, is looked for in text fed in
 * chunks (split anywhere, also inside a UTF-8 sequence). Keeps the
 * needle, at most needle-length bytes of the text before the chunk and
 * up to 3 bytes of an unfinished sequence. found stays true. */
struct mime_match {
	str_t needle;    /* folded */
	str_t window;    /* folded tail of the text so far + current chunk */
	unsigned char pend[4];
	unsigned npend;
	bool found;
};
void mime_match_init(struct mime_match *m, const void *needle, size_t len);
/* Start over with the same needle (a new part: no match across parts). */
void mime_match_reset(struct mime_match *m);
bool mime_match_feed(struct mime_match *m, const void *text, size_t len);
/* End of the text: an unfinished sequence is matched as the bytes it is. */
bool mime_match_finish(struct mime_match *m);
void mime_match_deinit(struct mime_match *m);

#endif
