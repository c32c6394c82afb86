/* test-str.c: unit tests for str.h and mem.h pools. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/str.h"
#include "lib/mem.h"
#include "lib/log.h"

static void test_append_and_printf(void **state)
{
	(void)state;
	str_t s = STR_INIT;
	assert_string_equal(str_c(&s), "");
	str_appendz(&s, "abc");
	str_append(&s, "\0d", 2);
	assert_int_equal(s.len, 5);
	str_printf(&s, "%d-%s", 42, "x");
	assert_int_equal(s.len, 9);
	assert_memory_equal(s.data, "abc\0d42-x", 9);
	str_consume(&s, 3);
	assert_memory_equal(s.data, "\0d42-x", 6);
	str_truncate(&s, 2);
	assert_int_equal(s.len, 2);
	str_free(&s);
	assert_null(s.data);
}

static void test_parse_uint64(void **state)
{
	(void)state;
	unsigned long long v;
	assert_true(parse_uint64("123", 3, 1000, &v));
	assert_int_equal(v, 123);
	assert_false(parse_uint64("1001", 4, 1000, &v));
	assert_false(parse_uint64("", 0, 1000, &v));
	assert_false(parse_uint64("-1", 2, 1000, &v));
	assert_false(parse_uint64("18446744073709551616", 20, UINT64_MAX, &v));
	assert_true(parse_uint64("18446744073709551615", 20, UINT64_MAX, &v));
	assert_true(v == UINT64_MAX);
	assert_false(parse_uint64("4294967296", 10, UINT32_MAX, &v));
	assert_false(parse_uint64("7", 1, 5, &v));
	assert_false(parse_uint64("70", 2, 5, &v));
}

static void test_pool(void **state)
{
	(void)state;
	pool_t *p = pool_create(256);
	char *a = pool_strdup(p, "hello");
	char *big = pool_alloc(p, 10000);
	memset(big, 'x', 10000);
	assert_string_equal(a, "hello");
	assert_string_equal(pool_printf(p, "%s=%u", "k", 7u), "k=7");
	pool_clear(p);
	assert_string_equal(pool_strdup(p, "again"), "again");
	pool_destroy(&p);
	assert_null(p);
}

static void test_log_value_quotes(void **state)
{
	(void)state;
	assert_string_equal(log_value("a b\r\n\"", 6), "\"a b\\x0d\\x0a\\x22\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_and_printf),
		cmocka_unit_test(test_parse_uint64),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_log_value_quotes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
