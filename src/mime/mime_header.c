/* mime_header.c: unfolding, RFC 2047 encoded words and charset conversion.
 * Parameter lists (RFC 2045 5.1, RFC 2231) are in mime_params.c. */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "mime/mime_header.h"

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

void mime_header_unfold(const char *in, size_t len, str_t *out)
{
	for (size_t i = 0; i < len; i++) {
		if (in[i] == '\r' && i + 1 < len && in[i + 1] == '\n')
			continue;
		if (in[i] == '\n')
			continue;
		str_appendc(out, in[i]);
	}
}

/* Length of the valid UTF-8 sequence at s, 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void append_utf8_checked(const char *in, size_t len, str_t *out)
{
	size_t i = 0;

	while (i < len) {
		size_t n = utf8_seq((const unsigned char *)in + i, len - i);

		if (n == 0) {
			str_appendz(out, replacement);
			i++;
		} else {
			str_append(out, in + i, n);
			i += n;
		}
	}
}

void mime_charset_to_utf8(const char *charset, const char *in, size_t len,
			  str_t *out)
{
	char cs[64];
	const char *star;
	size_t cslen;
	iconv_t cd;

	/* RFC 2231 section 5: charset*language in encoded words. */
	star = strchr(charset, '*');
	cslen = star != NULL ? (size_t)(star - charset) : strlen(charset);
	if (cslen >= sizeof(cs))
		cslen = 0;
	memcpy(cs, charset, cslen);
	cs[cslen] = '\0';
	if (cslen == 0 || strcasecmp(cs, "utf-8") == 0 ||
	    strcasecmp(cs, "utf8") == 0 || strcasecmp(cs, "us-ascii") == 0) {
		append_utf8_checked(in, len, out);
		return;
	}
	cd = iconv_open("UTF-8", cs);
	if (cd == (iconv_t)-1) {
		append_utf8_checked(in, len, out);
		return;
	}
	char *src = (char *)in;
	size_t left = len;
	char buf[256];

	while (left > 0) {
		char *dst = buf;
		size_t room = sizeof(buf);
		size_t rc = iconv(cd, &src, &left, &dst, &room);

		str_append(out, buf, (size_t)(dst - buf));
		if (rc == (size_t)-1 && errno != E2BIG) {
			/* EILSEQ or EINVAL (truncated): one byte lost */
			str_appendz(out, replacement);
			src++;
			left--;
			iconv(cd, NULL, NULL, NULL, NULL);
		}
	}
	char *dst = buf;
	size_t room = sizeof(buf);
	iconv(cd, NULL, NULL, &dst, &room);
	str_append(out, buf, (size_t)(dst - buf));
	iconv_close(cd);
}

int mime_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Lenient base64 (RFC 2047 4.1): skips non-alphabet bytes, stops at '='. */
static void decode_b(const char *in, size_t len, str_t *out)
{
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < len && in[i] != '='; i++) {
		int v = base64_value((unsigned char)in[i]);

		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			str_appendc(out, (char)((acc >> bits) & 0xff));
		}
	}
}

/* RFC 2047 4.2: "_" is space, =XX is a byte. */
static void decode_q(const char *in, size_t len, str_t *out)
{
	for (size_t i = 0; i < len; i++) {
		int hi, lo;

		if (in[i] == '_') {
			str_appendc(out, ' ');
		} else if (in[i] == '=' && i + 2 < len &&
			   (hi = mime_hex_value((unsigned char)in[i + 1])) >= 0 &&
			   (lo = mime_hex_value((unsigned char)in[i + 2])) >= 0) {
			str_appendc(out, (char)(hi << 4 | lo));
			i += 2;
		} else {
			str_appendc(out, in[i]);
		}
	}
}

/* Parse "=?cs?E?text?=" at in[0]; returns its length or 0. */
static size_t encoded_word(const char *in, size_t len, char *cs,
			   size_t cs_size, char *enc, const char **text,
			   size_t *text_len)
{
	const char *q1, *q2, *end;

	if (len < 8 || in[0] != '=' || in[1] != '?')
		return 0;
	q1 = memchr(in + 2, '?', len - 2);
	if (q1 == NULL || q1 == in + 2 || (size_t)(q1 - in - 2) >= cs_size ||
	    q1 + 3 > in + len || q1[2] != '?')
		return 0;
	*enc = q1[1];
	if (*enc != 'B' && *enc != 'b' && *enc != 'Q' && *enc != 'q')
		return 0;
	q2 = q1 + 3;
	for (end = q2; end + 1 < in + len; end++) {
		if (end[0] == '?' && end[1] == '=')
			break;
		if (end[0] == ' ' || end[0] == '\t')
			return 0;
	}
	if (end + 1 >= in + len)
		return 0;
	memcpy(cs, in + 2, (size_t)(q1 - in - 2));
	cs[q1 - in - 2] = '\0';
	*text = q2;
	*text_len = (size_t)(end - q2);
	return (size_t)(end + 2 - in);
}

void mime_header_decode(const char *in, size_t len, str_t *out)
{
	str_t raw = STR_INIT;
	char cs[64], prev_cs[64] = "";
	size_t i = 0, pending_ws = 0;
	bool prev_word = false;

	while (i < len) {
		char enc;
		const char *text;
		size_t tlen, n;

		n = encoded_word(in + i, len - i, cs, sizeof(cs), &enc, &text,
				 &tlen);
		if (n > 0) {
			/* adjacent words of one charset are joined before
			 * conversion so split multi-byte characters survive */
			if (!prev_word || strcasecmp(cs, prev_cs) != 0) {
				if (raw.len > 0)
					mime_charset_to_utf8(prev_cs, raw.data,
							     raw.len, out);
				str_clear(&raw);
				if (!prev_word && pending_ws > 0)
					str_append(out, in + i - pending_ws,
						   pending_ws);
			}
			if (enc == 'B' || enc == 'b')
				decode_b(text, tlen, &raw);
			else
				decode_q(text, tlen, &raw);
			memcpy(prev_cs, cs, sizeof(cs));
			prev_word = true;
			pending_ws = 0;
			i += n;
			continue;
		}
		if (in[i] == ' ' || in[i] == '\t' || in[i] == '\r' ||
		    in[i] == '\n') {
			pending_ws++;
			i++;
			continue;
		}
		if (raw.len > 0)
			mime_charset_to_utf8(prev_cs, raw.data, raw.len, out);
		str_clear(&raw);
		if (pending_ws > 0)
			str_append(out, in + i - pending_ws, pending_ws);
		pending_ws = 0;
		prev_word = false;
		/* plain text up to the next white space */
		size_t start = i;
		while (i < len && in[i] != ' ' && in[i] != '\t' &&
		       in[i] != '\r' && in[i] != '\n' &&
		       !(in[i] == '=' && i + 1 < len && in[i + 1] == '?' &&
			 i > start))
			i++;
		append_utf8_checked(in + start, i - start, out);
	}
	if (raw.len > 0)
		mime_charset_to_utf8(prev_cs, raw.data, raw.len, out);
	if (pending_ws > 0 && !prev_word)
		str_append(out, in + len - pending_ws, pending_ws);
	str_free(&raw);
}
