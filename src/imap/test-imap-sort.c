/* test-imap-sort.c: SORT and THREAD programs (imap_sort.h): criteria,
 * REVERSE, RETURN, charsets (BADCHARSET), search keys; the sent date
 * parser; sort records from raw headers (base subject, addr-mailbox,
 * RFC 5957 display names, Message-ID/References/In-Reply-To) and the
 * comparison with its sequence-number tie break. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_sort.h"

static const struct imap_parser_limits plimits = {
	.max_args = 100, .max_depth = 10, .max_command_size = 4096,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 10, .max_nodes = 20, .max_ranges = 10,
};

/* parse "a SORT|THREAD <text>": 0, -1 (failure in *failure_r) */
static int parse(const char *text, bool thread, struct imap_sort_program *prog,
		 enum imap_search_failure *failure_r)
{
	char line[512];
	snprintf(line, sizeof(line), "a %s%s%s", thread ? "THREAD" : "SORT", *text ? " " : "", text);
	struct imap_parser *p = imap_parser_create(&plimits);
	struct imap_literal_need need;
	const char *error;
	assert_int_equal(imap_parser_feed_line(p, line, strlen(line), &need, &error), 0);
	const struct imap_command *cmd = imap_parser_command(p);
	int ret = imap_sort_parse(cmd->args, 0, cmd->count, thread, &slimits, prog, &error);
	if (ret < 0) {
		assert_non_null(error);
		*failure_r = prog->search.failure;
	}
	imap_parser_destroy(&p);
	return ret;
}

static void test_parse(void **state)
{
	(void)state;
	struct imap_sort_program prog;
	enum imap_search_failure f;
	assert_int_equal(parse("(REVERSE DATE subject DISPLAYFROM) UTF-8 ALL", false, &prog, &f), 0);
	assert_int_equal(prog.key_count, 3);
	assert_int_equal(prog.keys[0], IMAP_SORT_DATE);
	assert_true(prog.reverse[0]);
	assert_int_equal(prog.keys[1], IMAP_SORT_SUBJECT);
	assert_false(prog.reverse[1]);
	assert_int_equal(prog.keys[2], IMAP_SORT_DISPLAYFROM);
	assert_false(prog.search.has_return);
	assert_true(imap_sort_needs_header(&prog));
	imap_sort_program_free(&prog);

	assert_int_equal(parse("RETURN (MIN COUNT) (ARRIVAL SIZE) US-ASCII UNSEEN 1:5", false,
			       &prog, &f), 0);
	assert_true(prog.search.has_return);
	assert_int_equal(prog.search.return_opts, IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_COUNT);
	assert_false(imap_sort_needs_header(&prog));
	imap_sort_program_free(&prog);
	assert_int_equal(parse("RETURN () (CC TO FROM) UTF-8 ALL", false, &prog, &f), 0);
	assert_int_equal(prog.search.return_opts, IMAP_SEARCH_RETURN_ALL);
	imap_sort_program_free(&prog);

	assert_int_equal(parse("REFERENCES UTF-8 SUBJECT x", true, &prog, &f), 0);
	assert_int_equal(prog.algorithm, IMAP_THREAD_REFERENCES);
	imap_sort_program_free(&prog);
	assert_int_equal(parse("orderedsubject us-ascii ALL", true, &prog, &f), 0);
	assert_int_equal(prog.algorithm, IMAP_THREAD_ORDEREDSUBJECT);
	imap_sort_program_free(&prog);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const char *const bad_sort[] = {
		"", "DATE UTF-8 ALL", "() UTF-8 ALL", "(DATE) UTF-8", "(DATE)", "(REVERSE) UTF-8 ALL",
		"(REVERSE REVERSE DATE) UTF-8 ALL", "(NAME) UTF-8 ALL", "RETURN (FOO) (DATE) UTF-8 ALL",
		"RETURN (DATE) UTF-8 ALL", "(DATE) UTF-8 RETURN (MIN) ALL", "(DATE) UTF-8 FROBNICATE",
		"(DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE DATE)"
		" UTF-8 ALL",
	};
	struct imap_sort_program prog;
	enum imap_search_failure f;
	for (size_t i = 0; i < sizeof(bad_sort) / sizeof(bad_sort[0]); i++) {
		if (parse(bad_sort[i], false, &prog, &f) != -1 || f != IMAP_SEARCH_FAIL_BAD)
			fail_msg("accepted or wrong failure: %s", bad_sort[i]);
		assert_null(prog.search.nodes);
	}
	static const char *const bad_thread[] = { "", "UTF-8 ALL", "JWZ UTF-8 ALL", "REFERENCES",
						  "REFERENCES UTF-8" };
	for (size_t i = 0; i < sizeof(bad_thread) / sizeof(bad_thread[0]); i++) {
		if (parse(bad_thread[i], true, &prog, &f) != -1 || f != IMAP_SEARCH_FAIL_BAD)
			fail_msg("accepted or wrong failure: %s", bad_thread[i]);
	}
	/* RFC 5256 3: NO [BADCHARSET] for a charset not supported */
	assert_int_equal(parse("(DATE) KOI8-R ALL", false, &prog, &f), -1);
	assert_int_equal(f, IMAP_SEARCH_FAIL_BADCHARSET);
	assert_int_equal(parse("REFERENCES ISO-8859-1 ALL", true, &prog, &f), -1);
	assert_int_equal(f, IMAP_SEARCH_FAIL_BADCHARSET);
}

static int64_t date_of(const char *s)
{
	int64_t t = -1;
	if (!imap_sort_parse_date(s, strlen(s), &t))
		return -1;
	return t;
}

static void test_dates(void **state)
{
	(void)state;
	assert_int_equal(date_of("Thu, 13 Feb 1969 23:32:54 -0330"), -27723426);
	assert_int_equal(date_of("1 Jan 2000 00:00:00 +0000"), 946684800);
	assert_int_equal(date_of("Sat, 1 Jan 2000 01:00 +0100"), 946684800);
	assert_int_equal(date_of("1 Jan 00 00:00:00 GMT"), 946684800);
	assert_int_equal(date_of("31 Dec 99 19:00:00 EST"), 946684800);
	assert_int_equal(date_of("  Sat,  1  jan  2000  00:00:00  "), 946684800);
	assert_int_equal(date_of("1 Jan 2000 00:00:00 (comment) +0000"), 946684800);
	assert_int_equal(date_of(""), -1);
	assert_int_equal(date_of("yesterday"), -1);
	assert_int_equal(date_of("Sat 1 Jan 2000 00:00:00 +0000"), -1);
	assert_int_equal(date_of("1 Foo 2000 00:00:00 +0000"), -1);
	assert_int_equal(date_of("32 Jan 2000 00:00:00 +0000"), -1);
	assert_int_equal(date_of("1 Jan 2000 24:00:00 +0000"), -1);
	assert_int_equal(date_of("1 Jan 2000"), -1);
}

static const char hdr1[] =
	"From: \"Zed Zulu\" <alice@a.example>\r\n"
	"To: undisclosed:;, Bob <BOB@b.example>\r\n"
	"Subject: =?utf-8?q?Re=3A_=C3=84pfel?= (fwd)\r\n"
	"Date: Sat, 1 Jan 2000 01:00:00 +0100\r\n"
	"Message-ID: <m1@a.example>\r\n"
	"References: <r1@x> junk <bad> <r2@x>\r\n"
	"In-Reply-To: <irt@x>\r\n"
	"Subject: second ignored\r\n";
static const char hdr2[] =
	"from: carol@c.example\r\n"
	"cc: Dave <dave@d.example>\r\n"
	"subject: \xc3\xa4pfel\r\n"
	"date: not a date\r\n"
	"message-id: no brackets\r\n"
	"in-reply-to: The message <irt1@x> and <irt2@x>\r\n";

static void test_fill_and_compare(void **state)
{
	(void)state;
	struct imap_sort_program prog;
	enum imap_search_failure f;
	assert_int_equal(parse("(SUBJECT FROM TO CC DISPLAYFROM DISPLAYTO) UTF-8 ALL", false, &prog,
			       &f), 0);
	prog.thread = true;
	prog.algorithm = IMAP_THREAD_REFERENCES;
	pool_t *pool = pool_create(1024);
	struct imap_sort_msg m[3] = {
		{ .uid = 10, .seq = 1, .arrival = 5 }, { .uid = 11, .seq = 2, .arrival = 6 },
		{ .uid = 12, .seq = 3, .arrival = 7 },
	};
	imap_sort_msg_fill(&prog, hdr1, strlen(hdr1), pool, &m[0]);
	imap_sort_msg_fill(&prog, hdr2, strlen(hdr2), pool, &m[1]);
	imap_sort_msg_fill(&prog, NULL, 0, pool, &m[2]);
	/* base subject, folded: "äpfel" for both */
	assert_string_equal(m[0].subject, "\xc3\xa4pfel");
	assert_true(m[0].reply);
	assert_string_equal(m[1].subject, "\xc3\xa4pfel");
	assert_false(m[1].reply);
	assert_string_equal(m[0].from, "alice");
	assert_string_equal(m[0].to, "bob");       /* the group marker is skipped */
	assert_string_equal(m[0].dfrom, "zed zulu");
	assert_string_equal(m[0].dto, "bob");
	assert_string_equal(m[1].dfrom, "carol@c.example");
	assert_string_equal(m[1].cc, "dave");
	assert_string_equal(m[1].to, "");
	assert_int_equal(m[0].date, 946684800);
	assert_int_equal(m[1].date, 6);              /* unparseable: INTERNALDATE */
	assert_int_equal(m[2].date, 7);
	assert_string_equal(m[0].ids.message_id, "m1@a.example");
	assert_int_equal(m[0].ids.count, 2);
	assert_string_equal(m[0].ids.refs[0], "r1@x");
	assert_string_equal(m[0].ids.refs[1], "r2@x");
	assert_null(m[1].ids.message_id);
	assert_int_equal(m[1].ids.count, 1);         /* In-Reply-To's first */
	assert_string_equal(m[1].ids.refs[0], "irt1@x");
	assert_string_equal(m[2].subject, "");
	assert_int_equal(m[2].ids.count, 0);

	/* SUBJECT ties between 1 and 2, FROM decides: "alice" < "carol";
	 * the empty subject of 3 sorts first */
	imap_sort_messages(&prog, m, 3);
	assert_int_equal(m[0].uid, 12);
	assert_int_equal(m[1].uid, 10);
	assert_int_equal(m[2].uid, 11);
	/* REVERSE applies to its key only; equal records keep seq order */
	prog.keys[0] = IMAP_SORT_SUBJECT;
	prog.reverse[0] = true;
	prog.key_count = 1;
	imap_sort_messages(&prog, m, 3);
	assert_int_equal(m[0].uid, 10);
	assert_int_equal(m[1].uid, 11);
	assert_int_equal(m[2].uid, 12);
	struct imap_thread_msg *t = imap_sort_thread_input(m, 3, true, pool);
	assert_int_equal(t[0].id, 10);
	assert_int_equal(t[0].ids.count, 2);
	imap_sort_program_free(&prog);
	pool_destroy(&pool);
}

static void test_many_references(void **state)
{
	(void)state;
	struct imap_sort_program prog;
	enum imap_search_failure f;
	assert_int_equal(parse("REFERENCES UTF-8 ALL", true, &prog, &f), 0);
	str_t h = STR_INIT;
	str_appendz(&h, "References:");
	for (unsigned i = 0; i < 250; i++)
		str_printf(&h, " <%u@x>", i);
	str_appendz(&h, "\r\n");
	pool_t *pool = pool_create(1024);
	struct imap_sort_msg m = { .uid = 1, .seq = 1 };
	imap_sort_msg_fill(&prog, h.data, h.len, pool, &m);
	/* the root and the last MIME_REFERENCES_MAX - 1, oldest first */
	assert_int_equal(m.ids.count, MIME_REFERENCES_MAX);
	assert_string_equal(m.ids.refs[0], "0@x");
	assert_string_equal(m.ids.refs[1], "151@x");
	assert_string_equal(m.ids.refs[MIME_REFERENCES_MAX - 1], "249@x");
	str_free(&h);
	pool_destroy(&pool);
	imap_sort_program_free(&prog);
}

/* imap_sort_cache.c: a record gives back every key the cache program
 * filled, negative dates too; anything that is not a whole record of
 * this version is refused and leaves the message as it was */
static void test_cache_record(void **state)
{
	(void)state;
	pool_t *pool = pool_create(1024);
	struct imap_sort_msg m = { .uid = 10, .seq = 1, .arrival = 5 };
	imap_sort_msg_fill(&imap_sort_cache_program, hdr1, strlen(hdr1), pool, &m);
	assert_true(imap_sort_cache_covers(&imap_sort_cache_program));
	str_t rec = STR_INIT;
	imap_sort_cache_encode(&m, &rec);
	struct imap_sort_msg d = { .uid = 10, .seq = 1, .arrival = 5 };
	assert_true(imap_sort_cache_decode(rec.data, rec.len, &d));
	assert_string_equal(d.subject, "\xc3\xa4pfel");
	assert_true(d.reply);
	assert_string_equal(d.from, "alice");
	assert_string_equal(d.to, "bob");
	assert_string_equal(d.cc, m.cc);
	assert_string_equal(d.dfrom, "zed zulu");
	assert_string_equal(d.dto, "bob");
	assert_int_equal(d.date, 946684800);

	struct imap_sort_msg n = { .uid = 11, .seq = 2, .date = -2208988800LL };
	n.subject = n.from = n.to = n.cc = n.dfrom = n.dto = "";
	imap_sort_cache_encode(&n, &rec);
	assert_true(imap_sort_cache_decode(rec.data, rec.len, &d));
	assert_int_equal(d.date, -2208988800LL);
	assert_false(d.reply);
	assert_string_equal(d.subject, "");

	imap_sort_cache_encode(&m, &rec);
	struct imap_sort_msg untouched = { .uid = 99 };
	d = untouched;
	for (size_t len = 0; len < rec.len; len++)     /* every truncation */
		assert_false(imap_sort_cache_decode(rec.data, len, &d));
	str_t bad = STR_INIT;
	str_append(&bad, rec.data, rec.len);
	str_appendc(&bad, 'x');                         /* trailing octets */
	assert_false(imap_sort_cache_decode(bad.data, bad.len, &d));
	bad.data[0] = 2;                                /* another version */
	assert_false(imap_sort_cache_decode(bad.data, bad.len - 1, &d));
	bad.data[0] = 1;
	bad.data[10] = (char)0xff;                      /* a length past the end */
	assert_false(imap_sort_cache_decode(bad.data, bad.len - 1, &d));
	bad.data[10] = rec.data[10];
	bad.data[14] = '\0';                           /* a NUL inside a string */
	assert_false(imap_sort_cache_decode(bad.data, bad.len - 1, &d));
	assert_int_equal(d.uid, 99);
	assert_null(d.subject);
	assert_false(imap_sort_cache_decode(NULL, 0, &d));
	/* THREAD=REFERENCES needs the Message-IDs: not from records */
	struct imap_sort_program refs = { .thread = true, .algorithm = IMAP_THREAD_REFERENCES };
	assert_false(imap_sort_cache_covers(&refs));
	refs.algorithm = IMAP_THREAD_ORDEREDSUBJECT;
	assert_true(imap_sort_cache_covers(&refs));
	str_free(&bad);
	str_free(&rec);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_fill_and_compare),
		cmocka_unit_test(test_many_references),
		cmocka_unit_test(test_cache_record),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
