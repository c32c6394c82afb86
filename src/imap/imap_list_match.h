/* imap_list_match.h: the LIST/LSUB pattern matcher (RFC 9051 6.3.9,
 * RFC 3501 6.3.8): '*' matches any run of characters, '%' any run
 * without the hierarchy separator '/'; everything else matches itself,
 * except that the name "INBOX" matches case-insensitively (RFC 9051 5.1).
 *
 * Contract: pure functions, no allocation. The work of one match is
 * bounded by pattern length x name length (a set of name positions is
 * carried through the pattern, never backtracking), so "*a*a*a..." cannot
 * go exponential; patterns are capped at IMAP_LIST_PATTERN_MAX octets and
 * IMAP_LIST_WILDCARDS_MAX wildcards, names at IMAP_LIST_NAME_MAX (a longer
 * name never matches). */
#ifndef POSTEL_IMAP_LIST_MATCH_H
#define POSTEL_IMAP_LIST_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

#define IMAP_LIST_PATTERN_MAX 512
#define IMAP_LIST_WILDCARDS_MAX 32
#define IMAP_LIST_NAME_MAX 1024

/* The reference name and the pattern joined into one pattern (RFC 3501
 * 6.3.8: the reference is put before the mailbox argument) in *out
 * (reset first). -1 with *error_r if the result is over the caps. */
int imap_list_pattern_make(const char *ref, size_t ref_len, const char *pattern,
			   size_t pattern_len, str_t *out, const char **error_r);

/* Does name match pattern (both NUL-terminated)? */
bool imap_list_match(const char *pattern, const char *name);

/* Does the pattern hold a wildcard? */
bool imap_list_has_wildcard(const char *pattern);

#endif
