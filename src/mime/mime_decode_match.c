/* mime_decode_match.c: UTF-8 simple case folding and case-insensitive
 * substring matching, whole and streamed (mime_decode.h). RFC 9051
 * 6.4.4: string keys match case-insensitively as substrings. */
/* memmem: _GNU_SOURCE comes from the build */
#include <stdint.h>
#include <string.h>

#include "mime/mime_decode.h"

/* The length of the sequence led by c, 0 if c cannot lead one. */
static unsigned utf8_seq_len(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	return 0;
}

/* Decode one code point at in[0..len); 0 when the bytes are not a
 * complete valid sequence (the caller copies one byte as it is). */
static unsigned utf8_decode(const unsigned char *in, size_t len, uint32_t *cp_r)
{
	unsigned n = utf8_seq_len(in[0]);
	if (n == 0 || n > len)
		return 0;
	uint32_t cp = n == 1 ? in[0] : in[0] & (0x7f >> n);
	for (unsigned i = 1; i < n; i++) {
		if ((in[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (in[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return n;
}

/* Encode cp into dst (room for 4); returns the bytes written. */
static unsigned utf8_encode(uint32_t cp, unsigned char *dst)
{
	if (cp < 0x80) {
		dst[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (unsigned char)(0xc0 | cp >> 6);
		dst[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (unsigned char)(0xe0 | cp >> 12);
		dst[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		dst[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (unsigned char)(0xf0 | cp >> 18);
	dst[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	dst[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	dst[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Ranges of CaseFolding.txt (status C and S) where upper case letters
 * are every code point (step 1) or every other one (step 2, the upper
 * case at the parity of first), mapped by delta. */
static const struct fold_range {
	uint32_t first, last;
	uint8_t step;
	int32_t delta;
} fold_ranges[] = {
	{ 0x0041, 0x005a, 1, 32 }, { 0x00b5, 0x00b5, 1, 0x3bc - 0xb5 },
	{ 0x00c0, 0x00d6, 1, 32 }, { 0x00d8, 0x00de, 1, 32 },
	{ 0x0100, 0x012f, 2, 1 }, { 0x0132, 0x0137, 2, 1 },
	{ 0x0139, 0x0148, 2, 1 }, { 0x014a, 0x0177, 2, 1 },
	{ 0x0178, 0x0178, 1, 0xff - 0x178 }, { 0x0179, 0x017e, 2, 1 },
	{ 0x017f, 0x017f, 1, 0x73 - 0x17f },
	{ 0x0386, 0x0386, 1, 38 }, { 0x0388, 0x038a, 1, 37 },
	{ 0x038c, 0x038c, 1, 64 }, { 0x038e, 0x038f, 1, 63 },
	{ 0x0391, 0x03a1, 1, 32 }, { 0x03a3, 0x03ab, 1, 32 },
	{ 0x03c2, 0x03c2, 1, 1 },
	{ 0x0400, 0x040f, 1, 80 }, { 0x0410, 0x042f, 1, 32 },
	{ 0x0460, 0x0481, 2, 1 }, { 0x048a, 0x04bf, 2, 1 },
	{ 0x04c0, 0x04c0, 1, 15 }, { 0x04c1, 0x04ce, 2, 1 },
	{ 0x04d0, 0x052f, 2, 1 }, { 0x0531, 0x0556, 1, 48 },
	{ 0x1e00, 0x1e95, 2, 1 }, { 0x1e9e, 0x1e9e, 1, 0xdf - 0x1e9e },
	{ 0x1ea0, 0x1eff, 2, 1 }, { 0xff21, 0xff3a, 1, 32 },
};

static uint32_t fold_cp(uint32_t cp)
{
	for (size_t i = 0; i < sizeof(fold_ranges) / sizeof(fold_ranges[0]); i++) {
		const struct fold_range *r = &fold_ranges[i];
		if (cp < r->first)
			break;
		if (cp <= r->last && (r->step == 1 || ((cp - r->first) & 1) == 0))
			return (uint32_t)((int32_t)cp + r->delta);
	}
	return cp;
}

/* Written in place: no folding in the table makes a sequence longer,
 * so the output fits in len bytes (checked per character all the same). */
void mime_utf8_fold(const void *in, size_t len, str_t *out)
{
	const unsigned char *p = in;
	size_t i = 0;
	str_reserve(out, len);
	unsigned char *dst = (unsigned char *)out->data + out->len;
	while (i < len) {
		if (p[i] < 0x80) {      /* ASCII fast path */
			unsigned char c = p[i++];
			*dst++ = c >= 'A' && c <= 'Z' ? c + 32 : c;
			continue;
		}
		uint32_t cp;
		unsigned n = utf8_decode(p + i, len - i, &cp);
		if (n == 0) {
			*dst++ = p[i++];
			continue;
		}
		unsigned char enc[4];
		unsigned m = utf8_encode(fold_cp(cp), enc);
		if (m > n) {            /* cannot happen with this table */
			memcpy(enc, p + i, n);
			m = n;
		}
		memcpy(dst, enc, m);
		dst += m;
		i += n;
	}
	out->len = (size_t)(dst - (unsigned char *)out->data);
	out->data[out->len] = '\0';
}

bool mime_utf8_icontains(const void *hay, size_t hay_len,
			 const void *needle, size_t needle_len)
{
	str_t h = STR_INIT, n = STR_INIT;
	mime_utf8_fold(hay, hay_len, &h);
	mime_utf8_fold(needle, needle_len, &n);
	bool found = n.len == 0 ||
		memmem(str_c(&h), h.len, str_c(&n), n.len) != NULL;
	str_free(&h);
	str_free(&n);
	return found;
}

void mime_match_init(struct mime_match *m, const void *needle, size_t len)
{
	memset(m, 0, sizeof(*m));
	mime_utf8_fold(needle, len, &m->needle);
	m->found = m->needle.len == 0;
}

void mime_match_reset(struct mime_match *m)
{
	str_clear(&m->window);
	m->npend = 0;
	m->found = m->needle.len == 0;
}

/* Bytes at the end of text that start a sequence not complete yet. */
static size_t incomplete_tail(const unsigned char *text, size_t len)
{
	for (size_t k = 1; k <= 3 && k <= len; k++) {
		unsigned char c = text[len - k];
		if ((c & 0xc0) != 0x80) {
			unsigned n = utf8_seq_len(c);
			return n > k ? k : 0;
		}
	}
	return 0;
}

bool mime_match_feed(struct mime_match *m, const void *text, size_t len)
{
	const unsigned char *p = text;
	if (m->found)
		return true;
	/* finish the sequence split off the last chunk */
	while (m->npend > 0 && len > 0) {
		unsigned need = utf8_seq_len(m->pend[0]);
		if ((*p & 0xc0) != 0x80 || m->npend >= need) {
			mime_utf8_fold(m->pend, m->npend, &m->window);
			m->npend = 0;
			break;
		}
		m->pend[m->npend++] = *p++;
		len--;
		if (m->npend == need) {
			mime_utf8_fold(m->pend, m->npend, &m->window);
			m->npend = 0;
		}
	}
	size_t tail = m->npend > 0 ? 0 : incomplete_tail(p, len);
	mime_utf8_fold(p, len - tail, &m->window);
	memcpy(m->pend + m->npend, p + len - tail, tail);
	m->npend += (unsigned)tail;
	if (memmem(str_c(&m->window), m->window.len, str_c(&m->needle),
		   m->needle.len) != NULL) {
		m->found = true;
		str_clear(&m->window);
		return true;
	}
	/* keep what a match straddling into the next chunk could start with */
	if (m->window.len >= m->needle.len)
		str_consume(&m->window, m->window.len - (m->needle.len - 1));
	return false;
}

bool mime_match_finish(struct mime_match *m)
{
	if (m->found || m->npend == 0)
		return m->found;
	unsigned char rest[4];
	size_t n = m->npend;
	memcpy(rest, m->pend, n);
	m->npend = 0;
	mime_utf8_fold(rest, n, &m->window);
	if (memmem(str_c(&m->window), m->window.len, str_c(&m->needle),
		   m->needle.len) != NULL)
		m->found = true;
	return m->found;
}

void mime_match_deinit(struct mime_match *m)
{
	str_free(&m->needle);
	str_free(&m->window);
}
