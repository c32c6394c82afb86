/* test-imap-parser.c: unit tests for imap_parser.h and imap_args.h: RFC 9051
 * examples, literals (TESTING.md item 11), deep nesting (item 12), quoted
 * strings, typed readers and dates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <malloc.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_parser.h"
#include "lib/str.h"

static const struct imap_parser_limits limits = {
	.max_args = 64, .max_depth = 8, .max_command_size = 65536,
	.literal = { .max_size = 1000, .max_nonsync = 100 },
};

static struct imap_parser *p;

static int setup(void **state)
{
	(void)state;
	p = imap_parser_create(&limits);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	imap_parser_destroy(&p);
	assert_null(p);
	return 0;
}

/* One line, fresh command: 0, 1 or -1; *error_r on -1. */
static int line(const char *s, const char **error_r)
{
	struct imap_literal_need need;
	const char *error = NULL;
	int r = imap_parser_feed_line(p, s, strlen(s), &need, &error);
	if (r < 0)
		assert_non_null(error);
	if (error_r != NULL)
		*error_r = error;
	return r;
}

static int one(const char *s)
{
	imap_parser_reset(p);
	return line(s, NULL);
}

static void test_simple_commands(void **state)
{
	(void)state;
	assert_int_equal(one("a001 capability"), 0);
	const struct imap_command *cmd = imap_parser_command(p);
	assert_string_equal(cmd->tag, "a001");
	assert_string_equal(cmd->name, "CAPABILITY");
	assert_int_equal(cmd->count, 0);

	/* RFC 9051 6.4.5 example */
	assert_int_equal(one("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])"), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->count, 4);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_ATOM);
	assert_string_equal(cmd->args[0].str, "2:4");
	assert_int_equal(cmd->args[1].type, IMAP_ARG_LIST);
	assert_int_equal(cmd->args[1].list_len, 2);
	assert_string_equal(cmd->args[3].str, "BODY[HEADER.FIELDS (DATE FROM)]");
	assert_int_equal(imap_arg_next(cmd->args, 1), 4);

	assert_int_equal(one("a2 LOGIN \"fred\" \"a \\\"q\\\" \\\\\""), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->args[1].type, IMAP_ARG_QUOTED);
	assert_string_equal(cmd->args[1].str, "a \"q\" \\");
	assert_int_equal(one("a3 STORE 1 +FLAGS (\\Seen NIL ())"), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(cmd->args[2].list_len, 3);
	assert_int_equal(cmd->args[4].type, IMAP_ARG_NIL);
	assert_int_equal(cmd->args[5].type, IMAP_ARG_LIST);
	assert_int_equal(cmd->args[5].list_len, 0);
	assert_int_equal(one("a4 LIST \"\" *"), 0);
	assert_int_equal(one("a5 NOOP ()"), 0);
	assert_int_equal(line("a6 NOOP", NULL), -1); /* no reset */
	/* tag = 1*<any ASTRING-CHAR except "+"> */
	assert_int_equal(one("a[1] NOOP"), 0);
	assert_string_equal(imap_parser_command(p)->tag, "a[1]");
	assert_int_equal(one("a+ NOOP"), -1);
	assert_int_equal(one("a* NOOP"), -1);
}

static void test_bad_lines(void **state)
{
	(void)state;
	const char *error;
	imap_parser_reset(p);
	assert_int_equal(line("a1 LOGIN \"ab\\x\"", &error), -1);
	assert_non_null(strstr(error, "escape"));
	assert_non_null(strstr(error, "column 13"));
	assert_string_equal(imap_parser_tag(p), "a1");
	assert_int_equal(one("a1 NOOP  x"), -1);
	assert_int_equal(one("a1 NOOP x "), -1);
	assert_int_equal(one("a1 NOOP "), -1);
	assert_int_equal(one("a1"), -1);
	assert_int_equal(one(""), -1);
	assert_int_equal(one("+ NOOP"), -1);
	assert_int_equal(one("a1 NOOP (a"), -1);
	assert_int_equal(one("a1 NOOP a)"), -1);
	assert_int_equal(one("a1 NOOP (a )"), -1);
	assert_int_equal(one("a1 NOOP \"abc"), -1);
	assert_int_equal(one("a1 NOOP a{3}b"), -1);
	assert_int_equal(one("a1 NOOP BODY[TEXT"), -1);
	assert_int_equal(one("a1 NOOP a\tb"), -1);
	/* NUL and CR inside a quoted string (TESTING.md item 11) */
	static const char nul[] = "a1 LOGIN \"a\0b\" x";
	struct imap_literal_need need;
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed_line(p, nul, sizeof(nul) - 1, &need, &error), -1);
	assert_non_null(strstr(error, "quoted"));
	assert_int_equal(one("a1 LOGIN \"a\rb\" x"), -1);
	/* a failed command stays failed until reset */
	assert_int_equal(line("a1 NOOP", &error), -1);
}

static void test_deep_nesting(void **state)
{
	(void)state;
	/* TESTING.md item 12: BAD with a clear message, no recursion */
	char buf[20000];
	memcpy(buf, "a1 FETCH 1 ", 11);
	memset(buf + 11, '(', sizeof(buf) - 12);
	buf[sizeof(buf) - 1] = '\0';
	const char *error;
	imap_parser_reset(p);
	assert_int_equal(line(buf, &error), -1);
	assert_non_null(strstr(error, "nested too deeply"));
	assert_non_null(strstr(error, "column 20"));
	assert_int_equal(one("a1 X ((((((((a))))))))"), 0);
	assert_int_equal(one("a1 X (((((((((a)))))))))"), -1);
}

static void test_literals(void **state)
{
	(void)state;
	struct imap_literal_need need;
	const char *error;
	imap_parser_reset(p);
	const char *l1 = "A003 APPEND saved-messages (\\Seen) {5}";
	assert_int_equal(imap_parser_feed_line(p, l1, strlen(l1), &need, &error), 1);
	assert_int_equal(need.size, 5);
	assert_false(need.nonsync);
	imap_parser_literal_chunk(p, "ab", 2);
	imap_parser_literal_chunk(p, "cdeXX", 5);
	assert_int_equal(imap_parser_feed_line(p, " ~{3+}", 6, &need, &error), 1);
	assert_true(need.nonsync && need.binary);
	imap_parser_literal_chunk(p, "\0z\0", 3);
	assert_int_equal(imap_parser_feed_line(p, "", 0, &need, &error), 0);
	const struct imap_command *cmd = imap_parser_command(p);
	assert_int_equal(cmd->count, 5);
	assert_int_equal(cmd->args[3].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd->args[3].len, 5);
	assert_string_equal(cmd->args[3].str, "abcde");
	assert_int_equal(cmd->args[4].type, IMAP_ARG_LITERAL8);
	assert_memory_equal(cmd->args[4].str, "\0z\0", 3);

	/* an empty literal, then the rest of the line */
	imap_parser_reset(p);
	assert_int_equal(line("a LOGIN {0}", NULL), 1);
	assert_int_equal(imap_parser_feed_line(p, " pw", 3, &need, &error), 0);
	/* literal not after a space */
	assert_int_equal(one("a LOGIN x{3}"), -1);
	assert_int_equal(one("a LOGIN{3}"), -1);
	/* NUL in a plain literal */
	imap_parser_reset(p);
	assert_int_equal(line("a LOGIN {1}", NULL), 1);
	imap_parser_literal_chunk(p, "", 1);
	assert_int_equal(imap_parser_feed_line(p, "", 0, &need, &error), -1);

	/* TESTING.md item 11: refused from the digits: no "+", no allocation */
	imap_parser_reset(p);
	assert_int_equal(line("a APPEND x {4294967295}", &error), -1);
	assert_int_equal(imap_parser_failure(p), IMAP_PARSER_FAIL_TOOBIG);
	imap_parser_reset(p);
	assert_int_equal(line("a APPEND x {18446744073709551616}", &error), -1);
	assert_int_equal(imap_parser_failure(p), IMAP_PARSER_FAIL_BAD);
	assert_non_null(strstr(error, "out of range"));
	imap_parser_reset(p);
	assert_int_equal(line("a APPEND x {101+}", &error), -1);
	assert_int_equal(imap_parser_failure(p), IMAP_PARSER_FAIL_TOOBIG);
	assert_int_equal(one("a APPEND x {}"), -1);
}

static void test_typed_args(void **state)
{
	(void)state;
	assert_int_equal(one("a SELECT inBoX"), 0);
	const struct imap_command *cmd = imap_parser_command(p);
	const char *name, *error;
	assert_int_equal(imap_arg_get_mailbox(&cmd->args[0], &name, &error), 0);
	assert_string_equal(name, "INBOX");
	assert_int_equal(one("a SELECT \"Inbox.sub\" a*b 4294967295 4294967296 NIL"), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(imap_arg_get_mailbox(&cmd->args[0], &name, &error), 0);
	assert_string_equal(name, "Inbox.sub");
	assert_int_equal(imap_arg_get_mailbox(&cmd->args[1], &name, &error), -1);
	uint32_t n32;
	uint64_t n64;
	assert_int_equal(imap_arg_get_number32(&cmd->args[2], &n32, &error), 0);
	assert_int_equal(n32, 4294967295u);
	assert_int_equal(imap_arg_get_number32(&cmd->args[3], &n32, &error), -1);
	assert_int_equal(imap_arg_get_number64(&cmd->args[3], &n64, &error), 0);
	assert_int_equal(imap_arg_get_mailbox(&cmd->args[4], &name, &error), 0);
	assert_int_equal(one("a N 9223372036854775807 9223372036854775808"), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(imap_arg_get_number64(&cmd->args[0], &n64, &error), 0);
	assert_int_equal(imap_arg_get_number64(&cmd->args[1], &n64, &error), -1);

	const char *flags[4];
	unsigned count;
	assert_int_equal(one("a STORE 1 FLAGS (\\Seen $Junk \\Draft)"), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(imap_arg_get_flag_list(cmd->args, 2, flags, 4, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_string_equal(flags[1], "$Junk");
	assert_int_equal(one("a STORE 1 FLAGS (\\Seen \\Recent)"), 0);
	cmd = imap_parser_command(p);
	assert_int_equal(imap_arg_get_flag_list(cmd->args, 2, flags, 4, &count, &error), -1);
	assert_false(imap_flag_is_valid("\\*", 2));
	assert_false(imap_flag_is_valid("a]b", 3));
	assert_true(imap_flag_is_valid("\\answered", 9));
}

static void test_dates(void **state)
{
	(void)state;
	struct imap_date d;
	const char *error;
	assert_int_equal(imap_parse_date("1-Feb-1994", 10, &d, &error), 0);
	assert_int_equal(d.day, 1);
	assert_int_equal(d.month, 2);
	assert_int_equal(imap_parse_date("\"29-feb-2024\"", 13, &d, &error), 0);
	assert_int_equal(imap_parse_date("29-Feb-2023", 11, &d, &error), -1);
	assert_int_equal(imap_parse_date("1-Foo-1994", 10, &d, &error), -1);
	assert_int_equal(imap_parse_date("1-Feb-94", 8, &d, &error), -1);
	assert_int_equal(imap_parse_date("001-Feb-1994", 12, &d, &error), -1);
	/* RFC 9051 6.3.12 APPEND example */
	const char *dt = " 7-Feb-1994 21:52:25 -0800";
	assert_int_equal(imap_parse_datetime(dt, strlen(dt), &d, &error), 0);
	assert_int_equal(d.zone_min, -480);
	assert_int_equal(imap_date_to_epoch(&d), 760686745);
	dt = "07-Feb-1994 24:52:25 -0800";
	assert_int_equal(imap_parse_datetime(dt, strlen(dt), &d, &error), -1);
	dt = "7-Feb-1994 21:52:25 -0800";
	assert_int_equal(imap_parse_datetime(dt, strlen(dt), &d, &error), -1);
}

static int mailbox(const char *line, bool utf8, const char **name_r)
{
	str_t buf = STR_INIT;
	static char copy[300];
	const char *error = NULL;
	assert_int_equal(one(line), 0);
	int r = imap_mailbox_name_get(&imap_parser_command(p)->args[0], utf8, &buf,
				      name_r, &error);
	if (r < 0) {
		assert_non_null(error);
	} else {
		size_t n = strlen(*name_r);
		assert_true(n < sizeof(copy));
		memcpy(copy, *name_r, n + 1);
		*name_r = copy;
	}
	str_free(&buf);
	return r;
}

static void test_mailbox_names(void **state)
{
	(void)state;
	const char *name;
	assert_int_equal(mailbox("a SELECT inbox", false, &name), 0);
	assert_string_equal(name, "INBOX");
	assert_int_equal(mailbox("a SELECT Work/2024", false, &name), 0);
	assert_string_equal(name, "Work/2024");
	/* RFC 3501 5.1.3 example: "~peter/mail/&U,BTFw-/&ZeVnLIqe-" */
	assert_int_equal(mailbox("a SELECT \"mail/&U,BTFw-/&ZeVnLIqe-\"", false, &name), 0);
	assert_string_equal(name, "mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	assert_int_equal(mailbox("a SELECT R&-D", false, &name), 0);
	assert_string_equal(name, "R&D");
	assert_int_equal(mailbox("a SELECT &2D3eAA-", false, &name), 0); /* U+1F600 */
	assert_string_equal(name, "\xf0\x9f\x98\x80");
	/* invalid modified UTF-7 (TESTING.md item 13) */
	assert_int_equal(mailbox("a SELECT &U,BTFw", false, &name), -1);
	assert_int_equal(mailbox("a SELECT &AGE-", false, &name), -1);   /* "a" encoded */
	assert_int_equal(mailbox("a SELECT &2D0-", false, &name), -1);   /* lone surrogate */
	assert_int_equal(mailbox("a SELECT &U,BTF-", false, &name), -1); /* padding bits */
	assert_int_equal(mailbox("a SELECT &AAA-", false, &name), -1);   /* U+0000 */
	assert_int_equal(mailbox("a SELECT &-&", false, &name), -1);
	assert_int_equal(mailbox("a SELECT \"caf\xc3\xa9\"", false, &name), -1);
	assert_int_equal(mailbox("a SELECT \"caf\xc3\xa9\"", true, &name), 0);
	assert_int_equal(mailbox("a SELECT \"caf\xc3\"", true, &name), -1);
	assert_int_equal(mailbox("a SELECT \"\xed\xa0\x80\"", true, &name), -1);
	/* names that reach outside the store (TESTING.md item 13) */
	assert_int_equal(mailbox("a SELECT ../../etc", false, &name), -1);
	assert_int_equal(mailbox("a SELECT /etc", false, &name), -1);
	assert_int_equal(mailbox("a SELECT ~root", false, &name), -1);
	assert_int_equal(mailbox("a SELECT a//b", false, &name), -1);
	assert_int_equal(mailbox("a SELECT INBOX/../..", false, &name), -1);
	assert_int_equal(mailbox("a SELECT \"\"", false, &name), -1);
	assert_int_equal(mailbox("a SELECT a*", false, &name), -1);
}

/* An idle parser holds little, a big command grows it to what it needs
 * and the reset gives the room back (idle IMAP connections, issue 9
 * item 15); the arguments of the big command are all there. */
static void test_memory_grows_and_shrinks(void **state)
{
	(void)state;
	struct imap_parser_limits big = limits;
	big.max_args = 4096;
	struct imap_parser *q = imap_parser_create(&big);
	size_t idle = imap_parser_memory(q);
	assert_int_equal(idle, 0);
	str_t cmd = STR_INIT;
	str_appendz(&cmd, "a ID (");
	for (unsigned i = 0; i < 1000; i++)
		str_printf(&cmd, "%s\"f%u\"", i > 0 ? " " : "", i);
	str_appendz(&cmd, ")");
	struct imap_literal_need need;
	const char *error = NULL;
	assert_int_equal(imap_parser_feed_line(q, cmd.data, cmd.len, &need, &error), 0);
	const struct imap_command *c = imap_parser_command(q);
	assert_int_equal(c->count, 1001);
	assert_string_equal(c->args[1].str, "f0");
	assert_string_equal(c->args[1000].str, "f999");
	assert_true(imap_parser_memory(q) > 1000 * sizeof(struct imap_arg));
	imap_parser_reset(q);
	assert_int_equal(imap_parser_memory(q), idle);
	str_free(&cmd);
	imap_parser_destroy(&q);
}

/* Issue 9 item 15: a parser between commands (or in IDLE, which has no
 * arguments) holds no buffer: each command's arrays, list stack and
 * strings are given back at the reset and taken again by the next. */
static void test_idle_parser_holds_nothing(void **state)
{
	(void)state;
	static const char *const lines[] = {
		"a LOGIN \"user@example.org\" \"secret\"",
		"b SELECT INBOX",
		"c FETCH 1:* (FLAGS (BODY.PEEK[HEADER.FIELDS (SUBJECT)]))",
		"d IDLE",
	};
	assert_int_equal(imap_parser_memory(p), 0);
	for (unsigned round = 0; round < 2; round++) {
		for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
			struct imap_literal_need need;
			const char *error = NULL;
			assert_int_equal(imap_parser_feed_line(p, lines[i], strlen(lines[i]),
							       &need, &error), 0);
			const struct imap_command *c = imap_parser_command(p);
			assert_non_null(c);
			assert_true(imap_parser_memory(p) > 0);
			if (i == 2)
				assert_string_equal(c->args[2].str, "FLAGS");
			imap_parser_reset(p);
			assert_int_equal(imap_parser_memory(p), 0);
		}
	}
}

/* Issue 9 item 15: the error text is allocated by the failing line and
 * given back at reset; the struct itself no longer carries 160 bytes for
 * it (it was 352 bytes: 200 now, a 256-byte bound leaves room). */
static void test_error_text_only_while_failed(void **state)
{
	(void)state;
	assert_true(malloc_usable_size(p) < 256);
	const char *error = NULL;
	assert_int_equal(line("a SELECT (INBOX", &error), -1);
	assert_non_null(strstr(error, "column"));
	assert_true(imap_parser_memory(p) > 0);
	/* the failure and its text stay until the reset */
	assert_int_equal(line("b NOOP", &error), -1);
	assert_non_null(strstr(error, "column"));
	imap_parser_reset(p);
	assert_int_equal(imap_parser_memory(p), 0);
	assert_int_equal(line("c NOOP", &error), 0);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_memory(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_simple_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_parser_holds_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_text_only_while_failed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_literals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_typed_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_names, setup, teardown),
		cmocka_unit_test(test_memory_grows_and_shrinks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
