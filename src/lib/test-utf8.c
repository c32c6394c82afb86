/* test-utf8.c: utf8_valid() (lib/utf8.h), the validator SASL and the
 * RFC 6858 downgrade share: RFC 3629 4's well-formed sequences and what
 * it rules out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/utf8.h"

#define V(s) utf8_valid(s, sizeof(s) - 1)

static void test_valid(void **state)
{
	(void)state;
	assert_true(V(""));
	assert_true(V("plain ascii"));
	assert_true(V("a\0b")); /* NUL is a character (SASL refuses it itself) */
	assert_true(V("\xc2\x80"));
	assert_true(V("gr\xc3\xbc\xc3\x9f" "e"));
	assert_true(V("\xe0\xa0\x80"));         /* U+0800 */
	assert_true(V("\xed\x9f\xbf"));         /* U+D7FF */
	assert_true(V("\xee\x80\x80"));         /* U+E000 */
	assert_true(V("\xf0\x90\x80\x80"));     /* U+10000 */
	assert_true(V("\xf0\x9f\x98\x80"));
	assert_true(V("\xf4\x8f\xbf\xbf"));     /* U+10FFFF */
}

static void test_invalid(void **state)
{
	(void)state;
	assert_false(V("\x80"));                /* stray continuation */
	assert_false(V("\xc0\xaf"));            /* overlong */
	assert_false(V("\xc1\xbf"));
	assert_false(V("\xe0\x9f\xbf"));        /* overlong 3-byte */
	assert_false(V("\xed\xa0\x80"));        /* surrogate */
	assert_false(V("\xed\xbf\xbf"));
	assert_false(V("\xf0\x8f\xbf\xbf"));    /* overlong 4-byte */
	assert_false(V("\xf4\x90\x80\x80"));    /* > U+10FFFF */
	assert_false(V("\xf5\x80\x80\x80"));
	assert_false(V("\xff"));
	assert_false(V("\xc3"));                /* truncated */
	assert_false(V("ab\xe2\x82"));
	assert_false(V("\xf0\x9f\x98"));
	assert_false(V("\xc3\x28"));            /* bad continuation */
	/* the length bounds the read: a valid sequence cut by len */
	assert_false(utf8_valid("\xc3\xbc", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
