/* mime_7bit.c: the 8-bit to 7-bit conversion of RFC 6152 3 as a
 * streaming message source (contract in mime_7bit.h).
 *
 * The input is cut into lines; each line is handled by the state of the
 * entity it belongs to: HEADER (fields pass, except Content-Transfer-
 * Encoding, which is held until the header ends and the part's fate is
 * known), PASS (copied: 7-bit parts, multipart preambles and epilogues)
 * or QP (quoted-printable encoded). A line that is a delimiter of any
 * enclosing multipart (RFC 2046 5.1.1) ends the part, whatever state. */
#include "mime/mime_7bit.h"
#include "mime/mime_header.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* RFC 2046 5.1.1 allows 70; some generators use more */
#define BOUNDARY_MAX 200
#define FIELD_MAX 8192
#define QP_LINE_MAX 76   /* RFC 2045 6.7 (5), with the soft break "=" */

enum conv_state { CONV_HEADER, CONV_PASS, CONV_QP };
enum conv_field { FIELD_OTHER, FIELD_CT, FIELD_CTE, FIELD_MIMEVER };

struct conv_bound {
	char text[BOUNDARY_MAX + 1];
	size_t len;
	bool digest;   /* multipart/digest: parts default to message/rfc822 */
};

struct mime_7bit {
	mime_7bit_read_fn *in_read;
	void *in_ctx;
	str_t line;           /* input not yet handled */
	bool line_cont;       /* line continues a piece handled already */
	str_t out;
	size_t out_pos;
	bool eof;
	const char *error;
	enum conv_state state;
	/* the entity header being read */
	enum conv_field field;
	str_t ct, cte;
	bool top, mime_version, digest_child;
	bool last_eol;        /* the last line handled had its line end */
	/* quoted-printable output */
	unsigned col;
	bool soft;            /* the output line was soft-broken */
	struct conv_bound bounds[MIME_7BIT_DEPTH_MAX];
	unsigned nbounds;
	pool_t *pool;
};

static void conv_entity_start(struct mime_7bit *c, bool top, bool digest_child)
{
	c->state = CONV_HEADER;
	c->field = FIELD_OTHER;
	str_clear(&c->ct);
	str_clear(&c->cte);
	c->top = top;
	c->mime_version = false;
	c->digest_child = digest_child;
}

struct mime_7bit *mime_7bit_new(mime_7bit_read_fn *read, void *ctx)
{
	struct mime_7bit *c = xcalloc(1, sizeof(*c));
	c->in_read = read;
	c->in_ctx = ctx;
	str_init(&c->line);
	str_init(&c->out);
	str_init(&c->ct);
	str_init(&c->cte);
	c->pool = pool_create(1024);
	c->last_eol = true;
	conv_entity_start(c, true, false);
	return c;
}

void mime_7bit_free(struct mime_7bit **cp)
{
	struct mime_7bit *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	str_free(&c->line);
	str_free(&c->out);
	str_free(&c->ct);
	str_free(&c->cte);
	pool_destroy(&c->pool);
	free(c);
}

const char *mime_7bit_error(const struct mime_7bit *c)
{
	return c->error;
}

static void emit_to(str_t *s, const char *p, size_t len, bool eol)
{
	str_append(s, p, len);
	if (eol)
		str_appendz(s, "\r\n");
}

static void emit(struct mime_7bit *c, const char *p, size_t len, bool eol)
{
	emit_to(&c->out, p, len, eol);
}

/* "--boundary" or "--boundary--" then only white space: the level it
 * closes (innermost first), or -1. */
static int conv_delimiter(const struct mime_7bit *c, const char *p, size_t len,
			  bool *close_r)
{
	if (len < 2 || p[0] != '-' || p[1] != '-')
		return -1;
	for (unsigned i = c->nbounds; i-- > 0;) {
		const struct conv_bound *b = &c->bounds[i];
		if (len < 2 + b->len || memcmp(p + 2, b->text, b->len) != 0)
			continue;
		size_t at = 2 + b->len;
		bool close = len >= at + 2 && p[at] == '-' && p[at + 1] == '-';
		if (close)
			at += 2;
		while (at < len && (p[at] == ' ' || p[at] == '\t'))
			at++;
		if (at == len) {
			*close_r = close;
			return (int)i;
		}
	}
	return -1;
}

/* The first token of a Content-Transfer-Encoding field, lower case. */
static void conv_cte_token(const str_t *field, char *tok, size_t size)
{
	const char *v = field->len > 0 ? memchr(field->data, ':', field->len) : NULL;
	size_t i = 0;
	tok[0] = '\0';
	if (v == NULL)
		return;
	for (v++; *v == ' ' || *v == '\t' || *v == '\r' || *v == '\n'; v++)
		;
	for (; i + 1 < size && (isalnum((unsigned char)*v) || *v == '-'); v++)
		tok[i++] = (char)tolower((unsigned char)*v);
	tok[i] = '\0';
}

static bool conv_push_boundary(struct mime_7bit *c, const char *boundary,
			       bool digest)
{
	size_t len = strlen(boundary);
	if (c->nbounds == MIME_7BIT_DEPTH_MAX) {
		c->error = "MIME nesting too deep to convert to 7 bit";
		return false;
	}
	if (len == 0 || len > BOUNDARY_MAX) {
		c->error = "MIME boundary too long to convert to 7 bit";
		return false;
	}
	struct conv_bound *b = &c->bounds[c->nbounds++];
	memcpy(b->text, boundary, len + 1);
	b->len = len;
	b->digest = digest;
	return true;
}

/* The header ended (blank): decide what the entity's body becomes. */
static void conv_header_end(struct mime_7bit *c, bool blank)
{
	char *type = NULL, *subtype = NULL;
	struct mime_param *params = NULL;
	uint32_t n = 0;
	char cte[32];
	conv_cte_token(&c->cte, cte, sizeof(cte));
	bool eightbit = cte[0] == '\0' || strcmp(cte, "8bit") == 0 ||
		strcmp(cte, "binary") == 0;
	const char *colon = c->ct.len > 0 ? memchr(c->ct.data, ':', c->ct.len) : NULL;
	if (colon != NULL) {
		str_t v = STR_INIT;
		colon++;
		mime_header_unfold(colon, c->ct.len - (size_t)(colon - c->ct.data), &v);
		if (mime_header_parse_params(c->pool, v.data, v.len, true, &type, &subtype,
					     &params, &n) < 0)
			type = subtype = NULL;
		str_free(&v);
	}
	if (type == NULL) /* RFC 2045 5.2, RFC 2046 5.1.5 */
		type = c->digest_child ? "message" : "text";
	if (subtype == NULL)
		subtype = c->digest_child ? "rfc822" : "plain";
	const char *boundary = NULL;
	for (uint32_t i = 0; i < n; i++) {
		if (strcmp(params[i].name, "boundary") == 0)
			boundary = params[i].value;
	}
	bool multipart = strcmp(type, "multipart") == 0 && boundary != NULL;
	bool nested = strcmp(type, "message") == 0 && strcmp(subtype, "rfc822") == 0;
	if (multipart || nested) {
		/* RFC 2045 6.4: a composite is 7bit once its parts are */
		if (eightbit && c->cte.len > 0)
			str_appendz(&c->out, "Content-Transfer-Encoding: 7bit\r\n");
		else
			str_append(&c->out, c->cte.data, c->cte.len);
		if (blank)
			str_appendz(&c->out, "\r\n");
		if (multipart) {
			if (conv_push_boundary(c, boundary, strcmp(subtype, "digest") == 0))
				c->state = CONV_PASS;
		} else {
			conv_entity_start(c, false, false);
		}
	} else if (eightbit) {
		str_appendz(&c->out, "Content-Transfer-Encoding: quoted-printable\r\n");
		if (c->top && !c->mime_version)
			str_appendz(&c->out, "MIME-Version: 1.0\r\n");
		if (blank)
			str_appendz(&c->out, "\r\n");
		c->state = CONV_QP;
		c->col = 0;
		c->soft = false;
	} else {
		str_append(&c->out, c->cte.data, c->cte.len);
		if (blank)
			str_appendz(&c->out, "\r\n");
		c->state = CONV_PASS;
	}
	pool_clear(c->pool);
}

static void conv_header_line(struct mime_7bit *c, const char *p, size_t len,
			     bool eol, bool start)
{
	if (start && len == 0 && eol) {
		conv_header_end(c, true);
		return;
	}
	if (start && p[0] != ' ' && p[0] != '\t') {
		const char *colon = memchr(p, ':', len);
		size_t name = colon != NULL ? (size_t)(colon - p) : 0;
		while (name > 0 && (p[name - 1] == ' ' || p[name - 1] == '\t'))
			name--;
		c->field = FIELD_OTHER;
		if (name == 12 && strncasecmp(p, "Content-Type", 12) == 0)
			c->field = FIELD_CT;
		else if (name == 25 && strncasecmp(p, "Content-Transfer-Encoding", 25) == 0)
			c->field = FIELD_CTE;
		else if (name == 12 && strncasecmp(p, "MIME-Version", 12) == 0)
			c->mime_version = true;
	}
	if (c->field == FIELD_CTE) {
		/* held: it may be replaced when the header ends */
		if (c->cte.len < FIELD_MAX)
			emit_to(&c->cte, p, len, eol);
		return;
	}
	if (c->field == FIELD_CT && c->ct.len < FIELD_MAX)
		emit_to(&c->ct, p, len, eol);
	emit(c, p, len, eol);
}

/* RFC 2045 6.7: printable ASCII but "=" as it is, white space as it is
 * unless it ends the line (or a piece whose end is not known yet), the
 * rest as =XX; a soft line break "=" keeps lines within 76 characters.
 * A segment after a soft break never starts with "-", so it cannot look
 * like a delimiter line. */
static void conv_qp(struct mime_7bit *c, const char *p, size_t len, bool eol)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char b = (unsigned char)p[i];
		bool last = i + 1 == len;
		bool lit = (b >= 33 && b <= 126 && b != '=') ||
			((b == ' ' || b == '\t') && !last);
		size_t n = lit ? 1 : 3;
		if (c->col + n > QP_LINE_MAX - 1) {
			str_appendz(&c->out, "=\r\n");
			c->col = 0;
			c->soft = true;
		}
		if (lit && b == '-' && c->col == 0 && c->soft) {
			lit = false;
			n = 3;
		}
		if (lit) {
			str_appendc(&c->out, (char)b);
		} else {
			char enc[3] = { '=', hex[b >> 4], hex[b & 15] };
			str_append(&c->out, enc, 3);
		}
		c->col += (unsigned)n;
	}
	if (eol) {
		str_appendz(&c->out, "\r\n");
		c->col = 0;
		c->soft = false;
	}
}

/* One line without its line end (eol: it had one), or a piece of a long
 * one (start: the piece begins the line). */
static void conv_line(struct mime_7bit *c, const char *p, size_t len, bool eol,
		      bool start)
{
	bool close;
	int level = start ? conv_delimiter(c, p, len, &close) : -1;
	if (level >= 0) {
		if (c->state == CONV_HEADER)
			conv_header_end(c, false);
		c->nbounds = (unsigned)level + 1;
		emit(c, p, len, eol);
		if (close) {
			c->nbounds--;
			c->state = CONV_PASS;
		} else {
			conv_entity_start(c, false, c->bounds[level].digest);
		}
		return;
	}
	c->last_eol = eol;
	switch (c->state) {
	case CONV_HEADER:
		conv_header_line(c, p, len, eol, start);
		return;
	case CONV_PASS:
		emit(c, p, len, eol);
		return;
	case CONV_QP:
		conv_qp(c, p, len, eol);
		return;
	}
}

static void conv_feed(struct mime_7bit *c, const char *in, size_t len)
{
	while (len > 0 && c->error == NULL) {
		const char *lf = memchr(in, '\n', len);
		size_t take = lf != NULL ? (size_t)(lf - in) + 1 : len;
		size_t room = MIME_7BIT_LINE_MAX - c->line.len;
		if (take > room)
			take = room;
		str_append(&c->line, in, take);
		in += take;
		len -= take;
		size_t n = c->line.len;
		if (n > 0 && c->line.data[n - 1] == '\n') {
			n--;
			if (n > 0 && c->line.data[n - 1] == '\r')
				n--;
			conv_line(c, c->line.data, n, true, !c->line_cont);
			c->line_cont = false;
			str_clear(&c->line);
		} else if (n == MIME_7BIT_LINE_MAX) {
			/* a CR at the end may start the CRLF: kept for later */
			bool cr = c->line.data[n - 1] == '\r';
			conv_line(c, c->line.data, cr ? n - 1 : n, false, !c->line_cont);
			c->line_cont = true;
			str_consume(&c->line, cr ? n - 1 : n);
		}
	}
}

ssize_t mime_7bit_read(void *ctx, void *buf, size_t size)
{
	struct mime_7bit *c = ctx;
	while (c->out_pos == c->out.len && !c->eof) {
		char in[MIME_7BIT_READ_CHUNK];
		str_clear(&c->out);
		c->out_pos = 0;
		ssize_t n = c->in_read(c->in_ctx, in, sizeof(in));
		if (n < 0)
			return -1;
		if (n == 0) {
			c->eof = true;
			if (c->line.len > 0 && c->error == NULL)
				conv_line(c, c->line.data, c->line.len, false, !c->line_cont);
			str_clear(&c->line);
			if (c->state == CONV_HEADER && c->error == NULL) {
				/* a header with no body: the fields decided still go */
				if (!c->last_eol)
					str_appendz(&c->out, "\r\n");
				conv_header_end(c, false);
			}
		} else {
			conv_feed(c, in, (size_t)n);
		}
		if (c->error != NULL)
			return -1;
	}
	size_t n = c->out.len - c->out_pos;
	if (n > size)
		n = size;
	if (n > 0)
		memcpy(buf, c->out.data + c->out_pos, n);
	c->out_pos += n;
	return (ssize_t)n;
}
