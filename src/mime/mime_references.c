/* mime_references.c: the message-ids a message names for threading
 * (see mime_references.h; RFC 5256 section 4 REFERENCES step 1). */
#include "mime/mime_references.h"

#include "lib/str.h"
#include "mime/mime_decode.h"
#include "mime/mime_msgid.h"
#include "mime/mime_subject.h"

void mime_references_parse(const char *message_id, size_t message_id_len,
			   const char *references, size_t references_len,
			   const char *in_reply_to, size_t in_reply_to_len,
			   pool_t *pool, struct mime_references *r)
{
	const char *id;
	size_t pos = 0, len;
	r->message_id = NULL;
	if (mime_msgid_next(message_id, message_id_len, &pos, &id, &len))
		r->message_id = pool_strndup(pool, id, len);
	/* the first id, then a ring of the last MAX - 1 */
	enum { RING = MIME_REFERENCES_MAX - 1 };
	const char *first = NULL, *ring[RING];
	unsigned total = 0;
	pos = 0;
	while (mime_msgid_next(references, references_len, &pos, &id, &len)) {
		const char *copy = pool_strndup(pool, id, len);
		if (total == 0)
			first = copy;
		else
			ring[(total - 1) % RING] = copy;
		total++;
	}
	/* RFC 5256 4 1.A: "If no References header field is present, or
	 * it names nothing valid, take the first In-Reply-To msg-id" */
	pos = 0;
	if (total == 0 && mime_msgid_next(in_reply_to, in_reply_to_len, &pos, &id, &len)) {
		first = pool_strndup(pool, id, len);
		total = 1;
	}
	unsigned tail = total == 0 ? 0 : total - 1 < RING ? total - 1 : RING;
	r->count = total == 0 ? 0 : 1 + tail;
	const char **refs = pool_alloc(pool, ((size_t)r->count + 1) * sizeof(*refs));
	if (total > 0)
		refs[0] = first;
	for (unsigned k = 0; k < tail; k++)
		refs[1 + k] = ring[(total - 1 - tail + k) % RING];
	r->refs = refs;
}

static void field(const char *hdr, size_t len, const char *name,
		  const char **value_r, size_t *len_r)
{
	if (hdr == NULL || !mime_header_find(hdr, len, name, value_r, len_r)) {
		*value_r = NULL;
		*len_r = 0;
	}
}

void mime_references_from_header(const char *hdr, size_t len, pool_t *pool,
				 struct mime_references *r)
{
	const char *mid, *refs, *irt;
	size_t mid_len, refs_len, irt_len;
	field(hdr, len, "Message-ID", &mid, &mid_len);
	field(hdr, len, "References", &refs, &refs_len);
	field(hdr, len, "In-Reply-To", &irt, &irt_len);
	mime_references_parse(mid, mid_len, refs, refs_len, irt, irt_len, pool, r);
}

const char *mime_references_parent(const struct mime_references *r)
{
	return r->count == 0 ? NULL : r->refs[r->count - 1];
}

const char *mime_references_subject(const char *value, size_t len,
				    pool_t *pool, bool *reply_r)
{
	str_t base = STR_INIT, folded = STR_INIT;
	*reply_r = mime_base_subject(value != NULL ? value : "", len, &base);
	mime_utf8_fold(base.data != NULL ? base.data : "", base.len, &folded);
	const char *out = pool_strndup(pool, folded.data != NULL ? folded.data : "",
				       folded.len);
	str_free(&base);
	str_free(&folded);
	return out;
}
