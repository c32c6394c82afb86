/* test-imap-search-parse.c: unit tests for imap_search_parse.h: RFC 9051
 * and RFC 3501 6.4.4 keys and examples, OR/NOT/parentheses, RETURN,
 * CHARSET, and the depth and node caps. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_search_parse.h"

static const struct imap_parser_limits plimits = {
	.max_args = 4000, .max_depth = 100, .max_command_size = 1 << 20,
	.literal = { .max_size = 1000, .max_nonsync = 100 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 20, .max_nodes = 200, .max_ranges = 100,
};

static struct imap_parser *p;
static struct imap_search_program prog;
static const char *error;

static int setup(void **state)
{
	(void)state;
	p = imap_parser_create(&plimits);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	imap_search_program_free(&prog);
	imap_parser_destroy(&p);
	return 0;
}

/* "a SEARCH <program>" */
static int search(const char *program)
{
	char line[8192] = "a SEARCH ";
	size_t len = strlen(program);
	assert_true(len < sizeof(line) - 10);
	memcpy(line + 9, program, len + 1);
	imap_search_program_free(&prog);
	imap_parser_reset(p);
	struct imap_literal_need need;
	assert_int_equal(imap_parser_feed_line(p, line, len + 9, &need, &error), 0);
	const struct imap_command *cmd = imap_parser_command(p);
	error = NULL;
	int r = imap_search_parse(cmd->args, 0, cmd->count, &slimits, &prog, &error);
	if (r < 0) {
		assert_non_null(error);
		assert_int_not_equal(prog.failure, IMAP_SEARCH_FAIL_NONE);
	}
	return r;
}

static const struct imap_search_node *child(unsigned parent, unsigned n)
{
	unsigned c = prog.nodes[parent].child;
	while (n-- > 0 && c != 0)
		c = prog.nodes[c - 1].next;
	assert_int_not_equal(c, 0);
	return &prog.nodes[c - 1];
}

static void test_search_keys(void **state)
{
	(void)state;
	/* RFC 9051 6.4.4 examples */
	assert_int_equal(search("FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""), 0);
	assert_int_equal(child(0, 0)->key, IMAP_SEARCH_FLAGGED);
	assert_int_equal(child(0, 1)->key, IMAP_SEARCH_SINCE);
	assert_int_equal(child(0, 1)->date.year, 1994);
	const struct imap_search_node *not = child(0, 2);
	assert_int_equal(not->key, IMAP_SEARCH_NOT);
	assert_int_equal(prog.nodes[not->child - 1].key, IMAP_SEARCH_FROM);
	assert_string_equal(prog.nodes[not->child - 1].str, "Smith");
	assert_int_equal(search("TEXT \"string not in mailbox\""), 0);
	assert_int_equal(search("OR (FROM a TO b) NOT (CC c)"), 0);
	const struct imap_search_node *or = child(0, 0);
	assert_int_equal(or->key, IMAP_SEARCH_OR);
	assert_int_equal(prog.nodes[or->child - 1].key, IMAP_SEARCH_AND);
	assert_int_equal(search("HEADER Message-ID \"<x@y>\" LARGER 100 SMALLER 18446744073709551615"), -1);
	assert_int_equal(search("HEADER Message-ID \"<x@y>\" LARGER 100 SMALLER 9223372036854775807"), 0);
	assert_string_equal(child(0, 0)->field, "Message-ID");
	assert_string_equal(child(0, 0)->str, "<x@y>");
	/* every key once (RFC 3501 NEW/OLD/RECENT included) */
	assert_int_equal(search("ALL ANSWERED BCC x BEFORE \"1-Jan-2000\" BODY y CC z DELETED "
				"DRAFT FLAGGED FROM f KEYWORD $Junk LARGER 1 NEW OLD "
				"ON 01-Jan-2000 RECENT SEEN SENTBEFORE 1-Jan-2000 SENTON 1-Jan-2000 "
				"SENTSINCE 1-Jan-2000 SMALLER 9 SUBJECT s TEXT t TO u UID 1:* "
				"UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD foo UNSEEN "
				"1,3:4,7 $ *"), 0);
	assert_int_equal(prog.count, 35);
	assert_int_equal(child(0, 24)->key, IMAP_SEARCH_UID);
	assert_true(child(0, 24)->set.has_star);
	assert_true(child(0, 32)->set.saved);

	assert_int_equal(search("FROM"), -1);
	assert_int_equal(search("ALL FOO"), -1);
	assert_string_equal(error, "Unknown search key (line 1, column 14)");
	assert_int_equal(search("OR FROM a"), -1);
	assert_int_equal(search("NOT"), -1);
	assert_int_equal(search("SINCE 1-Foo-1994"), -1);
	assert_int_equal(search("SINCE (1-Feb-1994)"), -1);
	assert_int_equal(search("KEYWORD \\Seen"), -1);
	assert_int_equal(search("UID 0"), -1);
	assert_int_equal(search("4294967296"), -1);
	assert_int_equal(search("LARGER x"), -1);
	assert_int_equal(search("()"), -1);
	assert_int_equal(search("\"ALL\""), -1);
}

static void test_search_charset_return(void **state)
{
	(void)state;
	assert_int_equal(search("CHARSET UTF-8 TEXT x"), 0);
	assert_int_equal(search("charset \"us-ascii\" ALL"), 0);
	assert_int_equal(search("CHARSET ISO-8859-1 ALL"), -1);
	assert_int_equal(prog.failure, IMAP_SEARCH_FAIL_BADCHARSET);
	assert_int_equal(search("CHARSET"), -1);
	assert_int_equal(prog.failure, IMAP_SEARCH_FAIL_BAD);
	assert_int_equal(search("CHARSET UTF-8"), -1);
	/* RFC 4731 */
	assert_int_equal(search("RETURN (MIN MAX COUNT) ALL"), 0);
	assert_true(prog.has_return);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX |
			 IMAP_SEARCH_RETURN_COUNT);
	assert_int_equal(search("RETURN () CHARSET UTF-8 ALL"), 0);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_ALL);
	assert_int_equal(search("RETURN (SAVE ALL) 1:5"), 0);
	assert_int_equal(prog.return_opts, IMAP_SEARCH_RETURN_SAVE | IMAP_SEARCH_RETURN_ALL);
	assert_int_equal(search("RETURN (PARTIAL 1:5) ALL"), -1);
	assert_int_equal(search("RETURN ALL"), -1);
	assert_int_equal(search("RETURN (MIN)"), -1);
}

static void test_search_caps(void **state)
{
	(void)state;
	char buf[6000];
	/* NOT NOT NOT ... : depth capped, no stack blowup */
	size_t len = 0;
	for (int i = 0; i < 1000; i++) {
		memcpy(buf + len, "NOT ", 4);
		len += 4;
	}
	memcpy(buf + len, "ALL", 4);
	assert_int_equal(search(buf), -1);
	assert_non_null(strstr(error, "nested too deeply"));
	/* (((( ... )))) */
	memset(buf, '(', 50);
	memcpy(buf + 50, "ALL", 3);
	memset(buf + 53, ')', 50);
	buf[103] = '\0';
	assert_int_equal(search(buf), -1);
	assert_non_null(strstr(error, "nested too deeply"));
	/* many keys: node cap */
	len = 0;
	for (int i = 0; i < 300; i++) {
		memcpy(buf + len, "ALL ", 4);
		len += 4;
	}
	buf[len - 1] = '\0';
	assert_int_equal(search(buf), -1);
	assert_non_null(strstr(error, "too large"));
	/* a huge sequence set: range cap */
	len = 0;
	for (int i = 0; i < 1000; i++) {
		memcpy(buf + len, "1,", 2);
		len += 2;
	}
	buf[len - 1] = '\0';
	assert_int_equal(search(buf), -1);
	assert_non_null(strstr(error, "Too many ranges"));
}

/* rev2 (RFC 9051 6.4.4): RECENT, NEW and OLD are found anywhere in the
 * program, so the session can answer BAD */
static void test_search_uses_recent(void **state)
{
	(void)state;
	static const char *const with[] = {
		"RECENT", "NEW", "OLD", "NOT RECENT", "OR SEEN (1:3 NEW)",
		"UNSEEN (FLAGGED (OR DELETED OLD))",
	};
	static const char *const without[] = {
		"ALL", "SEEN UNSEEN", "OR FLAGGED NOT DELETED", "SUBJECT RECENT",
		"KEYWORD NEW", "HEADER OLD NEW",
	};
	for (size_t i = 0; i < sizeof(with) / sizeof(with[0]); i++) {
		assert_int_equal(search(with[i]), 0);
		assert_true(imap_search_program_uses_recent(&prog));
	}
	for (size_t i = 0; i < sizeof(without) / sizeof(without[0]); i++) {
		assert_int_equal(search(without[i]), 0);
		assert_false(imap_search_program_uses_recent(&prog));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_search_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_charset_return, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_search_uses_recent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
