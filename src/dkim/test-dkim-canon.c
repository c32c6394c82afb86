/* test-dkim-canon.c: unit tests for dkim_canon.h: RFC 6376 3.4.2 and
 * 3.4.4 relaxed canonicalisation, the RFC 6376 3.4.5 example, edge cases
 * (empty body, trailing empty lines, a missing final CRLF, lone CR, WSP
 * at both ends) and the same output for every way of cutting the input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dkim/dkim_canon.h"

static void collect(void *ctx, const void *data, size_t len)
{
	str_append(ctx, data, len);
}

/* body canonicalised whole, and in pieces of every size from 1 to 7 */
static void check_body(const char *in, size_t in_len, const char *want)
{
	for (size_t piece = 0; piece <= 7; piece++) {
		str_t out = STR_INIT;
		struct dkim_body_canon c;
		dkim_body_canon_init(&c, collect, &out);
		if (piece == 0) {
			dkim_body_canon_feed(&c, in, in_len);
		} else {
			for (size_t off = 0; off < in_len; off += piece)
				dkim_body_canon_feed(&c, in + off,
						     in_len - off < piece ? in_len - off : piece);
		}
		dkim_body_canon_finish(&c);
		assert_int_equal(out.len, strlen(want));
		assert_memory_equal(out.data != NULL ? out.data : "", want, out.len);
		assert_int_equal(c.written, out.len);
		str_free(&out);
	}
}

#define BODY(in, want) check_body(in, sizeof(in) - 1, want)

static void test_body_rfc6376_example(void **state)
{
	(void)state;
	/* RFC 6376 3.4.5 */
	BODY(" C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
}

static void test_body_edges(void **state)
{
	(void)state;
	BODY("", "");                     /* empty body: nothing (errata 3192) */
	BODY("\r\n", "");
	BODY("\r\n\r\n\r\n", "");
	BODY(" \t \r\n  \r\n", "");       /* lines of WSP only are empty */
	BODY("abc", "abc\r\n");          /* a missing final CRLF is added */
	BODY("abc  ", "abc\r\n");
	BODY("a\r\n\r\nb\r\n\r\n", "a\r\n\r\nb\r\n"); /* inner empty lines stay */
	BODY("\r\n\r\na", "\r\n\r\na\r\n");  /* leading empty lines stay */
	BODY("a\tb \t c\r\n", "a b c\r\n");
	BODY("  lead\r\n", " lead\r\n");   /* leading WSP becomes one SP */
	BODY("a\rb\r\n", "a\rb\r\n");      /* a lone CR is content */
	BODY("a\r", "a\r\r\n");
	BODY("a\r \r\n", "a\r\r\n");
	BODY("x\n y\r\n", "x\n y\r\n");    /* a bare LF too */
	BODY(".\r\n", ".\r\n");
}

static void test_body_large_constant_memory(void **state)
{
	(void)state;
	/* more than one output buffer's worth, with many trailing empty
	 * lines counted rather than kept */
	str_t in = STR_INIT, want = STR_INIT, out = STR_INIT;
	for (unsigned i = 0; i < 2000; i++) {
		str_appendz(&in, "line  of \t text \r\n");
		str_appendz(&want, "line of text\r\n");
	}
	for (unsigned i = 0; i < 100000; i++)
		str_appendz(&in, "\r\n");
	struct dkim_body_canon c;
	dkim_body_canon_init(&c, collect, &out);
	dkim_body_canon_feed(&c, in.data, in.len);
	dkim_body_canon_finish(&c);
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.data, want.data, want.len);
	str_free(&in);
	str_free(&want);
	str_free(&out);
}

static void check_header(const char *in, const char *want)
{
	str_t out = STR_INIT;
	dkim_header_canon(in, strlen(in), &out);
	assert_string_equal(str_c(&out), want);
	str_free(&out);
}

static void test_header_relaxed(void **state)
{
	(void)state;
	/* RFC 6376 3.4.5 */
	check_header("A: X\r\n", "a:X");
	check_header("B : Y\t\r\n\tZ  \r\n", "b:Y Z");
	check_header("SUBJECT:   Hello \t  World \r\n\t again\r\n", "subject:Hello World again");
	check_header("To:a@b", "to:a@b");
	check_header("X-Empty:\r\n", "x-empty:");
	check_header("X-Empty: \t \r\n", "x-empty:");
	check_header("Folded:\r\n value\r\n", "folded:value");
	check_header("Name\t :x", "name:x");
	check_header("no colon here", "no colon here:");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_rfc6376_example),
		cmocka_unit_test(test_body_edges),
		cmocka_unit_test(test_body_large_constant_memory),
		cmocka_unit_test(test_header_relaxed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
