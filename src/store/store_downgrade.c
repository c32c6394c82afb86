/* store_downgrade.c: the RFC 6858 synthetic message of a stored one, for
 * IMAP FETCH (imap_fetch_downgrade.c), POP3 RETR/TOP and the sizes POP3
 * LIST/STAT report (pop3_maildrop.c); contract in store_view.h.
 *
 * Every header with an octet >= 0x80 is rewritten (mime_downgrade.h):
 * the message's own, each body part's MIME header and each enclosed
 * message's (message/global, RFC 6532 3.7). The reader shows the new
 * headers in place of the stored ones; the tree's offsets and the body
 * lines of the parts that enclose a rewritten header, and the size,
 * become those of the synthetic message, so RFC822.SIZE, BODY[] and
 * BODYSTRUCTURE agree. BODYSTRUCTURE's fields of a rewritten part (its
 * parameters, Content-ID, MD5, Description, disposition, Language,
 * Location) are parsed again from the rewritten header, so they say what
 * BODY[n.MIME] says; and a message/global part is described as
 * message/rfc822: RFC 3501 7.4.2's body-type-msg (envelope, body, lines)
 * is the grammar of MESSAGE/RFC822 only, and the enclosed header it
 * describes is 7-bit now.
 *
 * Limits: a downgraded session never sees an octet >= 0x80 in a header
 * (RFC 6855 7, RFC 6856 3). The reader replaces at most
 * STORE_READ_REGIONS_MAX regions, and a header is read whole into memory
 * only up to STORE_DOWNGRADE_HEADER_MAX octets; past either limit the
 * message has no synthetic form we can build in bounded memory, so it is
 * refused (store_downgrade_error_limit: IMAP FETCH answers NO [LIMIT],
 * POP3 RETR -ERR) rather than shown raw or cut: dropping a whole header
 * block would also drop its Content-Type and boundary and so change the
 * structure the client sees, and the client can always enable UTF8=ACCEPT
 * (or POP3 UTF8) to read it. A header whose every field was 8-bit and
 * left out, and which had no empty line to end it, becomes the minimal
 * valid header: the empty line alone (RFC 2046 5.1.1: a body part with no
 * header fields starts with it). */
#include "store/store_view.h"

#include "lib/log.h"
#include "mime/mime_downgrade.h"
#include "mime/mime_parser.h"

#include <string.h>

#define STORE_DOWNGRADE_HEADER_MAX (256 * 1024)

const char store_downgrade_error_limit[] =
	"message too large to downgrade (RFC 6858) for a client without UTF-8 headers";

int store_view_message_hdr_8bit(struct store_view *view, uint32_t uid,
				struct store_message_info *info, pool_t *pool,
				struct mime_tree **tree, const char **error_r)
{
	if (info->hdr_8bit == 0)
		return 0;
	if (*tree == NULL && store_view_message_structure(view, uid, pool, tree, error_r) < 0)
		return -1;
	bool eight_bit = false;
	for (uint32_t i = 0; i < (*tree)->count && !eight_bit; i++)
		eight_bit = ((*tree)->parts[i].flags & MIME_PART_HDR_8BIT) != 0;
	if (info->hdr_8bit < 0) {
		/* stored before schema 9: learnt now, kept for next time */
		const char *serror;
		if (store_view_message_set_hdr_8bit(view, uid, eight_bit, 0, &serror) < 0)
			log_warn("event=hdr8bit_save_failed uid=%u error=%s", uid,
				 log_str(serror));
		info->hdr_8bit = eight_bit;
	}
	return eight_bit ? 1 : 0;
}

/* One rewritten header: stored [off, off + len), its 7-bit form and the
 * lines it gains (or loses) */
struct region {
	uint64_t off, len;
	str_t out;
	int64_t dlines;
};

static int64_t count_lf(const char *s, size_t len)
{
	int64_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

/* A stored offset as shown: moved by every region that ends at or
 * before it (a part's own header starts where it did). */
static uint64_t shifted(uint64_t x, const struct region *g, unsigned n)
{
	int64_t d = 0;
	for (unsigned k = 0; k < n && g[k].off + g[k].len <= x; k++)
		d += (int64_t)g[k].out.len - (int64_t)g[k].len;
	return (uint64_t)((int64_t)x + d);
}

static void shift_tree(struct mime_tree *tree, uint64_t *size, const struct region *g,
		       unsigned n)
{
	for (uint32_t i = 0; i < tree->count; i++) {
		struct mime_part *p = &tree->parts[i];
		/* RFC 9051 7.5.2 body-fld-lines of a message/rfc822 part */
		for (unsigned k = 0; k < n; k++)
			if (g[k].off >= p->body_off && g[k].off + g[k].len <= p->body_end)
				p->body_lines = (uint64_t)((int64_t)p->body_lines + g[k].dlines);
		p->hdr_off = shifted(p->hdr_off, g, n);
		p->body_off = shifted(p->body_off, g, n);
		p->body_end = shifted(p->body_end, g, n);
	}
	*size = shifted(*size, g, n);
}

static char *dup_or_null(pool_t *pool, const char *v)
{
	return v == NULL ? NULL : pool_strdup(pool, v);
}

static struct mime_param *dup_params(pool_t *pool, const struct mime_param *src, uint32_t n)
{
	struct mime_param *d = n == 0 ? NULL : pool_alloc(pool, n * sizeof(*d));
	for (uint32_t i = 0; i < n; i++)
		d[i] = (struct mime_param){ pool_strdup(pool, src[i].name),
					    pool_strdup(pool, src[i].value) };
	return d;
}

/* BODYSTRUCTURE's fields of part p from its rewritten header hdr[0..len)
 * (item 1 of the RFC 6858 review: not the stored 8-bit values). The type
 * stays the stored one: the tree's children hang on it. */
static void refresh_part(struct mime_tree *tree, struct mime_part *p, const char *hdr,
			 size_t len)
{
	struct mime_tree *t = mime_parse(hdr, len);
	const struct mime_part *q = &t->parts[0];
	pool_t *pool = tree->pool;
	bool same_type = (q->flags & MIME_PART_DEFAULT_TYPE) == 0 &&
		strcmp(q->type, p->type) == 0 && strcmp(q->subtype, p->subtype) == 0;
	p->n_params = same_type ? q->n_params : 0;
	p->params = dup_params(pool, q->params, p->n_params);
	p->n_disp_params = q->n_disp_params;
	p->disp_params = dup_params(pool, q->disp_params, q->n_disp_params);
	p->cte = dup_or_null(pool, q->cte);
	p->id = dup_or_null(pool, q->id);
	p->description = dup_or_null(pool, q->description);
	p->disposition = dup_or_null(pool, q->disposition);
	p->language = dup_or_null(pool, q->language);
	p->location = dup_or_null(pool, q->location);
	p->md5 = dup_or_null(pool, q->md5);
	mime_tree_free(&t);
}

/* The rewritten form of part p's header into *g (within the limits:
 * store_message_downgrade_fits()); 0, -1 on a read error */
static int downgrade_part(struct store_message_reader *r, const struct mime_part *p,
			  str_t *hdr, struct region *g, const char **error_r)
{
	uint64_t want = p->body_off - p->hdr_off;
	if (store_message_read_header(r, p, SIZE_MAX, hdr, error_r) < 0)
		return -1;
	if (hdr->len != want) {
		*error_r = "message shorter than its structure says";
		return -1;
	}
	*g = (struct region){ .off = p->hdr_off, .len = hdr->len, .out = STR_INIT };
	if (!mime_downgrade_header(hdr->data, hdr->len, &g->out))
		return 0; /* no 8-bit octet after all: shown as stored */
	if (g->out.len == 0) {
		/* every field left out and no empty line: the minimal header */
		const char *lf = memchr(hdr->data, '\n', hdr->len);
		str_appendz(&g->out, lf != NULL && lf > hdr->data && lf[-1] == '\r' ?
			    "\r\n" : "\n");
	}
	g->dlines = count_lf(g->out.data, g->out.len) - count_lf(hdr->data, hdr->len);
	return 0;
}

void store_tree_global_as_rfc822(struct mime_tree *tree)
{
	for (uint32_t i = 0; i < tree->count; i++) {
		struct mime_part *p = &tree->parts[i];
		if (strcmp(p->type, "message") == 0 && strcmp(p->subtype, "global") == 0)
			p->subtype = pool_strdup(tree->pool, "rfc822");
	}
}

bool store_message_downgrade_fits(const struct mime_tree *tree)
{
	unsigned n = 0;
	for (uint32_t i = 0; i < tree->count; i++) {
		const struct mime_part *p = &tree->parts[i];
		if ((p->flags & MIME_PART_HDR_8BIT) == 0)
			continue;
		if (++n > STORE_READ_REGIONS_MAX ||
		    p->body_off - p->hdr_off > STORE_DOWNGRADE_HEADER_MAX)
			return false;
	}
	return true;
}

int store_message_downgrade(struct store_message_reader *r, struct mime_tree *tree,
			    uint64_t *size, const char **error_r)
{
	/* every 8-bit header, read from the stored form before any is
	 * replaced */
	struct region regions[STORE_READ_REGIONS_MAX];
	uint32_t parts[STORE_READ_REGIONS_MAX];
	unsigned n = 0;
	str_t hdr = STR_INIT;
	int ret = 0;
	/* one place says what the limits are (also asked before a FETCH
	 * sets \Seen); past them nothing is read, and regions[] holds
	 * every 8-bit header */
	if (!store_message_downgrade_fits(tree)) {
		*error_r = store_downgrade_error_limit;
		ret = -1;
	}
	for (uint32_t i = 0; i < tree->count && ret == 0; i++) {
		const struct mime_part *p = &tree->parts[i];
		if ((p->flags & MIME_PART_HDR_8BIT) == 0)
			continue;
		ret = downgrade_part(r, p, &hdr, &regions[n], error_r);
		if (ret == 0 && regions[n].out.len > 0)
			parts[n++] = i;
	}
	if (ret < 0)
		log_warn("event=downgrade_refused parts=%u regions=%u error=%s", tree->count, n,
			 log_str(*error_r));
	str_free(&hdr);
	for (unsigned k = 0; k < n && ret == 0; k++) {
		ret = store_message_reader_replace(r, regions[k].off, regions[k].len,
						   regions[k].out.data, regions[k].out.len);
		refresh_part(tree, &tree->parts[parts[k]], regions[k].out.data,
			     regions[k].out.len);
	}
	if (ret == 0 && n > 0)
		shift_tree(tree, size, regions, n);
	if (ret == 0)
		store_tree_global_as_rfc822(tree);
	for (unsigned k = 0; k < n; k++)
		str_free(&regions[k].out);
	if (ret < 0)
		return -1;
	return store_message_seek(r, 0, error_r);
}

int store_view_message_downgrade(struct store_view *view, uint32_t uid,
				 struct store_message_info *info, struct mime_tree *tree,
				 struct store_message_reader *r, const char **error_r)
{
	if (store_message_downgrade(r, tree, &info->size, error_r) < 0)
		return -1;
	if (info->dg_size == info->size)
		return 0;
	/* schema 10: learnt once, read from now on (a row that disagrees
	 * was sized by an older downgrade: corrected) */
	if (info->dg_size != 0)
		log_warn("event=dgsize_corrected uid=%u stored=%llu now=%llu", uid,
			 (unsigned long long)info->dg_size, (unsigned long long)info->size);
	const char *serror;
	if (store_view_message_set_hdr_8bit(view, uid, true, info->size, &serror) < 0)
		log_warn("event=dgsize_save_failed uid=%u error=%s", uid, log_str(serror));
	info->dg_size = info->size;
	return 0;
}

int store_view_message_downgraded_size(struct store_view *view, uint32_t uid,
				       struct store_message_info *info,
				       const char **error_r)
{
	if (info->hdr_8bit > 0 && info->dg_size != 0) {
		info->size = info->dg_size; /* schema 10: known */
		return 0;
	}
	pool_t *pool = pool_create(1024);
	struct mime_tree *tree = NULL;
	struct store_message_reader *r = NULL;
	int ret = store_view_message_hdr_8bit(view, uid, info, pool, &tree, error_r);
	if (ret > 0) {
		r = store_view_message_open(view, uid, error_r);
		ret = r == NULL ? -1 : store_view_message_downgrade(view, uid, info, tree, r,
								    error_r);
	}
	store_message_close(&r);
	mime_tree_free(&tree);
	pool_destroy(&pool);
	return ret < 0 ? -1 : 0;
}
