/* test-imap-condstore-parse.c: unit tests for imap_condstore_parse.h:
 * the RFC 7162 parameters of FETCH (CHANGEDSINCE, VANISHED), STORE
 * (UNCHANGEDSINCE), SELECT (CONDSTORE, QRESYNC with known UIDs and
 * seq-match) and SEARCH MODSEQ, with the RFC's examples and the bad
 * forms each must refuse. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "imap/imap_condstore_parse.h"
#include "imap/imap_parser.h"

static const struct imap_parser_limits limits = {
	.max_args = 64, .max_depth = 8, .max_command_size = 65536,
	.literal = { .max_size = 1000, .max_nonsync = 100 },
};

static struct imap_parser *parser;

/* the command's arguments; args[first] is the parameter list */
static const struct imap_command *parse(const char *line)
{
	struct imap_literal_need need;
	const char *error = NULL;
	imap_parser_destroy(&parser);
	parser = imap_parser_create(&limits);
	assert_int_equal(imap_parser_feed_line(parser, line, strlen(line), &need, &error), 0);
	return imap_parser_command(parser);
}

static int fetch_mods(const char *line, struct imap_fetch_modifiers *m)
{
	const struct imap_command *cmd = parse(line);
	const char *error = NULL;
	/* "a FETCH set items (mods)": the modifiers are the last argument */
	unsigned i = 0;
	for (unsigned k = 0; k < cmd->count; k = imap_arg_next(cmd->args, k))
		i = k;
	int r = imap_condstore_fetch_modifiers(cmd->args, i, cmd->count, m, &error);
	if (r < 0)
		assert_non_null(error);
	return r;
}

static void test_fetch_modifiers(void **state)
{
	(void)state;
	struct imap_fetch_modifiers m;
	/* RFC 7162 3.1.4.1 example */
	assert_int_equal(fetch_mods("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)", &m), 0);
	assert_true(m.changedsince == 12345 && !m.vanished);
	/* 3.2.6 example */
	assert_int_equal(fetch_mods("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 "
				    "VANISHED)", &m), 0);
	assert_true(m.changedsince == 12345 && m.vanished);
	assert_int_equal(fetch_mods("a UID FETCH 1 FLAGS (VANISHED CHANGEDSINCE 9)", &m), 0);
	assert_true(m.changedsince == 9 && m.vanished);
	/* refused: CHANGEDSINCE 0 (mod-sequence-value), too large, missing,
	 * twice, VANISHED alone, unknown, empty, nested */
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE 0)", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)", &m),
			 -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775807)", &m),
			 0);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE)", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE 1 CHANGEDSINCE 2)", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (VANISHED)", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE 5 VANISHED VANISHED)", &m),
			 -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (FOO 5)", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS ()", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE (5))", &m), -1);
	assert_int_equal(fetch_mods("a FETCH 1 FLAGS (CHANGEDSINCE -5)", &m), -1);
}

static int store_mods(const char *line, uint64_t *v, bool *has)
{
	const struct imap_command *cmd = parse(line);
	const char *error = NULL;
	return imap_condstore_store_modifiers(cmd->args, 1, cmd->count, v, has, &error);
}

static void test_store_modifiers(void **state)
{
	(void)state;
	uint64_t v;
	bool has;
	/* RFC 7162 3.1.3 examples; UNCHANGEDSINCE takes 0 (valzer) */
	assert_int_equal(store_mods("a STORE 1 (UNCHANGEDSINCE 12121230045) +FLAGS (\\Seen)",
				    &v, &has), 0);
	assert_true(has && v == 12121230045ull);
	assert_int_equal(store_mods("a STORE 1 (UNCHANGEDSINCE 0) FLAGS ()", &v, &has), 0);
	assert_true(has && v == 0);
	assert_int_equal(store_mods("a STORE 1 () FLAGS ()", &v, &has), 0);
	assert_false(has);
	assert_int_equal(store_mods("a STORE 1 (UNCHANGEDSINCE) FLAGS ()", &v, &has), -1);
	assert_int_equal(store_mods("a STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()",
				    &v, &has), -1);
	assert_int_equal(store_mods("a STORE 1 (CHANGEDSINCE 1) FLAGS ()", &v, &has), -1);
	assert_int_equal(store_mods("a STORE 1 (UNCHANGEDSINCE x) FLAGS ()", &v, &has), -1);
	assert_int_equal(store_mods("a STORE 1 FLAGS ()", &v, &has), -1);
}

static int select_params(const char *line, struct imap_qresync_params *p)
{
	const struct imap_command *cmd = parse(line);
	const char *error = NULL;
	int r = imap_qresync_params_parse(cmd->args, 1, cmd->count, 100, p, &error);
	if (r < 0) {
		assert_non_null(error);
		assert_null(p->known_uids.ranges);
		assert_null(p->match_seqs.ranges);
		assert_null(p->match_uids.ranges);
	}
	return r;
}

static void test_select_params(void **state)
{
	(void)state;
	struct imap_qresync_params p;
	assert_int_equal(select_params("a SELECT INBOX (CONDSTORE)", &p), 0);
	assert_true(p.condstore && !p.qresync);
	imap_qresync_params_free(&p);
	/* RFC 7162 3.2.5.1 examples */
	assert_int_equal(select_params("A02 SELECT INBOX (QRESYNC (67890007 "
				       "20050715194045000 41,43:211,214:541))", &p), 0);
	assert_true(p.condstore && p.qresync && p.has_known_uids && !p.has_seq_match);
	assert_int_equal(p.uidvalidity, 67890007);
	assert_true(p.modseq == 20050715194045000ull);
	assert_true(imap_seqset_contains(&p.known_uids, 43));
	assert_false(imap_seqset_contains(&p.known_uids, 42));
	imap_qresync_params_free(&p);
	assert_int_equal(select_params("B04 SELECT INBOX (QRESYNC (67890007 "
				       "90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
				       "15000,22500,27000,29970,29973,29976,29979,29982,29985,"
				       "29988,29991,29994,29997)))", &p), 0);
	assert_true(p.has_known_uids && p.has_seq_match);
	assert_true(imap_seqset_contains(&p.match_uids, 29997));
	imap_qresync_params_free(&p);
	assert_int_equal(select_params("a SELECT INBOX (QRESYNC (1 2 1:9 (2:2,5 4,7)))", &p), 0);
	assert_true(p.has_seq_match);
	imap_qresync_params_free(&p);
	assert_int_equal(select_params("a SELECT INBOX (QRESYNC (1 2))", &p), 0);
	assert_false(p.has_known_uids);
	imap_qresync_params_free(&p);
	assert_int_equal(select_params("a SELECT INBOX (CONDSTORE QRESYNC (1 2 1:5))", &p), 0);
	imap_qresync_params_free(&p);
	/* refused */
	static const char *const bad[] = {
		"a SELECT INBOX ()", "a SELECT INBOX (FOO)", "a SELECT INBOX (QRESYNC)",
		"a SELECT INBOX (QRESYNC ())", "a SELECT INBOX (QRESYNC (0 5))",
		"a SELECT INBOX (QRESYNC (1 0))", "a SELECT INBOX (QRESYNC (1))",
		"a SELECT INBOX (QRESYNC (1 5 1:*))", "a SELECT INBOX (QRESYNC (1 5 $))",
		"a SELECT INBOX (QRESYNC (1 5 1:5 (1:3 4:5)))",
		"a SELECT INBOX (QRESYNC (1 5 1:5 (1:3)))",
		"a SELECT INBOX (QRESYNC (1 5 1:5 (1 2) x))",
		"a SELECT INBOX (QRESYNC (1 5 1:5) QRESYNC (1 5))",
		"a SELECT INBOX (CONDSTORE CONDSTORE)",
		"a SELECT INBOX (QRESYNC (4294967296 5))",
		"a SELECT INBOX (QRESYNC (1 5 1:5 (1,2 3:4 5)))",
		/* RFC 7162 7: the seq-match sets ascend (pairs go by position) */
		"a SELECT INBOX (QRESYNC (1 5 1:9 (3,1 4,8)))",
		"a SELECT INBOX (QRESYNC (1 5 1:9 (1,3 8,4)))",
		"a SELECT INBOX (QRESYNC (1 5 1:9 (1,1 4,4)))",
		"a SELECT INBOX (QRESYNC (1 5 1:9 (1:3 6:4)))",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		if (select_params(bad[i], &p) == 0)
			fail_msg("accepted: %s", bad[i]);
	}
	/* a set over the range cap */
	assert_int_equal(select_params("a SELECT INBOX (QRESYNC (1 5 1,3,5,7,9,11,13,15,17,19,21,"
		"23,25,27,29,31,33,35,37,39,41,43,45,47,49,51,53,55,57,59,61,63,65,67,69,71,73,"
		"75,77,79,81,83,85,87,89,91,93,95,97,99,101,103,105,107,109,111,113,115,117,119,"
		"121,123,125,127,129,131,133,135,137,139,141,143,145,147,149,151,153,155,157,159,"
		"161,163,165,167,169,171,173,175,177,179,181,183,185,187,189,191,193,195,197,199,"
		"201,203))", &p), -1);
}

static int search_modseq(const char *line, uint64_t *v, unsigned *used)
{
	const struct imap_command *cmd = parse(line);
	const char *error = NULL;
	/* "a SEARCH MODSEQ ...": the value starts at args[1] */
	return imap_condstore_search_modseq(cmd->args, 1, cmd->count, v, used, &error);
}

static void test_search_modseq(void **state)
{
	(void)state;
	uint64_t v;
	unsigned used;
	/* RFC 7162 3.1.5 examples */
	assert_int_equal(search_modseq("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338",
				       &v, &used), 0);
	assert_true(v == 620162338 && used == 3);
	assert_int_equal(search_modseq("a SEARCH MODSEQ 0", &v, &used), 0);
	assert_true(v == 0 && used == 1);
	assert_int_equal(search_modseq("a SEARCH MODSEQ \"/flags/$x\" priv 5", &v, &used), 0);
	assert_int_equal(search_modseq("a SEARCH MODSEQ \"/flags/$x\" none 5", &v, &used), -1);
	assert_int_equal(search_modseq("a SEARCH MODSEQ \"/other/x\" all 5", &v, &used), -1);
	assert_int_equal(search_modseq("a SEARCH MODSEQ \"/flags/\" all 5", &v, &used), -1);
	assert_int_equal(search_modseq("a SEARCH MODSEQ \"/flags/x\" all", &v, &used), -1);
	assert_int_equal(search_modseq("a SEARCH MODSEQ", &v, &used), -1);
	assert_int_equal(search_modseq("a SEARCH MODSEQ x", &v, &used), -1);
}

static int teardown(void **state)
{
	(void)state;
	imap_parser_destroy(&parser);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_fetch_modifiers, teardown),
		cmocka_unit_test_teardown(test_store_modifiers, teardown),
		cmocka_unit_test_teardown(test_select_params, teardown),
		cmocka_unit_test_teardown(test_search_modseq, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
