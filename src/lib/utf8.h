/* utf8.h: the one UTF-8 validator (RFC 3629 4), for SASL fields
 * (src/auth/sasl.c) and the RFC 6858 downgrade's choice of charset
 * (src/mime/mime_downgrade.c).
 *
 * Contract: utf8_valid() is true when s[0..len) is well-formed UTF-8: no
 * stray continuation bytes, no truncated sequence, no overlong form, no
 * surrogate (U+D800..U+DFFF) and nothing past U+10FFFF. NUL is a valid
 * character here; a caller that refuses it (SASL) checks for it itself.
 * Reads only s[0..len); one pass. */
#ifndef POSTEL_UTF8_H
#define POSTEL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

bool utf8_valid(const void *s, size_t len);

#endif
