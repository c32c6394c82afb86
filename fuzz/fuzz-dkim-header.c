/* fuzz-dkim-header.c: libFuzzer target for the DKIM header canonicaliser
 * and the streamed signer's header handling (dkim_canon.h, dkim_sign.h).
 *
 * The first byte picks a piece size; the rest is a message. Invariants,
 * checked with abort():
 *   - dkim_header_canon() output has no CR, LF, no WSP run, no WSP after
 *     the colon nor at the end, and a lower-case name;
 *   - canonicalising its own output again changes nothing (idempotent);
 *   - the relaxed body fed whole and fed in pieces is the same, and has
 *     no WSP before a CRLF;
 *   - the signer fed whole and in pieces finds the same From: domain and
 *     body hash, and that domain is dkim_domain_valid(). */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim/dkim_canon.h"
#include "dkim/dkim_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void collect(void *ctx, const void *d, size_t len)
{
	str_append(ctx, d, len);
}

static void check_header_canon(const char *in, size_t len)
{
	str_t out = STR_INIT, again = STR_INIT;
	dkim_header_canon(in, len, &out);
	const char *colon = memchr(out.data, ':', out.len);
	if (colon == NULL)
		abort();
	for (size_t i = 0; i < out.len; i++) {
		char c = out.data[i];
		bool value = &out.data[i] > colon;
		if (c == '\r' || c == '\n' || (value && c == '\t'))
			abort();
		if (value && c == ' ' && i + 1 < out.len && out.data[i + 1] == ' ')
			abort();
		if (!value && isupper((unsigned char)c))
			abort();
	}
	if (colon + 1 < out.data + out.len && (colon[1] == ' ' || out.data[out.len - 1] == ' '))
		abort();
	dkim_header_canon(out.data, out.len, &again);
	if (again.len != out.len || memcmp(again.data, out.data, out.len) != 0)
		abort();
	str_free(&out);
	str_free(&again);
}

static void check_body(const uint8_t *in, size_t len, size_t piece)
{
	str_t whole = STR_INIT, cut = STR_INIT;
	struct dkim_body_canon c;
	dkim_body_canon_init(&c, collect, &whole);
	dkim_body_canon_feed(&c, in, len);
	dkim_body_canon_finish(&c);
	dkim_body_canon_init(&c, collect, &cut);
	for (size_t off = 0; off < len; off += piece)
		dkim_body_canon_feed(&c, in + off, len - off < piece ? len - off : piece);
	dkim_body_canon_finish(&c);
	if (whole.len != cut.len || (whole.len > 0 && memcmp(whole.data, cut.data, whole.len) != 0))
		abort();
	for (size_t i = 0; i + 2 < whole.len; i++) {
		if ((whole.data[i] == ' ' || whole.data[i] == '\t') &&
		    whole.data[i + 1] == '\r' && whole.data[i + 2] == '\n')
			abort();
	}
	str_free(&whole);
	str_free(&cut);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t piece = (size_t)(data[0] % 16) + 1;
	const char *msg = (const char *)data + 1;
	size_t len = size - 1;
	check_header_canon(msg, len);
	check_body(data + 1, len, piece);

	struct dkim_sign *a = dkim_sign_begin(), *b = dkim_sign_begin();
	dkim_sign_feed(a, msg, len);
	for (size_t off = 0; off < len; off += piece)
		dkim_sign_feed(b, msg + off, len - off < piece ? len - off : piece);
	const char *da = NULL, *db = NULL, *error;
	int ra = dkim_sign_from_domain(a, &da, &error);
	int rb = dkim_sign_from_domain(b, &db, &error);
	if (ra != rb || (ra == 0 && (strcmp(da, db) != 0 || !dkim_domain_valid(da))))
		abort();
	if (memcmp(dkim_sign_body_hash(a), dkim_sign_body_hash(b), 32) != 0)
		abort();
	dkim_sign_free(&a);
	dkim_sign_free(&b);
	return 0;
}
