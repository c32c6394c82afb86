/* pop3_downgrade.c: RETR and TOP of an SMTPUTF8 message (8-bit header
 * fields, RFC 6532) for a client that did not issue UTF8.
 *
 * Contract: RFC 6856 2 lets the server give such a client a downgraded
 * message (RFC 6858) rather than the stored octets; pop3_downgrade()
 * reads the stored header (at most POP3_DOWNGRADE_HEADER_MAX octets, on
 * the thread pool, before the first octet is sent) and, when a field is
 * 8-bit, makes the reader show the RFC 6858 header
 * (mime_downgrade_header(), store_message_reader_replace_header()); the
 * body follows as stored and TOP counts its lines as before. The reader
 * is left at offset 0 either way. *delta_r is the size difference, for
 * RETR's "+OK n octets". LIST and STAT keep the stored size: knowing
 * which messages are 8-bit would mean reading every header at login. A
 * header longer than the bound is sent as stored. */
#include "pop3_private.h"
#include "mime/mime_downgrade.h"
#include "store/store.h"

#include <string.h>

#define POP3_DOWNGRADE_HEADER_MAX (256 * 1024)
#define POP3_DOWNGRADE_READ 16384

/* The header's length in hdr (through its empty line), 0 if none yet */
static size_t header_end(const str_t *hdr, size_t from)
{
	for (size_t i = from; i + 1 < hdr->len; i++) {
		if (hdr->data[i] != '\n')
			continue;
		if (hdr->data[i + 1] == '\n')
			return i + 2;
		if (hdr->data[i + 1] == '\r' && i + 2 < hdr->len && hdr->data[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int pop3_downgrade(struct store_message_reader *reader, int64_t *delta_r,
		   const char **error_r)
{
	*delta_r = 0;
	str_t hdr = STR_INIT;
	size_t end = 0;
	bool eof = false;
	/* bounded: POP3_DOWNGRADE_HEADER_MAX / POP3_DOWNGRADE_READ rounds */
	while (end == 0 && !eof && hdr.len < POP3_DOWNGRADE_HEADER_MAX) {
		size_t from = hdr.len > 2 ? hdr.len - 2 : 0;
		str_reserve(&hdr, POP3_DOWNGRADE_READ + 1);
		ssize_t n = store_message_read(reader, hdr.data + hdr.len, POP3_DOWNGRADE_READ,
					       error_r);
		if (n < 0) {
			str_free(&hdr);
			return -1;
		}
		hdr.len += (size_t)n;
		eof = n == 0;
		/* a message starting with its empty line has no header */
		if (hdr.len >= 2 && from == 0 && (hdr.data[0] == '\n' ||
						  (hdr.data[0] == '\r' && hdr.data[1] == '\n')))
			break;
		end = header_end(&hdr, from);
	}
	if (end == 0 && eof)
		end = hdr.len; /* all header */
	str_t out = STR_INIT;
	if (end > 0 && mime_downgrade_header(hdr.data, end, &out)) {
		store_message_reader_replace_header(reader, out.data, out.len, end);
		*delta_r = (int64_t)out.len - (int64_t)end;
		str_free(&out);
		str_free(&hdr);
		return 0;
	}
	str_free(&hdr);
	return store_message_seek(reader, 0, error_r);
}
