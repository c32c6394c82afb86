/* imap_utf8.h: UTF8=ACCEPT (RFC 6855) for IMAP4rev1 clients
 * (imap_utf8.c; see its contract). */
#ifndef POSTEL_IMAP_UTF8_H
#define POSTEL_IMAP_UTF8_H

#include "lib/literal.h"

#include <stdbool.h>
#include <stddef.h>

struct imap_session;

/* imap_utf8.c: UTF8=ACCEPT (RFC 6855). enable: true if newly enabled
 * (imap_cmds.c table). append_form: where the arguments before an APPEND
 * literal end; *utf8_r if the literal is the UTF8 data form "UTF8 (~{n}".
 * append_end: after such a literal, skip its ")" (false: missing). */
bool imap_utf8_enable(struct imap_session *s);
/* header_scan: fed a message's octets in order; eight_bit once an octet
 * >= 0x80 was seen before the empty line that ends the header. Starts
 * zeroed with .state = 1 (IMAP_UTF8_SCAN_INIT). */
struct imap_utf8_scan {
	bool body, eight_bit;
	unsigned char state;
};
#define IMAP_UTF8_SCAN_INIT { .body = false, .eight_bit = false, .state = 1 }
void imap_utf8_header_scan(struct imap_utf8_scan *sc, const char *data, size_t len);
size_t imap_utf8_append_form(const char *line, const struct literal_prefix *prefix,
			     bool *utf8_r);
bool imap_utf8_append_end(bool utf8, const char **line, size_t *len);

#endif
