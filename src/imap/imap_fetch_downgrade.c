/* imap_fetch_downgrade.c: FETCH of an SMTPUTF8 message (8-bit header
 * fields, RFC 6532) for a session that enabled neither UTF8=ACCEPT nor
 * IMAP4rev2 (s->utf8_accept false).
 *
 * Contract: RFC 6855 7 wants such a client to get RFC 3501/5322 header
 * information only; RFC 6858 3 says how: the server shows a synthetic
 * message whose header is the downgraded one (mime_downgrade.h) and
 * whose body is the stored one. imap_fetch_downgrade() turns the
 * message the renderer is given into that synthetic message: the reader
 * shows the new header in place of the stored one
 * (store_message_reader_replace_header()), the tree's offsets after the
 * header move by the difference and the size (RFC822.SIZE) is the
 * synthetic message's, so ENVELOPE, BODYSTRUCTURE, BODY[HEADER...],
 * BODY[]/RFC822 and their partials (<o.n>), BINARY and RFC822.SIZE all
 * describe one and the same message and RFC822.SIZE == len(BODY[]).
 * Every 8-bit header is downgraded: the message's, each body part's
 * MIME header (8-bit parameters, RFC 2231) and each enclosed message's
 * (message/global, RFC 6532 3.7), at most STORE_READ_REGIONS_MAX of
 * them; BODYSTRUCTURE's sizes and lines follow. The fast path: a request
 * that shows nothing of the top-level header or size (FLAGS, UID,
 * BODY[TEXT], BODY[1], BINARY[2], ...) costs nothing, and neither does
 * a message whose row says its header is 7-bit (messages.hdr8bit,
 * schema 9, set at delivery): FETCH 1:* (FLAGS RFC822.SIZE) reads no
 * structure row. A row that does not know (stored before schema 9)
 * has its structure read once and the answer stored. A header larger
 * than IMAP_FETCH_HEADER_MAX is served as stored (logged).
 * SEARCH LARGER/SMALLER still compare the stored size. */
#include "imap_private.h"
#include "imap/imap_fetch_render_private.h"
#include "lib/log.h"
#include "mime/mime_downgrade.h"
#include "mime/mime_parser.h"
#include "store/store_view.h"

/* What an item needs of the downgrade: WANT_ALL shows the top-level
 * header or counts the message's octets; WANT_SECTION shows a section
 * inside the message (BODY[TEXT], BODY[1], BODY[1.MIME], BINARY[2],
 * RFC822.TEXT, ...), the same octets in the synthetic message unless an
 * 8-bit header lies in it (section_touches_8bit()); WANT_NONE (FLAGS,
 * UID, ...) never looks. */
enum want { WANT_NONE, WANT_SECTION, WANT_ALL };

static enum want att_want(const struct imap_fetch_att *att)
{
	switch (att->item) {
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_SIZE:
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		return WANT_ALL;
	case IMAP_FETCH_RFC822_TEXT:
		return WANT_SECTION;
	case IMAP_FETCH_BODY_SECTION:
		return att->part_depth == 0 && att->text != IMAP_SECTION_TEXT ?
			WANT_ALL : WANT_SECTION;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return att->part_depth == 0 ? WANT_ALL : WANT_SECTION;
	default:
		return WANT_NONE;
	}
}

static enum want downgrade_wanted(const struct imap_session *s,
				  const struct imap_fetch_request *req)
{
	if (s->utf8_accept)
		return WANT_NONE; /* RFC 6855 3, RFC 9051 5.1: it reads UTF-8 */
	enum want w = WANT_NONE;
	for (unsigned i = 0; i < req->count && w != WANT_ALL; i++) {
		enum want a = att_want(&req->atts[i]);
		if (a > w)
			w = a;
	}
	return w;
}

/* Whether a section item of the stored message shows an 8-bit header:
 * its range holds the header of an 8-bit part, or it filters one. */
static bool section_touches_8bit(const struct mime_tree *tree, uint64_t size,
				 const struct imap_fetch_att *att)
{
	struct imap_fetch_att text = { .item = IMAP_FETCH_BODY_SECTION,
				       .text = IMAP_SECTION_TEXT };
	struct imap_section_target t;
	imap_section_resolve(tree, size, att->item == IMAP_FETCH_RFC822_TEXT ? &text : att, &t);
	if (t.kind == IMAP_SECTION_KIND_FIELDS)
		return t.part < tree->count && (tree->parts[t.part].flags & MIME_PART_HDR_8BIT) != 0;
	if (t.kind != IMAP_SECTION_KIND_RANGE)
		return false;
	for (uint32_t i = 0; i < tree->count; i++) {
		const struct mime_part *p = &tree->parts[i];
		if ((p->flags & MIME_PART_HDR_8BIT) != 0 && p->hdr_off < t.start + t.len &&
		    p->body_off > t.start)
			return true;
	}
	return false;
}

static bool sections_touch_8bit(const struct imap_fetch_request *req,
				const struct mime_tree *tree, uint64_t size)
{
	for (unsigned i = 0; i < req->count; i++)
		if (att_want(&req->atts[i]) == WANT_SECTION &&
		    section_touches_8bit(tree, size, &req->atts[i]))
			return true;
	return false;
}

/* One replaced header: stored [off, off + len), its 7-bit form and the
 * lines it gains (or loses) */
struct region {
	uint64_t off, len;
	str_t out;
	int64_t dlines;
};

static int64_t count_lf(const str_t *s)
{
	int64_t n = 0;
	for (size_t i = 0; i < s->len; i++)
		n += s->data[i] == '\n';
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

/* The tree and size of the synthetic message: offsets moved, and the
 * body lines of every part whose body holds a replaced header (an
 * enclosed message's, RFC 9051 7.5.2 body-fld-lines of message/rfc822) */
static void shift_tree(struct mime_tree *tree, struct store_message_info *info,
		       const struct region *g, unsigned n)
{
	for (uint32_t i = 0; i < tree->count; i++) {
		struct mime_part *p = &tree->parts[i];
		for (unsigned k = 0; k < n; k++)
			if (g[k].off >= p->body_off && g[k].off + g[k].len <= p->body_end)
				p->body_lines = (uint64_t)((int64_t)p->body_lines + g[k].dlines);
		p->hdr_off = shifted(p->hdr_off, g, n);
		p->body_off = shifted(p->body_off, g, n);
		p->body_end = shifted(p->body_end, g, n);
	}
	info->size = shifted(info->size, g, n);
}

int imap_fetch_downgrade(const struct imap_session *s, const struct imap_fetch_request *req,
			 struct store_view *view, uint32_t uid,
			 struct store_message_info *info, struct mime_tree **treep,
			 pool_t *pool, struct store_message_reader **reader,
			 const char **error_r)
{
	/* schema 9: the row says whether the header is 8-bit; a 7-bit one
	 * (nearly all mail) costs nothing more */
	enum want want = info->hdr_8bit == 0 ? WANT_NONE : downgrade_wanted(s, req);
	if (want == WANT_NONE)
		return 0;
	if (*treep == NULL && store_view_message_structure(view, uid, pool, treep, error_r) < 0)
		return -1;
	struct mime_tree *tree = *treep;
	if (tree == NULL || tree->count == 0)
		return 0;
	bool eight_bit = false;
	for (uint32_t i = 0; i < tree->count && !eight_bit; i++)
		eight_bit = (tree->parts[i].flags & MIME_PART_HDR_8BIT) != 0;
	if (info->hdr_8bit < 0) {
		/* stored before schema 9: learnt now, kept for next time */
		const char *serror;
		if (store_view_message_set_hdr_8bit(view, uid, eight_bit, &serror) < 0)
			log_warn("sid=%s event=hdr8bit_save_failed uid=%u error=%s",
				 s->base.sid, uid, log_str(serror));
		info->hdr_8bit = eight_bit;
	}
	/* a section away from every 8-bit header: the stored octets */
	if (!eight_bit || (want == WANT_SECTION && !sections_touch_8bit(req, tree, info->size)))
		return 0;
	if (*reader == NULL && (*reader = store_view_message_open(view, uid, error_r)) == NULL)
		return -1;
	/* every 8-bit header, read from the stored form before any is
	 * replaced: the message's, each body part's MIME header and each
	 * enclosed message's (message/global, RFC 6532 3.7) */
	struct region regions[STORE_READ_REGIONS_MAX];
	unsigned n = 0;
	str_t hdr = STR_INIT;
	int ret = 0;
	for (uint32_t i = 0; i < tree->count && ret == 0; i++) {
		const struct mime_part *p = &tree->parts[i];
		if ((p->flags & MIME_PART_HDR_8BIT) == 0)
			continue;
		if (n == STORE_READ_REGIONS_MAX || p->body_off - p->hdr_off > IMAP_FETCH_HEADER_MAX) {
			log_warn("sid=%s event=downgrade_skipped uid=%u part=%u header_size=%llu",
				 s->base.sid, uid, i, (unsigned long long)(p->body_off - p->hdr_off));
			continue;
		}
		str_t out = STR_INIT;
		ret = imap_fetch_read_header(*reader, p, &hdr, error_r);
		if (ret == 0 && mime_downgrade_header(hdr.data, hdr.len, &out) && out.len > 0)
			regions[n++] = (struct region){ p->hdr_off, hdr.len, out,
							count_lf(&out) - count_lf(&hdr) };
		else
			str_free(&out);
	}
	str_free(&hdr);
	for (unsigned k = 0; k < n && ret == 0; k++)
		ret = store_message_reader_replace(*reader, regions[k].off, regions[k].len,
						   regions[k].out.data, regions[k].out.len);
	if (ret == 0 && n > 0)
		shift_tree(tree, info, regions, n);
	for (unsigned k = 0; k < n; k++)
		str_free(&regions[k].out);
	if (ret < 0)
		return -1;
	return store_message_seek(*reader, 0, error_r);
}
