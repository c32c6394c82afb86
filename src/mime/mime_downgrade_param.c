/* mime_downgrade_param.c: the MIME parameters of an 8-bit Content-Type
 * or Content-Disposition field made 7-bit for the RFC 6858 downgrade.
 *
 * Contract (mime_downgrade.h, mime_downgrade_params()): the value is
 * "token *(; attribute=value)"; a parameter whose value holds an octet
 * >= 0x80 is written as an RFC 2231 extended value, attribute*N*=
 * charset''%XX... (4, 4.1: continuations numbered from 0, each short
 * enough for its own line), charset UTF-8 or UNKNOWN-8BIT when the
 * octets are not UTF-8 (RFC 1428 3); encoded words are not allowed in a
 * parameter (RFC 2047 5). 7-bit parameters are kept as written (quoted
 * or not). Bounded: one pass over the value; the output is at most
 * about 3x the value plus the folding. */
#include "mime/mime_downgrade.h"

#include <string.h>

#define LINE_MAX_COLS 76
/* octets of encoded value per continuation (3 per 8-bit octet) */
#define PARAM_CHUNK 48

/* RFC 2231 7 attribute-char: what an extended value leaves unencoded */
static bool attr_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

/* The end of a token or quoted string starting at v[i], up to ';' */
static size_t value_end(const char *v, size_t len, size_t i)
{
	bool quoted = false;
	for (; i < len; i++) {
		if (quoted && v[i] == '\\' && i + 1 < len) {
			i++;
		} else if (v[i] == '"') {
			quoted = !quoted;
		} else if (!quoted && v[i] == ';') {
			break;
		}
	}
	return i;
}

static size_t trim_end(const char *v, size_t from, size_t to)
{
	while (to > from && (v[to - 1] == ' ' || v[to - 1] == '\t'))
		to--;
	return to;
}

/* The value without its quotes and quoting backslashes */
static void unquote(const char *s, size_t len, str_t *out)
{
	if (len < 2 || s[0] != '"' || s[len - 1] != '"') {
		str_append(out, s, len);
		return;
	}
	for (size_t i = 1; i + 1 < len; i++) {
		if (s[i] == '\\' && i + 2 < len)
			i++;
		str_appendc(out, s[i]);
	}
}

/* "; " then text, on the next line when it would pass column 76 */
static void append_item(const char *text, size_t len, const char *eol, size_t *col,
			str_t *out)
{
	str_appendc(out, ';');
	*col += 1;
	if (*col + 1 + len > LINE_MAX_COLS) {
		str_appendz(out, eol);
		*col = 0;
	}
	str_appendc(out, *col == 0 ? '\t' : ' ');
	str_append(out, text, len);
	*col += 1 + len;
}

/* RFC 2231 4 and 4.1: attr*0*=charset''..., attr*1*=... */
static void append_extended(const char *attr, size_t attr_len, const char *val,
			    size_t len, const char *eol, size_t *col, str_t *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *charset = mime_downgrade_charset(val, len);
	str_t item = STR_INIT;
	unsigned part = 0;
	size_t i = 0;
	/* bounded: every round takes at least one octet */
	do {
		str_clear(&item);
		str_append(&item, attr, attr_len);
		str_printf(&item, "*%u*=", part);
		if (part == 0) {
			str_appendz(&item, charset);
			str_appendz(&item, "''");
		}
		size_t start = item.len;
		while (i < len && item.len - start < PARAM_CHUNK) {
			unsigned char c = (unsigned char)val[i++];
			if (attr_char(c)) {
				str_appendc(&item, (char)c);
			} else {
				str_appendc(&item, '%');
				str_appendc(&item, hex[c >> 4]);
				str_appendc(&item, hex[c & 15]);
			}
		}
		append_item(item.data, item.len, eol, col, out);
		part++;
	} while (i < len);
	str_free(&item);
}

bool mime_downgrade_params(const char *v, size_t len, const char *eol,
			   size_t *col, str_t *out)
{
	size_t end = value_end(v, len, 0);
	size_t tok_end = trim_end(v, 0, end);
	if (mime_downgrade_8bit(v, tok_end))
		return false;
	str_appendc(out, ' ');
	str_append(out, v, tok_end);
	*col += 1 + tok_end;
	str_t val = STR_INIT;
	/* bounded: every round moves past one ';' */
	for (size_t i = end; i < len;) {
		i++; /* the ';' */
		while (i < len && (v[i] == ' ' || v[i] == '\t'))
			i++;
		size_t pend = value_end(v, len, i);
		size_t pe = trim_end(v, i, pend);
		const char *eq = memchr(v + i, '=', pe - i);
		if (pe == i) {
			/* an empty parameter (a trailing ';'): dropped */
		} else if (!mime_downgrade_8bit(v + i, pe - i)) {
			append_item(v + i, pe - i, eol, col, out);
		} else if (eq != NULL && !mime_downgrade_8bit(v + i, (size_t)(eq - (v + i)))) {
			size_t attr_len = trim_end(v, i, (size_t)(eq - v)) - i;
			/* an attribute that says it is extended is encoded anew */
			while (attr_len > 0 && v[i + attr_len - 1] == '*')
				attr_len--;
			const char *star = memchr(v + i, '*', attr_len);
			if (star != NULL)
				attr_len = (size_t)(star - (v + i));
			size_t vs = (size_t)(eq - v) + 1;
			while (vs < pe && (v[vs] == ' ' || v[vs] == '\t'))
				vs++;
			str_clear(&val);
			unquote(v + vs, pe - vs, &val);
			if (attr_len > 0)
				append_extended(v + i, attr_len, val.data, val.len, eol, col, out);
		}
		/* an 8-bit attribute name has no 7-bit form: left out */
		i = pend;
	}
	str_free(&val);
	return true;
}
