/* mime_parser.c: the streaming MIME structure parser (see mime_parser.h).
 *
 * Input is split into lines; only the first MIME_LINE_KEEP bytes of a line
 * are kept, which is enough to recognise a delimiter (RFC 2046 5.1.1:
 * "--" boundary [ "--" ] at the start of a line; like Dovecot the nearest
 * enclosing boundary is tried first and a prefix match is enough, so a
 * missing inner close delimiter is ended by an outer one). Header fields
 * are kept only when they are Content-*, up to MIME_FIELD_MAX bytes. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime/mime_header.h"
#include "mime/mime_parser.h"

enum parse_state { ST_HDR, ST_BODY };

struct snap {
	uint64_t lf, bare;
};

struct boundary {
	uint32_t part;
	size_t len;
	char text[MIME_BOUNDARY_MAX];
};

struct mime_parser {
	struct mime_tree *tree;
	uint32_t cap;
	struct snap *hsnap, *bsnap;
	uint32_t *last_child;

	char line[MIME_LINE_KEEP];
	size_t kept;
	uint64_t line_len, line_start, offset;
	bool last_cr;
	bool line_8bit;           /* a header line holds an octet >= 0x80 */
	struct snap now;          /* counts before line_start */
	uint64_t prev_eol;        /* where the previous line's EOL starts */
	struct snap prev_snap;    /* counts at prev_eol */
	bool have_prev;

	enum parse_state state;
	uint32_t cur;
	str_t field;
	bool field_keep;
	struct boundary stack[MIME_MAX_DEPTH + 1];
	uint32_t nb;
	bool frozen;
};

static uint32_t new_part(struct mime_parser *p, uint32_t parent,
			 uint64_t hdr_off, struct snap at)
{
	struct mime_tree *t = p->tree;

	if (t->count >= MIME_MAX_PARTS) {
		p->frozen = true;
		if (parent != MIME_NONE)
			t->parts[parent].flags |= MIME_PART_TRUNCATED;
		return MIME_NONE;
	}
	if (t->count == p->cap) {
		p->cap = p->cap == 0 ? 8 : p->cap * 2;
		t->parts = xrealloc(t->parts, p->cap * sizeof(*t->parts));
		p->hsnap = xrealloc(p->hsnap, p->cap * sizeof(*p->hsnap));
		p->bsnap = xrealloc(p->bsnap, p->cap * sizeof(*p->bsnap));
		p->last_child = xrealloc(p->last_child,
					 p->cap * sizeof(*p->last_child));
	}
	uint32_t idx = t->count++;
	struct mime_part *part = &t->parts[idx];

	memset(part, 0, sizeof(*part));
	part->hdr_off = part->body_off = part->body_end = hdr_off;
	part->parent = parent;
	part->first_child = part->next_sibling = MIME_NONE;
	p->last_child[idx] = MIME_NONE;
	p->hsnap[idx] = at;
	p->bsnap[idx] = at;
	if (parent != MIME_NONE) {
		part->depth = t->parts[parent].depth + 1;
		if (p->last_child[parent] == MIME_NONE)
			t->parts[parent].first_child = idx;
		else
			t->parts[p->last_child[parent]].next_sibling = idx;
		p->last_child[parent] = idx;
	}
	p->cur = idx;
	p->state = ST_HDR;
	str_clear(&p->field);
	p->field_keep = false;
	return idx;
}

static char *trimmed(pool_t *pool, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
			   s[len - 1] == '\r'))
		len--;
	return pool_strndup(pool, s, len);
}

static void flush_field(struct mime_parser *p)
{
	struct mime_part *part = &p->tree->parts[p->cur];
	pool_t *pool = p->tree->pool;
	const char *f = str_c(&p->field), *colon;

	if (!p->field_keep || (colon = memchr(f, ':', p->field.len)) == NULL)
		goto out;
	size_t nlen = (size_t)(colon - f);
	while (nlen > 0 && (f[nlen - 1] == ' ' || f[nlen - 1] == '\t'))
		nlen--;
	const char *v = colon + 1;
	size_t vlen = p->field.len - (size_t)(v - f);
	char *name = pool_strndup(pool, f, nlen);
	char *s = NULL;

	if (strcasecmp(name, "content-type") == 0 && part->type == NULL) {
		char *type, *sub;
		if (mime_header_parse_params(pool, v, vlen, true, &type, &sub,
					     &part->params,
					     &part->n_params) == 0) {
			part->type = type;
			part->subtype = sub;
		}
	} else if (strcasecmp(name, "content-disposition") == 0 &&
		   part->disposition == NULL) {
		mime_header_parse_params(pool, v, vlen, false,
					 &part->disposition, NULL,
					 &part->disp_params,
					 &part->n_disp_params);
	} else if (strcasecmp(name, "content-description") == 0 &&
		   part->description == NULL) {
		str_t dec = STR_INIT;
		s = trimmed(pool, v, vlen);
		mime_header_decode(s, strlen(s), &dec);
		part->description = pool_strndup(pool, str_c(&dec), dec.len);
		str_free(&dec);
	} else {
		static const struct {
			const char *name;
			size_t off;
		} simple[] = {
			{ "content-transfer-encoding",
			  offsetof(struct mime_part, cte) },
			{ "content-id", offsetof(struct mime_part, id) },
			{ "content-language",
			  offsetof(struct mime_part, language) },
			{ "content-location",
			  offsetof(struct mime_part, location) },
			{ "content-md5", offsetof(struct mime_part, md5) },
		};
		for (size_t i = 0; i < sizeof(simple) / sizeof(simple[0]); i++) {
			char **dst = (char **)((char *)part + simple[i].off);
			if (strcasecmp(name, simple[i].name) == 0 &&
			    *dst == NULL)
				*dst = trimmed(pool, v, vlen);
		}
		if (part->cte != NULL)
			for (char *c = part->cte; *c != '\0'; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c + 32);
	}
out:
	str_clear(&p->field);
	p->field_keep = false;
}

static bool is_field_start(const char *c, size_t len)
{
	size_t i = 0;

	while (i < len && (unsigned char)c[i] > ' ' && (unsigned char)c[i] < 127 &&
	       c[i] != ':')
		i++;
	if (i == 0)
		return false;
	while (i < len && (c[i] == ' ' || c[i] == '\t'))
		i++;
	return i < len && c[i] == ':';
}

/* The header of p->cur ends; its body starts at body_off. */
static void header_end(struct mime_parser *p, uint64_t body_off,
		       struct snap at, bool no_sep)
{
	struct mime_tree *t = p->tree;
	uint32_t idx = p->cur;
	struct mime_part *part = &t->parts[idx];

	flush_field(p);
	part->body_off = part->body_end = body_off;
	part->hdr_bare_lf = at.bare - p->hsnap[idx].bare;
	p->bsnap[idx] = at;
	if (no_sep)
		part->flags |= MIME_PART_NO_HDR_SEP;
	p->state = ST_BODY;
	if (part->type == NULL) {
		const struct mime_part *parent =
			part->parent == MIME_NONE ? NULL : &t->parts[part->parent];
		bool digest = parent != NULL &&
			(parent->flags & MIME_PART_MULTIPART) != 0 &&
			strcmp(parent->subtype, "digest") == 0;
		/* RFC 2046 5.1.5 (digest) and RFC 2045 5.2 defaults */
		part->type = pool_strdup(t->pool, digest ? "message" : "text");
		part->subtype = pool_strdup(t->pool, digest ? "rfc822" : "plain");
		part->flags |= MIME_PART_DEFAULT_TYPE;
	}
	if (p->frozen)
		return;
	bool deep = part->depth >= MIME_MAX_DEPTH;
	if (strcmp(part->type, "multipart") == 0) {
		const char *b = mime_param_get(part->params, part->n_params,
					       "boundary");
		size_t blen = b != NULL ? strlen(b) : 0;
		if (blen == 0)
			return;
		if (blen > MIME_BOUNDARY_MAX)
			blen = MIME_BOUNDARY_MAX;
		if (deep || p->nb > MIME_MAX_DEPTH) {
			part->flags |= MIME_PART_TRUNCATED;
			return;
		}
		part->flags |= MIME_PART_MULTIPART;
		p->stack[p->nb].part = idx;
		p->stack[p->nb].len = blen;
		memcpy(p->stack[p->nb].text, b, blen);
		p->nb++;
	} else if (strcmp(part->type, "message") == 0 &&
		   (strcmp(part->subtype, "rfc822") == 0 ||
		    strcmp(part->subtype, "global") == 0) &&
		   (part->cte == NULL || (strcmp(part->cte, "base64") != 0 &&
		    strcmp(part->cte, "quoted-printable") != 0))) {
		if (deep) {
			part->flags |= MIME_PART_TRUNCATED;
			return;
		}
		part->flags |= MIME_PART_MESSAGE;
		if (new_part(p, idx, body_off, at) == MIME_NONE) {
			p->cur = idx;
			p->state = ST_BODY;
		}
	}
}

/* End part idx at end (not before its body, not before the end of the
 * child closed just before it, kept in *floor). */
static void end_part(struct mime_parser *p, uint32_t idx, uint64_t end,
		     struct snap at, uint64_t *floor, struct snap *floor_at)
{
	struct mime_part *part = &p->tree->parts[idx];

	if (end < part->body_off) {
		end = part->body_off;
		at = p->bsnap[idx];
	}
	if (end < *floor) {
		end = *floor;
		at = *floor_at;
	}
	part->body_end = end;
	part->body_lines = at.lf - p->bsnap[idx].lf;
	part->body_bare_lf = at.bare - p->bsnap[idx].bare;
	*floor = end;
	*floor_at = at;
}

/* Close every open part below the multipart of stack[k]. */
static void close_below(struct mime_parser *p, uint32_t k)
{
	uint32_t m = p->stack[k].part;
	uint64_t floor = 0;
	struct snap floor_at = { 0, 0 };

	for (uint32_t i = p->cur; i != m && i != MIME_NONE;
	     i = p->tree->parts[i].parent)
		end_part(p, i, p->prev_eol, p->prev_snap, &floor, &floor_at);
	p->cur = m;
	p->nb = k + 1;
}

/* Index of the boundary stack entry this line is a delimiter of, or -1. */
static int find_delimiter(struct mime_parser *p, size_t len, bool *close_r)
{
	const char *c = p->line;

	if (p->frozen || len < 3 || c[0] != '-' || c[1] != '-')
		return -1;
	for (uint32_t k = p->nb; k-- > 0;) {
		const struct boundary *b = &p->stack[k];

		if (len - 2 >= b->len && memcmp(c + 2, b->text, b->len) == 0) {
			*close_r = len - 2 >= b->len + 2 &&
				   c[2 + b->len] == '-' && c[3 + b->len] == '-';
			return (int)k;
		}
	}
	return -1;
}

static void process_line(struct mime_parser *p, size_t eol)
{
	size_t len = p->line_len < p->kept ? p->line_len : p->kept;
	uint64_t line_end = p->line_start + p->line_len + eol;
	struct snap at_end = { p->now.lf + (eol > 0), p->now.bare + (eol == 1) };
	bool close = false;
	int k = find_delimiter(p, len, &close);

	if (k >= 0) {
		if (p->state == ST_HDR)
			header_end(p, p->line_start, p->now, true);
		/* header_end may have opened an enclosed message */
		close_below(p, (uint32_t)k);
		p->state = ST_BODY;
		if (close)
			p->nb = (uint32_t)k;
		else if (new_part(p, p->stack[k].part, line_end, at_end) ==
			 MIME_NONE)
			p->state = ST_BODY;
	} else {
		/* bounded: each round ends one header, depth is limited */
		for (int round = 0; p->state == ST_HDR &&
				    round <= MIME_MAX_DEPTH + 1; round++) {
			const char *c = p->line;
			if (p->line_len == 0) {
				header_end(p, line_end, at_end, false);
				break;
			}
			bool hdr_line = c[0] == ' ' || c[0] == '\t' || is_field_start(c, len);
			if (hdr_line && p->line_8bit)
				p->tree->parts[p->cur].flags |= MIME_PART_HDR_8BIT;
			if (c[0] == ' ' || c[0] == '\t') {
				if (p->field_keep &&
				    p->field.len + len <= MIME_FIELD_MAX)
					str_append(&p->field, c, len);
				break;
			}
			if (is_field_start(c, len)) {
				flush_field(p);
				p->field_keep = slice_iprefix(c, len, "content-");
				if (p->field_keep)
					str_append(&p->field, c, len);
				break;
			}
			/* an mbox "From " line opening the header is kept in
			 * it, as Python's email package does */
			if (p->line_start == p->tree->parts[p->cur].hdr_off &&
			    len >= 5 && memcmp(c, "From ", 5) == 0)
				break;
			/* not a header line: the body starts here (mime4j) */
			header_end(p, p->line_start, p->now, true);
		}
	}
	p->prev_eol = p->line_start + p->line_len;
	p->prev_snap = p->now;
	p->have_prev = true;
	p->now = at_end;
	p->line_start = line_end;
	p->line_len = 0;
	p->kept = 0;
	p->last_cr = false;
	p->line_8bit = false;
}

void mime_parser_feed(struct mime_parser *p, const void *data, size_t size)
{
	const char *d = data;

	while (size > 0) {
		const char *lf = memchr(d, '\n', size);
		size_t n = lf != NULL ? (size_t)(lf - d) : size;

		if (n > 0) {
			size_t room = MIME_LINE_KEEP - p->kept;
			size_t take = n < room ? n : room;
			memcpy(p->line + p->kept, d, take);
			p->kept += take;
			p->line_len += n;
			p->last_cr = d[n - 1] == '\r';
			/* header lines only: the body is never scanned */
			for (size_t i = 0; p->state == ST_HDR && !p->line_8bit && i < n; i++)
				p->line_8bit = (unsigned char)d[i] >= 0x80;
		}
		p->offset += n;
		d += n;
		size -= n;
		if (lf != NULL) {
			p->offset++;
			d++;
			size--;
			if (p->last_cr) {
				p->line_len--;
				if (p->kept > p->line_len)
					p->kept = p->line_len;
			}
			process_line(p, p->last_cr ? 2 : 1);
		}
	}
}

struct mime_parser *mime_parser_create(void)
{
	struct mime_parser *p = xcalloc(1, sizeof(*p));

	p->tree = xcalloc(1, sizeof(*p->tree));
	p->tree->pool = pool_create(4096);
	str_init(&p->field);
	new_part(p, MIME_NONE, 0, p->now);
	return p;
}

static void parser_free(struct mime_parser *p)
{
	free(p->hsnap);
	free(p->bsnap);
	free(p->last_child);
	str_free(&p->field);
	free(p);
}

struct mime_tree *mime_parser_finish(struct mime_parser **pp)
{
	struct mime_parser *p = *pp;
	struct mime_tree *t = p->tree;

	*pp = NULL;
	if (p->line_len > 0)
		process_line(p, 0);
	/* a header that ends here may open an enclosed message whose
	 * (empty) header ends here too: every part gets its type */
	for (unsigned n = 0; p->state == ST_HDR && n <= MIME_MAX_DEPTH + 1; n++)
		header_end(p, p->offset, p->now, true);
	uint64_t floor = 0;
	struct snap floor_at = { 0, 0 };
	for (uint32_t i = p->cur; i != MIME_NONE; i = t->parts[i].parent)
		end_part(p, i, p->offset, p->now, &floor, &floor_at);
	parser_free(p);
	return t;
}

void mime_parser_abort(struct mime_parser **pp)
{
	struct mime_tree *t;

	if (*pp == NULL)
		return;
	t = mime_parser_finish(pp);
	mime_tree_free(&t);
}

struct mime_tree *mime_parse(const void *data, size_t len)
{
	struct mime_parser *p = mime_parser_create();

	mime_parser_feed(p, data, len);
	return mime_parser_finish(&p);
}

void mime_tree_free(struct mime_tree **tree)
{
	if (*tree == NULL)
		return;
	pool_destroy(&(*tree)->pool);
	free((*tree)->parts);
	free(*tree);
	*tree = NULL;
}

const char *mime_param_get(const struct mime_param *params, uint32_t n,
			   const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcasecmp(params[i].name, name) == 0)
			return params[i].value;
	return NULL;
}
