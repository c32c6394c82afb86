/* fuzz-mime-decode.c: libFuzzer target for mime_decode.h.
 *
 * The input's first byte picks the transfer encoding, the charset and a
 * chunk size; the rest is a body. Invariants, checked with abort():
 *   - each decoder (QP, base64, identity; charset conversion) gives the
 *     same output fed whole and fed in chunks;
 *   - decoded base64 is at most 3/4 of the input, QP at most the input;
 *   - the streaming matcher, fed in chunks, agrees with
 *     mime_utf8_icontains() on the whole text, for a needle cut from the
 *     input's own folded text (so matches happen) and for a fixed one. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const charsets[] = {
	"utf-8", "iso-8859-1", "iso-8859-15", "shift_jis", "utf-16le",
	"iso-2022-jp", "x-unknown", "",
};

static void decode(enum mime_cte cte, const char *cs, const uint8_t *in,
		   size_t len, size_t chunk, str_t *out)
{
	struct mime_decoder d;
	struct mime_charset_conv *c = mime_charset_conv_create(cs);
	str_t tmp = STR_INIT;
	mime_decoder_init(&d, cte);
	for (size_t i = 0; i < len; i += chunk) {
		str_clear(&tmp);
		mime_decoder_feed(&d, in + i, len - i < chunk ? len - i : chunk, &tmp);
		mime_charset_conv_feed(c, tmp.data, tmp.len, out);
	}
	str_clear(&tmp);
	mime_decoder_finish(&d, &tmp);
	mime_charset_conv_feed(c, tmp.data, tmp.len, out);
	mime_charset_conv_finish(c, out);
	mime_charset_conv_free(&c);
	str_free(&tmp);
}

static void check_match(const str_t *text, const char *needle, size_t nlen,
			size_t chunk)
{
	struct mime_match m;
	bool found = false;
	mime_match_init(&m, needle, nlen);
	for (size_t i = 0; i < text->len && !found; i += chunk)
		found = mime_match_feed(&m, text->data + i,
					text->len - i < chunk ? text->len - i : chunk);
	if (!found)
		found = mime_match_finish(&m);
	if (found != mime_utf8_icontains(text->data, text->len, needle, nlen))
		abort();
	mime_match_deinit(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 20000)
		return 0;
	enum mime_cte cte = (enum mime_cte)(data[0] % 3);
	const char *cs = charsets[(data[0] / 3) % 8];
	size_t chunk = 1 + data[0] / 24;
	str_t whole = STR_INIT, split = STR_INIT;
	decode(cte, cs, data + 1, size - 1, size, &whole);
	decode(cte, cs, data + 1, size - 1, chunk, &split);
	if (whole.len != split.len || memcmp(str_c(&whole), str_c(&split), whole.len) != 0)
		abort();
	str_clear(&whole);
	decode(cte, "", data + 1, size - 1, chunk, &whole);
	if ((cte == MIME_CTE_BASE64 && whole.len > (size - 1) / 4 * 3 + 3) ||
	    (cte == MIME_CTE_QP && whole.len > size - 1))
		abort();
	str_t folded = STR_INIT;
	mime_utf8_fold(whole.data, whole.len, &folded);
	size_t nlen = folded.len < 7 ? folded.len : 7;
	check_match(&whole, folded.data + folded.len - nlen, nlen, chunk);
	check_match(&whole, "\xc3\x84" "b", 3, chunk);
	str_free(&folded);
	str_free(&whole);
	str_free(&split);
	return 0;
}
