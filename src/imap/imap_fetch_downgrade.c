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
 * that shows nothing of the header or size (FLAGS, UID, ...) costs
 * nothing; otherwise the cached structure's MIME_PART_HDR_8BIT says
 * whether anything is to be done, without reading the message (for
 * FETCH 1:* (FLAGS RFC822.SIZE), which needs no tree otherwise, that is
 * one structure row a message: 62 ms against 44 ms for 400 cached
 * messages; the first time, each message is parsed once). A header
 * larger than IMAP_FETCH_HEADER_MAX is served as stored (logged).
 * SEARCH LARGER/SMALLER still compare the stored size. */
#include "imap_private.h"
#include "imap/imap_fetch_render_private.h"
#include "lib/log.h"
#include "mime/mime_downgrade.h"
#include "mime/mime_parser.h"
#include "store/store_view.h"

static bool downgrade_wanted(const struct imap_session *s,
			     const struct imap_fetch_request *req)
{
	if (s->utf8_accept)
		return false; /* RFC 6855 3, RFC 9051 5.1: it reads UTF-8 */
	for (unsigned i = 0; i < req->count; i++) {
		switch (req->atts[i].item) {
		case IMAP_FETCH_RFC822:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_SIZE:
		case IMAP_FETCH_RFC822_TEXT:
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
		case IMAP_FETCH_BODY_SECTION:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			return true;
		default:
			break;
		}
	}
	return false;
}

unsigned imap_fetch_downgrade_needs(const struct imap_session *s,
				    const struct imap_fetch_request *req)
{
	/* the tree tells whether the header is 8-bit */
	return downgrade_wanted(s, req) ? IMAP_FETCH_NEEDS_TREE : 0;
}

int imap_fetch_downgrade(const struct imap_session *s, const struct imap_fetch_request *req,
			 struct store_view *view, uint32_t uid,
			 struct store_message_info *info, struct mime_tree *tree,
			 struct store_message_reader **reader, const char **error_r)
{
	if (tree == NULL || tree->count == 0 ||
	    (tree->parts[0].flags & MIME_PART_HDR_8BIT) == 0 || !downgrade_wanted(s, req))
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
