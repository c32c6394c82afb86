/* store_eol.c: see store_eol.h. */
#include "store/store_eol.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

size_t store_eol_to_lf(struct store_eol_state *st, const void *in, size_t len,
		       void *out)
{
	const unsigned char *p = in;
	unsigned char *o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];
		if (st->pending_cr) {
			st->pending_cr = false;
			if (c != '\n')
				*o++ = '\r'; /* a lone CR stays */
		}
		if (c == '\r')
			st->pending_cr = true;
		else
			*o++ = c;
	}
	return (size_t)(o - (unsigned char *)out);
}

size_t store_eol_to_lf_finish(struct store_eol_state *st, void *out)
{
	if (!st->pending_cr)
		return 0;
	st->pending_cr = false;
	*(unsigned char *)out = '\r';
	return 1;
}

size_t store_eol_to_crlf(struct store_eol_state *st, const void *in,
			 size_t len, void *out)
{
	const unsigned char *p = in, *end = p + len;
	unsigned char *o = out;
	/* span by span: memchr and memcpy, not a byte loop (POP3 RETR and
	 * IMAP FETCH of big messages pass every byte through here) */
	while (p < end) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t span = (size_t)((lf != NULL ? lf : end) - p);
		if (span > 0) {
			memcpy(o, p, span);
			o += span;
			st->last_cr = p[span - 1] == '\r';
			p += span;
		}
		if (lf == NULL)
			break;
		if (!st->last_cr)
			*o++ = '\r';
		*o++ = '\n';
		st->last_cr = false;
		p++;
	}
	return (size_t)(o - (unsigned char *)out);
}

uint64_t store_eol_crlf_len(struct store_eol_state *st, const void *in,
			    size_t len)
{
	const unsigned char *p = in, *end = p + len;
	uint64_t n = len;
	/* as store_eol_to_crlf(), span by span */
	while (p < end) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		if (lf == NULL) {
			st->last_cr = end[-1] == '\r';
			break;
		}
		bool cr_before = lf > p ? lf[-1] == '\r' : st->last_cr;
		n += !cr_before;
		st->last_cr = false;
		p = lf + 1;
	}
	return n;
}

int store_eol_wire_size(int fd, uint64_t *size_r)
{
	unsigned char buf[16384];
	uint64_t size = 0, offset = 0;
	struct store_eol_state st = { 0 };
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		offset += (uint64_t)n;
		size += store_eol_crlf_len(&st, buf, (size_t)n);
	}
	*size_r = size;
	return 0;
}
