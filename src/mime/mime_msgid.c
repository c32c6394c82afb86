/* mime_msgid.c: message identifiers for threading (see mime_msgid.h). */
#include "mime/mime_msgid.h"

#include <string.h>
#include <strings.h>

unsigned mime_msgid_parse(const char *in, size_t len, pool_t *pool,
			  const char **ids, unsigned max)
{
	unsigned n = 0;
	size_t i = 0;
	while (i < len && n < max) {
		const char *open = memchr(in + i, '<', len - i);
		if (open == NULL)
			break;
		size_t start = (size_t)(open - in) + 1, end = start;
		while (end < len && in[end] != '>' && in[end] != '<' &&
		       in[end] != ' ' && in[end] != '\t' && in[end] != '\r' &&
		       in[end] != '\n' && in[end] != '\0')
			end++;
		i = end;
		if (end >= len || in[end] != '>')
			continue; /* broken token: RFC 5256 3 ignores it */
		i = end + 1;
		size_t id_len = end - start;
		if (id_len == 0 || id_len > MIME_MSGID_MAX)
			continue;
		bool dup = false;
		for (unsigned k = 0; k < n && !dup; k++)
			dup = strlen(ids[k]) == id_len &&
				memcmp(ids[k], in + start, id_len) == 0;
		if (!dup)
			ids[n++] = pool_strndup(pool, in + start, id_len);
	}
	return n;
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
