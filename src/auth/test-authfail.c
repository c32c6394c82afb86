/* test-authfail.c: unit tests for authfail.h: the wait before a check,
 * records per (address, name) with exact keys, a success clearing only its
 * own name, the per-address aggregate, verdict spacing, expiry, the bound
 * on records, and the table shared across fork(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/authfail.h"

static int reset(void **state)
{
	(void)state;
	authfail_reset();
	return 0;
}

/* One whole attempt that fails: returns the wait it was given. */
static unsigned fail_once(const char *ip, const char *name, uint64_t now)
{
	unsigned wait = authfail_begin(ip, name, now);
	authfail_end(ip, name, AUTHFAIL_VERDICT_FAILED, now + wait);
	return wait;
}

static void test_wait_sequence(void **state)
{
	(void)state;
	static const unsigned expected[] = { 0, 1000, 2000, 4000, 8000, 15000, 15000, 15000 };
	uint64_t now = 1000000;
	for (unsigned i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		unsigned wait = fail_once("192.0.2.1", "alice", now);
		assert_int_equal(wait, expected[i]);
		now += wait + 10; /* the next try comes after the answer */
	}
	/* many more failures stay at the cap */
	for (unsigned i = 0; i < 2000; i++)
		now += fail_once("192.0.2.1", "alice", now) + 10;
	assert_int_equal(authfail_wait_ms("192.0.2.1", "alice", now), 15000);
}

/* TESTING.md item 33: the wait is given before the verdict is known, so
 * a right password waits like a wrong one; then only its name clears. */
static void test_right_password_waits_then_clears(void **state)
{
	(void)state;
	uint64_t now = 5000;
	for (unsigned i = 0; i < 3; i++)
		now += fail_once("192.0.2.1", "alice", now) + 10;
	unsigned wait = authfail_begin("192.0.2.1", "alice", now);
	assert_int_equal(wait, 4000);
	authfail_end("192.0.2.1", "alice", AUTHFAIL_VERDICT_OK, now + wait);
	now += wait + 10;
	assert_int_equal(authfail_failures("192.0.2.1", "alice", now), 0);
	assert_int_equal(authfail_failures("192.0.2.1", NULL, now), 0);
	assert_int_equal(authfail_begin("192.0.2.1", "alice", now), 0);
	authfail_end("192.0.2.1", "alice", AUTHFAIL_VERDICT_NONE, now);
	/* an attempt without a verdict changes no count */
	assert_int_equal(authfail_failures("192.0.2.1", NULL, now), 0);
	assert_int_equal(authfail_wait_ms("192.0.2.1", "alice", now), 0);
}

static void test_success_clears_only_its_name(void **state)
{
	(void)state;
	uint64_t now = 5000;
	fail_once("192.0.2.1", "bob", now);
	fail_once("192.0.2.1", "bob", now += 2000);
	fail_once("192.0.2.1", "alice", now += 3000);
	assert_int_equal(authfail_failures("192.0.2.1", NULL, now), 3);
	unsigned wait = authfail_begin("192.0.2.1", "alice", now += 5000);
	assert_int_equal(wait, 4000); /* the address's three count */
	authfail_end("192.0.2.1", "alice", AUTHFAIL_VERDICT_OK, now += wait);
	assert_int_equal(authfail_failures("192.0.2.1", "alice", now), 0);
	assert_int_equal(authfail_failures("192.0.2.1", "bob", now), 2);
	assert_int_equal(authfail_failures("192.0.2.1", NULL, now), 2);
	assert_int_equal(authfail_wait_ms("192.0.2.1", "bob", now), 2000);
	/* bob's own success clears the rest */
	authfail_end("192.0.2.1", "bob", AUTHFAIL_VERDICT_OK, now);
	assert_int_equal(authfail_failures("192.0.2.1", NULL, now), 0);
	assert_int_equal(authfail_wait_ms("192.0.2.1", "carol", now), 0);
}

/* Spraying one password over many names is slowed by the aggregate. */
static void test_aggregate_over_names(void **state)
{
	(void)state;
	char name[32];
	uint64_t now = 1;
	for (unsigned i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		now += fail_once("198.51.100.9", name, now) + 10;
	}
	assert_int_equal(authfail_failures("198.51.100.9", NULL, now), 4);
	assert_int_equal(authfail_failures("198.51.100.9", "user0", now), 1);
	assert_int_equal(authfail_wait_ms("198.51.100.9", "never-tried", now), 8000);
	assert_int_equal(authfail_wait_ms("198.51.100.10", "never-tried", now), 0);
}

static void test_exact_keys(void **state)
{
	(void)state;
	char name[32];
	uint64_t now = 1;
	/* names differing in one byte, or only in case (folded), and the
	 * empty name, which is not the address record */
	fail_once("192.0.2.7", "alice@example.org", now);
	assert_int_equal(authfail_failures("192.0.2.7", "ALICE@Example.ORG", now), 1);
	assert_int_equal(authfail_failures("192.0.2.7", "alice@example.orh", now), 0);
	assert_int_equal(authfail_failures("192.0.2.7", "alice@example.or", now), 0);
	assert_int_equal(authfail_failures("192.0.2.7", "", now), 0);
	assert_int_equal(authfail_failures("192.0.2.8", "alice@example.org", now), 0);
	/* one IPv6 /64 is one client; IPv4-mapped IPv6 is the IPv4 address;
	 * zone ids are ignored; garbage is tracked together */
	fail_once("2001:db8:1:2::1", "x", now);
	assert_int_equal(authfail_failures("2001:db8:1:2:ffff::99", "x", now), 1);
	assert_int_equal(authfail_failures("2001:db8:1:2::7%eth0", "x", now), 1);
	assert_int_equal(authfail_failures("2001:db8:1:3::1", "x", now), 0);
	fail_once("203.0.113.5", "x", now);
	assert_int_equal(authfail_failures("::ffff:203.0.113.5", "x", now), 1);
	assert_int_equal(authfail_failures("::ffff:203.0.113.6", "x", now), 0);
	fail_once("not an address", "x", now);
	assert_int_equal(authfail_failures("also garbage", "x", now), 1);
	/* many keys at once: each keeps exactly its own count */
	for (unsigned i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		for (unsigned k = 0; k <= i % 3; k++)
			authfail_end("10.1.0.1", name, AUTHFAIL_VERDICT_FAILED, now);
	}
	for (unsigned i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "n%u", i);
		assert_int_equal(authfail_failures("10.1.0.1", name, now), i % 3 + 1);
		assert_int_equal(authfail_failures("10.1.0.2", name, now), 0);
	}
	/* the aggregate counts them all, up to its cap */
	assert_int_equal(authfail_failures("10.1.0.1", NULL, now), 1000);
}

/* After AUTHFAIL_SPACING_AFTER failures (or failures and attempts under
 * way for one name) from one address, no two verdicts to it are less than
 * AUTHFAIL_SPACING_MS apart, however many connections ask at once and
 * whatever the password. */
static void test_verdict_spacing(void **state)
{
	(void)state;
	char name[32];
	uint64_t t = 100000, starts[40];
	unsigned n = 0;

	/* eight connections guess alice's password at once: five go at
	 * once, then the spacing takes over */
	for (unsigned i = 0; i < 8; i++)
		starts[n++] = t + authfail_begin("192.0.2.50", "alice", t);
	static const unsigned first[] = { 0, 0, 0, 0, 0, 0, 1000, 2000 };
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(starts[i] - t, first[i]);
	for (unsigned i = 0; i < 8; i++)
		authfail_end("192.0.2.50", "alice", AUTHFAIL_VERDICT_FAILED, starts[i]);
	/* then, for a while, many more asks for any name, right or wrong */
	for (unsigned i = 0; i < 30; i++) {
		uint64_t now = t + 2000 + i * 100;
		snprintf(name, sizeof(name), "later%u", i % 4);
		uint64_t start = now + authfail_begin("192.0.2.50", name, now);
		authfail_end("192.0.2.50", name, i % 5 == 0 ? AUTHFAIL_VERDICT_OK :
			     AUTHFAIL_VERDICT_FAILED, start);
		starts[n++] = start;
	}
	for (unsigned i = 5; i < n; i++)
		for (unsigned j = 5; j < i; j++) {
			uint64_t d = starts[i] > starts[j] ? starts[i] - starts[j] :
				     starts[j] - starts[i];
			assert_true(d >= AUTHFAIL_SPACING_MS);
		}
	/* another address is not spaced */
	assert_int_equal(authfail_begin("192.0.2.51", "alice", t + 2000), 0);
}

/* Many names logging in at once from one address (webmail, a NAT) are
 * neither spaced nor slowed while they do not fail. */
static void test_many_names_at_once_not_spaced(void **state)
{
	(void)state;
	char name[32];
	uint64_t t = 100000;
	for (unsigned i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		assert_int_equal(authfail_begin("192.0.2.55", name, t), 0);
	}
	for (unsigned i = 0; i < 50; i++) {
		snprintf(name, sizeof(name), "user%u", i);
		authfail_end("192.0.2.55", name, AUTHFAIL_VERDICT_OK, t + 5);
	}
	assert_int_equal(authfail_begin("192.0.2.55", "user0", t + 10), 0);
}

/* Attempts begun by a worker that died never end; they stop counting. */
static void test_stale_attempts_forgotten(void **state)
{
	(void)state;
	uint64_t t = 100000;
	for (unsigned i = 0; i < 6; i++)
		authfail_begin("192.0.2.60", "x", t);
	assert_int_equal(authfail_wait_ms("192.0.2.60", "x", t), 1000);
	assert_int_equal(authfail_begin("192.0.2.60", "x", t + 70000), 0);
}

static void test_expiry(void **state)
{
	(void)state;
	uint64_t now = 1;
	authfail_end("198.51.100.7", "u", AUTHFAIL_VERDICT_FAILED, now);
	authfail_end("198.51.100.7", "u", AUTHFAIL_VERDICT_FAILED, now);
	assert_int_equal(authfail_wait_ms("198.51.100.7", "u", now + AUTHFAIL_EXPIRE_MS - 1), 2000);
	assert_int_equal(authfail_wait_ms("198.51.100.7", "u", now + AUTHFAIL_EXPIRE_MS), 0);
	/* a new failure after expiry starts over */
	assert_int_equal(fail_once("198.51.100.7", "u", now + AUTHFAIL_EXPIRE_MS + 1), 0);
	assert_int_equal(authfail_failures("198.51.100.7", NULL, now + AUTHFAIL_EXPIRE_MS + 2), 1);
}

/* A full table reuses its least recently used records and stays exact. */
static void test_bounded_reuse(void **state)
{
	(void)state;
	char name[32];
	uint64_t now = 1;
	for (unsigned i = 0; i < AUTHFAIL_MAX_ENTRIES * 3; i++) {
		snprintf(name, sizeof(name), "spray%u", i);
		authfail_end("10.2.0.1", name, AUTHFAIL_VERDICT_FAILED, ++now);
		authfail_end("10.2.0.2", "kept", AUTHFAIL_VERDICT_FAILED, now);
		if (i % 7 == 0)
			authfail_end("10.2.0.1", name, AUTHFAIL_VERDICT_OK, now);
	}
	/* the records in use stay; the oldest names went */
	assert_int_equal(authfail_failures("10.2.0.2", "kept", now), 1000);
	assert_int_equal(authfail_failures("10.2.0.1", "spray0", now), 0);
	assert_int_equal(authfail_failures("10.2.0.1", "spray1", now), 0);
	snprintf(name, sizeof(name), "spray%u", AUTHFAIL_MAX_ENTRIES * 3 - 1);
	assert_int_equal(authfail_failures("10.2.0.1", name, now), 1);
	assert_true(authfail_failures("10.2.0.1", NULL, now) > 0);
	/* and new keys still get records of their own */
	fail_once("10.2.0.3", "fresh", ++now);
	assert_int_equal(authfail_failures("10.2.0.3", "fresh", now), 1);
	assert_int_equal(authfail_failures("10.2.0.3", "fresh2", now), 0);
}

static void child_fails(const char *name, unsigned times)
{
	for (unsigned i = 0; i < times; i++) {
		unsigned wait = authfail_begin("192.0.2.99", name, 1000 + i);
		authfail_end("192.0.2.99", name, AUTHFAIL_VERDICT_FAILED, 1000 + i + wait);
	}
	_exit(0);
}

/* After authfail_share(), what a forked child records the parent sees,
 * and two children updating one record at once lose nothing. Last: the
 * table stays shared afterwards. */
static void test_shared_across_fork(void **state)
{
	(void)state;
	assert_int_equal(authfail_share(), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_fails("forked", 3);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(authfail_failures("192.0.2.99", "forked", 2000), 3);
	assert_int_equal(authfail_wait_ms("192.0.2.99", "forked", 2000), 4000);

	pid_t kids[2];
	for (unsigned i = 0; i < 2; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0)
			child_fails("together", 400);
	}
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	assert_int_equal(authfail_failures("192.0.2.99", "together", 2000), 800);
	assert_int_equal(authfail_failures("192.0.2.99", NULL, 2000), 803);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_wait_sequence, reset),
		cmocka_unit_test_setup(test_right_password_waits_then_clears, reset),
		cmocka_unit_test_setup(test_success_clears_only_its_name, reset),
		cmocka_unit_test_setup(test_aggregate_over_names, reset),
		cmocka_unit_test_setup(test_exact_keys, reset),
		cmocka_unit_test_setup(test_verdict_spacing, reset),
		cmocka_unit_test_setup(test_many_names_at_once_not_spaced, reset),
		cmocka_unit_test_setup(test_stale_attempts_forgotten, reset),
		cmocka_unit_test_setup(test_expiry, reset),
		cmocka_unit_test_setup(test_bounded_reuse, reset),
		cmocka_unit_test_setup(test_shared_across_fork, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
