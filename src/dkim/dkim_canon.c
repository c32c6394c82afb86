/* dkim_canon.c: RFC 6376 relaxed canonicalisation (see dkim_canon.h). */
#include "dkim/dkim_canon.h"

#include <ctype.h>
#include <string.h>

void dkim_body_canon_init(struct dkim_body_canon *c, dkim_canon_out_t *out, void *ctx)
{
	memset(c, 0, sizeof(*c));
	c->out = out;
	c->ctx = ctx;
}

static void canon_flush(struct dkim_body_canon *c)
{
	if (c->buf_len > 0)
		c->out(c->ctx, c->buf, c->buf_len);
	c->written += c->buf_len;
	c->buf_len = 0;
}

static inline void canon_put(struct dkim_body_canon *c, unsigned char ch)
{
	if (c->buf_len == sizeof(c->buf))
		canon_flush(c);
	c->buf[c->buf_len++] = ch;
}

/* A byte that is neither WSP nor a line end. */
static void canon_content(struct dkim_body_canon *c, unsigned char ch)
{
	/* RFC 6376 3.4.4: empty lines count only when content follows them */
	for (; c->empty_lines > 0; c->empty_lines--) {
		canon_put(c, '\r');
		canon_put(c, '\n');
	}
	/* a run of WSP becomes one SP; WSP at a line end goes (below) */
	if (c->wsp)
		canon_put(c, ' ');
	c->wsp = false;
	canon_put(c, ch);
	c->any = true;
}

void dkim_body_canon_feed(struct dkim_body_canon *c, const void *data, size_t len)
{
	const unsigned char *p = data;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = p[i];
		if (c->cr) {
			c->cr = false;
			if (ch == '\n') {
				/* RFC 6376 3.4.4 a: WSP at the end of a line is deleted */
				c->wsp = false;
				c->empty_lines++;
				continue;
			}
			canon_content(c, '\r'); /* a lone CR is content */
		}
		if (ch == '\r')
			c->cr = true;
		else if (ch == ' ' || ch == '\t')
			c->wsp = true;
		else
			canon_content(c, ch);
	}
}

void dkim_body_canon_finish(struct dkim_body_canon *c)
{
	if (c->cr) {
		c->cr = false;
		canon_content(c, '\r');
	}
	/* RFC 6376 3.4.4 b: empty lines at the end are ignored; a non-empty
	 * body ends with CRLF (also when the message did not end with one) */
	if (c->any) {
		canon_put(c, '\r');
		canon_put(c, '\n');
	}
	c->empty_lines = 0;
	c->wsp = false;
	canon_flush(c);
}

void dkim_header_canon(const char *field, size_t len, str_t *out)
{
	const char *colon = memchr(field, ':', len);
	size_t name_len = colon != NULL ? (size_t)(colon - field) : len;
	size_t start = out->len;
	/* RFC 6376 3.4.2: the name in lower case, unfolded, without WSP
	 * before the colon */
	for (size_t i = 0; i < name_len; i++) {
		if (field[i] != '\r' && field[i] != '\n')
			str_appendc(out, (char)tolower((unsigned char)field[i]));
	}
	while (out->len > start &&
	       (out->data[out->len - 1] == ' ' || out->data[out->len - 1] == '\t'))
		str_truncate(out, out->len - 1);
	str_appendc(out, ':');
	if (colon == NULL)
		return;
	/* unfold (CR and LF go), WSP runs become one SP, none at either end */
	bool wsp = false, started = false;
	for (const char *p = colon + 1; p < field + len; p++) {
		if (*p == '\r' || *p == '\n')
			continue;
		if (*p == ' ' || *p == '\t') {
			wsp = true;
			continue;
		}
		if (wsp && started)
			str_appendc(out, ' ');
		wsp = false;
		started = true;
		str_appendc(out, *p);
	}
}
