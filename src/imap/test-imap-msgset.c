/* test-imap-msgset.c: unit tests for imap_msgset.h: sequence and UID
 * sets against a map, "*" in empty and non-empty mailboxes (RFC 9051
 * 6.4.9, 9), out-of-range numbers, and the COPYUID uid-set form. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "imap/imap_msgset.h"

static const uint32_t map5[] = { 3, 4, 7, 20, 21 };

static uint32_t map_at(const void *ctx, unsigned seq)
{
	return ((const uint32_t *)ctx)[seq - 1];
}

/* resolve text against map[0..count): the UIDs as "a b c", or "ERR" */
static const char *run(const char *text, bool uid, const uint32_t *map, unsigned count)
{
	static char buf[256];
	struct imap_seqset set;
	const char *error = NULL;
	uint32_t *uids;
	unsigned n;
	assert_int_equal(imap_seqset_parse(text, strlen(text), 100, &set, &error), 0);
	pool_t *pool = pool_create(256);
	int r = imap_msgset_resolve(&set, uid, count, map_at, map, pool, &uids, &n, &error);
	imap_seqset_free(&set);
	buf[0] = '\0';
	if (r < 0) {
		assert_non_null(error);
		snprintf(buf, sizeof(buf), "ERR");
	} else {
		size_t len = 0;
		for (unsigned i = 0; i < n && len + 12 < sizeof(buf); i++)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%u",
						i > 0 ? " " : "", uids[i]);
	}
	pool_destroy(&pool);
	return buf;
}

static void test_msgset_seq(void **state)
{
	(void)state;
	assert_string_equal(run("1", false, map5, 5), "3");
	assert_string_equal(run("2:4", false, map5, 5), "4 7 20");
	assert_string_equal(run("*", false, map5, 5), "21");
	assert_string_equal(run("4:*", false, map5, 5), "20 21");
	assert_string_equal(run("*:4", false, map5, 5), "20 21");
	assert_string_equal(run("5,1,3", false, map5, 5), "3 7 21");
	assert_string_equal(run("1:*", false, map5, 5), "3 4 7 20 21");
	/* RFC 9051 9: past the mailbox, or "*" when it is empty: BAD */
	assert_string_equal(run("6", false, map5, 5), "ERR");
	assert_string_equal(run("1:6", false, map5, 5), "ERR");
	assert_string_equal(run("7:*", false, map5, 5), "ERR");
	assert_string_equal(run("*", false, map5, 0), "ERR");
	assert_string_equal(run("1", false, map5, 0), "ERR");
}

static void test_msgset_uid(void **state)
{
	(void)state;
	assert_string_equal(run("4", true, map5, 5), "4");
	assert_string_equal(run("5", true, map5, 5), "");        /* not there */
	assert_string_equal(run("1:10", true, map5, 5), "3 4 7");
	assert_string_equal(run("8:19", true, map5, 5), "");
	assert_string_equal(run("*", true, map5, 5), "21");
	assert_string_equal(run("7:*", true, map5, 5), "7 20 21");
	/* RFC 9051 6.4.9: 559:* always names the highest UID */
	assert_string_equal(run("559:*", true, map5, 5), "21");
	assert_string_equal(run("100:200", true, map5, 5), "");
	assert_string_equal(run("1:3,20,4000000000", true, map5, 5), "3 20");
	/* an empty mailbox: empty, not an error */
	assert_string_equal(run("*", true, map5, 0), "");
	assert_string_equal(run("1:*", true, map5, 0), "");
}

static void test_msgset_saved_refused(void **state)
{
	(void)state;
	assert_string_equal(run("$", true, map5, 5), "ERR");
}

static void test_msgset_large_map(void **state)
{
	(void)state;
	enum { N = 100000 };
	static uint32_t big[N];
	for (unsigned i = 0; i < N; i++)
		big[i] = 2 * i + 1; /* odd UIDs */
	assert_string_equal(run("99999:100003", true, big, N), "99999 100001 100003");
	assert_string_equal(run("*", false, big, N), "199999");
	assert_string_equal(run("100000", false, big, N), "199999");
}

static void test_msgset_uid_text(void **state)
{
	(void)state;
	const uint32_t a[] = { 1, 2, 3, 5, 7, 8 };
	str_t out = STR_INIT;
	imap_msgset_append_uids(&out, a, 6);
	assert_string_equal(str_c(&out), "1:3,5,7:8");
	str_clear(&out);
	imap_msgset_append_uids(&out, a + 3, 1);
	assert_string_equal(str_c(&out), "5");
	str_clear(&out);
	imap_msgset_append_uids(&out, a, 0);
	assert_string_equal(str_c(&out), "");
	str_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msgset_seq),
		cmocka_unit_test(test_msgset_uid),
		cmocka_unit_test(test_msgset_saved_refused),
		cmocka_unit_test(test_msgset_large_map),
		cmocka_unit_test(test_msgset_uid_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
