/* mime_msgid.h: message identifiers (RFC 5322 3.6.4) of Message-ID,
 * In-Reply-To and References, for threading (RFC 5256 3 and 4,
 * RFC 8474 5.2 THREADID).
 *
 * Contract: pure functions over byte slices (not NUL-terminated), never
 * reading outside them. Parsing is lenient as RFC 5256 3 asks of
 * threading: every "<...>" token with an "@" and without white space,
 * control bytes or '<' inside is an id (what sits between them, phrases
 * and comments, is skipped); an id over MIME_MSGID_MAX bytes is ignored.
 * Ids keep their case and lose the angle brackets. This is the one
 * msg-id parser: THREAD=REFERENCES and THREADID both read ids through
 * it (mime_references.h). */
#ifndef POSTEL_MIME_MSGID_H
#define POSTEL_MIME_MSGID_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/mem.h"

#define MIME_MSGID_MAX 250

/* The next id at *pos of in[0..len) (a slice of in, without "<>"):
 * false when there is none left (*pos is then len). */
bool mime_msgid_next(const char *in, size_t len, size_t *pos,
		     const char **id_r, size_t *id_len_r);

/* The raw value (after the colon, folding kept) of the first field
 * called name (case-insensitive) in a header block hdr[0..len) with LF
 * or CRLF line ends; false if there is none. */
bool mime_header_find(const char *hdr, size_t len, const char *name,
		      const char **value_r, size_t *value_len_r);

#endif
