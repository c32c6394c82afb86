/* imap_fetch_render.c: the FETCH response driver (imap_fetch_render.h).
 *
 * Each item of the request becomes pending text (its name and any small
 * value) and, for body data, a range of wire octets streamed from the
 * reader straight into the caller's buffer after one store_message_seek().
 * next() sends pending text first, then the range, then starts the next
 * item; the response ends with ")\r\n". */
#include "imap/imap_fetch_render_private.h"

#include <string.h>
#include <time.h>

struct imap_fetch_render {
	const struct imap_fetch_request *req;
	const struct store_message_info *info;
	const struct mime_tree *tree;
	struct store_message_reader *reader;
	unsigned item;    /* the next item to start */
	bool closed;      /* ")\r\n" is pending or sent */
	str_t pending;
	size_t pending_pos;
	uint64_t stream_off, stream_left;
	bool stream_seeked;
	str_t hdr;        /* a header read for ENVELOPE, HEADER.FIELDS */
	struct imap_binary *bin; /* BINARY data being decoded */
	size_t peak;
	const char *preview; /* RFC 8970: imap_fetch_render_set_preview() */
};

unsigned imap_fetch_render_needs(const struct imap_fetch_request *req)
{
	unsigned needs = 0;
	for (unsigned i = 0; i < req->count; i++) {
		const struct imap_fetch_att *a = &req->atts[i];
		switch (a->item) {
		case IMAP_FETCH_ENVELOPE:
		case IMAP_FETCH_RFC822_HEADER:
		case IMAP_FETCH_RFC822_TEXT:
		case IMAP_FETCH_BODY:
		case IMAP_FETCH_BODYSTRUCTURE:
		case IMAP_FETCH_BINARY:
		case IMAP_FETCH_BINARY_SIZE:
			needs |= IMAP_FETCH_NEEDS_TREE | IMAP_FETCH_NEEDS_READER;
			break;
		case IMAP_FETCH_BODY_SECTION:
			needs |= IMAP_FETCH_NEEDS_READER;
			if (a->part_depth > 0 || a->text != IMAP_SECTION_WHOLE)
				needs |= IMAP_FETCH_NEEDS_TREE;
			break;
		case IMAP_FETCH_RFC822:
			needs |= IMAP_FETCH_NEEDS_READER;
			break;
		default:
			break;
		}
	}
	return needs;
}

bool imap_fetch_render_sets_seen(const struct imap_fetch_request *req)
{
	for (unsigned i = 0; i < req->count; i++) {
		const struct imap_fetch_att *a = &req->atts[i];
		if (a->item == IMAP_FETCH_RFC822 ||
		    a->item == IMAP_FETCH_RFC822_TEXT ||
		    ((a->item == IMAP_FETCH_BODY_SECTION ||
		      a->item == IMAP_FETCH_BINARY) && !a->peek))
			return true;
	}
	return false;
}

struct imap_fetch_render *
imap_fetch_render_begin(const struct imap_fetch_request *req, uint32_t seq,
			const struct store_message_info *info,
			const struct mime_tree *tree,
			struct store_message_reader *reader,
			const char **error_r)
{
	unsigned needs = imap_fetch_render_needs(req);
	if (((needs & IMAP_FETCH_NEEDS_TREE) != 0 && tree == NULL) ||
	    ((needs & IMAP_FETCH_NEEDS_READER) != 0 && reader == NULL)) {
		*error_r = "the message's structure or content is missing";
		return NULL;
	}
	if (tree != NULL && !imap_binary_check(req, tree, info->size)) {
		*error_r = imap_fetch_error_unknown_cte;
		return NULL;
	}
	struct imap_fetch_render *r = xcalloc(1, sizeof(*r));
	r->req = req;
	r->info = info;
	r->tree = tree;
	r->reader = reader;
	str_printf(&r->pending, "* %u FETCH (", seq);
	return r;
}

/* RFC 9051 9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", day space-padded */
static void render_internaldate(str_t *out, time_t t)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm)), tm.tm_mday = 1, tm.tm_year = 70;
	str_printf(out, "\"%2d-%s-%04d %02d:%02d:%02d +0000\"", tm.tm_mday,
		   months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour,
		   tm.tm_min, tm.tm_sec);
}

/* extra: a temporary buffer held beside them */
static void note_peak(struct imap_fetch_render *r, size_t extra)
{
	size_t held = r->pending.cap + r->hdr.cap + extra;
	if (held > r->peak)
		r->peak = held;
}

static void stream_range(struct imap_fetch_render *r, uint64_t start,
			 uint64_t len, const struct imap_fetch_att *att)
{
	if (att != NULL && att->partial) {
		uint64_t skip = att->partial_offset < len ? att->partial_offset
							  : len;
		start += skip;
		len -= skip;
		if (len > att->partial_length)
			len = att->partial_length;
	}
	imap_render_literal_prefix(&r->pending, len);
	r->stream_off = start;
	r->stream_left = len;
	r->stream_seeked = false;
}

static int render_section(struct imap_fetch_render *r,
			  const struct imap_fetch_att *att,
			  const char **error_r)
{
	struct imap_section_target t;
	imap_section_resolve(r->tree, r->info->size, att, &t);
	imap_section_name(&r->pending, att);
	str_appendc(&r->pending, ' ');
	if (t.kind == IMAP_SECTION_KIND_MISSING) {
		str_appendz(&r->pending, "NIL");
	} else if (t.kind == IMAP_SECTION_KIND_RANGE) {
		stream_range(r, t.start, t.len, att);
	} else {
		if (store_message_read_header(r->reader, &r->tree->parts[t.part],
					      IMAP_FETCH_HEADER_MAX, &r->hdr, error_r) < 0)
			return -1;
		str_t fields = STR_INIT;
		imap_header_filter(&fields, str_c(&r->hdr), r->hdr.len, att);
		size_t start = 0, len = fields.len;
		if (att->partial) {
			start = att->partial_offset < len ?
				(size_t)att->partial_offset : len;
			len -= start;
			if (len > att->partial_length)
				len = (size_t)att->partial_length;
		}
		imap_render_literal_prefix(&r->pending, len);
		str_append(&r->pending, fields.data + start, len);
		note_peak(r, fields.cap);
		str_free(&fields);
	}
	return 0;
}

static int start_item(struct imap_fetch_render *r,
		      const struct imap_fetch_att *att, const char **error_r)
{
	str_t *p = &r->pending;
	const struct mime_part *root = r->tree == NULL ? NULL : &r->tree->parts[0];
	switch (att->item) {
	case IMAP_FETCH_FLAGS:
		str_printf(p, "FLAGS (%s)", r->info->flags == NULL ? "" :
			   r->info->flags);
		break;
	case IMAP_FETCH_UID:
		str_printf(p, "UID %u", r->info->uid);
		break;
	case IMAP_FETCH_MODSEQ: /* RFC 7162 3.1.4.1 */
		str_printf(p, "MODSEQ (%llu)", (unsigned long long)r->info->modseq);
		break;
	case IMAP_FETCH_INTERNALDATE:
		str_appendz(p, "INTERNALDATE ");
		render_internaldate(p, r->info->internaldate);
		break;
	case IMAP_FETCH_RFC822_SIZE:
		str_printf(p, "RFC822.SIZE %llu",
			   (unsigned long long)r->info->size);
		break;
	case IMAP_FETCH_ENVELOPE:
		if (store_message_read_header(r->reader, root, IMAP_FETCH_HEADER_MAX, &r->hdr,
					      error_r) < 0)
			return -1;
		str_appendz(p, "ENVELOPE ");
		imap_render_envelope(p, str_c(&r->hdr), r->hdr.len);
		break;
	case IMAP_FETCH_BODY:
	case IMAP_FETCH_BODYSTRUCTURE: {
		bool ext = att->item == IMAP_FETCH_BODYSTRUCTURE;
		str_appendz(p, ext ? "BODYSTRUCTURE " : "BODY ");
		return imap_render_body(p, r->tree, 0, ext, r->reader, &r->hdr,
					error_r);
	}
	case IMAP_FETCH_RFC822:
		str_appendz(p, "RFC822 ");
		stream_range(r, 0, r->info->size, NULL);
		break;
	case IMAP_FETCH_RFC822_HEADER:
		str_appendz(p, "RFC822.HEADER ");
		stream_range(r, root->hdr_off, root->body_off - root->hdr_off,
			     NULL);
		break;
	case IMAP_FETCH_RFC822_TEXT:
		str_appendz(p, "RFC822.TEXT ");
		stream_range(r, root->body_off, r->info->size > root->body_off ?
			     r->info->size - root->body_off : 0, NULL);
		break;
	case IMAP_FETCH_SAVEDATE: /* RFC 8514 3 */
		str_appendz(p, "SAVEDATE ");
		render_internaldate(p, r->info->savedate);
		break;
	case IMAP_FETCH_EMAILID:
	case IMAP_FETCH_THREADID:
	case IMAP_FETCH_PREVIEW:
		imap_objectid_fetch_item(p, att->item, r->info, r->preview);
		break;
	case IMAP_FETCH_BODY_SECTION:
		return render_section(r, att, error_r);
	case IMAP_FETCH_BINARY:
	case IMAP_FETCH_BINARY_SIZE:
		return imap_binary_start(&r->bin, p, r->tree, r->info->size, r->reader, att,
					 &r->peak, error_r) < 0 ? -1 : 0;
	default:
		*error_r = "unsupported FETCH item";
		return -1;
	}
	return 0;
}

/* Up to budget bytes of the current range into out: bytes sent, 0 if
 * the budget is too small for the reader (at least 2), -1 error. */
static ssize_t stream_some(struct imap_fetch_render *r, str_t *out,
			   size_t budget, const char **error_r)
{
	if (!r->stream_seeked) {
		if (store_message_seek(r->reader, r->stream_off, error_r) < 0)
			return -1;
		r->stream_seeked = true;
	}
	size_t want = budget;
	if (want > r->stream_left)
		want = (size_t)r->stream_left;
	if (want < 2 && r->stream_left >= 2)
		return 0;
	/* a read of 2 for 1 byte left may run past the range: dropped */
	size_t size = want < 2 ? 2 : want;
	str_reserve(out, size + 1);
	ssize_t n = store_message_read(r->reader, out->data + out->len, size,
				       error_r);
	if (n < 0)
		return -1;
	if (n == 0) {
		*error_r = "message is shorter than its structure";
		return -1;
	}
	size_t got = (size_t)n > want ? want : (size_t)n;
	out->len += got;
	out->data[out->len] = '\0';
	r->stream_left -= got;
	return (ssize_t)got;
}

enum imap_fetch_render_result
imap_fetch_render_next(struct imap_fetch_render *r, str_t *out, size_t max,
		       const char **error_r)
{
	if (max < IMAP_FETCH_RENDER_MIN_CHUNK)
		max = IMAP_FETCH_RENDER_MIN_CHUNK;
	size_t budget = max;
	while (budget > 0) {
		if (r->pending_pos < r->pending.len) {
			size_t n = r->pending.len - r->pending_pos;
			if (n > budget)
				n = budget;
			str_append(out, r->pending.data + r->pending_pos, n);
			r->pending_pos += n;
			budget -= n;
			continue;
		}
		str_clear(&r->pending);
		r->pending_pos = 0;
		if (r->bin != NULL) {
			ssize_t n = imap_binary_some(r->bin, r->reader, out, budget, error_r);
			if (n < 0)
				return IMAP_FETCH_RENDER_ERROR;
			if (imap_binary_done(r->bin))
				imap_binary_free(&r->bin);
			budget -= (size_t)n;
			continue;
		}
		if (r->stream_left > 0) {
			ssize_t n = stream_some(r, out, budget, error_r);
			if (n < 0)
				return IMAP_FETCH_RENDER_ERROR;
			if (n == 0)
				break;
			budget -= (size_t)n;
			continue;
		}
		if (r->item < r->req->count) {
			if (r->item > 0)
				str_appendc(&r->pending, ' ');
			if (start_item(r, &r->req->atts[r->item++], error_r) < 0)
				return IMAP_FETCH_RENDER_ERROR;
			note_peak(r, 0);
			continue;
		}
		if (r->closed)
			return IMAP_FETCH_RENDER_DONE;
		str_appendz(&r->pending, ")\r\n");
		r->closed = true;
	}
	if (r->closed && r->pending_pos >= r->pending.len &&
	    r->stream_left == 0 && r->bin == NULL)
		return IMAP_FETCH_RENDER_DONE;
	return IMAP_FETCH_RENDER_MORE;
}

size_t imap_fetch_render_peak(const struct imap_fetch_render *r)
{
	return r->peak;
}

void imap_fetch_render_free(struct imap_fetch_render **r)
{
	if (*r == NULL)
		return;
	str_free(&(*r)->pending);
	str_free(&(*r)->hdr);
	imap_binary_free(&(*r)->bin);
	xfree(r);
}

void imap_fetch_render_set_preview(struct imap_fetch_render *r, const char *preview)
{
	r->preview = preview;
}
