/* test-sanitize.c: lib/sanitize.h says what meson built: POSTEL_SANITIZED
 * and postel_sanitized are set exactly in an AddressSanitizer or
 * MemorySanitizer build (b_sanitize, passed in as TEST_SANITIZED), and
 * the code that asks it follows: password scratch memory is off and
 * OpenSSL's record pool is not installed there, both on otherwise. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/password_scratch.h"
#include "lib/sanitize.h"
#include "lib/tls_mem.h"

#ifndef TEST_SANITIZED
#error "meson passes TEST_SANITIZED"
#endif

static void test_macro_and_constant_match_the_build(void **state)
{
	(void)state;
#ifdef POSTEL_SANITIZED
	assert_int_equal(POSTEL_SANITIZED, 1);
	assert_int_equal(TEST_SANITIZED, 1);
#else
	assert_int_equal(TEST_SANITIZED, 0);
#endif
	assert_int_equal(postel_sanitized, TEST_SANITIZED);
}

static void test_users_follow_it(void **state)
{
	(void)state;
	assert_int_equal(password_scratch_supported(), !TEST_SANITIZED);
	assert_int_equal(tls_mem_init(), 0);
	assert_int_equal(tls_mem_enabled(), !TEST_SANITIZED);
	/* again: nothing changes */
	assert_int_equal(tls_mem_init(), 0);
	assert_int_equal(tls_mem_enabled(), !TEST_SANITIZED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macro_and_constant_match_the_build),
		cmocka_unit_test(test_users_follow_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
