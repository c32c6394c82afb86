/* test-pop3-parse.c: unit tests for pop3_parse.h: command lines, message
 * numbers (TESTING.md item 17), arguments, and the RETR/TOP filter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "pop3/pop3_parse.h"

static int parse(const char *line, struct pop3_command *cmd)
{
	const char *error = NULL;
	int r = pop3_parse_command(line, strlen(line), cmd, &error);
	if (r < 0)
		assert_non_null(error);
	return r;
}

static void test_command_keywords(void **state)
{
	(void)state;
	struct pop3_command cmd;
	assert_int_equal(parse("STAT", &cmd), 0);
	assert_int_equal(cmd.verb, POP3_CMD_STAT);
	assert_false(cmd.has_args);
	/* RFC 1939 section 3: case-insensitive */
	assert_int_equal(parse("rEtR 1", &cmd), 0);
	assert_int_equal(cmd.verb, POP3_CMD_RETR);
	assert_true(cmd.has_args);
	assert_int_equal(cmd.args_len, 1);
	assert_memory_equal(cmd.args, "1", 1);
	assert_int_equal(parse("top 1 10", &cmd), 0);
	assert_int_equal(cmd.verb, POP3_CMD_TOP);
	assert_int_equal(cmd.args_len, 4);
	assert_int_equal(parse("PASS with spaces  inside", &cmd), 0);
	assert_int_equal(cmd.args_len, strlen("with spaces  inside"));

	assert_int_equal(parse("", &cmd), -1);
	assert_int_equal(parse("STATS", &cmd), -1);
	assert_int_equal(parse("ST", &cmd), -1);
	assert_int_equal(parse("XTND XMIT", &cmd), -1);
	assert_int_equal(parse(" STAT", &cmd), -1);
	assert_int_equal(parse("STAT ", &cmd), -1);
	assert_int_equal(parse("STAT\t", &cmd), -1);
	assert_int_equal(pop3_parse_command("ST\0T", 4, &cmd, &(const char *){0}), -1);
	assert_int_equal(pop3_parse_command("USER a\0b", 8, &cmd, &(const char *){0}), -1);
	assert_int_equal(parse("GET / HTTP/1.1", &cmd), -1);
	assert_int_equal(cmd.verb, POP3_CMD_HTTP);
}

static void test_msgnum(void **state)
{
	(void)state;
	unsigned n = 0;
	const char *error;
	assert_int_equal(pop3_parse_msgnum("1", 1, 3, &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pop3_parse_msgnum("3", 1, 3, &n, &error), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pop3_parse_msgnum("003", 3, 3, &n, &error), 0);
	assert_int_equal(n, 3);
	static const char *const bad[] = {
		"0", "4", "-1", "+1", " 1", "1 ", "1a", "0x1", "", "4294967297",
		"4294967296", "18446744073709551616", "99999999999999999999999",
		"1 2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		error = NULL;
		assert_int_equal(pop3_parse_msgnum(bad[i], strlen(bad[i]), 3, &n, &error), -1);
		assert_non_null(error);
	}
	/* an empty maildrop has no message 1 */
	assert_int_equal(pop3_parse_msgnum("1", 1, 0, &n, &error), -1);
	/* the largest count */
	assert_int_equal(pop3_parse_msgnum("4294967295", 10, 4294967295u, &n, &error), 0);
	assert_int_equal(n, 4294967295u);
}

static void test_split_and_top_lines(void **state)
{
	(void)state;
	const char *w[2], *error;
	size_t l[2];
	uint64_t lines;
	assert_int_equal(pop3_split_args("1 10", 4, 2, 2, w, l, &error), 2);
	assert_int_equal(l[0], 1);
	assert_int_equal(l[1], 2);
	assert_int_equal(pop3_split_args("1", 1, 2, 2, w, l, &error), -1);
	assert_int_equal(pop3_split_args("1  10", 5, 2, 2, w, l, &error), -1);
	assert_int_equal(pop3_split_args("1 10 ", 5, 2, 2, w, l, &error), -1);
	assert_int_equal(pop3_split_args("1 2 3", 5, 2, 2, w, l, &error), -1);
	assert_int_equal(pop3_split_args("", 0, 1, 2, w, l, &error), -1);
	assert_int_equal(pop3_split_args("PLAIN", 5, 1, 2, w, l, &error), 1);
	assert_int_equal(pop3_parse_top_lines("0", 1, &lines, &error), 0);
	assert_int_equal(lines, 0);
	assert_int_equal(pop3_parse_top_lines("18446744073709551615", 20, &lines, &error), 0);
	assert_int_equal(pop3_parse_top_lines("-1", 2, &lines, &error), -1);
	assert_int_equal(pop3_parse_top_lines("18446744073709551616", 20, &lines, &error), -1);
	assert_int_equal(pop3_parse_top_lines("", 0, &lines, &error), -1);
	assert_int_equal(pop3_parse_top_lines("1x", 2, &lines, &error), -1);
}

/* Run the filter over in, fed in pieces of `step` bytes. */
static char *filter(const char *in, size_t step, bool top, uint64_t lines)
{
	struct pop3_msg_filter f;
	str_t out = STR_INIT;
	pop3_msg_filter_init(&f, top, lines);
	size_t len = strlen(in);
	for (size_t pos = 0; pos < len; pos += step) {
		size_t n = len - pos < step ? len - pos : step;
		if (pop3_msg_filter_feed(&f, in + pos, n, &out))
			break;
	}
	pop3_msg_filter_finish(&f, &out);
	char *result = xstrdup(str_c(&out));
	str_free(&out);
	return result;
}

static void check_filter(const char *in, bool top, uint64_t lines, const char *expect)
{
	/* every split of the input gives the same bytes */
	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		char *got = filter(in, step, top, lines);
		assert_string_equal(got, expect);
		free(got);
	}
}

static void test_filter(void **state)
{
	(void)state;
	const char *msg = "Subject: x\r\nFrom: a\r\n\r\n.one\r\ntwo\r\n..\r\n.\r\nlast";
	/* RFC 1939 section 3: byte-stuff lines that start with '.' */
	check_filter(msg, false, 0,
		     "Subject: x\r\nFrom: a\r\n\r\n..one\r\ntwo\r\n...\r\n..\r\nlast\r\n");
	/* RFC 1939 section 7: TOP n sends the header, the blank line and n
	 * lines of the body */
	check_filter(msg, true, 0, "Subject: x\r\nFrom: a\r\n\r\n");
	check_filter(msg, true, 2, "Subject: x\r\nFrom: a\r\n\r\n..one\r\ntwo\r\n");
	check_filter(msg, true, 1000,
		     "Subject: x\r\nFrom: a\r\n\r\n..one\r\ntwo\r\n...\r\n..\r\nlast\r\n");
	/* bare LF and bare CR become CRLF */
	check_filter("A: b\n\n.x\ny", false, 0, "A: b\r\n\r\n..x\r\ny\r\n");
	check_filter("A: b\r\rx\r", false, 0, "A: b\r\n\r\nx\r\n");
	/* a header-only message; an empty one */
	check_filter("A: b\r\n", true, 5, "A: b\r\n");
	check_filter("", false, 0, "");
	check_filter(".", false, 0, "..\r\n");
}

int main(void)
{
	log_init("test-pop3-parse", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_keywords),
		cmocka_unit_test(test_msgnum),
		cmocka_unit_test(test_split_and_top_lines),
		cmocka_unit_test(test_filter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
