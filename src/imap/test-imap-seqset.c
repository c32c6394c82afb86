/* test-imap-seqset.c: unit tests for imap_seqset.h: RFC 9051 examples,
 * "$", number bounds, and huge sets (TESTING.md item 14). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "imap/imap_seqset.h"

static int parse(const char *s, struct imap_seqset *set)
{
	const char *error = NULL;
	int r = imap_seqset_parse(s, strlen(s), 1000, set, &error);
	if (r < 0)
		assert_non_null(error);
	return r;
}

static void test_seqset_forms(void **state)
{
	(void)state;
	struct imap_seqset set;
	assert_int_equal(parse("1,3:4,7", &set), 0);
	assert_int_equal(set.count, 3);
	assert_int_equal(imap_seqset_count(&set), 4);
	assert_true(imap_seqset_contains(&set, 3));
	assert_false(imap_seqset_contains(&set, 5));
	imap_seqset_free(&set);
	/* merged and sorted: 4:3 is 3:4, adjacent ranges join */
	assert_int_equal(parse("7,4:3,5,1:2", &set), 0);
	assert_int_equal(set.count, 2);
	assert_int_equal(set.ranges[1].lo, 7);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, 5);
	imap_seqset_free(&set);
	assert_int_equal(parse("1:*", &set), 0);
	assert_true(set.has_star);
	imap_seqset_resolve(&set, 10);
	assert_int_equal(imap_seqset_count(&set), 10);
	imap_seqset_free(&set);
	/* RFC 9051 9: "*:4" with 3 messages is 3:4, i.e. message 3 */
	assert_int_equal(parse("*:4", &set), 0);
	imap_seqset_resolve(&set, 3);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.ranges[0].lo, 3);
	assert_int_equal(set.ranges[0].hi, 3);
	imap_seqset_free(&set);
	assert_int_equal(parse("*", &set), 0);
	imap_seqset_resolve(&set, 0);
	assert_int_equal(set.count, 0);
	imap_seqset_free(&set);
	assert_int_equal(parse("$", &set), 0);
	assert_true(set.saved);
	imap_seqset_free(&set);
	assert_int_equal(parse("1:4294967295", &set), 0);
	imap_seqset_free(&set);

	assert_int_equal(parse("4294967296", &set), -1);
	assert_int_equal(parse("1:99999999999999999999", &set), -1);
	assert_int_equal(parse("0", &set), -1);
	assert_int_equal(parse("01", &set), -1);
	assert_int_equal(parse("", &set), -1);
	assert_int_equal(parse("1,", &set), -1);
	assert_int_equal(parse(",1", &set), -1);
	assert_int_equal(parse("1::2", &set), -1);
	assert_int_equal(parse("1:2:3", &set), -1);
	assert_int_equal(parse("$,1", &set), -1);
	assert_int_equal(parse("-1", &set), -1);
}

static void test_seqset_iter(void **state)
{
	(void)state;
	struct imap_seqset set;
	assert_int_equal(parse("2,5:6,4294967295", &set), 0);
	struct imap_seqset_iter it;
	uint32_t n, got[8];
	unsigned k = 0;
	imap_seqset_iter_init(&it, &set);
	while (k < 8 && imap_seqset_iter_next(&it, &n))
		got[k++] = n;
	assert_int_equal(k, 4);
	assert_int_equal(got[0], 2);
	assert_int_equal(got[2], 6);
	assert_int_equal(got[3], 4294967295u);
	imap_seqset_free(&set);
}

static void test_seqset_huge(void **state)
{
	(void)state;
	/* TESTING.md item 14: a 1 MB set is refused in bounded work */
	size_t len = 1 << 20;
	char *s = malloc(len + 1);
	assert_non_null(s);
	for (size_t i = 0; i < len; i += 2) {
		s[i] = '1';
		s[i + 1] = ',';
	}
	s[len - 1] = '1';
	s[len] = '\0';
	struct imap_seqset set;
	const char *error;
	clock_t start = clock();
	assert_int_equal(imap_seqset_parse(s, len, 1000, &set, &error), -1);
	assert_non_null(strstr(error, "Too many"));
	assert_true(clock() - start < CLOCKS_PER_SEC);
	/* one huge range is one range */
	assert_int_equal(imap_seqset_parse("1:4294967295", 12, 1, &set, &error), 0);
	assert_int_equal(imap_seqset_count(&set), 4294967295u);
	imap_seqset_free(&set);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seqset_forms),
		cmocka_unit_test(test_seqset_iter),
		cmocka_unit_test(test_seqset_huge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
