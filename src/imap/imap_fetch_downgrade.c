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
 * Only the top-level header is downgraded (an 8-bit header of an
 * enclosed message/global stays as it is). The fast path: a request
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

/* Whether an item shows the top-level header or counts its octets.
 * Sections inside a part (BODY[1], BODY[1.MIME], BINARY[2], ...) and the
 * body alone (BODY[TEXT], RFC822.TEXT) are the same octets in the
 * synthetic message as in the stored one (only the top-level header is
 * rewritten), so they cost no look at the header. */
static bool att_shows_header(const struct imap_fetch_att *att)
{
	switch (att->item) {
	case IMAP_FETCH_RFC822:
	case IMAP_FETCH_RFC822_HEADER:
	case IMAP_FETCH_RFC822_SIZE:
	case IMAP_FETCH_ENVELOPE:
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE:
		return true;
	case IMAP_FETCH_BODY_SECTION:
		return att->part_depth == 0 && att->text != IMAP_SECTION_TEXT;
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return att->part_depth == 0;
	default:
		return false;
	}
}

static bool downgrade_wanted(const struct imap_session *s,
			     const struct imap_fetch_request *req)
{
	if (s->utf8_accept)
		return false; /* RFC 6855 3, RFC 9051 5.1: it reads UTF-8 */
	for (unsigned i = 0; i < req->count; i++)
		if (att_shows_header(&req->atts[i]))
			return true;
	return false;
}

int imap_fetch_downgrade(const struct imap_session *s, const struct imap_fetch_request *req,
			 struct store_view *view, uint32_t uid,
			 struct store_message_info *info, struct mime_tree **treep,
			 pool_t *pool, struct store_message_reader **reader,
			 const char **error_r)
{
	/* schema 9: the row says whether the header is 8-bit; a 7-bit one
	 * (nearly all mail) costs nothing more */
	if (info->hdr_8bit == 0 || !downgrade_wanted(s, req))
		return 0;
	if (*treep == NULL && store_view_message_structure(view, uid, pool, treep, error_r) < 0)
		return -1;
	struct mime_tree *tree = *treep;
	if (tree == NULL || tree->count == 0)
		return 0;
	bool eight_bit = (tree->parts[0].flags & MIME_PART_HDR_8BIT) != 0;
	if (info->hdr_8bit < 0) {
		/* stored before schema 9: learnt now, kept for next time */
		const char *serror;
		if (store_view_message_set_hdr_8bit(view, uid, eight_bit, &serror) < 0)
			log_warn("sid=%s event=hdr8bit_save_failed uid=%u error=%s",
				 s->base.sid, uid, log_str(serror));
		info->hdr_8bit = eight_bit;
	}
	if (!eight_bit)
		return 0;
	struct mime_part *root = &tree->parts[0];
	if (*reader == NULL && (*reader = store_view_message_open(view, uid, error_r)) == NULL)
		return -1;
	if (root->body_off > IMAP_FETCH_HEADER_MAX) {
		log_warn("sid=%s event=downgrade_skipped uid=%u header_size=%llu", s->base.sid,
			 uid, (unsigned long long)root->body_off);
		return 0;
	}
	str_t hdr = STR_INIT, out = STR_INIT;
	int ret = imap_fetch_read_header(*reader, root, &hdr, error_r);
	if (ret < 0 || !mime_downgrade_header(hdr.data, hdr.len, &out)) {
		str_free(&hdr);
		return ret < 0 ? -1 : store_message_seek(*reader, 0, error_r);
	}
	uint64_t old_len = root->body_off, new_len = out.len;
	store_message_reader_replace_header(*reader, out.data, out.len, old_len);
	/* every offset past the header moves; the root starts at 0 */
	for (uint32_t i = 0; i < tree->count; i++) {
		struct mime_part *p = &tree->parts[i];
		if (i > 0)
			p->hdr_off = p->hdr_off - old_len + new_len;
		p->body_off = p->body_off - old_len + new_len;
		p->body_end = p->body_end - old_len + new_len;
	}
	info->size = info->size - old_len + new_len;
	str_free(&hdr);
	str_free(&out);
	return 0;
}
