/* test-imap-utf8.c: unit tests for APPEND's UTF8 data form (RFC 6855 4,
 * imap_utf8.c): found only as "UTF8 (" right before a literal8 prefix,
 * any case, after a space; the ")" after the literal is required. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "imap/imap_utf8.h"

/* (end of the arguments, utf8) for a whole APPEND line */
static size_t form(const char *line, bool *utf8_r)
{
	static const struct literal_limits limits = { .max_size = 1u << 20, .max_nonsync = 4096 };
	struct literal_prefix prefix;
	const char *error;
	assert_int_equal(literal_parse_prefix(line, strlen(line), &limits, &prefix, &error),
			 LITERAL_PREFIX_OK);
	return imap_utf8_append_form(line, &prefix, utf8_r);
}

static void test_utf8_append_form(void **state)
{
	(void)state;
	bool utf8;
	assert_int_equal(form("a APPEND INBOX UTF8 (~{12}", &utf8), 15);
	assert_true(utf8);
	assert_int_equal(form("a APPEND INBOX (\\Seen) utf8 (~{12+}", &utf8), 23);
	assert_true(utf8);
	assert_int_equal(form(" UTF8 (~{3}", &utf8), 1); /* a MULTIAPPEND item */
	assert_true(utf8);
	/* not the form: a plain literal, a literal8 without it, no space */
	assert_int_equal(form("a APPEND INBOX UTF8 ({12}", &utf8), 21);
	assert_false(utf8);
	assert_int_equal(form("a APPEND INBOX ~{12}", &utf8), 15);
	assert_false(utf8);
	assert_int_equal(form("a APPEND INBOXUTF8 (~{12}", &utf8), 20);
	assert_false(utf8);
	assert_int_equal(form("UTF8 (~{1}", &utf8), 6);
	assert_false(utf8);
}

static void test_utf8_append_end(void **state)
{
	(void)state;
	const char *line = ") (\\Seen) {5}";
	size_t len = strlen(line);
	assert_true(imap_utf8_append_end(true, &line, &len));
	assert_int_equal(len, strlen(" (\\Seen) {5}"));
	assert_int_equal(line[0], ' ');
	line = "";
	len = 0;
	assert_false(imap_utf8_append_end(true, &line, &len));
	line = " {5}";
	len = 4;
	assert_false(imap_utf8_append_end(true, &line, &len));
	assert_true(imap_utf8_append_end(false, &line, &len));
	assert_int_equal(len, 4);
}

static bool header_8bit(const char *msg, size_t piece)
{
	struct imap_utf8_scan sc = IMAP_UTF8_SCAN_INIT;
	size_t len = strlen(msg);
	for (size_t off = 0; off < len; off += piece)
		imap_utf8_header_scan(&sc, msg + off, len - off < piece ? len - off : piece);
	return sc.eight_bit;
}

static void test_utf8_header_scan(void **state)
{
	(void)state;
	/* any split of the input gives the same answer */
	for (size_t piece = 1; piece <= 4; piece++) {
		assert_true(header_8bit("Subject: Gr\xc3\xbc\xc3\x9f\r\n\r\nbody\r\n", piece));
		assert_false(header_8bit("Subject: x\r\n\r\nb\xc3\xbc" "dy\r\n", piece));
		assert_false(header_8bit("Subject: x\n\nb\xc3\xbc" "dy\n", piece));
		assert_true(header_8bit("A: b\r\nB: \xff\r\n\r\n", piece));
		/* a folded line is still the header */
		assert_true(header_8bit("A: b\r\n \xc3\xbc\r\n\r\nx", piece));
		/* no header at all: the body starts at once */
		assert_false(header_8bit("\r\n\xc3\xbc", piece));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_append_form),
		cmocka_unit_test(test_utf8_append_end),
		cmocka_unit_test(test_utf8_header_scan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
