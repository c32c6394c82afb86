/* store_thread.c: threading a delivered message (see store_thread.h). */
#include "store/store_thread.h"
#include "mime/mime_msgid.h"
#include "mime/mime_references.h"

#include <string.h>
#include <strings.h>

void store_thread_hdr_feed(struct store_thread_hdr *h, const void *data,
			   size_t len)
{
	if (h->done) {
		for (size_t i = 0; i < len && !h->body_8bit; i++)
			h->body_8bit = ((const unsigned char *)data)[i] >= 0x80;
		return;
	}
	size_t room = STORE_THREAD_HDR_MAX - h->buf.len;
	size_t old = h->buf.len;
	str_append(&h->buf, data, len < room ? len : room);
	/* the header ends at the first empty line (LF form); look from
	 * just before the new bytes, the "\n\n" may straddle two writes */
	size_t from = old > 0 ? old - 1 : 0;
	for (size_t i = from; i < h->buf.len; i++) {
		if (h->buf.data[i] == '\n' &&
		    (i == 0 || h->buf.data[i - 1] == '\n')) {
			h->buf.len = i + 1;
			h->done = true;
			size_t used = i + 1 - old;
			if (used < len)
				store_thread_hdr_feed(h, (const char *)data + used, len - used);
			return;
		}
	}
	if (h->buf.len >= STORE_THREAD_HDR_MAX)
		h->done = h->cut = true;
}

void store_thread_hdr_free(struct store_thread_hdr *h)
{
	str_free(&h->buf);
	h->done = h->cut = false;
}

bool store_thread_hdr_8bit(const struct store_thread_hdr *h)
{
	for (size_t i = 0; i < h->buf.len; i++)
		if ((unsigned char)h->buf.data[i] >= 0x80)
			return true;
	if (!h->body_8bit)
		return false;
	/* A part or enclosed message may have an 8-bit header unless the
	 * type is a discrete one (RFC 2045 5: no Content-Type is text/plain).
	 * Folding white space and comments (RFC 5322 3.2.2) may precede the
	 * type; anything not clearly discrete counts as composite. */
	const char *value;
	size_t len;
	if (!mime_header_find(h->buf.data, h->buf.len, "Content-Type", &value, &len))
		return false;
	unsigned depth = 0;
	while (len > 0 && (depth > 0 || *value == ' ' || *value == '\t' ||
			   *value == '\r' || *value == '\n' || *value == '(')) {
		if (*value == '(')
			depth++;
		else if (*value == ')' && depth > 0)
			depth--;
		value++;
		len--;
	}
	static const char *const discrete[] = {
		"text/", "application/", "image/", "audio/", "video/", "font/", "model/",
	};
	for (unsigned i = 0; i < sizeof(discrete) / sizeof(*discrete); i++) {
		size_t n = strlen(discrete[i]);
		if (len >= n && strncasecmp(value, discrete[i], n) == 0)
			return false;
	}
	return true;
}

int store_thread_index(const struct store_thread_hdr *h,
		       struct store_index *idx, int64_t mailbox_id,
		       uint32_t uid, const char **error_r)
{
	pool_t *pool = pool_create(4096);
	/* RFC 5256 4 REFERENCES step 1, as THREAD=REFERENCES reads it */
	struct mime_references ids;
	mime_references_from_header(h->buf.data, h->buf.len, pool, &ids);
	const char *value, *subject = "";
	size_t len;
	bool reply = false;
	if (h->buf.len > 0 && mime_header_find(h->buf.data, h->buf.len, "Subject", &value, &len))
		subject = mime_references_subject(value, len, pool, &reply);
	/* schema 9: whether the RFC 6858 downgrade has work to do, known
	 * unless the header was cut at STORE_THREAD_HDR_MAX (then NULL:
	 * learnt from the MIME structure on first need); recorded by the
	 * thread's UPDATE of the row, not one of its own */
	int hdr_8bit = h->cut ? -1 : store_thread_hdr_8bit(h);
	int ret = store_index_thread_assign(idx, mailbox_id, uid, ids.message_id,
					    ids.refs, ids.count, subject, reply, hdr_8bit,
					    error_r);
	pool_destroy(&pool);
	return ret;
}
