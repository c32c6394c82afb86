/* test-authfail.c: unit tests for authfail.h: the delay sequence, reset on
 * success, expiry, /64 grouping, and the bound on tracked addresses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "auth/authfail.h"

static int reset(void **state)
{
	(void)state;
	authfail_reset();
	return 0;
}

/* What a caller does on a failed attempt: returns the delay to apply. */
static unsigned fail_once(const char *ip, uint64_t now)
{
	unsigned delay = authfail_delay_ms(ip, now);
	authfail_record(ip, false, now);
	return delay;
}

static void test_delay_sequence(void **state)
{
	(void)state;
	static const unsigned expected[] = { 0, 1000, 2000, 4000, 8000, 15000, 15000, 15000 };
	uint64_t now = 1000000;
	for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_int_equal(fail_once("192.0.2.1", now += 100), expected[i]);
	/* many more failures stay at the cap */
	for (unsigned i = 0; i < 2000; i++)
		fail_once("192.0.2.1", now += 1);
	assert_int_equal(authfail_delay_ms("192.0.2.1", now), 15000);
}

static void test_success_resets_and_others_unaffected(void **state)
{
	(void)state;
	uint64_t now = 5000;
	fail_once("192.0.2.1", now);
	fail_once("192.0.2.1", now);
	fail_once("192.0.2.1", now);
	assert_int_equal(authfail_delay_ms("192.0.2.1", now), 4000);
	assert_int_equal(authfail_delay_ms("192.0.2.2", now), 0);
	assert_int_equal(authfail_delay_ms("2001:db8::1", now), 0);
	authfail_record("192.0.2.1", true, now);
	assert_int_equal(authfail_delay_ms("192.0.2.1", now), 0);
	assert_int_equal(fail_once("192.0.2.1", now), 0);
	assert_int_equal(fail_once("192.0.2.1", now), 1000);
}

static void test_expiry(void **state)
{
	(void)state;
	uint64_t now = 1;
	fail_once("198.51.100.7", now);
	fail_once("198.51.100.7", now);
	assert_int_equal(authfail_delay_ms("198.51.100.7", now + AUTHFAIL_EXPIRE_MS - 1), 2000);
	assert_int_equal(authfail_delay_ms("198.51.100.7", now + AUTHFAIL_EXPIRE_MS), 0);
	/* a new failure after expiry starts over */
	assert_int_equal(fail_once("198.51.100.7", now + AUTHFAIL_EXPIRE_MS + 1), 0);
	assert_int_equal(fail_once("198.51.100.7", now + AUTHFAIL_EXPIRE_MS + 2), 1000);
}

static void test_address_forms(void **state)
{
	(void)state;
	uint64_t now = 1;
	/* one IPv6 /64 is one client */
	fail_once("2001:db8:1:2::1", now);
	assert_int_equal(authfail_delay_ms("2001:db8:1:2:ffff::99", now), 1000);
	assert_int_equal(authfail_delay_ms("2001:db8:1:3::1", now), 0);
	/* IPv4-mapped IPv6 is the IPv4 address */
	fail_once("203.0.113.5", now);
	assert_int_equal(authfail_delay_ms("::ffff:203.0.113.5", now), 1000);
	assert_int_equal(authfail_delay_ms("::ffff:203.0.113.6", now), 0);
	/* zone ids are ignored */
	assert_int_equal(authfail_delay_ms("2001:db8:1:2::7%eth0", now), 1000);
	/* garbage does not crash and is tracked together */
	fail_once("not an address", now);
	assert_int_equal(authfail_delay_ms("also garbage", now), 1000);
}

static void test_bounded_evicts_oldest(void **state)
{
	(void)state;
	char ip[32];
	uint64_t now = 1;

	fail_once("10.255.255.255", now);
	fail_once("10.255.255.255", now);
	for (unsigned i = 0; i < AUTHFAIL_MAX_ENTRIES - 1; i++) {
		snprintf(ip, sizeof(ip), "10.0.%u.%u", i / 256, i % 256);
		fail_once(ip, ++now);
	}
	/* table full: the first address is still there */
	assert_int_equal(authfail_delay_ms("10.255.255.255", now), 2000);
	/* refresh it, then add one more: the oldest other entry goes */
	fail_once("10.255.255.255", ++now);
	fail_once("10.99.99.99", ++now);
	assert_int_equal(authfail_delay_ms("10.255.255.255", now), 4000);
	assert_int_equal(authfail_delay_ms("10.0.0.0", now), 0);
	assert_int_equal(authfail_delay_ms("10.0.0.1", now), 1000);
	assert_int_equal(authfail_delay_ms("10.99.99.99", now), 1000);
	/* many more addresses than slots stay bounded and consistent */
	for (unsigned i = 0; i < AUTHFAIL_MAX_ENTRIES * 3; i++) {
		snprintf(ip, sizeof(ip), "172.16.%u.%u", (i / 256) % 256, i % 256);
		fail_once(ip, ++now);
		if (i % 7 == 0)
			authfail_record(ip, true, now);
	}
	assert_int_equal(authfail_delay_ms("172.16.47.255", now), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_delay_sequence, reset),
		cmocka_unit_test_setup(test_success_resets_and_others_unaffected, reset),
		cmocka_unit_test_setup(test_expiry, reset),
		cmocka_unit_test_setup(test_address_forms, reset),
		cmocka_unit_test_setup(test_bounded_evicts_oldest, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
