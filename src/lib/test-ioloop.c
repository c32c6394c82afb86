/* test-ioloop.c: unit tests for ioloop.c's timers: they fire in order
 * of their deadlines, and a removed one never fires. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/ioloop.h"

static unsigned order[4], order_n;
static void mark(void *ctx)
{
	order[order_n++] = (unsigned)(uintptr_t)ctx;
}
static void stop_loop(void *ctx)
{
	ioloop_stop(ctx);
}

static void test_timers_in_order(void **state)
{
	(void)state;
	struct ioloop *loop = ioloop_create();
	order_n = 0;
	struct timeout *t3 = timeout_add(loop, 30, mark, (void *)3);
	struct timeout *t1 = timeout_add(loop, 10, mark, (void *)1);
	struct timeout *t2 = timeout_add(loop, 20, mark, (void *)2);
	struct timeout *gone = timeout_add(loop, 15, mark, (void *)9);
	timeout_remove(&gone);
	assert_null(gone);
	struct timeout *stop = timeout_add(loop, 60, stop_loop, loop);
	ioloop_run(loop);
	assert_int_equal(order_n, 3);
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 3);
	timeout_remove(&t1);
	timeout_remove(&t2);
	timeout_remove(&t3);
	timeout_remove(&stop);
	ioloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
