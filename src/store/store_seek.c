/* store_seek.c: building and reading LF/CRLF checkpoint blobs; see
 * store_seek.h for the format. */
#include "store/store_seek.h"
#include "lib/mem.h"

#include <string.h>

static void put_varint(unsigned char **buf, size_t *len, size_t *cap,
		       uint64_t v)
{
	if (*len + 10 > *cap) {
		*cap = *cap < 64 ? 64 : *cap * 2;
		*buf = xrealloc(*buf, *cap);
	}
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		(*buf)[(*len)++] = c | (v != 0 ? 0x80 : 0);
	} while (v != 0);
}

static bool get_varint(const unsigned char **p, const unsigned char *end,
		       uint64_t *v_r)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return false;
		unsigned char c = *(*p)++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v_r = v;
			return true;
		}
	}
	return false;
}

void store_ckpt_feed(struct store_ckpt_builder *b, const void *data,
		     size_t len)
{
	const unsigned char *p = data;
	while (len > 0) {
		uint64_t next = (b->file_off / STORE_CKPT_INTERVAL + 1) *
			STORE_CKPT_INTERVAL;
		size_t n = next - b->file_off < len ?
			(size_t)(next - b->file_off) : len;
		b->wire_off += store_eol_crlf_len(&b->eol, p, n);
		b->file_off += n;
		p += n;
		len -= n;
		if (b->file_off == next) {
			put_varint(&b->buf, &b->len, &b->cap,
				   b->file_off - b->last_file);
			put_varint(&b->buf, &b->len, &b->cap,
				   b->wire_off - b->last_wire);
			b->last_file = b->file_off;
			b->last_wire = b->wire_off;
			b->count++;
		}
	}
}

unsigned char *store_ckpt_finish(struct store_ckpt_builder *b, size_t *len_r)
{
	unsigned char *blob = NULL;
	size_t len = 0, cap = 0;
	if (b->count > 0) {
		unsigned char *count = NULL;
		size_t count_len = 0, count_cap = 0;
		put_varint(&count, &count_len, &count_cap, b->count);
		put_varint(&blob, &len, &cap, STORE_CKPT_FORMAT);
		put_varint(&blob, &len, &cap, STORE_CKPT_TAG_EOL);
		put_varint(&blob, &len, &cap, count_len + b->len);
		blob = xrealloc(blob, len + count_len + b->len);
		memcpy(blob + len, count, count_len);
		memcpy(blob + len + count_len, b->buf, b->len);
		len += count_len + b->len;
		free(count);
	}
	store_ckpt_builder_free(b);
	*len_r = len;
	return blob;
}

void store_ckpt_builder_free(struct store_ckpt_builder *b)
{
	free(b->buf);
	memset(b, 0, sizeof(*b));
}

/* The EOL section's payload, or false if absent or malformed. */
static bool eol_section(const unsigned char *blob, size_t len,
			const unsigned char **p_r, const unsigned char **end_r)
{
	const unsigned char *p = blob, *end = blob + len;
	uint64_t format, tag, plen;
	if (blob == NULL || len == 0 || !get_varint(&p, end, &format) ||
	    format != STORE_CKPT_FORMAT)
		return false;
	while (p < end) {
		if (!get_varint(&p, end, &tag) || !get_varint(&p, end, &plen) ||
		    plen > (uint64_t)(end - p))
			return false;
		if (tag == STORE_CKPT_TAG_EOL) {
			*p_r = p;
			*end_r = p + plen;
			return true;
		}
		p += plen; /* a section of a later kind: not ours */
	}
	return false;
}

int store_ckpt_find(const unsigned char *blob, size_t len,
		    uint64_t wire_offset, uint64_t *file_r, uint64_t *wire_r)
{
	const unsigned char *p, *end;
	uint64_t count, file = 0, wire = 0;
	*file_r = 0;
	*wire_r = 0;
	if (blob == NULL || len == 0)
		return 0;
	if (!eol_section(blob, len, &p, &end) || !get_varint(&p, end, &count))
		return -1;
	for (uint64_t i = 0; i < count; i++) {
		uint64_t df, dw;
		if (!get_varint(&p, end, &df) || !get_varint(&p, end, &dw))
			return -1;
		file += df;
		wire += dw;
		if (wire > wire_offset)
			break;
		*file_r = file;
		*wire_r = wire;
	}
	return 0;
}

unsigned store_ckpt_count(const unsigned char *blob, size_t len)
{
	const unsigned char *p, *end;
	uint64_t count;
	if (!eol_section(blob, len, &p, &end) || !get_varint(&p, end, &count))
		return 0;
	return count > UINT32_MAX ? 0 : (unsigned)count;
}
