/* fuzz-mime.c: libFuzzer target for the MIME parser and its cache.
 *
 * The input is a message. Invariants, checked with abort():
 *   - fed whole and fed in chunks whose sizes come from the input's first
 *     byte, the parser gives the same structure (same cache encoding);
 *   - every part lies inside the message and inside its parent;
 *   - the cache encoding decodes and re-encodes to the same bytes;
 *   - header decoding and address parsing of the input never crash;
 *   - decoding the input itself as a cache record never crashes, and a
 *     tree it accepts has parents before children. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "mime/mime_address.h"
#include "mime/mime_cache.h"
#include "mime/mime_header.h"
#include "mime/mime_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void encode_chunked(const uint8_t *data, size_t size, size_t step,
			   str_t *out)
{
	struct mime_parser *p = mime_parser_create();
	size_t chunk = 1;

	for (size_t i = 0; i < size; i += chunk) {
		chunk = 1 + (i * 7 + step) % (step + 13);
		if (chunk > size - i)
			chunk = size - i;
		mime_parser_feed(p, data + i, chunk);
	}
	struct mime_tree *t = mime_parser_finish(&p);
	mime_cache_encode(t, out);
	mime_tree_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	str_t a = STR_INIT, b = STR_INIT, c = STR_INIT;
	struct mime_tree *t = mime_parse(data, size), *d = NULL;
	const char *err;

	for (uint32_t i = 0; i < t->count; i++) {
		const struct mime_part *p = &t->parts[i];
		if (p->hdr_off > p->body_off || p->body_off > p->body_end ||
		    p->body_end > size)
			abort();
		if (p->parent != MIME_NONE &&
		    (p->parent >= i || p->body_end > t->parts[p->parent].body_end))
			abort();
	}
	mime_cache_encode(t, &a);
	encode_chunked(data, size, size > 0 ? data[0] : 1, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	if (mime_cache_decode(a.data, a.len, size, &d, &err) != 0)
		abort();
	mime_cache_encode(d, &c);
	if (a.len != c.len || memcmp(a.data, c.data, a.len) != 0)
		abort();
	mime_tree_free(&d);
	if (mime_cache_decode(data, size, UINT64_MAX, &d, &err) == 0) {
		for (uint32_t i = 1; i < d->count; i++)
			if (d->parts[i].parent >= i)
				abort();
		mime_tree_free(&d);
	}
	str_clear(&c);
	mime_header_decode((const char *)data, size, &c);
	pool_t *pool = pool_create(1024);
	struct mime_address *addrs;
	if (mime_address_parse(pool, (const char *)data, size, &addrs) >
	    MIME_MAX_ADDRESSES)
		abort();
	pool_destroy(&pool);
	mime_tree_free(&t);
	str_free(&a);
	str_free(&b);
	str_free(&c);
	return 0;
}
