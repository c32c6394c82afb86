/* test-worker-limits.c: unit tests for worker_limits.h: per-address
 * connection counts keyed by the exact address (hardening issue item 6,
 * TESTING.md item 30). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "server/worker_limits.h"

/* Two addresses that shared a bucket of the old 16,384-bucket FNV hash of
 * the address text: 50 connections from the first made the second get 421. */
static void test_collided_addresses_counted_apart(void **state)
{
	(void)state;
	struct worker_limits_shared *shared = worker_limits_shared_create(2, WORKER_LIMITS_SLOTS);
	struct worker_limits *w = worker_limits_create(shared, 0);
	for (unsigned i = 0; i < 50; i++)
		assert_true(worker_limits_acquire(w, "127.1.28.201", 50));
	assert_false(worker_limits_acquire(w, "127.1.28.201", 50));
	assert_int_equal(worker_limits_count(shared, "127.1.28.201"), 50);
	assert_true(worker_limits_acquire(w, "127.0.77.77", 50));
	assert_int_equal(worker_limits_count(shared, "127.0.77.77"), 1);
	worker_limits_release(w, "127.0.77.77");
	assert_int_equal(worker_limits_count(shared, "127.0.77.77"), 0);
	assert_int_equal(worker_limits_count(shared, "127.1.28.201"), 50);
	/* neighbours in one /24 are different keys too */
	assert_true(worker_limits_acquire(w, "127.1.28.202", 50));
	worker_limits_destroy(&w);
	worker_limits_shared_destroy(&shared);
}

static void test_ipv6_by_prefix(void **state)
{
	(void)state;
	struct worker_limits_shared *shared = worker_limits_shared_create(1, WORKER_LIMITS_SLOTS);
	struct worker_limits *w = worker_limits_create(shared, 0);
	/* one /64: one count */
	assert_true(worker_limits_acquire(w, "2001:db8:1:2::1", 2));
	assert_true(worker_limits_acquire(w, "2001:db8:1:2:ffff:eeee:dddd:cccc", 2));
	assert_false(worker_limits_acquire(w, "2001:db8:1:2::99", 2));
	assert_int_equal(worker_limits_count(shared, "2001:db8:1:2::abcd"), 2);
	/* the next /64 is another key */
	assert_true(worker_limits_acquire(w, "2001:db8:1:3::1", 2));
	assert_int_equal(worker_limits_count(shared, "2001:db8:1:3::1"), 1);
	/* an IPv4-mapped address is its IPv4 address, not ::ffff:0:0/64 */
	assert_true(worker_limits_acquire(w, "::ffff:192.0.2.1", 1));
	assert_false(worker_limits_acquire(w, "192.0.2.1", 1));
	assert_true(worker_limits_acquire(w, "192.0.2.2", 1));
	assert_true(worker_limits_acquire(w, "::ffff:192.0.2.3", 1));
	/* text that is no address: one key of its own */
	assert_true(worker_limits_acquire(w, "unknown", 1));
	assert_false(worker_limits_acquire(w, "unknown", 1));
	assert_int_equal(worker_limits_count(shared, "::"), 0);
	worker_limits_destroy(&w);
	worker_limits_shared_destroy(&shared);
}

/* Counts are summed over every worker's row; clearing a row (its worker
 * died) takes exactly its connections away. */
static void test_rows_and_clear(void **state)
{
	(void)state;
	struct worker_limits_shared *shared = worker_limits_shared_create(3, WORKER_LIMITS_SLOTS);
	struct worker_limits *w0 = worker_limits_create(shared, 0);
	struct worker_limits *w1 = worker_limits_create(shared, 1);
	assert_true(worker_limits_acquire(w0, "198.51.100.7", 3));
	assert_true(worker_limits_acquire(w0, "198.51.100.7", 3));
	assert_true(worker_limits_acquire(w1, "198.51.100.7", 3));
	assert_false(worker_limits_acquire(w1, "198.51.100.7", 3));
	worker_limits_row_clear(shared, 0);
	assert_int_equal(worker_limits_count(shared, "198.51.100.7"), 1);
	assert_true(worker_limits_acquire(w1, "198.51.100.7", 3));
	/* a release from a row that holds none changes nothing */
	worker_limits_release(w0, "198.51.100.7");
	assert_int_equal(worker_limits_count(shared, "198.51.100.7"), 2);
	worker_limits_release(w1, "198.51.100.8");

	/* a forked worker shares the map: its counts are seen, and cleared */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct worker_limits *w2 = worker_limits_create(shared, 2);
		bool ok = worker_limits_acquire(w2, "203.0.113.5", 10) &&
			worker_limits_acquire(w2, "203.0.113.5", 10);
		_exit(ok ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(worker_limits_count(shared, "203.0.113.5"), 2);
	worker_limits_row_clear(shared, 2);
	assert_int_equal(worker_limits_count(shared, "203.0.113.5"), 0);
	worker_limits_destroy(&w0);
	worker_limits_destroy(&w1);
	worker_limits_shared_destroy(&shared);
}

static const char *addr(unsigned i)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	return buf;
}

/* A full table admits uncounted rather than refusing, and an entry whose
 * connections all ended is taken by the next new address. */
static void test_full_table_reuses_free_entries(void **state)
{
	(void)state;
	enum { SLOTS = 16 };
	struct worker_limits_shared *shared = worker_limits_shared_create(1, SLOTS);
	struct worker_limits *w = worker_limits_create(shared, 0);
	for (unsigned i = 0; i < SLOTS; i++) {
		assert_true(worker_limits_acquire(w, addr(i), 1));
		assert_int_equal(worker_limits_count(shared, addr(i)), 1);
	}
	assert_true(worker_limits_acquire(w, "192.0.2.200", 1));
	assert_int_equal(worker_limits_count(shared, "192.0.2.200"), 0);
	worker_limits_release(w, addr(3));
	assert_int_equal(worker_limits_count(shared, addr(3)), 0);
	assert_true(worker_limits_acquire(w, "192.0.2.200", 1));
	assert_int_equal(worker_limits_count(shared, "192.0.2.200"), 1);
	assert_false(worker_limits_acquire(w, "192.0.2.200", 1));
	/* the others kept their counts */
	for (unsigned i = 0; i < SLOTS; i++) {
		if (i != 3)
			assert_int_equal(worker_limits_count(shared, addr(i)), 1);
	}
	worker_limits_destroy(&w);
	worker_limits_shared_destroy(&shared);
}

/* 20,000 new addresses each holding a connection never lock anyone out,
 * and the limit still holds for addresses that were counted. */
static void test_flood_does_not_lock_out(void **state)
{
	(void)state;
	enum { SLOTS = 256, FLOOD = 20000 };
	struct worker_limits_shared *shared = worker_limits_shared_create(2, SLOTS);
	struct worker_limits *w = worker_limits_create(shared, 0);
	assert_true(worker_limits_acquire(w, "192.0.2.1", 1));
	unsigned counted = 0;
	for (unsigned i = 0; i < FLOOD; i++) {
		assert_true(worker_limits_acquire(w, addr(i), 1));
		counted += worker_limits_count(shared, addr(i)) == 1;
	}
	assert_true(counted >= SLOTS / 2 && counted < SLOTS);
	assert_true(worker_limits_acquire(w, "192.0.2.99", 1));
	assert_true(worker_limits_acquire(w, "2001:db8::1", 1));
	assert_false(worker_limits_acquire(w, "192.0.2.1", 1));
	worker_limits_row_clear(shared, 0);
	for (unsigned i = 0; i < SLOTS; i++)
		assert_int_equal(worker_limits_count(shared, addr(i)), 0);
	worker_limits_destroy(&w);
	worker_limits_shared_destroy(&shared);
}

int main(void)
{
	log_init("test-worker-limits", LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_collided_addresses_counted_apart),
		cmocka_unit_test(test_ipv6_by_prefix),
		cmocka_unit_test(test_rows_and_clear),
		cmocka_unit_test(test_full_table_reuses_free_entries),
		cmocka_unit_test(test_flood_does_not_lock_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
