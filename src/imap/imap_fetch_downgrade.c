/* imap_fetch_downgrade.c: FETCH of an SMTPUTF8 message (8-bit header
 * fields, RFC 6532) for a session that enabled neither UTF8=ACCEPT nor
 * IMAP4rev2 (s->utf8_accept false).
 *
 * Contract: RFC 6855 7 wants such a client to get RFC 3501/5322 header
 * information only; RFC 6858 says how: the server shows a synthetic
 * message whose 8-bit headers are downgraded (store_downgrade.c: the
 * message's, each body part's MIME header, each enclosed message's) and
 * whose bodies are the stored ones. imap_fetch_downgrade() makes the
 * renderer's reader, tree and size those of that message, so ENVELOPE,
 * BODYSTRUCTURE (sizes, lines), BODY[...] and their partials, BINARY and
 * RFC822.SIZE describe one message and RFC822.SIZE == len(BODY[]).
 * The fast path: an item that shows no header (FLAGS, UID, ...) costs
 * nothing, and neither does a message whose row says no header is 8-bit
 * (messages.hdr8bit, schema 9, set at delivery): FETCH 1:* (FLAGS
 * RFC822.SIZE) reads no structure row. A row that does not know (stored
 * before schema 9) has its structure read once and the answer stored.
 * A section (BODY[TEXT], BODY[1], BINARY[2], ...) whose octets hold no
 * 8-bit header is served as stored. SEARCH LARGER/SMALLER compare the
 * synthetic size too (imap_search_downgrade.c). The synthetic size is
 * kept in the row once computed (schema 10 messages.dgsize), so FETCH
 * 1:* (FLAGS RFC822.SIZE) of 8-bit mail reads no message either. */
#include "imap_fetch_cmd.h"
#include "imap/imap_fetch_render_private.h"
#include "imap/imap_session_private.h"
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

/* Whether every item that looks is RFC822.SIZE */
static bool size_only(const struct imap_fetch_request *req)
{
	for (unsigned i = 0; i < req->count; i++)
		if (att_want(&req->atts[i]) != WANT_NONE &&
		    req->atts[i].item != IMAP_FETCH_RFC822_SIZE)
			return false;
	return true;
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

static int downgrade_message(const struct imap_session *s,
			     const struct imap_fetch_request *req, struct store_view *view,
			     uint32_t uid, struct store_message_info *info,
			     struct mime_tree **treep, pool_t *pool,
			     struct store_message_reader **reader, const char **error_r)
{
	/* schema 9: the row says whether the header is 8-bit; a 7-bit one
	 * (nearly all mail) costs nothing more */
	enum want want = info->hdr_8bit == 0 ? WANT_NONE : downgrade_wanted(s, req);
	if (want == WANT_NONE)
		return 0;
	if (info->hdr_8bit > 0 && info->dg_size != 0 && size_only(req)) {
		info->size = info->dg_size;
		return 0;
	}
	int r = store_view_message_hdr_8bit(view, uid, info, pool, treep, error_r);
	if (r <= 0)
		return r;
	/* a section away from every 8-bit header: the stored octets */
	if (want == WANT_SECTION && !sections_touch_8bit(req, *treep, info->size))
		return 0;
	if (*reader == NULL && (*reader = store_view_message_open(view, uid, error_r)) == NULL)
		return -1;
	return store_view_message_downgrade(view, uid, info, *treep, *reader, error_r);
}

int imap_fetch_downgrade(const struct imap_session *s, const struct imap_fetch_request *req,
			 struct store_view *view, uint32_t uid,
			 struct store_message_info *info, struct mime_tree **treep,
			 pool_t *pool, struct store_message_reader **reader,
			 const char **error_r)
{
	if (downgrade_message(s, req, view, uid, info, treep, pool, reader, error_r) < 0)
		return -1;
	/* a message/global part is message/rfc822 to this session also
	 * when no header is 8-bit (after the downgrade, which compares the
	 * stored type with the rewritten header's) */
	if (!s->utf8_accept && *treep != NULL)
		store_tree_global_as_rfc822(*treep);
	return 0;
}

bool imap_fetch_downgrade_refused(const struct imap_session *s,
				  const struct imap_fetch_request *req, struct store_view *view,
				  struct store_message_info *info)
{
	enum want want = info->hdr_8bit == 0 ? WANT_NONE : downgrade_wanted(s, req);
	/* a synthetic size once computed: the downgrade fits */
	if (want == WANT_NONE || (info->hdr_8bit > 0 && info->dg_size != 0))
		return false;
	pool_t *pool = pool_create(1024);
	struct mime_tree *tree = NULL;
	const char *error;
	bool refused = store_view_message_hdr_8bit(view, info->uid, info, pool, &tree,
						   &error) > 0 &&
		(want == WANT_ALL || sections_touch_8bit(req, tree, info->size)) &&
		!store_message_downgrade_fits(tree);
	mime_tree_free(&tree);
	pool_destroy(&pool);
	return refused;
}
