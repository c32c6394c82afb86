/* test-mime-decode.c: unit tests for mime_decode.h: quoted-printable and
 * base64 decoded the same for every split of the input, charset
 * conversion (ISO-8859-1, UTF-8, a split multibyte sequence, an unknown
 * charset kept as bytes), simple case folding and the streaming matcher
 * across chunk and UTF-8 sequence boundaries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "mime/mime_decode.h"

/* Decode in with cte split at every position (and byte by byte): each
 * gives expect. */
static void check_cte(enum mime_cte cte, const char *in, const char *expect,
		      size_t expect_len)
{
	size_t len = strlen(in);
	for (size_t split = 0; split <= len + 1; split++) {
		struct mime_decoder d;
		str_t out = STR_INIT;
		mime_decoder_init(&d, cte);
		if (split <= len) {
			mime_decoder_feed(&d, in, split, &out);
			mime_decoder_feed(&d, in + split, len - split, &out);
		} else {
			for (size_t i = 0; i < len; i++)
				mime_decoder_feed(&d, in + i, 1, &out);
		}
		mime_decoder_finish(&d, &out);
		assert_int_equal(out.len, expect_len);
		assert_memory_equal(str_c(&out), expect, expect_len);
		str_free(&out);
	}
}

static void test_cte_parse(void **state)
{
	(void)state;
	assert_int_equal(mime_cte_parse(NULL), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_parse("BASE64"), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse(" Quoted-Printable (c)"), MIME_CTE_QP);
	assert_int_equal(mime_cte_parse("8bit"), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_parse("x-uuencode"), MIME_CTE_IDENTITY);
	assert_int_equal(mime_cte_parse("base6"), MIME_CTE_IDENTITY);
}

static void test_qp(void **state)
{
	(void)state;
	/* RFC 2045 6.7: hex octets, soft breaks (CRLF and bare LF) */
	check_cte(MIME_CTE_QP, "Gr=C3=BC=C3=9Fe, soft=\r\nbreak=\nhere=3D=3d",
		  "Gr\xc3\xbc\xc3\x9f" "e, softbreakhere==", 24);
	/* a stray "=" is kept with what follows; a dangling one at the end */
	check_cte(MIME_CTE_QP, "a=zb=4x=\rq=", "a=zb=4x=\rq=", 11);
	check_cte(MIME_CTE_QP, "==41", "=A", 2);
	check_cte(MIME_CTE_IDENTITY, "as =3D is", "as =3D is", 9);
}

static void test_base64(void **state)
{
	(void)state;
	/* line breaks and junk ignored (RFC 2045 6.8) */
	check_cte(MIME_CTE_BASE64, "SGVs\r\nbG8g\r\nd29y*bGQ=\r\n", "Hello world", 11);
	check_cte(MIME_CTE_BASE64, "AP8A", "\x00\xff\x00", 3);
	/* padding ends a block; a concatenated block decodes afresh */
	check_cte(MIME_CTE_BASE64, "YQ==Yg==", "ab", 2);
	check_cte(MIME_CTE_BASE64, "", "", 0);
}

static void check_conv(const char *charset, const char *in, size_t len,
		       const char *expect)
{
	for (size_t split = 0; split <= len; split++) {
		struct mime_charset_conv *c = mime_charset_conv_create(charset);
		str_t out = STR_INIT;
		mime_charset_conv_feed(c, in, split, &out);
		mime_charset_conv_feed(c, in + split, len - split, &out);
		mime_charset_conv_finish(c, &out);
		mime_charset_conv_free(&c);
		assert_null(c);
		assert_string_equal(str_c(&out), expect);
		str_free(&out);
	}
}

static void test_charset(void **state)
{
	(void)state;
	check_conv("ISO-8859-1", "\xc4pfel \xe4", 7, "\xc3\x84pfel \xc3\xa4");
	check_conv("latin1", "\xe9", 1, "\xc3\xa9");
	check_conv("utf-8", "\xc3\x84", 2, "\xc3\x84");
	/* unknown: raw bytes, not an error */
	check_conv("x-no-such-charset", "ab\xff", 3, "ab\xff");
	/* through iconv, with the sequence split at every byte */
	check_conv("ISO-8859-15", "\xa4", 1, "\xe2\x82\xac");
	check_conv("UTF-16BE", "\x00\xc4\x00" "a", 4, "\xc3\x84" "a");
	check_conv("Shift_JIS", "\x93\xfa\x96\x7b", 4, "\xe6\x97\xa5\xe6\x9c\xac");
	/* an invalid byte is U+FFFD, a truncated sequence at the end too */
	check_conv("UTF-16BE", "\x00" "a\x00", 3, "a\xef\xbf\xbd");
}

static void test_fold(void **state)
{
	(void)state;
	str_t out = STR_INIT;
	const char *in = "\xc3\x84" "Bc \xc5\x81 \xce\xa3 \xd0\x96 \xd0\x81 \xff";
	mime_utf8_fold(in, strlen(in), &out);
	assert_string_equal(str_c(&out),
			    "\xc3\xa4" "bc \xc5\x82 \xcf\x83 \xd0\xb6 \xd1\x91 \xff");
	str_free(&out);
	assert_true(mime_utf8_icontains("Gr\xc3\x9c\xc3\x9f" "E", 7, "\xc3\xbc\xc3\x9f" "e", 5));
	assert_true(mime_utf8_icontains("\xc3\x84pfel", 6, "\xc3\xa4", 2));
	assert_true(mime_utf8_icontains("\xc3\xa4pfel", 6, "\xc3\x84PF", 4));
	assert_false(mime_utf8_icontains("apfel", 5, "\xc3\xa4", 2));
	assert_true(mime_utf8_icontains("x", 1, "", 0));
	assert_false(mime_utf8_icontains("", 0, "x", 1));
}

static bool match_split(const char *text, const char *needle, size_t chunk)
{
	struct mime_match m;
	mime_match_init(&m, needle, strlen(needle));
	size_t len = strlen(text);
	bool found = false;
	for (size_t i = 0; i < len && !found; i += chunk)
		found = mime_match_feed(&m, text + i, len - i < chunk ? len - i : chunk);
	assert_true(found == m.found);
	mime_match_deinit(&m);
	return found;
}

static void test_match_stream(void **state)
{
	(void)state;
	const char *text = "Die \xc3\x84pfel sind gr\xc3\xbcn, sagt \xd0\x9c\xd0\xb8\xd1\x80.";
	for (size_t chunk = 1; chunk <= strlen(text); chunk++) {
		assert_true(match_split(text, "\xc3\xa4PFEL", chunk));
		assert_true(match_split(text, "GR\xc3\x9cN, S", chunk));
		assert_true(match_split(text, "\xd0\xbc\xd0\x98\xd0\xa0.", chunk));
		assert_false(match_split(text, "apfel", chunk));
		assert_false(match_split(text, "mir..", chunk));
	}
	struct mime_match m;
	mime_match_init(&m, "ab", 2);
	assert_false(mime_match_feed(&m, "xa", 2));
	mime_match_reset(&m);   /* a new part: no match across the reset */
	assert_false(mime_match_feed(&m, "bx", 2));
	assert_true(mime_match_feed(&m, "AB", 2));
	assert_true(mime_match_feed(&m, "", 0));
	mime_match_deinit(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cte_parse),
		cmocka_unit_test(test_qp),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_match_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
