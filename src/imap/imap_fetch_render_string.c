/* imap_fetch_render_string.c: the renderer's strings and header access:
 * nstring as quoted or literal (RFC 9051 4.3) and a walk over raw header
 * fields (RFC 5322 2.2: a field is its first line and every continuation
 * line starting with WSP). A part's header is read by
 * store_message_read_header() (store_view.h). */
#include "imap/imap_fetch_render_private.h"

#include <string.h>

#include "lib/base64.h"
#include "mime/mime_header.h"

/* Quoted strings longer than this go as literals (easier to read and no
 * client line-length limit is hit). */
#define IMAP_QUOTED_MAX 1024

void imap_render_literal_prefix(str_t *out, uint64_t len)
{
	str_printf(out, "{%llu}\r\n", (unsigned long long)len);
}

void imap_render_nstring(str_t *out, const char *s, size_t len)
{
	if (s == NULL) {
		str_appendz(out, "NIL");
		return;
	}
	bool quotable = len <= IMAP_QUOTED_MAX;
	for (size_t i = 0; i < len && quotable; i++) {
		if ((unsigned char)s[i] >= 0x80)
			quotable = false;
	}
	if (!quotable)
		imap_render_literal_prefix(out, len);
	else
		str_appendc(out, '"');
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\0' || c == '\r' || c == '\n')
			c = ' ';
		if (quotable && (c == '"' || c == '\\'))
			str_appendc(out, '\\');
		str_appendc(out, c);
	}
	if (quotable)
		str_appendc(out, '"');
}

void imap_render_nstring_z(str_t *out, const char *s)
{
	imap_render_nstring(out, s, s == NULL ? 0 : strlen(s));
}

/* UTF-8 bytes per encoded word: 45 give 60 base64 characters, so a
 * word stays within RFC 2047 2's 75 */
#define IMAP_EW_CHUNK 45

void imap_render_nstring_7bit(str_t *out, const char *s)
{
	size_t len = s == NULL ? 0 : strlen(s);
	bool eight_bit = false;
	for (size_t i = 0; i < len && !eight_bit; i++)
		eight_bit = (unsigned char)s[i] >= 0x80;
	if (!eight_bit) {
		imap_render_nstring(out, s, len);
		return;
	}
	/* RFC 2047 encoded words, whole characters each (6.3), joined by
	 * spaces (which a decoder drops between adjacent words, 6.2) */
	str_t words = STR_INIT;
	for (size_t i = 0; i < len;) {
		size_t n = len - i < IMAP_EW_CHUNK ? len - i : IMAP_EW_CHUNK;
		while (n > 1 && i + n < len &&
		       ((unsigned char)s[i + n] & 0xc0) == 0x80)
			n--;
		if (words.len > 0)
			str_appendc(&words, ' ');
		str_appendz(&words, "=?utf-8?b?");
		base64_encode(s + i, n, &words);
		str_appendz(&words, "?=");
		i += n;
	}
	imap_render_nstring(out, words.data, words.len);
	str_free(&words);
}

bool imap_header_next_field(const char *hdr, size_t len, size_t *pos,
			    const char **name_r, size_t *name_len_r,
			    const char **field_r, size_t *field_len_r)
{
	for (;;) {
		size_t start = *pos;
		if (start >= len)
			return false;
		/* one field: up to a line end not followed by WSP */
		size_t end = start;
		while (end < len) {
			const char *lf = memchr(hdr + end, '\n', len - end);
			end = lf == NULL ? len : (size_t)(lf - hdr) + 1;
			if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
				break;
		}
		*pos = end;
		const char *colon = memchr(hdr + start, ':', end - start);
		if (colon == NULL)
			continue; /* the empty line or junk */
		size_t name_len = (size_t)(colon - (hdr + start));
		while (name_len > 0 && (hdr[start + name_len - 1] == ' ' ||
					hdr[start + name_len - 1] == '\t'))
			name_len--;
		if (name_len == 0 || hdr[start] == ' ' || hdr[start] == '\t')
			continue;
		*name_r = hdr + start;
		*name_len_r = name_len;
		*field_r = hdr + start;
		*field_len_r = end - start;
		return true;
	}
}

const char *imap_header_value(const char *hdr, size_t len, const char *name,
			      size_t *value_len_r)
{
	size_t pos = 0, name_len, field_len, want = strlen(name);
	const char *fname, *field;
	while (imap_header_next_field(hdr, len, &pos, &fname, &name_len,
				      &field, &field_len)) {
		if (name_len != want || !mem_ieq(fname, name, want))
			continue;
		const char *v = memchr(field, ':', field_len) + 1;
		size_t vlen = field_len - (size_t)(v - field);
		str_t s = STR_INIT;
		mime_header_unfold(v, vlen, &s);
		size_t a = 0, b = s.len;
		while (a < b && (s.data[a] == ' ' || s.data[a] == '\t'))
			a++;
		while (b > a && (s.data[b - 1] == ' ' || s.data[b - 1] == '\t' ||
				 s.data[b - 1] == '\r' || s.data[b - 1] == '\n'))
			b--;
		char *out = t_strndup(b > a ? s.data + a : "", b - a);
		str_free(&s);
		*value_len_r = b - a;
		return out;
	}
	return NULL;
}
