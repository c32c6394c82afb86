/* test-mime-header.c: RFC 2047 encoded words, charset conversion,
 * unfolding and RFC 2045/2231 parameter lists. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_header.h"

static void check_decode(const char *in, const char *want)
{
	str_t out = STR_INIT;

	mime_header_decode(in, strlen(in), &out);
	if (strcmp(str_c(&out), want) != 0)
		fail_msg("decode(%s) = [%s], want [%s]", in, str_c(&out), want);
	str_free(&out);
}

static void test_encoded_words(void **state)
{
	(void)state;
	/* RFC 2047 section 8 examples */
	check_decode("=?ISO-8859-1?Q?a?=", "a");
	check_decode("=?ISO-8859-1?Q?a?= b", "a b");
	check_decode("=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=", "ab");
	check_decode("=?ISO-8859-1?Q?a?=\r\n   =?ISO-8859-1?Q?b?=", "ab");
	check_decode("=?ISO-8859-1?Q?a_b?=", "a b");
	check_decode("=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=", "a b");
	check_decode("=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard");
	check_decode("=?UTF-8?B?w6k=?=", "\xc3\xa9");
	check_decode("=?koi8-r?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	/* a character split over two adjacent words survives */
	check_decode("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "\xc3\xa9");
	/* RFC 2231 section 5 language suffix */
	check_decode("=?US-ASCII*EN?Q?Keith?=", "Keith");
	/* invalid bytes and unknown charsets never fail */
	check_decode("=?UTF-8?Q?=FF?=", "\xef\xbf\xbd");
	check_decode("=?x-unknown?Q?abc?=", "abc");
	check_decode("plain \xff text", "plain \xef\xbf\xbd text");
	/* malformed words stay literal (section 6.3) */
	check_decode("=?UTF-8?X?abc?=", "=?UTF-8?X?abc?=");
	check_decode("=?UTF-8?Q?abc", "=?UTF-8?Q?abc");
	check_decode("a  b", "a  b");
}

static void test_unfold(void **state)
{
	str_t out = STR_INIT;
	const char in[] = "a\r\n b\n\tc";
	(void)state;

	mime_header_unfold(in, strlen(in), &out);
	assert_string_equal(str_c(&out), "a b\tc");
	str_free(&out);
}

static void test_params(void **state)
{
	pool_t *pool = pool_create(1024);
	char *type, *sub;
	struct mime_param *p;
	uint32_t n;
	const char *ct = "Text/Plain (a comment); charset=(c)\"us-ascii\";"
			 " name=\"a \\\"b\\\" c\"; format=flowed";
	(void)state;

	assert_int_equal(mime_header_parse_params(pool, ct, strlen(ct), true,
						  &type, &sub, &p, &n), 0);
	assert_string_equal(type, "text");
	assert_string_equal(sub, "plain");
	assert_int_equal(n, 3);
	assert_string_equal(mime_param_get(p, n, "charset"), "us-ascii");
	assert_string_equal(mime_param_get(p, n, "name"), "a \"b\" c");
	assert_string_equal(mime_param_get(p, n, "FORMAT"), "flowed");

	/* RFC 2231 sections 3 and 4: continuations and charset'lang' */
	const char cd[] = "attachment; filename*0*=ISO-8859-1'fr'%E9t;"
			  " filename*1=\"e.txt\"; size=10";
	assert_int_equal(mime_header_parse_params(pool, cd, strlen(cd), false,
						  &type, NULL, &p, &n), 0);
	assert_string_equal(type, "attachment");
	assert_string_equal(mime_param_get(p, n, "filename"), "\xc3\xa9te.txt");
	assert_string_equal(mime_param_get(p, n, "size"), "10");

	const char ext[] = "application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A";
	assert_int_equal(mime_header_parse_params(pool, ext, strlen(ext), true,
						  &type, &sub, &p, &n), 0);
	assert_string_equal(mime_param_get(p, n, "title"), "This is ***fun***");

	/* mime4j-style tolerance: RFC 2047 inside a quoted parameter */
	const char rw[] = "text/plain; name=\"=?koi8-r?B?8NLJ18XU?=.txt\"";
	assert_int_equal(mime_header_parse_params(pool, rw, strlen(rw), true,
						  &type, &sub, &p, &n), 0);
	assert_string_equal(mime_param_get(p, n, "name"),
			    "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82.txt");

	/* no subtype: failure reported, parameters still read */
	const char bad[] = "text; charset=utf-8";
	assert_int_equal(mime_header_parse_params(pool, bad, strlen(bad), true,
						  &type, &sub, &p, &n), -1);
	assert_string_equal(mime_param_get(p, n, "charset"), "utf-8");
	/* junk never crashes, param count stays bounded */
	str_t many = STR_INIT;
	str_appendz(&many, "a/b");
	for (int i = 0; i < 200; i++)
		str_printf(&many, "; p%d=v", i);
	str_appendz(&many, "; =; ;;x*99999999999999999999=y; \"");
	assert_int_equal(mime_header_parse_params(pool, many.data, many.len, true,
						  &type, &sub, &p, &n), 0);
	assert_true(n <= MIME_MAX_PARAMS);
	str_free(&many);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_unfold),
		cmocka_unit_test(test_params),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
