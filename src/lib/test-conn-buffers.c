/* test-conn-buffers.c: unit tests for the memory a conn.c connection
 * holds (test-conn-harness.h): buffers cut back once idle (and kept
 * while busy), none at all when idle however small the last line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/conn_private.h" /* CONN_SHRINK_DELAY_MS */
#include "lib/ioloop.h"
#include "lib/test-conn-harness.h"

/* Buffers give their memory back once idle: 1 MiB streamed in 64 KiB
 * pieces (the output buffer grows to hold a piece) and 21 KB of
 * pipelined input (the input buffer grows to hold it) leave the
 * connection with a few KiB of buffers, not what it once needed; but
 * only after CONN_SHRINK_DELAY_MS without traffic (up to twice that), so
 * a connection that goes on at once (the next RETR) keeps them. */
static void test_buffers_shrink_when_idle(void **state)
{
	(void)state;
	struct harness h;
	harness_init_full(&h, 5000, 64 * 1024, 256 * 1024);
	struct stream st = { .h = &h, .total = 1024 * 1024, .piece = 64 * 1024,
			     .run_on = true };
	st.peer_io = io_add(h.loop, h.peer, IO_READ, stream_peer_read, &st);
	struct timeout *guard = timeout_add(h.loop, 20000, harness_stop_loop, h.loop);
	conn_set_output_drained(h.conn, stream_fill, &st);
	/* the peer reads it all; then the loop runs on until the streamer
	 * has said it is done */
	for (unsigned i = 0; i < 200 && st.received < st.total; i++)
		harness_run_for(h.loop, 50);
	harness_run_for(h.loop, 100);
	io_remove(&st.peer_io);
	assert_int_equal(st.received, st.total);
	assert_int_equal(conn_output_pending(h.conn), 0);
	/* just done: the buffer is kept for what comes next */
	assert_true(conn_buffer_capacity(h.conn) >= 64 * 1024);
	harness_run_for(h.loop, 2 * CONN_SHRINK_DELAY_MS + 200);
	assert_true(conn_buffer_capacity(h.conn) <= 8192);

	/* input: 7000 short lines in one go; quiet; then a check, then QUIT */
	str_t in = STR_INIT;
	for (unsigned i = 0; i < 7000; i++)
		str_append(&in, "A\r\n", 3);
	size_t sent = 0;
	for (unsigned i = 0; i < 1000 && h.lines.len < 7000 * 2 && h.conn != NULL; i++) {
		ssize_t n = sent < in.len ? write(h.peer, in.data + sent, in.len - sent) : 0;
		if (n > 0)
			sent += (size_t)n;
		harness_run_for(h.loop, 5);
	}
	assert_int_equal(h.lines.len, 7000 * 2);
	harness_run_for(h.loop, 2 * CONN_SHRINK_DELAY_MS + 200);
	const char tail[] = "CHECK\r\nQUIT\r\n";
	assert_int_equal(write(h.peer, tail, sizeof(tail) - 1), (ssize_t)sizeof(tail) - 1);
	if (h.conn != NULL)
		ioloop_run(h.loop);
	timeout_remove(&guard);
	assert_int_equal(sent, in.len);
	assert_int_equal(h.closed, 1);
	assert_true(h.capacity_at_check > 0);
	assert_true(h.capacity_at_check <= 8192);
	assert_int_equal(h.lines.len, 7000 * 2 + 5);
	str_free(&in);
	harness_deinit(&h);
}

/* An idle connection holds no buffer at all, however small its last
 * line and reply were (thousands of IMAP IDLE connections, issue 9 item
 * 15); the next line after the cut is read as before. */
static void test_idle_connection_holds_no_buffer(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000, 1024);
	const char in[] = "A\r\n";
	assert_int_equal(write(h.peer, in, sizeof(in) - 1), (ssize_t)sizeof(in) - 1);
	harness_run_for(h.loop, 100);
	conn_write(h.conn, "* OK a reply of some length\r\n", 30);
	harness_run_for(h.loop, 100);
	char buf[64];
	assert_int_equal(read(h.peer, buf, sizeof(buf)), 30);
	assert_true(conn_buffer_capacity(h.conn) > 0);
	harness_run_for(h.loop, 2 * CONN_SHRINK_DELAY_MS + 200);
	assert_int_equal(conn_buffer_capacity(h.conn), 0);
	const char tail[] = "B\r\nQUIT\r\n";
	assert_int_equal(write(h.peer, tail, sizeof(tail) - 1), (ssize_t)sizeof(tail) - 1);
	ioloop_run(h.loop);
	assert_string_equal(str_c(&h.lines), "A|B|QUIT|");
	assert_int_equal(h.closed, 1);
	harness_deinit(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffers_shrink_when_idle),
		cmocka_unit_test(test_idle_connection_holds_no_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
