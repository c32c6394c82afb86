/* fuzz-base64.c: libFuzzer target for base64.h.
 *
 * The input is used twice: as text for base64_decode() and as bytes for
 * base64_encode(). Invariants, checked with abort():
 *   - decode accepts exactly the canonical encodings: it agrees with a
 *     reference written here (lenient bit-by-bit decode, then "does the
 *     reference encoding of the result give back the input?"), bytes
 *     included;
 *   - when decode succeeds, encode(decode(x)) == x;
 *   - decode appends after what out held; on failure out is exactly as
 *     it was (length, contents, NUL terminator);
 *   - encode appends BASE64_ENCODED_LEN(n) alphabet characters, equal to
 *     the reference encoding, and decode(encode(bytes)) == bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 section 4, one bit group at a time. */
static void reference_encode(const uint8_t *in, size_t len, str_t *out)
{
	uint32_t acc = 0;
	unsigned bits = 0;

	for (size_t i = 0; i < len; i++) {
		acc = acc << 8 | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			str_appendc(out, alphabet[(acc >> bits) & 63]);
		}
	}
	if (bits > 0)
		str_appendc(out, alphabet[(acc << (6 - bits)) & 63]);
	while (out->len % 4 != 0)
		str_appendc(out, '=');
}

/* true when in is the canonical encoding of some bytes (put in out). */
static bool reference_decode(const char *in, size_t len, str_t *out)
{
	size_t n = len;
	uint32_t acc = 0;
	unsigned bits = 0;

	while (n > 0 && len - n < 2 && in[n - 1] == '=')
		n--;
	for (size_t i = 0; i < n; i++) {
		const char *c = in[i] != '\0' ? strchr(alphabet, in[i]) : NULL;
		if (c == NULL)
			return false;
		acc = acc << 6 | (uint32_t)(c - alphabet);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			str_appendc(out, (char)((acc >> bits) & 0xff));
		}
	}
	str_t enc = STR_INIT;
	reference_encode((const uint8_t *)str_c(out), out->len, &enc);
	bool ok = enc.len == len && memcmp(str_c(&enc), in, len) == 0;
	str_free(&enc);
	return ok;
}

static void check_decode(const char *in, size_t len)
{
	static const char prefix[] = "pre\0fix";
	str_t out = STR_INIT, pre = STR_INIT, ref = STR_INIT;
	bool ref_ok = reference_decode(in, len, &ref);
	int ret = base64_decode(in, len, &out);

	if ((ret == 0) != ref_ok || (ret != 0 && ret != -1))
		abort();
	if (ret == 0) {
		if (out.len != ref.len || out.len > BASE64_DECODED_MAX(len) ||
		    memcmp(str_c(&out), str_c(&ref), out.len) != 0 ||
		    str_c(&out)[out.len] != '\0')
			abort();
		str_t enc = STR_INIT;
		base64_encode(str_c(&out), out.len, &enc);
		if (enc.len != len || memcmp(str_c(&enc), in, len) != 0)
			abort();
		str_free(&enc);
	} else if (out.len != 0 || str_c(&out)[0] != '\0') {
		abort();
	}

	/* appending after existing contents, NUL included */
	str_append(&pre, prefix, sizeof(prefix));
	if (base64_decode(in, len, &pre) != ret ||
	    pre.len != sizeof(prefix) + (ret == 0 ? out.len : 0) ||
	    memcmp(pre.data, prefix, sizeof(prefix)) != 0 ||
	    memcmp(pre.data + sizeof(prefix), str_c(&out), out.len * (ret == 0)) != 0 ||
	    pre.data[pre.len] != '\0')
		abort();
	str_free(&out);
	str_free(&pre);
	str_free(&ref);
}

static void check_encode(const uint8_t *data, size_t size)
{
	str_t enc = STR_INIT, ref = STR_INIT, dec = STR_INIT;

	str_appendz(&enc, "xy");
	base64_encode(data, size, &enc);
	reference_encode(data, size, &ref);
	if (enc.len != 2 + BASE64_ENCODED_LEN(size) || enc.data[enc.len] != '\0' ||
	    memcmp(enc.data, "xy", 2) != 0 || ref.len != enc.len - 2 ||
	    memcmp(enc.data + 2, str_c(&ref), ref.len) != 0)
		abort();
	if (base64_decode(enc.data + 2, enc.len - 2, &dec) < 0 ||
	    dec.len != size || memcmp(str_c(&dec), data, size) != 0)
		abort();
	str_free(&enc);
	str_free(&ref);
	str_free(&dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_decode((const char *)data, size);
	check_encode(data, size);
	return 0;
}
