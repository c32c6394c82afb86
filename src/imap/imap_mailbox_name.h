/* imap_mailbox_name.h: a mailbox-name argument into the store's form.
 *
 * Contract: RFC 3501 5.1.3 modified UTF-7 ("&AOQ-" for U+00E4, "&-" for
 * '&') is checked strictly and decoded to UTF-8: base64 runs must close
 * with '-', decode to whole UTF-16 units with paired surrogates and zero
 * padding bits, and never encode printable US-ASCII; with UTF8=ACCEPT
 * (RFC 9051 / RFC 6855) the name is taken as UTF-8 instead and must be
 * valid. The result then goes through store_mailbox_name_check(), which
 * refuses "..", ".", empty components, leading '/' and control
 * characters (TESTING.md item 13), and canonicalises INBOX; a leading
 * '~' (another user's hierarchy) is refused here. */
#ifndef POSTEL_IMAP_MAILBOX_NAME_H
#define POSTEL_IMAP_MAILBOX_NAME_H

#include <stdbool.h>
#include <stddef.h>

#include "imap/imap_parser.h"
#include "lib/str.h"

/* Modified UTF-7 to UTF-8, appended to out. 0 ok, -1 invalid. */
int imap_mutf7_to_utf8(const char *s, size_t len, str_t *out, const char **error_r);

/* 0: *name_r is the canonical name (valid until the next store temp
 * string or the command's end); -1: refused, answer NO with *error_r. */
int imap_mailbox_name_get(const struct imap_arg *arg, bool utf8_accept, str_t *buf,
			  const char **name_r, const char **error_r);

#endif
