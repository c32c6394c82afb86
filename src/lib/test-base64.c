/* test-base64.c: unit tests for base64.h (RFC 4648 section 10 vectors,
 * binary round trips, and the strictness rules). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/base64.h"
#include "lib/str.h"

static const struct {
	const char *plain, *encoded;
} rfc4648_vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rfc4648_vectors) / sizeof(rfc4648_vectors[0]); i++) {
		str_t enc = STR_INIT, dec = STR_INIT;
		const char *plain = rfc4648_vectors[i].plain;
		const char *encoded = rfc4648_vectors[i].encoded;

		base64_encode(plain, strlen(plain), &enc);
		assert_string_equal(str_c(&enc), encoded);
		assert_int_equal(enc.len, BASE64_ENCODED_LEN(strlen(plain)));
		assert_int_equal(base64_decode(encoded, strlen(encoded), &dec), 0);
		assert_int_equal(dec.len, strlen(plain));
		assert_memory_equal(str_c(&dec), plain, dec.len);
		str_free(&enc);
		str_free(&dec);
	}
}

static void test_binary_round_trip(void **state)
{
	(void)state;
	unsigned char bytes[256];
	for (unsigned i = 0; i < sizeof(bytes); i++)
		bytes[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= sizeof(bytes); len++) {
		str_t enc = STR_INIT, dec = STR_INIT;
		base64_encode(bytes, len, &enc);
		assert_int_equal(base64_decode(enc.data, enc.len, &dec), 0);
		assert_int_equal(dec.len, len);
		if (len > 0)
			assert_memory_equal(dec.data, bytes, len);
		str_free(&enc);
		str_free(&dec);
	}
	/* every alphabet character, including + and / */
	str_t dec = STR_INIT;
	const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	assert_int_equal(base64_decode(all, 64, &dec), 0);
	assert_int_equal(dec.len, 48);
	assert_int_equal((unsigned char)dec.data[45], 0xf3);
	assert_int_equal((unsigned char)dec.data[46], 0xdf);
	assert_int_equal((unsigned char)dec.data[47], 0xbf); /* "89+/" */
	str_free(&dec);
}

static void test_appends(void **state)
{
	(void)state;
	str_t s = STR_INIT;
	str_appendz(&s, "x:");
	base64_encode("foo", 3, &s);
	assert_string_equal(str_c(&s), "x:Zm9v");
	assert_int_equal(base64_decode("YmFy", 4, &s), 0);
	assert_string_equal(str_c(&s), "x:Zm9vbar");
	str_free(&s);
}

static void test_rejects_bad_input(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"Zg=",       /* length not a multiple of 4 */
		"Zg",        /* missing padding */
		"Zm9",
		"Z===",      /* three pad chars */
		"====",
		"Zg==Zg==",  /* padding in the middle */
		"Z=g=",      /* data after padding */
		"Zm9v\r\n",  /* line break (RFC 4648 3.3) */
		"Zm 9v",
		" Zm9",
		"Zm9v\tYmFy",
		"Zm9-",      /* base64url alphabet is not base64 */
		"Zm9_",
		"Zh==",      /* non-zero pad bits (RFC 4648 3.5) */
		"Zm9=",
		"*",
		"Zm\x80v",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		str_t s = STR_INIT;
		str_appendz(&s, "keep");
		if (base64_decode(bad[i], strlen(bad[i]), &s) != -1)
			fail_msg("accepted bad input #%zu \"%s\"", i, bad[i]);
		assert_int_equal(s.len, 4);
		assert_string_equal(str_c(&s), "keep");
		str_free(&s);
	}
	/* a NUL inside the input is a bad character, not the end */
	str_t s = STR_INIT;
	assert_int_equal(base64_decode("Zm\0v", 4, &s), -1);
	assert_int_equal(s.len, 0);
	str_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_binary_round_trip),
		cmocka_unit_test(test_appends),
		cmocka_unit_test(test_rejects_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
