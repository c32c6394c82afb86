/* test-conn-output.c: unit tests for conn.c's output side over
 * socketpairs (test-conn-harness.h): streaming through the
 * output-drained callback, a slow reader counted as progress (not idle),
 * the output room for unsolicited output and the cap on it, bytes
 * appended in place (conn_write_begin/end). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/test-conn-harness.h"

/* conn_set_output_drained(): 1 MiB written in 512-byte pieces through a
 * connection whose output cap is 1 KiB arrives whole, because each piece
 * is asked for only once the previous one has been written. */
static void test_output_drained_streaming(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 2000, 1024);
	struct stream st = { .h = &h, .total = 1024 * 1024 };
	st.peer_io = io_add(h.loop, h.peer, IO_READ, stream_peer_read, &st);
	struct timeout *guard = timeout_add(h.loop, 10000, harness_stop_loop, h.loop);
	conn_set_output_drained(h.conn, stream_fill, &st);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	io_remove(&st.peer_io);
	assert_int_equal(st.received, st.total);
	assert_true(st.calls >= st.total / 512);
	assert_int_equal(h.closed, 0);
	harness_deinit(&h);
}

/* A slow reader keeps a streaming connection alive: 256 KiB go out
 * through small socket buffers to a peer that reads 4 KiB every 20 ms,
 * over a second in all, with an idle timeout of 300 ms. What the peer
 * takes counts as progress; without that the stream was cut off. */
struct slow_reader {
	struct stream *st;
	struct ioloop *loop;
	struct timeout *to;
};

static void slow_read(void *ctx)
{
	struct slow_reader *r = ctx;
	char buf[4096];
	timeout_remove(&r->to);
	ssize_t n = read(r->st->h->peer, buf, sizeof(buf));
	if (n > 0)
		r->st->received += (size_t)n;
	if (r->st->received == r->st->total || n == 0 || r->st->h->closed > 0) {
		ioloop_stop(r->loop);
		return;
	}
	r->to = timeout_add(r->loop, 20, slow_read, r);
}

static void test_slow_reader_is_not_idle(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 300, 1024);
	int small = 4096;
	assert_int_equal(setsockopt(h.peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(h.server_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	struct stream st = { .h = &h, .total = 256 * 1024 };
	struct slow_reader r = { .st = &st, .loop = h.loop };
	r.to = timeout_add(h.loop, 20, slow_read, &r);
	struct timeout *guard = timeout_add(h.loop, 20000, harness_stop_loop, h.loop);
	conn_set_output_drained(h.conn, stream_fill, &st);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	timeout_remove(&r.to);
	assert_int_equal(h.timeouts, 0);
	assert_int_equal(st.received, st.total);
	harness_deinit(&h);
}

/* The output cap holds for unsolicited output too: conn_output_room()
 * tells a producer (an IDLE push from a timer) how much still fits, the
 * drained callback tells it when to go on, and a write past the cap ends
 * the connection even outside an input callback. */
static void room_drained(void *ctx)
{
	struct harness *h = ctx;
	conn_set_output_drained(h->conn, NULL, NULL);
	ioloop_stop(h->loop);
}

static void test_output_room(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000, 1024);
	char buf[1024];
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(conn_output_room(h.conn), 1024);
	conn_write(h.conn, buf, 1000);
	assert_int_equal(conn_output_room(h.conn), 24);
	conn_write(h.conn, buf, 24);
	assert_int_equal(conn_output_room(h.conn), 0);
	/* the producer waits for the output to drain */
	struct timeout *guard = timeout_add(h.loop, 5000, harness_stop_loop, h.loop);
	conn_set_output_drained(h.conn, room_drained, &h);
	ioloop_run(h.loop);
	assert_int_equal(conn_output_room(h.conn), 1024);
	char got[2048];
	assert_int_equal(read(h.peer, got, sizeof(got)), 1024);

	/* past the cap from outside any callback: the connection ends */
	conn_write(h.conn, buf, 1024);
	assert_int_equal(h.closed, 0);
	conn_write(h.conn, buf, 1);
	assert_int_equal(conn_output_room(h.conn), 0);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	assert_int_equal(h.closed, 1);
	assert_string_equal(h.close_reason, "output_overflow");
	harness_deinit(&h);
}

/* conn_write_begin()/conn_write_end(): bytes appended in place go out
 * like conn_write()'s, behind what is queued; past the cap the
 * connection ends, and a dead one hands out no buffer. */
static void test_write_in_place(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 5000, 1024);
	conn_write(h.conn, "ab", 2);
	str_t *out = conn_write_begin(h.conn);
	assert_non_null(out);
	str_append(out, "cd\r\n", 4);
	conn_write_end(h.conn);
	assert_int_equal(conn_output_pending(h.conn), 6);
	assert_int_equal(conn_output_room(h.conn), 1024 - 6);
	struct timeout *guard = timeout_add(h.loop, 5000, harness_stop_loop, h.loop);
	harness_run_for(h.loop, 50);
	char got[2048];
	assert_int_equal(read(h.peer, got, sizeof(got)), 6);
	assert_memory_equal(got, "abcd\r\n", 6);

	out = conn_write_begin(h.conn);
	char buf[1025];
	memset(buf, 'x', sizeof(buf));
	str_append(out, buf, sizeof(buf));
	conn_write_end(h.conn);
	assert_int_equal(conn_output_room(h.conn), 0);
	assert_null(conn_write_begin(h.conn));
	ioloop_run(h.loop);
	timeout_remove(&guard);
	assert_int_equal(h.closed, 1);
	assert_string_equal(h.close_reason, "output_overflow");
	harness_deinit(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_drained_streaming),
		cmocka_unit_test(test_slow_reader_is_not_idle),
		cmocka_unit_test(test_output_room),
		cmocka_unit_test(test_write_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
