/* mime_decode_charset.c: streaming charset conversion to UTF-8 through
 * iconv (mime_decode.h). A multibyte sequence split between chunks is
 * kept (at most sizeof(pend) bytes) until the next chunk completes it. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "mime/mime_decode.h"

enum conv_mode { CONV_PASS, CONV_LATIN1, CONV_ICONV };

struct mime_charset_conv {
	enum conv_mode mode;
	iconv_t cd;
	char pend[16];
	size_t npend;
};

static const char *const latin1_names[] = {
	"iso-8859-1", "iso8859-1", "iso_8859-1", "latin1", "l1", "cp819",
	/* windows-1252 differs in 0x80-0x9f only: the fallback when iconv
	 * cannot load its module */
	"windows-1252", "cp1252",
};

static bool is_latin1(const char *cs, bool with_windows)
{
	unsigned n = with_windows ? sizeof(latin1_names) / sizeof(latin1_names[0]) : 6;
	for (unsigned i = 0; i < n; i++) {
		if (strcasecmp(cs, latin1_names[i]) == 0)
			return true;
	}
	return false;
}

struct mime_charset_conv *mime_charset_conv_create(const char *charset)
{
	struct mime_charset_conv *c = xcalloc(1, sizeof(*c));
	c->mode = CONV_PASS;
	if (charset == NULL || *charset == '\0' ||
	    strcasecmp(charset, "utf-8") == 0 || strcasecmp(charset, "utf8") == 0 ||
	    strcasecmp(charset, "us-ascii") == 0)
		return c;
	if (is_latin1(charset, false)) {
		c->mode = CONV_LATIN1;
		return c;
	}
	c->cd = iconv_open("UTF-8", charset);
	if (c->cd != (iconv_t)-1)
		c->mode = CONV_ICONV;
	else if (is_latin1(charset, true))
		c->mode = CONV_LATIN1;
	return c;
}

static void latin1_feed(const unsigned char *in, size_t len, str_t *out)
{
	if (len > SIZE_MAX / 2)
		len = SIZE_MAX / 2;     /* not reached: chunks are small */
	str_reserve(out, 2 * len);
	unsigned char *dst = (unsigned char *)out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		if (in[i] < 0x80) {
			*dst++ = in[i];
		} else {
			*dst++ = (unsigned char)(0xc0 | in[i] >> 6);
			*dst++ = (unsigned char)(0x80 | (in[i] & 0x3f));
		}
	}
	out->len = (size_t)(dst - (unsigned char *)out->data);
	out->data[out->len] = '\0';
}

/* Convert as much of src as iconv can; returns the bytes used. An
 * invalid byte becomes U+FFFD and is skipped; an incomplete sequence at
 * the end is left unused. */
static size_t iconv_run(struct mime_charset_conv *c, const char *src,
			size_t len, str_t *out)
{
	char buf[1024];
	char *in = (char *)src;
	size_t left = len;
	while (left > 0) {
		char *dst = buf;
		size_t room = sizeof(buf);
		size_t rc = iconv(c->cd, &in, &left, &dst, &room);
		str_append(out, buf, (size_t)(dst - buf));
		if (rc != (size_t)-1 || errno == E2BIG)
			continue;
		if (errno == EINVAL)
			break;          /* incomplete: wait for more */
		str_append(out, "\xef\xbf\xbd", 3);
		in++;
		left--;
		iconv(c->cd, NULL, NULL, NULL, NULL);
	}
	return len - left;
}

void mime_charset_conv_feed(struct mime_charset_conv *c, const void *in,
			    size_t len, str_t *out)
{
	const char *p = in;
	if (c->mode == CONV_PASS) {
		str_append(out, in, len);
		return;
	}
	if (c->mode == CONV_LATIN1) {
		latin1_feed(in, len, out);
		return;
	}
	/* complete the sequence left from the last chunk, a byte at a time */
	while (c->npend > 0 && len > 0) {
		c->pend[c->npend++] = *p++;
		len--;
		size_t used = iconv_run(c, c->pend, c->npend, out);
		memmove(c->pend, c->pend + used, c->npend - used);
		c->npend -= used;
		if (c->npend == sizeof(c->pend)) {
			str_append(out, "\xef\xbf\xbd", 3);
			memmove(c->pend, c->pend + 1, --c->npend);
		}
	}
	if (len == 0)
		return;
	size_t used = iconv_run(c, p, len, out);
	while (len - used > sizeof(c->pend)) {  /* cannot be a sequence */
		str_append(out, "\xef\xbf\xbd", 3);
		used++;
		used += iconv_run(c, p + used, len - used, out);
	}
	memcpy(c->pend, p + used, len - used);
	c->npend = len - used;
}

void mime_charset_conv_finish(struct mime_charset_conv *c, str_t *out)
{
	if (c->mode != CONV_ICONV)
		return;
	if (c->npend > 0)
		str_append(out, "\xef\xbf\xbd", 3);
	c->npend = 0;
	char buf[64], *dst = buf;
	size_t room = sizeof(buf);
	iconv(c->cd, NULL, NULL, &dst, &room);  /* shift back to the initial state */
	str_append(out, buf, (size_t)(dst - buf));
}

void mime_charset_conv_free(struct mime_charset_conv **c)
{
	if (*c == NULL)
		return;
	if ((*c)->mode == CONV_ICONV)
		iconv_close((*c)->cd);
	free(*c);
	*c = NULL;
}
