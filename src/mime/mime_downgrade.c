/* mime_downgrade.c: RFC 6858 downgrading of 8-bit header fields (see
 * mime_downgrade.h for the contract). */
#include "mime/mime_downgrade.h"

#include <string.h>

#include "lib/base64.h"
#include "lib/mem.h"
#include "lib/utf8.h"
#include "mime/mime_address.h"
#include "mime/mime_header.h"

/* RFC 2047 2: an encoded word is at most 75 characters; a line holding
 * one at most 76 */
#define EW_MAX 75
#define LINE_MAX_COLS 76
/* "=?" charset "?Q?" ... "?=" */
#define EW_FRAME 7
/* fold before a word when less than this much payload fits */
#define EW_MIN_PAYLOAD 12

bool mime_downgrade_8bit(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* RFC 2047 5 (3): what a Q word may leave as is, in any context */
static bool q_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '!' || c == '*' || c == '+' ||
	       c == '-' || c == '/' || c == ' ';
}

/* Octets of the UTF-8 character at s[0] (1 for a stray byte). */
static size_t utf8_char_len(const char *s, size_t len)
{
	unsigned char c = (unsigned char)s[0];
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (n > len)
		return 1;
	for (size_t i = 1; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			return 1;
	return n;
}

static size_t q_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += q_plain((unsigned char)s[i]) ? 1 : 3;
	return n;
}

static void q_append(const char *s, size_t len, str_t *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == ' ') {
			str_appendc(out, '_');
		} else if (q_plain(c)) {
			str_appendc(out, (char)c);
		} else {
			str_appendc(out, '=');
			str_appendc(out, hex[c >> 4]);
			str_appendc(out, hex[c & 15]);
		}
	}
}

const char *mime_downgrade_charset(const char *s, size_t len)
{
	/* RFC 6532 3.1 makes header text UTF-8; octets that are not (raw
	 * latin1 from an old sender) are not labelled UTF-8: RFC 1428 3's
	 * charset UNKNOWN-8BIT (IANA registered, so RFC 2047 2 admits it)
	 * says what they are: 8-bit octets of no known charset */
	return utf8_valid(s, len) ? "UTF-8" : "UNKNOWN-8BIT";
}

void mime_downgrade_encode_words(const char *s, size_t len, const char *eol,
				 size_t *col, str_t *out)
{
	const char *charset = mime_downgrade_charset(s, len);
	bool utf8 = charset[0] == 'U' && charset[1] == 'T';
	const size_t overhead = EW_FRAME + strlen(charset);
	/* one encoding for the whole text: the shorter one */
	bool b = (len + 2) / 3 * 4 < q_len(s, len);
	size_t i = 0;
	/* bounded: every round writes a word of at least one character */
	while (i < len) {
		if (*col + 1 + overhead + EW_MIN_PAYLOAD > LINE_MAX_COLS) {
			str_appendz(out, eol);
			*col = 0;
		}
		str_appendc(out, ' ');
		*col += 1;
		size_t room = LINE_MAX_COLS - *col;
		if (room > EW_MAX)
			room = EW_MAX;
		room -= overhead;
		size_t n = 0, enc = 0;
		while (i + n < len) {
			/* RFC 2047 5: whole characters per word; octets of an
			 * unknown charset are split anywhere */
			size_t c = utf8 ? utf8_char_len(s + i + n, len - i - n) : 1;
			size_t next = b ? (n + c + 2) / 3 * 4 : enc + q_len(s + i + n, c);
			if (next > room && n > 0)
				break;
			n += c;
			enc = next;
		}
		str_appendz(out, "=?");
		str_appendz(out, charset);
		str_appendz(out, b ? "?B?" : "?Q?");
		if (b)
			base64_encode(s + i, n, out);
		else
			q_append(s + i, n, out);
		str_appendz(out, "?=");
		*col += overhead + enc;
		i += n;
	}
}

/* RFC 5322 3.2.3 atext and ".": a local part or phrase that needs no
 * quoting */
static bool is_atext_dot(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~. ", c) != NULL))
			return false;
	}
	return true;
}

static void append_quoted(const char *s, str_t *out, size_t *col)
{
	size_t start = out->len;
	str_appendc(out, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			str_appendc(out, '\\');
		str_appendc(out, *s == '\r' || *s == '\n' ? ' ' : *s);
	}
	str_appendc(out, '"');
	*col += out->len - start;
}

/* A display name (or group name): encoded words when 8-bit, else as an
 * atom run or a quoted string; after a space. */
static void append_phrase(const char *name, const char *eol, size_t *col, str_t *out)
{
	size_t len = strlen(name);
	if (mime_downgrade_8bit(name, len)) {
		mime_downgrade_encode_words(name, len, eol, col, out);
		return;
	}
	str_appendc(out, ' ');
	*col += 1;
	if (is_atext_dot(name) && name[0] != '.' && strstr(name, "..") == NULL &&
	    name[0] != ' ') {
		str_appendz(out, name);
		*col += len;
	} else {
		append_quoted(name, out, col);
	}
}

static bool address_8bit(const struct mime_address *a)
{
	return (a->mailbox != NULL && mime_downgrade_8bit(a->mailbox, strlen(a->mailbox))) ||
	       (a->host != NULL && mime_downgrade_8bit(a->host, strlen(a->host))) ||
	       (a->adl != NULL && mime_downgrade_8bit(a->adl, strlen(a->adl)));
}

static void append_mailbox(const struct mime_address *a, const char *eol,
			   size_t *col, str_t *out)
{
	const char *name = a->name != NULL && *a->name != '\0' ? a->name : NULL;
	if (address_8bit(a)) {
		/* RFC 6858 3: no ASCII form: an empty group, named by who
		 * it was */
		const char *who = name;
		if (who == NULL)
			who = *a->host != '\0' ? t_printf("%s@%s", a->mailbox, a->host) :
				a->mailbox;
		append_phrase(who, eol, col, out);
		str_appendz(out, " :;");
		*col += 3;
		return;
	}
	if (name != NULL)
		append_phrase(name, eol, col, out);
	size_t start = out->len;
	str_appendz(out, name != NULL ? " <" : " ");
	if (a->adl != NULL && *a->adl != '\0') {
		str_appendz(out, a->adl);
		str_appendc(out, ':');
	}
	if (is_atext_dot(a->mailbox) && strchr(a->mailbox, ' ') == NULL)
		str_appendz(out, a->mailbox);
	else
		append_quoted(a->mailbox, out, &(size_t){ 0 }); /* counted below */
	if (*a->host != '\0') {
		str_appendc(out, '@');
		str_appendz(out, a->host);
	}
	if (name != NULL)
		str_appendc(out, '>');
	*col += out->len - start;
}

/* One entry of the list, on the next line when it would pass column 76
 * on this one */
static void append_entry(const struct mime_address *a, bool group, const char *eol,
			 size_t *col, str_t *out)
{
	/* bounded: at most one retry */
	for (int round = 0; round < 2; round++) {
		size_t mark = out->len, c = *col;
		if (group)
			append_phrase(a->mailbox, eol, &c, out);
		else
			append_mailbox(a, eol, &c, out);
		if (round == 1 || c <= LINE_MAX_COLS - 1 || *col <= 1) {
			*col = c;
			return;
		}
		str_truncate(out, mark);
		str_appendz(out, eol);
		*col = 0;
	}
}

/* The 8-bit members of the group that starts before addrs[end] (at
 * start), each as an empty group after it (RFC 6858 3: groups do not nest,
 * RFC 5322 3.4, so they follow the group instead of vanishing) */
static void append_deferred(const struct mime_address *addrs, uint32_t start, uint32_t end,
			    const char *eol, size_t *col, str_t *out)
{
	for (uint32_t k = start; k < end; k++) {
		if (addrs[k].host == NULL || !address_8bit(&addrs[k]))
			continue;
		str_appendc(out, ',');
		append_entry(&addrs[k], false, eol, col, out);
	}
}

static void downgrade_addresses(const char *v, size_t vlen, const char *eol,
				size_t *col, str_t *out)
{
	struct mime_address *addrs;
	uint32_t n = mime_address_parse(pool_temp(), v, vlen, &addrs);
	bool in_group = false, need_sep = false;
	uint32_t group_start = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct mime_address *a = &addrs[i];
		if (a->host == NULL && a->mailbox == NULL) {
			/* group end */
			if (in_group) {
				str_appendc(out, ';');
				*col += 1;
				append_deferred(addrs, group_start, i, eol, col, out);
			}
			in_group = false;
			need_sep = true;
			continue;
		}
		if (a->host == NULL) {
			/* group start: its name is the mailbox field */
			if (need_sep)
				str_appendc(out, ',');
			append_entry(a, true, eol, col, out);
			str_appendc(out, ':');
			*col += 1;
			in_group = true;
			group_start = i + 1;
			need_sep = false;
			continue;
		}
		/* groups do not nest: written after the group */
		if (in_group && address_8bit(a))
			continue;
		if (need_sep)
			str_appendc(out, ',');
		append_entry(a, false, eol, col, out);
		need_sep = true;
	}
	if (in_group) {
		str_appendc(out, ';');
		*col += 1;
		append_deferred(addrs, group_start, n, eol, col, out);
	}
}

/* One 8-bit field (name, then the value after the colon) made 7-bit. */
static void downgrade_field(const char *name, size_t name_len, const char *v,
			    size_t vlen, const char *eol, str_t *out)
{
	enum mime_downgrade_kind kind = mime_downgrade_field_kind(name, name_len);
	if (kind == MIME_DOWNGRADE_DROP)
		return;
	str_t value = STR_INIT;
	mime_header_unfold(v, vlen, &value);
	size_t a = 0, b = value.len;
	while (a < b && (value.data[a] == ' ' || value.data[a] == '\t'))
		a++;
	while (b > a && strchr(" \t\r\n", value.data[b - 1]) != NULL)
		b--;
	size_t mark = out->len;
	str_append(out, name, name_len);
	str_appendc(out, ':');
	size_t col = name_len + 1;
	bool ok = true;
	if (kind == MIME_DOWNGRADE_MIME)
		ok = mime_downgrade_params(value.data + a, b - a, eol, &col, out);
	else if (kind == MIME_DOWNGRADE_MSGIDS)
		ok = mime_downgrade_msgids(value.data + a, b - a, eol, &col, out);
	else if (kind == MIME_DOWNGRADE_UNCOMMENT)
		ok = mime_downgrade_uncomment(value.data + a, b - a, eol, &col, out);
	else if (kind == MIME_DOWNGRADE_ADDRESS)
		downgrade_addresses(value.data + a, b - a, eol, &col, out);
	else
		mime_downgrade_encode_words(value.data + a, b - a, eol, &col, out);
	if (!ok) {
		/* an 8-bit type or disposition, or only 8-bit ids: no 7-bit
		 * form */
		str_truncate(out, mark);
		str_free(&value);
		return;
	}
	str_appendz(out, eol);
	str_free(&value);
}

/* The field (or other line with its continuations) at hdr[*pos]: its
 * length, up to a line end not followed by WSP. */
static size_t field_span(const char *hdr, size_t len, size_t pos)
{
	size_t end = pos;
	while (end < len) {
		const char *lf = memchr(hdr + end, '\n', len - end);
		end = lf == NULL ? len : (size_t)(lf - hdr) + 1;
		if (end >= len || (hdr[end] != ' ' && hdr[end] != '\t'))
			break;
		/* an empty line never continues a field */
		if (end == pos + 1 || (end == pos + 2 && hdr[pos] == '\r'))
			break;
	}
	return end - pos;
}

bool mime_downgrade_header(const char *hdr, size_t len, str_t *out)
{
	if (!mime_downgrade_8bit(hdr, len))
		return false;
	const char *lf = memchr(hdr, '\n', len);
	const char *eol = lf != NULL && lf > hdr && lf[-1] == '\r' ? "\r\n" : "\n";
	/* bounded: every round consumes at least one octet */
	for (size_t pos = 0; pos < len;) {
		size_t n = field_span(hdr, len, pos);
		const char *f = hdr + pos;
		pos += n;
		if (!mime_downgrade_8bit(f, n)) {
			str_append(out, f, n);
			continue;
		}
		const char *colon = memchr(f, ':', n);
		size_t name_len = colon == NULL ? 0 : (size_t)(colon - f);
		while (name_len > 0 && (f[name_len - 1] == ' ' || f[name_len - 1] == '\t'))
			name_len--;
		/* 8-bit junk that is no field (or an 8-bit name) has no
		 * 7-bit form: left out */
		if (name_len == 0 || mime_downgrade_8bit(f, name_len) || f[0] == ' ' || f[0] == '\t')
			continue;
		downgrade_field(f, name_len, colon + 1, n - (size_t)(colon + 1 - f), eol, out);
	}
	return true;
}
