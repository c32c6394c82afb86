/* test-conn.c: unit tests for conn.c's input side over socketpairs
 * (test-conn-harness.h): line framing, over-long lines (with and without
 * their end in the buffer), the idle timeout and changing it at run time,
 * pause/resume keeping pipelined input. Output: test-conn-output.c;
 * buffers: test-conn-buffers.c; timers: test-ioloop.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "lib/ioloop.h"
#include "lib/test-conn-harness.h"

static void test_lines(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 2000, 1024);
	const char in[] = "A\r\nBB\nCCC\r\n0123456789abcdefXYZ\r\nD\r\nQUIT\r\n";
	assert_int_equal(write(h.peer, in, sizeof(in) - 1), (ssize_t)sizeof(in) - 1);
	ioloop_run(h.loop);
	assert_string_equal(str_c(&h.lines), "A|BB|CCC|D|QUIT|");
	assert_int_equal(h.bare, 1);
	assert_int_equal(h.toolong, 1);
	assert_int_equal(h.closed, 1);
	harness_deinit(&h);
}

static void test_long_line_without_lf(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 2000, 1024);
	char big[200];
	memset(big, 'x', sizeof(big));
	assert_int_equal(write(h.peer, big, sizeof(big)), (ssize_t)sizeof(big));
	assert_int_equal(write(h.peer, "\r\nE\r\nQUIT\r\n", 11), 11);
	ioloop_run(h.loop);
	/* the over-long line is reported once and skipped to its end */
	assert_true(h.toolong >= 1);
	assert_string_equal(str_c(&h.lines), "E|QUIT|");
	harness_deinit(&h);
}

static int late_fd;
static void late_write(void *ctx)
{
	(void)ctx;
	assert_int_equal(write(late_fd, "E\r\nQUIT\r\n", 9), 9);
}

/* An over-long line that ends exactly at the end of the buffer must not
 * leave the connection skipping the next, normal line. */
static void test_long_line_then_later_input(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 2000, 1024);
	const char in[] = "0123456789abcdefXYZ\r\n";
	assert_int_equal(write(h.peer, in, sizeof(in) - 1), (ssize_t)sizeof(in) - 1);
	late_fd = h.peer;
	struct timeout *to = timeout_add(h.loop, 50, late_write, NULL);
	ioloop_run(h.loop);
	timeout_remove(&to);
	assert_int_equal(h.toolong, 1);
	assert_string_equal(str_c(&h.lines), "E|QUIT|");
	harness_deinit(&h);
}

static void test_idle_timeout(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 100, 1024);
	assert_int_equal(write(h.peer, "par", 3), 3);
	ioloop_run(h.loop);
	assert_int_equal(h.timeouts, 1);
	assert_int_equal(h.closed, 1);
	char buf[64] = "";
	assert_int_equal(read(h.peer, buf, sizeof(buf)), 9);
	assert_memory_equal(buf, "421 bye\r\n", 9);
	harness_deinit(&h);
}

static void test_pause_resume_keeps_pipelined_input(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 2000, 1024);
	h.pause_after_first = true;
	assert_int_equal(write(h.peer, "A\r\nB\r\nQUIT\r\n", 12), 12);
	ioloop_run(h.loop);
	assert_string_equal(str_c(&h.lines), "A|B|QUIT|");
	harness_deinit(&h);
}

/* The idle timeout changes at run time, counted from the change: IMAP
 * gives a logged-in client 30 minutes or more (RFC 9051 5.4). */
static void test_set_idle_timeout(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 10000, 1024);
	assert_int_equal(conn_idle_timeout(h.conn), 10000);
	conn_set_idle_timeout(h.conn, 100);
	assert_int_equal(conn_idle_timeout(h.conn), 100);
	struct timeout *guard = timeout_add(h.loop, 3000, harness_stop_loop, h.loop);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	assert_int_equal(h.timeouts, 1);
	assert_int_equal(h.closed, 1);
	harness_deinit(&h);

	/* longer: a timeout of 100 ms raised to 5 s does not fire in 400 ms */
	harness_init(&h, 100, 1024);
	conn_set_idle_timeout(h.conn, 5000);
	guard = timeout_add(h.loop, 400, harness_stop_loop, h.loop);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	assert_int_equal(h.timeouts, 0);
	assert_int_equal(h.closed, 0);
	harness_deinit(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_long_line_without_lf),
		cmocka_unit_test(test_long_line_then_later_input),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_pause_resume_keeps_pipelined_input),
		cmocka_unit_test(test_set_idle_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
