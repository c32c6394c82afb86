/* imap_utf8.c: UTF8=ACCEPT (RFC 6855) for IMAP4rev1 clients.
 *
 * Contract: ENABLE UTF8=ACCEPT (imap_cmds.c table) sets s->utf8_accept,
 * the switch IMAP4rev2 also sets (RFC 9051 5.1): mailbox names are then
 * taken and given in UTF-8, never modified UTF-7 (imap_mailbox_name.c,
 * imap_append_mailbox()). APPEND's UTF8 data form (RFC 6855 4,
 * "UTF8" SP "(" literal8 ")") is recognised at the end of an APPEND line
 * by imap_utf8_append_form() (for each message of a MULTIAPPEND too),
 * and taken only once UTF-8 was enabled (BAD before: the client has not
 * said it can read what it stores). RFC 6855 4: a client that enabled
 * neither UTF8=ACCEPT nor IMAP4rev2 gets NO for an APPEND whose header
 * fields hold an 8-bit octet (imap_utf8_header_scan() watches each
 * message's header as it streams); otherwise messages are stored as
 * sent, 8-bit header fields (SMTPUTF8 mail, RFC 6532) unconverted.
 * RFC 6855 7: a rev1 client that did not enable UTF-8 is shown such a
 * message as RFC 6858's synthetic message (imap_fetch_downgrade.c). */
#include "imap_utf8.h"
#include "imap/imap_session_private.h"

#include <strings.h>

#define UTF8_FORM "UTF8 ("
#define UTF8_FORM_LEN 6

bool imap_utf8_enable(struct imap_session *s)
{
	/* RFC 5161 3.2: ENABLED names what this command newly enabled */
	if (s->utf8_enabled)
		return false;
	s->utf8_enabled = true;
	s->utf8_accept = true;
	return true;
}

size_t imap_utf8_append_form(const char *line, const struct literal_prefix *prefix,
			     bool *utf8_r)
{
	size_t start = prefix->start;
	*utf8_r = false;
	/* RFC 6855 4: append-data =/ "UTF8" SP "(" literal8 ")" */
	if (!prefix->binary || start < UTF8_FORM_LEN + 1 || line[start - UTF8_FORM_LEN - 1] != ' ' ||
	    strncasecmp(line + start - UTF8_FORM_LEN, UTF8_FORM, UTF8_FORM_LEN) != 0)
		return start;
	*utf8_r = true;
	return start - UTF8_FORM_LEN;
}

void imap_utf8_header_scan(struct imap_utf8_scan *sc, const char *data, size_t len)
{
	/* state: 0 inside a line, 1 after LF (or at the start), 2 after LF CR */
	for (size_t i = 0; i < len && !sc->body; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c >= 0x80)
			sc->eight_bit = true;
		if (c == '\n') {
			sc->body = sc->state != 0; /* an empty line ends the header */
			sc->state = 1;
		} else {
			sc->state = c == '\r' && sc->state == 1 ? 2 : 0;
		}
	}
}

bool imap_utf8_append_end(bool utf8, const char **line, size_t *len)
{
	if (!utf8)
		return true;
	/* the ")" that closes the UTF8 form right after the literal */
	if (*len == 0 || (*line)[0] != ')')
		return false;
	(*line)++;
	(*len)--;
	return true;
}
