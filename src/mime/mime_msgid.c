/* mime_msgid.c: message identifiers for threading (see mime_msgid.h). */
#include "mime/mime_msgid.h"

#include <string.h>
#include <strings.h>

/* RFC 5322 3.6.4 msg-id, leniently (RFC 5256 3): "<" id ">" where id
 * holds an "@" and no white space, control, '<' or '>' byte. */
bool mime_msgid_next(const char *in, size_t len, size_t *pos,
		     const char **id_r, size_t *id_len_r)
{
	while (*pos < len) {
		const char *open = memchr(in + *pos, '<', len - *pos);
		if (open == NULL)
			break;
		size_t start = (size_t)(open - in) + 1, end = start;
		bool at = false;
		while (end < len) {
			unsigned char c = (unsigned char)in[end];
			if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
				break;
			at |= c == '@';
			end++;
		}
		*pos = end;
		if (end >= len || in[end] != '>')
			continue; /* broken token: RFC 5256 3 ignores it */
		*pos = end + 1;
		if (!at || end - start > MIME_MSGID_MAX)
			continue;
		*id_r = in + start;
		*id_len_r = end - start;
		return true;
	}
	*pos = len;
	return false;
}

bool mime_header_find(const char *hdr, size_t len, const char *name,
		      const char **value_r, size_t *value_len_r)
{
	size_t name_len = strlen(name), pos = 0;
	while (pos < len) {
		/* one field: up to a line end not followed by WSP */
		size_t end = pos;
		for (;;) {
			const char *nl = memchr(hdr + end, '\n', len - end);
			end = nl == NULL ? len : (size_t)(nl - hdr) + 1;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		if (end - pos > name_len && hdr[pos + name_len] == ':' &&
		    strncasecmp(hdr + pos, name, name_len) == 0) {
			*value_r = hdr + pos + name_len + 1;
			*value_len_r = end - (pos + name_len + 1);
			return true;
		}
		if (hdr[pos] == '\n' || (hdr[pos] == '\r' && pos + 1 < len &&
					 hdr[pos + 1] == '\n'))
			break; /* the empty line: the header ended */
		pos = end;
	}
	return false;
}
