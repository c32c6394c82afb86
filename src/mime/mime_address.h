/* mime_address.h: RFC 5322 section 3.4 address lists, shaped for IMAP
 * ENVELOPE (RFC 3501 7.4.2: name, adl, mailbox, host).
 *
 * Contract: never fails; junk yields what could be recognised. At most
 * MIME_MAX_ADDRESSES entries. A group is a start entry (mailbox = group
 * name, host NULL) and an end entry (all NULL), as ENVELOPE writes them.
 * An address without a domain gets host "" (not NULL, which would read
 * as a group marker). Display names are RFC 2047 decoded to UTF-8; when
 * there is none, a trailing comment is used ("a@b (Name)"). */
#ifndef POSTEL_MIME_ADDRESS_H
#define POSTEL_MIME_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "lib/mem.h"

#define MIME_MAX_ADDRESSES 1000

struct mime_address {
	char *name, *adl, *mailbox, *host;
};

uint32_t mime_address_parse(pool_t *pool, const char *in, size_t len,
			    struct mime_address **addrs_r);

#endif
