/* test-imap-fetch-parse.c: unit tests for imap_fetch_parse.h: RFC 9051
 * 6.4.5 items and examples, macros, sections, partials, deep section
 * paths, and CONDSTORE's MODSEQ item. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "imap/imap_fetch_parse.h"
#include "imap/imap_parser.h"

static const struct imap_parser_limits limits = {
	.max_args = 64, .max_depth = 8, .max_command_size = 65536,
	.literal = { .max_size = 1000, .max_nonsync = 100 },
};

static const char *last_error;

/* "a FETCH <set> <rest>": parse rest as FETCH items */
static int fetch(const char *line, struct imap_fetch_request *req)
{
	struct imap_parser *p = imap_parser_create(&limits);
	struct imap_literal_need need;
	const char *error = NULL;
	int r = imap_parser_feed_line(p, line, strlen(line), &need, &error);
	assert_int_equal(r, 0);
	const struct imap_command *cmd = imap_parser_command(p);
	r = imap_fetch_parse(cmd->args, 1, cmd->count, 20, req, &error);
	last_error = error;
	if (r < 0) {
		assert_non_null(error);
		assert_null(req->atts);
	}
	/* the request's strings live with the parser: check, then free */
	imap_parser_destroy(&p);
	return r;
}

static int att(const char *s, struct imap_fetch_att *a)
{
	const char *error = NULL;
	int r = imap_fetch_parse_att(s, strlen(s), a, &error);
	if (r < 0)
		assert_non_null(error);
	return r;
}

static void test_fetch_macros(void **state)
{
	(void)state;
	struct imap_fetch_request req;
	assert_int_equal(fetch("a FETCH 1:* ALL", &req), 0);
	assert_int_equal(req.count, 4);
	assert_int_equal(req.atts[3].item, IMAP_FETCH_ENVELOPE);
	imap_fetch_request_free(&req);
	assert_int_equal(fetch("a FETCH 1 fast", &req), 0);
	assert_int_equal(req.count, 3);
	imap_fetch_request_free(&req);
	assert_int_equal(fetch("a FETCH 1 FULL", &req), 0);
	assert_int_equal(req.atts[4].item, IMAP_FETCH_BODY);
	imap_fetch_request_free(&req);
	/* macros are not items */
	assert_int_equal(fetch("a FETCH 1 (ALL)", &req), -1);
	assert_int_equal(fetch("a FETCH 1 (FLAGS UID RFC822 RFC822.HEADER RFC822.SIZE "
			       "RFC822.TEXT ENVELOPE BODY BODYSTRUCTURE INTERNALDATE)", &req), 0);
	assert_int_equal(req.count, 10);
	assert_int_equal(req.atts[1].item, IMAP_FETCH_UID);
	assert_int_equal(req.atts[8].item, IMAP_FETCH_BODYSTRUCTURE);
	imap_fetch_request_free(&req);
	assert_int_equal(fetch("a FETCH 1 ()", &req), -1);
	assert_int_equal(fetch("a FETCH 1", &req), -1);
	assert_int_equal(fetch("a FETCH 1 FLAGS UID", &req), -1);
	/* RFC 7162 3.1.4: MODSEQ is an item; modifiers are split off by
	 * the caller (imap_condstore_parse.h) */
	assert_int_equal(fetch("a FETCH 1 (FLAGS MODSEQ)", &req), 0);
	assert_int_equal(req.atts[1].item, IMAP_FETCH_MODSEQ);
	imap_fetch_request_free(&req);
	assert_int_equal(fetch("a FETCH 1 (FLAGS MODSEQX)", &req), -1);
	assert_int_equal(fetch("a FETCH 1 (FLAGS) (CHANGEDSINCE 12345)", &req), -1);
	assert_int_equal(fetch("a FETCH 1 (FLAGS \"UID\")", &req), -1);
	/* RFC 9051 6.4.5 example */
	assert_int_equal(fetch("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])", &req), 0);
	assert_int_equal(req.count, 2);
	assert_int_equal(req.atts[1].text, IMAP_SECTION_HEADER_FIELDS);
	assert_int_equal(req.atts[1].field_count, 2);
	imap_fetch_request_free(&req);
}

static void test_fetch_sections(void **state)
{
	(void)state;
	struct imap_fetch_att a;
	assert_int_equal(att("BODY[]", &a), 0);
	assert_int_equal(a.item, IMAP_FETCH_BODY_SECTION);
	assert_int_equal(a.text, IMAP_SECTION_WHOLE);
	assert_false(a.peek);
	assert_int_equal(att("body.peek[1.2.3.HEADER]<0.100>", &a), 0);
	assert_true(a.peek);
	assert_int_equal(a.part_depth, 3);
	assert_int_equal(a.part[2], 3);
	assert_int_equal(a.text, IMAP_SECTION_HEADER);
	assert_true(a.partial);
	assert_int_equal(a.partial_length, 100);
	assert_int_equal(att("BODY[HEADER.FIELDS.NOT (\"X-A\" Received)]", &a), 0);
	assert_int_equal(a.text, IMAP_SECTION_HEADER_FIELDS_NOT);
	assert_int_equal(a.field_count, 2);
	assert_memory_equal(a.fields[0].name, "X-A", 3);
	assert_int_equal(a.fields[1].len, 8);
	assert_int_equal(att("BODY[TEXT]", &a), 0);
	assert_int_equal(att("BODY[4.2.MIME]", &a), 0);
	assert_int_equal(a.text, IMAP_SECTION_MIME);
	assert_int_equal(att("BODY[4.2.TEXT]", &a), 0);
	assert_int_equal(att("BODY[1]<9223372036854775807.1>", &a), 0);
	assert_int_equal(att("BINARY[1.2]", &a), 0);
	assert_int_equal(a.item, IMAP_FETCH_BINARY);
	assert_int_equal(att("BINARY.PEEK[]<0.1>", &a), 0);
	assert_true(a.peek);
	assert_int_equal(att("BINARY.SIZE[3]", &a), 0);
	assert_int_equal(a.item, IMAP_FETCH_BINARY_SIZE);

	assert_int_equal(att("BODY[MIME]", &a), -1);
	assert_int_equal(att("BODY[0]", &a), -1);
	assert_int_equal(att("BODY[1.]", &a), -1);
	assert_int_equal(att("BODY[1..2]", &a), -1);
	assert_int_equal(att("BODY[4294967296]", &a), -1);
	assert_int_equal(att("BODY[HEADER.FIELDS ()]", &a), -1);
	assert_int_equal(att("BODY[HEADER.FIELDS (A:B)]", &a), -1);
	assert_int_equal(att("BODY[HEADER.FIELDS]", &a), -1);
	assert_int_equal(att("BODY[HEADERX]", &a), -1);
	assert_int_equal(att("BODY[]<0.0>", &a), -1);
	assert_int_equal(att("BODY[]<0>", &a), -1);
	assert_int_equal(att("BODY[]<1.2>x", &a), -1);
	assert_int_equal(att("BODY[]<9223372036854775808.1>", &a), -1);
	assert_int_equal(att("BINARY[TEXT]", &a), -1);
	assert_int_equal(att("BINARY.SIZE[1]<0.5>", &a), -1);
	assert_int_equal(att("BODY.PEEK", &a), -1);
	assert_int_equal(att("BODYX[]", &a), -1);
	assert_int_equal(att("RFC822.PEEK", &a), -1);
}

static void test_fetch_deep_section(void **state)
{
	(void)state;
	/* TESTING.md: deep section paths are refused, not walked */
	char buf[4096] = "BODY[";
	size_t len = 5;
	for (int i = 0; i < 1000; i++) {
		memcpy(buf + len, "1.", 2);
		len += 2;
	}
	memcpy(buf + len, "1]", 3);
	struct imap_fetch_att a;
	const char *error;
	assert_int_equal(imap_fetch_parse_att(buf, strlen(buf), &a, &error), -1);
	assert_non_null(strstr(error, "too deep"));
	static const char ok[] = "BODY[1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1]";
	memcpy(buf, ok, sizeof(ok));
	assert_int_equal(imap_fetch_parse_att(buf, strlen(buf), &a, &error), 0);
	assert_int_equal(a.part_depth, IMAP_SECTION_MAX_DEPTH);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_macros),
		cmocka_unit_test(test_fetch_sections),
		cmocka_unit_test(test_fetch_deep_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
