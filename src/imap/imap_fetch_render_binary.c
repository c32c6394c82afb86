/* imap_fetch_render_binary.c: BINARY[section]<partial>, BINARY.PEEK and
 * BINARY.SIZE (RFC 3516 4.2, 4.3) for the FETCH renderer.
 *
 * Contract: the part's body is decoded from its Content-Transfer-Encoding
 * (base64, quoted-printable; 7bit, 8bit and binary as they are) through
 * mime_decode.h, streamed: a chunk of wire octets is read, decoded into a
 * buffer no larger than the chunk, and handed out within the caller's
 * budget. The size comes first, from a counting pass over the same octets
 * (decode once, count, drop), so memory stays one chunk whatever the
 * part's size. An encoding this code does not know makes the whole
 * request unanswerable for that message (imap_binary_check(): the
 * command ends NO [UNKNOWN-CTE], RFC 3516 4.3) before any byte of its
 * response is produced. Decoded data holding NUL goes out as literal8
 * (~{n}, RFC 3516 4.3); a part that is not there is NIL (BINARY.SIZE 0). */
#include "imap/imap_fetch_render_private.h"
#include "mime/mime_decode.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BINARY_READ (16 * 1024)

const char imap_fetch_error_unknown_cte[] = "unknown content-transfer-encoding";

struct imap_binary {
	struct mime_decoder dec;
	uint64_t raw_off, raw_left;
	uint64_t skip, emit_left;
	bool seeked, finished;
	str_t buf;
	size_t buf_pos;
};

/* RFC 3516 4.3 / RFC 2045 6.1: the encodings this server decodes */
static int binary_cte(const struct mime_part *p, enum mime_cte *cte_r)
{
	const char *v = p->cte;
	if (v == NULL || *v == '\0' || strcasecmp(v, "7bit") == 0 ||
	    strcasecmp(v, "8bit") == 0 || strcasecmp(v, "binary") == 0 ||
	    (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0) {
		*cte_r = MIME_CTE_IDENTITY;
		return 0;
	}
	if (strcasecmp(v, "base64") == 0)
		*cte_r = MIME_CTE_BASE64;
	else if (strcasecmp(v, "quoted-printable") == 0)
		*cte_r = MIME_CTE_QP;
	else
		return -1;
	return 0;
}

/* The octets and encoding att names; false if the part is missing. */
static bool binary_target(const struct mime_tree *tree, uint64_t msg_size,
			  const struct imap_fetch_att *att, uint64_t *start_r,
			  uint64_t *len_r, int *cte_ok_r, enum mime_cte *cte_r)
{
	struct imap_section_target t;
	imap_section_resolve(tree, msg_size, att, &t);
	*cte_r = MIME_CTE_IDENTITY;
	*cte_ok_r = 0;
	if (t.kind != IMAP_SECTION_KIND_RANGE)
		return false;
	*start_r = t.start;
	*len_r = t.len;
	if (att->part_depth > 0 && tree != NULL && t.part < tree->count)
		*cte_ok_r = binary_cte(&tree->parts[t.part], cte_r);
	return true;
}

bool imap_binary_check(const struct imap_fetch_request *req, const struct mime_tree *tree,
		       uint64_t msg_size)
{
	for (unsigned i = 0; i < req->count; i++) {
		const struct imap_fetch_att *a = &req->atts[i];
		uint64_t start, len;
		int ok;
		enum mime_cte cte;
		if ((a->item == IMAP_FETCH_BINARY || a->item == IMAP_FETCH_BINARY_SIZE) &&
		    binary_target(tree, msg_size, a, &start, &len, &ok, &cte) && ok < 0)
			return false;
	}
	return true;
}

/* Decode the next chunk of raw octets into b->buf (cleared first):
 * 1 data (maybe none yet), 0 at the end, -1 error. */
static int binary_fill(struct imap_binary *b, struct store_message_reader *reader,
		       const char **error_r)
{
	str_clear(&b->buf);
	b->buf_pos = 0;
	if (b->finished)
		return 0;
	if (b->raw_left == 0) {
		mime_decoder_finish(&b->dec, &b->buf);
		b->finished = true;
		return 1;
	}
	if (!b->seeked) {
		if (store_message_seek(reader, b->raw_off, error_r) < 0)
			return -1;
		b->seeked = true;
	}
	char raw[BINARY_READ];
	size_t want = b->raw_left < sizeof(raw) ? (size_t)b->raw_left : sizeof(raw);
	ssize_t n = store_message_read(reader, raw, want < 2 ? 2 : want, error_r);
	if (n < 0)
		return -1;
	if (n == 0) {
		*error_r = "message is shorter than its structure";
		return -1;
	}
	size_t got = (size_t)n > want ? want : (size_t)n;
	b->raw_left -= got;
	mime_decoder_feed(&b->dec, raw, got, &b->buf);
	return 1;
}

static struct imap_binary *binary_new(enum mime_cte cte, uint64_t start, uint64_t len)
{
	struct imap_binary *b = xcalloc(1, sizeof(*b));
	mime_decoder_init(&b->dec, cte);
	b->raw_off = start;
	b->raw_left = len;
	return b;
}

void imap_binary_free(struct imap_binary **b)
{
	if (*b == NULL)
		return;
	str_free(&(*b)->buf);
	xfree(b);
}

static void binary_name(str_t *out, const struct imap_fetch_att *att)
{
	str_appendz(out, att->item == IMAP_FETCH_BINARY_SIZE ? "BINARY.SIZE[" : "BINARY[");
	for (unsigned i = 0; i < att->part_depth; i++)
		str_printf(out, "%s%u", i > 0 ? "." : "", att->part[i]);
	str_appendc(out, ']');
	if (att->partial && att->item == IMAP_FETCH_BINARY)
		str_printf(out, "<%llu>", (unsigned long long)att->partial_offset);
	str_appendc(out, ' ');
}

int imap_binary_start(struct imap_binary **bin_r, str_t *pending,
		      const struct mime_tree *tree, uint64_t msg_size,
		      struct store_message_reader *reader,
		      const struct imap_fetch_att *att, size_t *peak_r, const char **error_r)
{
	*bin_r = NULL;
	binary_name(pending, att);
	uint64_t start, len;
	int ok;
	enum mime_cte cte;
	if (!binary_target(tree, msg_size, att, &start, &len, &ok, &cte)) {
		str_appendz(pending, att->item == IMAP_FETCH_BINARY_SIZE ? "0" : "NIL");
		return 0;
	}
	if (ok < 0) {
		*error_r = imap_fetch_error_unknown_cte;
		return -1;
	}
	/* the counting pass: the decoded size, and whether it holds NUL */
	struct imap_binary *b = binary_new(cte, start, len);
	uint64_t size = 0;
	bool nul = false;
	int r;
	while ((r = binary_fill(b, reader, error_r)) > 0) {
		size += b->buf.len;
		nul = nul || memchr(b->buf.data, '\0', b->buf.len) != NULL;
		if (b->buf.cap > *peak_r)
			*peak_r = b->buf.cap;
	}
	imap_binary_free(&b);
	if (r < 0)
		return -1;
	if (att->item == IMAP_FETCH_BINARY_SIZE) {
		str_printf(pending, "%llu", (unsigned long long)size);
		return 0;
	}
	uint64_t skip = 0, emit = size;
	if (att->partial) {
		skip = att->partial_offset < size ? att->partial_offset : size;
		emit = size - skip;
		if (emit > att->partial_length)
			emit = att->partial_length;
	}
	/* RFC 3516 4.3: NUL only in a literal8 */
	str_printf(pending, "%s{%llu}\r\n", nul ? "~" : "", (unsigned long long)emit);
	if (emit == 0)
		return 0;
	b = binary_new(cte, start, len);
	b->skip = skip;
	b->emit_left = emit;
	*bin_r = b;
	return 1;
}

ssize_t imap_binary_some(struct imap_binary *b, struct store_message_reader *reader,
			 str_t *out, size_t budget, const char **error_r)
{
	size_t added = 0;
	while (added < budget && b->emit_left > 0) {
		size_t avail = b->buf.len - b->buf_pos;
		if (avail == 0) {
			int r = binary_fill(b, reader, error_r);
			if (r < 0)
				return -1;
			if (r == 0) {
				*error_r = "decoded part is shorter than counted";
				return -1;
			}
			continue;
		}
		if (b->skip > 0) {
			size_t d = b->skip < avail ? (size_t)b->skip : avail;
			b->buf_pos += d;
			b->skip -= d;
			continue;
		}
		size_t n = avail;
		if (n > budget - added)
			n = budget - added;
		if (n > b->emit_left)
			n = (size_t)b->emit_left;
		str_append(out, b->buf.data + b->buf_pos, n);
		b->buf_pos += n;
		b->emit_left -= n;
		added += n;
	}
	return (ssize_t)added;
}

bool imap_binary_done(const struct imap_binary *b)
{
	return b->emit_left == 0;
}
