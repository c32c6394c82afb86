/* test-imap-search-render.c: unit tests for imap_search_render.h: the
 * rev1 "* SEARCH" line, ESEARCH (RFC 4731) with MIN/MAX/COUNT/ALL and
 * sequence-set compression, rev2's default RETURN (ALL), RETURN (SAVE)
 * alone answering nothing, and what RFC 5182 SAVE keeps as "$". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_search_render.h"

static const struct imap_parser_limits plimits = {
	.max_args = 100, .max_depth = 10, .max_command_size = 4096,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 10, .max_nodes = 20, .max_ranges = 10,
};

struct fixture {
	struct imap_parser *parser;
	struct imap_search_program prog;
	pool_t *pool;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	f->parser = imap_parser_create(&plimits);
	f->pool = pool_create(1024);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	imap_search_program_free(&f->prog);
	imap_parser_destroy(&f->parser);
	pool_destroy(&f->pool);
	free(f);
	return 0;
}

static void parse(struct fixture *f, const char *program)
{
	char line[512];
	const char *error;
	struct imap_literal_need need;
	int len = snprintf(line, sizeof(line), "a SEARCH %s", program);
	imap_search_program_free(&f->prog);
	imap_parser_reset(f->parser);
	assert_int_equal(imap_parser_feed_line(f->parser, line, (size_t)len, &need, &error), 0);
	const struct imap_command *cmd = imap_parser_command(f->parser);
	assert_int_equal(imap_search_parse(cmd->args, 0, cmd->count, &slimits,
					   &f->prog, &error), 0);
}

static const char *render(struct fixture *f, const char *program, bool uid,
			  bool rev2, const uint32_t *nums, unsigned count)
{
	str_t s = STR_INIT;
	parse(f, program);
	imap_search_render(&s, &f->prog, "A1", uid, rev2, nums, count);
	char *out = pool_strdup(f->pool, str_c(&s));
	str_free(&s);
	return out;
}

static void test_render(void **state)
{
	struct fixture *f = *state;
	static const uint32_t n[] = { 1, 2, 3, 5, 7, 8 };
	assert_string_equal(render(f, "ALL", false, false, n, 6), "* SEARCH 1 2 3 5 7 8\r\n");
	assert_string_equal(render(f, "ALL", false, false, n, 0), "* SEARCH\r\n");
	assert_string_equal(render(f, "ALL", true, true, n, 6),
			    "* ESEARCH (TAG \"A1\") UID ALL 1:3,5,7:8\r\n");
	assert_string_equal(render(f, "ALL", false, true, n, 0), "* ESEARCH (TAG \"A1\")\r\n");
	assert_string_equal(render(f, "RETURN (MIN MAX COUNT) ALL", false, false, n, 6),
			    "* ESEARCH (TAG \"A1\") MIN 1 MAX 8 COUNT 6\r\n");
	assert_string_equal(render(f, "RETURN (MIN MAX COUNT ALL) ALL", true, false, n, 0),
			    "* ESEARCH (TAG \"A1\") UID COUNT 0\r\n");
	assert_string_equal(render(f, "RETURN () ALL", false, false, n + 3, 1),
			    "* ESEARCH (TAG \"A1\") ALL 5\r\n");
	assert_string_equal(render(f, "RETURN (SAVE) ALL", false, true, n, 6), "");

	uint32_t *saved;
	unsigned count;
	parse(f, "RETURN (SAVE MIN) ALL");
	imap_search_saved_result(&f->prog, n, 6, f->pool, &saved, &count);
	assert_int_equal(count, 1);
	assert_int_equal(saved[0], 1);
	parse(f, "RETURN (SAVE MIN MAX) ALL");
	imap_search_saved_result(&f->prog, n, 6, f->pool, &saved, &count);
	assert_int_equal(count, 2);
	assert_int_equal(saved[1], 8);
	imap_search_saved_result(&f->prog, n, 1, f->pool, &saved, &count);
	assert_int_equal(count, 1);
	parse(f, "RETURN (SAVE MIN COUNT) ALL");
	imap_search_saved_result(&f->prog, n, 6, f->pool, &saved, &count);
	assert_int_equal(count, 6);
	assert_int_equal(saved[5], 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_render, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
