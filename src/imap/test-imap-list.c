/* test-imap-list.c: unit tests for imap_list_match.h: the RFC 3501
 * 6.3.8 / RFC 9051 6.3.9 examples, '%' against '*', INBOX in any case,
 * UTF-8 names (the matcher sees names after mUTF-7 decoding), the caps,
 * and bounded work for patterns full of '*'. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>

#include "imap/imap_list_match.h"

static bool m(const char *ref, const char *pattern, const char *name)
{
	str_t buf = STR_INIT;
	const char *error;
	assert_int_equal(imap_list_pattern_make(ref, strlen(ref), pattern, strlen(pattern),
						&buf, &error), 0);
	bool r = imap_list_match(buf.data != NULL ? buf.data : "", name);
	str_free(&buf);
	return r;
}

static void test_list_rfc_examples(void **state)
{
	(void)state;
	/* RFC 3501 6.3.8: "foo*" matches foo, foobar and foo/bar; "foo%"
	 * matches foo and foobar, not foo/bar */
	assert_true(m("", "foo*", "foo"));
	assert_true(m("", "foo*", "foobar"));
	assert_true(m("", "foo*", "foo/bar"));
	assert_true(m("", "foo%", "foo"));
	assert_true(m("", "foo%", "foobar"));
	assert_false(m("", "foo%", "foo/bar"));
	/* the reference goes before the pattern */
	assert_true(m("Mail/", "foo*", "Mail/foo/bar"));
	assert_false(m("Mail/", "foo*", "foo"));
	assert_true(m("", "*", "a/b/c"));
	assert_true(m("", "%", "a"));
	assert_false(m("", "%", "a/b"));
	assert_true(m("", "%/%", "a/b"));
	assert_false(m("", "%/%", "a/b/c"));
	assert_true(m("", "a/%", "a/b"));
	assert_true(m("", "", "") == true);
	assert_false(m("", "", "a"));
	assert_true(m("", "a%c", "abbc"));
	assert_false(m("", "a%c", "ab/c"));
	assert_true(m("", "a*c", "ab/c"));
	assert_true(m("", "%%", "ab"));
	assert_true(m("", "*%", "a/b"));
	assert_false(m("", "abc", "ab"));
	assert_false(m("", "ab", "abc"));
}

static void test_list_inbox_and_utf8(void **state)
{
	(void)state;
	/* RFC 9051 5.1: INBOX is case-insensitive, other names are not */
	assert_true(m("", "inbox", "INBOX"));
	assert_true(m("", "In%", "INBOX"));
	assert_false(m("", "sent", "Sent"));
	assert_false(m("", "inbox/a", "INBOX/a"));
	/* UTF-8 inside: "&AOQ-" from a rev1 client is decoded before this */
	assert_true(m("", "K\xc3\xa4se*", "K\xc3\xa4se/alt"));
	assert_true(m("", "K%se", "K\xc3\xa4se"));
	assert_false(m("", "K?se", "K\xc3\xa4se"));
}

static void test_list_caps_and_bounded_work(void **state)
{
	(void)state;
	str_t buf = STR_INIT;
	const char *error = NULL;
	char pat[IMAP_LIST_PATTERN_MAX + 2];
	memset(pat, 'a', sizeof(pat) - 1);
	pat[sizeof(pat) - 1] = '\0';
	assert_int_equal(imap_list_pattern_make("", 0, pat, strlen(pat), &buf, &error), -1);
	assert_non_null(error);
	/* too many wildcards: '%' are counted one by one */
	char wild[IMAP_LIST_WILDCARDS_MAX * 2 + 3];
	for (size_t i = 0; i + 1 < sizeof(wild); i++)
		wild[i] = i % 2 == 0 ? '%' : 'a';
	wild[sizeof(wild) - 1] = '\0';
	assert_int_equal(imap_list_pattern_make("", 0, wild, strlen(wild), &buf, &error), -1);
	/* a run of '*' is one wildcard */
	memset(pat, '*', 300);
	pat[300] = '\0';
	assert_int_equal(imap_list_pattern_make("", 0, pat, 300, &buf, &error), 0);
	assert_int_equal(buf.len, 1);
	/* the worst case allowed: "*a*a*a...*b" against a long run of 'a':
	 * a backtracking matcher takes ages, this one a few ms */
	str_clear(&buf);
	for (unsigned i = 0; i < IMAP_LIST_WILDCARDS_MAX - 1; i++)
		str_appendz(&buf, "*a");
	str_appendz(&buf, "*b");
	char name[256];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < 100; i++)
		assert_false(imap_list_match(buf.data, name));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	assert_true(ms < 2000.0);
	name[sizeof(name) - 2] = 'b';
	assert_true(imap_list_match(buf.data, name));
	/* a name over the cap never matches */
	char big[IMAP_LIST_NAME_MAX + 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_false(imap_list_match("*", big));
	assert_true(imap_list_has_wildcard("a%"));
	assert_false(imap_list_has_wildcard("a/b"));
	str_free(&buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_rfc_examples),
		cmocka_unit_test(test_list_inbox_and_utf8),
		cmocka_unit_test(test_list_caps_and_bounded_work),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
