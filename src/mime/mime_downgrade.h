/* mime_downgrade.h: RFC 6858 simplified downgrading of a message header
 * that carries UTF-8 (RFC 6532) for a client that never said it reads
 * it (IMAP without UTF8=ACCEPT or IMAP4rev2, RFC 6855 7; POP3 without
 * UTF8, RFC 6856 3).
 *
 * Contract: mime_downgrade_header() takes one raw header block (the
 * fields and the empty line that ends them, CRLF or bare LF) and, when a
 * field holds an octet >= 0x80, appends to out the same header with
 * every such field made 7-bit (RFC 6858 3):
 *   - address fields (From, To, Cc, Sender, Reply-To, Resent-*, ...):
 *     8-bit display names become RFC 2047 encoded words; an address
 *     whose local part or domain is 8-bit cannot be written in ASCII and
 *     becomes an empty group named by its display name (or by the
 *     address itself, encoded), "name :;", so the reader still sees who
 *     but cannot reply to the unusable address;
 *     (an 8-bit member of a group is written after the group as an
 *     empty group of its own: groups do not nest, RFC 5322 3.4);
 *   - msg-id lists (In-Reply-To, References): the 8-bit ids left out,
 *     the ASCII ones kept; single msg-ids (Message-ID, Content-ID,
 *     Resent-Message-ID) and other structured fields with no 7-bit form
 *     (Received, Return-Path, dates, ...): the field is left out
 *     (mime_downgrade_field.c says which and why);
 *   - MIME fields with parameters (Content-Type, Content-Disposition):
 *     every 8-bit parameter value RFC 2231 encoded (charset UTF-8, or
 *     UNKNOWN-8BIT), split into continuations, the 7-bit ones as they
 *     were; an 8-bit type or disposition itself: the field left out
 *     (mime_downgrade_params());
 *   - every other field (Subject, Comments, X-* and unknown ones,
 *     RFC 2047 5 (1)): the unfolded value
 *     as UTF-8 encoded words (RFC 2047 2: at most 75 characters each, B
 *     or Q, whichever is shorter, whole characters per word, 5 (1)),
 *     folded so that no line is longer than 76 octets.
 * 7-bit fields pass byte for byte, in order. Lines end as the input's
 * first line ends (CRLF for the store's wire form). Returns false (out
 * untouched) when no field has an 8-bit octet. Bounded: one pass over
 * the input; out grows by at most about 3x the 8-bit fields' size. */
#ifndef POSTEL_MIME_DOWNGRADE_H
#define POSTEL_MIME_DOWNGRADE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

bool mime_downgrade_header(const char *hdr, size_t len, str_t *out);

/* RFC 2047 encoded words (charset UTF-8) for the text s[0..len), each
 * after a space, or after eol and a space when the line would pass 76
 * octets; *col is the column (updated). Q leaves only RFC 2047 5 (3)'s
 * characters unencoded, so the words are valid in a phrase too. */
void mime_downgrade_encode_words(const char *s, size_t len, const char *eol,
				 size_t *col, str_t *out);

/* Whether s[0..len) holds an octet >= 0x80. */
bool mime_downgrade_8bit(const char *s, size_t len);

/* The charset an encoded word (or RFC 2231 value) of s[0..len) names:
 * "UTF-8" when it is valid UTF-8, else "UNKNOWN-8BIT" (RFC 1428 3). */
const char *mime_downgrade_charset(const char *s, size_t len);

/* mime_downgrade_param.c: a Content-Type or Content-Disposition value
 * (unfolded, trimmed) after "Name:", each 8-bit parameter value as RFC
 * 2231 4 extended value (charset''%XX..., split into 4.1 continuations
 * so that no line passes 76 octets), each parameter on a line of its
 * own when it does not fit. False (out partly written: the caller
 * truncates) when the type or disposition token itself is 8-bit. */
bool mime_downgrade_params(const char *v, size_t len, const char *eol,
			   size_t *col, str_t *out);

/* mime_downgrade_field.c: the treatment of an 8-bit field by name (see
 * there for which and why) */
enum mime_downgrade_kind {
	MIME_DOWNGRADE_TEXT,
	MIME_DOWNGRADE_ADDRESS,
	MIME_DOWNGRADE_MIME,
	MIME_DOWNGRADE_MSGIDS,
	MIME_DOWNGRADE_DROP,
	MIME_DOWNGRADE_UNCOMMENT,
};
enum mime_downgrade_kind mime_downgrade_field_kind(const char *name, size_t len);
/* The 7-bit msg-ids of a References or In-Reply-To value, each after a
 * space (folded before 76 octets); false when none was kept. */
bool mime_downgrade_msgids(const char *v, size_t len, const char *eol, size_t *col,
			   str_t *out);
/* A Content-Transfer-Encoding, MIME-Version or date value without its
 * comments (RFC 5322 3.2.2), each word after a space; false when what is
 * left is empty or still 8-bit (the field has no 7-bit form) */
bool mime_downgrade_uncomment(const char *v, size_t len, const char *eol, size_t *col,
			      str_t *out);

#endif
