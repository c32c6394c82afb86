/* mime_cache.c: see mime_cache.h. Layout (all integers LEB128 varints):
 *   "PMC" version count
 *   per part: hdr_off, body_off-hdr_off, body_end-body_off, hdr_bare_lf,
 *     body_bare_lf, body_lines, parent+1 (0: root), flags,
 *     type, subtype, cte, id, description, disposition, language,
 *     location, md5 (string: 0 = absent, else length+1 then bytes),
 *     n_params {name value}, n_disp_params {name value}
 * first_child / next_sibling / depth are rebuilt from the parent links. */
#include <stdlib.h>
#include <string.h>

#include "mime/mime_cache.h"

static void put_varint(str_t *out, uint64_t v)
{
	do {
		unsigned char b = v & 0x7f;
		v >>= 7;
		str_appendc(out, (char)(b | (v != 0 ? 0x80 : 0)));
	} while (v != 0);
}

static void put_str(str_t *out, const char *s)
{
	if (s == NULL) {
		put_varint(out, 0);
		return;
	}
	size_t n = strlen(s);
	put_varint(out, (uint64_t)n + 1);
	str_append(out, s, n);
}

static void put_params(str_t *out, const struct mime_param *p, uint32_t n)
{
	put_varint(out, n);
	for (uint32_t i = 0; i < n; i++) {
		put_str(out, p[i].name);
		put_str(out, p[i].value);
	}
}

void mime_cache_encode(const struct mime_tree *tree, str_t *out)
{
	str_append(out, "PMC", 3);
	put_varint(out, MIME_CACHE_VERSION);
	put_varint(out, tree->count);
	for (uint32_t i = 0; i < tree->count; i++) {
		const struct mime_part *p = &tree->parts[i];

		put_varint(out, p->hdr_off);
		put_varint(out, p->body_off - p->hdr_off);
		put_varint(out, p->body_end - p->body_off);
		put_varint(out, p->hdr_bare_lf);
		put_varint(out, p->body_bare_lf);
		put_varint(out, p->body_lines);
		put_varint(out, p->parent == MIME_NONE ? 0 : (uint64_t)p->parent + 1);
		put_varint(out, p->flags);
		put_str(out, p->type);
		put_str(out, p->subtype);
		put_str(out, p->cte);
		put_str(out, p->id);
		put_str(out, p->description);
		put_str(out, p->disposition);
		put_str(out, p->language);
		put_str(out, p->location);
		put_str(out, p->md5);
		put_params(out, p->params, p->n_params);
		put_params(out, p->disp_params, p->n_disp_params);
	}
}

struct reader {
	const unsigned char *d;
	size_t len, pos;
	bool bad;
	pool_t *pool;
};

static uint64_t get_varint(struct reader *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		if (r->pos >= r->len)
			break;
		unsigned char b = r->d[r->pos++];
		if (shift == 63 && b > 1)
			break;
		v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return v;
	}
	r->bad = true;
	return 0;
}

static char *get_str(struct reader *r)
{
	uint64_t n = get_varint(r);

	if (r->bad || n == 0)
		return NULL;
	n--;
	if (n > r->len - r->pos || memchr(r->d + r->pos, '\0', n) != NULL) {
		r->bad = true;
		return NULL;
	}
	char *s = pool_strndup(r->pool, (const char *)r->d + r->pos, n);
	r->pos += n;
	return s;
}

static struct mime_param *get_params(struct reader *r, uint32_t *n_r)
{
	uint64_t n = get_varint(r);
	struct mime_param *p;

	*n_r = 0;
	if (r->bad || n > MIME_MAX_PARAMS) {
		r->bad = true;
		return NULL;
	}
	p = pool_alloc(r->pool, sizeof(*p) * (n > 0 ? n : 1));
	for (uint64_t i = 0; i < n && !r->bad; i++) {
		p[i].name = get_str(r);
		p[i].value = get_str(r);
		if (p[i].name == NULL || p[i].value == NULL)
			r->bad = true;
	}
	*n_r = (uint32_t)n;
	return p;
}

static const char *get_part(struct reader *r, struct mime_tree *t,
			    uint32_t i, uint64_t msg_size)
{
	struct mime_part *p = &t->parts[i];
	uint64_t hsize, bsize, parent;

	memset(p, 0, sizeof(*p));
	p->hdr_off = get_varint(r);
	hsize = get_varint(r);
	bsize = get_varint(r);
	p->hdr_bare_lf = get_varint(r);
	p->body_bare_lf = get_varint(r);
	p->body_lines = get_varint(r);
	parent = get_varint(r);
	p->flags = (uint32_t)get_varint(r);
	if (r->bad)
		return "truncated part";
	if (p->hdr_off > msg_size || hsize > msg_size - p->hdr_off ||
	    bsize > msg_size - p->hdr_off - hsize)
		return "part outside the message";
	p->body_off = p->hdr_off + hsize;
	p->body_end = p->body_off + bsize;
	if ((i == 0) != (parent == 0) || parent > i)
		return "bad parent link";
	p->parent = parent == 0 ? MIME_NONE : (uint32_t)(parent - 1);
	p->first_child = p->next_sibling = MIME_NONE;
	if (p->parent != MIME_NONE) {
		struct mime_part *up = &t->parts[p->parent];
		p->depth = up->depth + 1;
		if (p->depth > MIME_MAX_DEPTH)
			return "too deep";
	}
	char **strs[] = { &p->type, &p->subtype, &p->cte, &p->id,
			  &p->description, &p->disposition, &p->language,
			  &p->location, &p->md5 };
	for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
		*strs[k] = get_str(r);
	p->params = get_params(r, &p->n_params);
	p->disp_params = get_params(r, &p->n_disp_params);
	if (r->bad || p->type == NULL || p->subtype == NULL)
		return "bad strings";
	return NULL;
}

const char mime_cache_error_version[] = "unsupported MIME cache version";

int mime_cache_decode(const void *data, size_t len, uint64_t msg_size,
		      struct mime_tree **tree_r, const char **error_r)
{
	struct reader r = { data, len, 3, false, NULL };
	struct mime_tree *t;
	const char *err = NULL;
	uint64_t count, version;

	*tree_r = NULL;
	if (len < 3 || memcmp(data, "PMC", 3) != 0) {
		*error_r = "not a MIME cache record";
		return -1;
	}
	version = get_varint(&r);
	if (r.bad || version != MIME_CACHE_VERSION) {
		*error_r = mime_cache_error_version;
		return -1;
	}
	count = get_varint(&r);
	if (r.bad || count == 0 || count > MIME_MAX_PARTS ||
	    count > len - r.pos) {
		*error_r = "bad part count";
		return -1;
	}
	t = xcalloc(1, sizeof(*t));
	t->pool = pool_create(1024);
	t->parts = xcalloc(count, sizeof(*t->parts));
	r.pool = t->pool;
	for (uint32_t i = 0; i < count && err == NULL; i++) {
		err = get_part(&r, t, i, msg_size);
		t->count = i + 1;
	}
	if (err == NULL && r.pos != len)
		err = "trailing bytes";
	if (err != NULL) {
		mime_tree_free(&t);
		*error_r = err;
		return -1;
	}
	/* rebuild child links in order (parents precede children) */
	for (uint32_t i = count; i-- > 1;) {
		struct mime_part *up = &t->parts[t->parts[i].parent];
		t->parts[i].next_sibling = up->first_child;
		up->first_child = i;
	}
	*tree_r = t;
	return 0;
}
