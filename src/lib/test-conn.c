/* test-conn.c: unit tests for ioloop.c and conn.c over socketpairs:
 * line framing, over-long lines, output cap, idle timeout, pause/resume,
 * streaming through the output-drained callback, timers firing in order,
 * buffers cut back when idle (and kept while busy), freed when empty, the output room for unsolicited output and
 * changing the idle timeout. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/conn_private.h" /* CONN_SHRINK_DELAY_MS */
#include "lib/ioloop.h"
#include "lib/mem.h"
#include "lib/str.h"

struct harness {
	struct ioloop *loop;
	struct conn *conn;
	int peer;
	int server_fd;    /* the conn's own end, for socket options */
	str_t lines;      /* each received line, '|' separated */
	unsigned toolong, bare, timeouts, closed;
	bool pause_after_first;
	const char *close_reason;
	size_t capacity_at_check; /* conn_buffer_capacity() at a CHECK line */
};

static void on_event(void *ctx, enum conn_event ev)
{
	struct harness *h = ctx;
	if (ev == CONN_EV_CLOSED) {
		h->closed++;
		h->close_reason = conn_close_reason(h->conn);
		conn_destroy(&h->conn);
		ioloop_stop(h->loop);
		return;
	}
	if (ev == CONN_EV_TIMEOUT) {
		h->timeouts++;
		conn_write(h->conn, "421 bye\r\n", 9);
		conn_close_after_output(h->conn);
		return;
	}
	for (;;) {
		const char *line;
		size_t len;
		bool bare;
		enum conn_line_result r = conn_read_line(h->conn, 16, &line, &len, &bare);
		if (r == CONN_LINE_MORE)
			break;
		if (r == CONN_LINE_TOOLONG) {
			h->toolong++;
			continue;
		}
		if (bare)
			h->bare++;
		if (len == 5 && memcmp(line, "CHECK", 5) == 0) {
			h->capacity_at_check = conn_buffer_capacity(h->conn);
			continue;
		}
		str_append(&h->lines, line, len);
		str_appendc(&h->lines, '|');
		if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
			conn_close_after_output(h->conn);
			return;
		}
		if (h->pause_after_first) {
			h->pause_after_first = false;
			conn_input_pause(h->conn);
			conn_input_resume(h->conn);
			return;
		}
	}
}

static void harness_init_full(struct harness *h, unsigned idle_ms,
			      size_t max_input, size_t max_output)
{
	memset(h, 0, sizeof(*h));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	h->peer = sv[1];
	h->server_fd = sv[0];
	h->loop = ioloop_create();
	struct conn_settings set = {
		.max_input = max_input, .max_output = max_output,
		.idle_timeout_ms = idle_ms, .handshake_timeout_ms = 1000,
	};
	h->conn = conn_create(h->loop, sv[0], &set, NULL, on_event, h);
}

static void harness_init(struct harness *h, unsigned idle_ms, size_t max_output)
{
	harness_init_full(h, idle_ms, 64, max_output);
}

static void harness_deinit(struct harness *h)
{
	if (h->conn != NULL)
		conn_destroy(&h->conn);
	close(h->peer);
	str_free(&h->lines);
	ioloop_destroy(&h->loop);
}

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

/* conn_set_output_drained(): 1 MiB written in 512-byte pieces through a
 * connection whose output cap is 1 KiB arrives whole, because each piece
 * is asked for only once the previous one has been written. */
struct stream {
	struct harness *h;
	size_t sent, received, total, piece;
	bool run_on; /* all received: stop reading, the loop runs on */
	unsigned calls;
	struct io *peer_io;
};

static void stream_fill(void *ctx)
{
	struct stream *st = ctx;
	assert_int_equal(conn_output_pending(st->h->conn), 0);
	st->calls++;
	size_t piece = st->piece != 0 ? st->piece : 512;
	size_t n = st->total - st->sent < piece ? st->total - st->sent : piece;
	if (n == 0) {
		conn_set_output_drained(st->h->conn, NULL, NULL);
		return;
	}
	static char buf[64 * 1024];
	memset(buf, 'a' + (int)(st->calls % 26), n);
	conn_write(st->h->conn, buf, n);
	st->sent += n;
}

static void stream_peer_read(void *ctx)
{
	struct stream *st = ctx;
	char buf[65536];
	ssize_t n;
	while ((n = read(st->h->peer, buf, sizeof(buf))) > 0)
		st->received += (size_t)n;
	if (st->received == st->total && st->run_on)
		io_remove(&st->peer_io);
	else if (st->received == st->total)
		ioloop_stop(st->h->loop);
}

static void stop_stream(void *ctx)
{
	ioloop_stop(ctx);
}

static void test_output_drained_streaming(void **state)
{
	(void)state;
	struct harness h;
	harness_init(&h, 2000, 1024);
	struct stream st = { .h = &h, .total = 1024 * 1024 };
	st.peer_io = io_add(h.loop, h.peer, IO_READ, stream_peer_read, &st);
	struct timeout *guard = timeout_add(h.loop, 10000, stop_stream, h.loop);
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
	struct timeout *guard = timeout_add(h.loop, 20000, stop_stream, h.loop);
	conn_set_output_drained(h.conn, stream_fill, &st);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	timeout_remove(&r.to);
	assert_int_equal(h.timeouts, 0);
	assert_int_equal(st.received, st.total);
	harness_deinit(&h);
}

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


/* Buffers give their memory back once idle: 1 MiB streamed in 64 KiB
 * pieces (the output buffer grows to hold a piece) and 21 KB of
 * pipelined input (the input buffer grows to hold it) leave the
 * connection with a few KiB of buffers, not what it once needed; but
 * only after CONN_SHRINK_DELAY_MS without traffic (up to twice that), so
 * a connection that goes on at once (the next RETR) keeps them. */
static void stop_soon(void *ctx)
{
	ioloop_stop(ctx);
}

static void run_for(struct ioloop *loop, unsigned msecs)
{
	struct timeout *tick = timeout_add(loop, msecs, stop_soon, loop);
	ioloop_run(loop);
	timeout_remove(&tick);
}

static void test_buffers_shrink_when_idle(void **state)
{
	(void)state;
	struct harness h;
	harness_init_full(&h, 5000, 64 * 1024, 256 * 1024);
	struct stream st = { .h = &h, .total = 1024 * 1024, .piece = 64 * 1024,
			     .run_on = true };
	st.peer_io = io_add(h.loop, h.peer, IO_READ, stream_peer_read, &st);
	struct timeout *guard = timeout_add(h.loop, 20000, stop_stream, h.loop);
	conn_set_output_drained(h.conn, stream_fill, &st);
	/* the peer reads it all; then the loop runs on until the streamer
	 * has said it is done */
	for (unsigned i = 0; i < 200 && st.received < st.total; i++)
		run_for(h.loop, 50);
	run_for(h.loop, 100);
	io_remove(&st.peer_io);
	assert_int_equal(st.received, st.total);
	assert_int_equal(conn_output_pending(h.conn), 0);
	/* just done: the buffer is kept for what comes next */
	assert_true(conn_buffer_capacity(h.conn) >= 64 * 1024);
	run_for(h.loop, 2 * CONN_SHRINK_DELAY_MS + 200);
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
		run_for(h.loop, 5);
	}
	assert_int_equal(h.lines.len, 7000 * 2);
	run_for(h.loop, 2 * CONN_SHRINK_DELAY_MS + 200);
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
	run_for(h.loop, 100);
	conn_write(h.conn, "* OK a reply of some length\r\n", 30);
	run_for(h.loop, 100);
	char buf[64];
	assert_int_equal(read(h.peer, buf, sizeof(buf)), 30);
	assert_true(conn_buffer_capacity(h.conn) > 0);
	run_for(h.loop, 2 * CONN_SHRINK_DELAY_MS + 200);
	assert_int_equal(conn_buffer_capacity(h.conn), 0);
	const char tail[] = "B\r\nQUIT\r\n";
	assert_int_equal(write(h.peer, tail, sizeof(tail) - 1), (ssize_t)sizeof(tail) - 1);
	ioloop_run(h.loop);
	assert_string_equal(str_c(&h.lines), "A|B|QUIT|");
	assert_int_equal(h.closed, 1);
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
	struct timeout *guard = timeout_add(h.loop, 5000, stop_stream, h.loop);
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
	struct timeout *guard = timeout_add(h.loop, 5000, stop_stream, h.loop);
	run_for(h.loop, 50);
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
	struct timeout *guard = timeout_add(h.loop, 3000, stop_stream, h.loop);
	ioloop_run(h.loop);
	timeout_remove(&guard);
	assert_int_equal(h.timeouts, 1);
	assert_int_equal(h.closed, 1);
	harness_deinit(&h);

	/* longer: a timeout of 100 ms raised to 5 s does not fire in 400 ms */
	harness_init(&h, 100, 1024);
	conn_set_idle_timeout(h.conn, 5000);
	guard = timeout_add(h.loop, 400, stop_stream, h.loop);
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
		cmocka_unit_test(test_output_drained_streaming),
		cmocka_unit_test(test_slow_reader_is_not_idle),
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_buffers_shrink_when_idle),
		cmocka_unit_test(test_idle_connection_holds_no_buffer),
		cmocka_unit_test(test_output_room),
		cmocka_unit_test(test_write_in_place),
		cmocka_unit_test(test_set_idle_timeout),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
