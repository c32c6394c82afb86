/* test-conn-harness.c: the socketpair harness and the streamer the
 * conn.c and conn_deflate.c unit tests share (test-conn-harness.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/test-conn-harness.h"

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
		if (h->read_hook != NULL)
			h->read_hook(h);
		enum conn_line_result r = conn_read_line(h->conn, 16, &line, &len, &bare);
		if (r == CONN_LINE_MORE)
			break;
		if (r == CONN_LINE_TOOLONG) {
			h->toolong++;
			continue;
		}
		if (bare)
			h->bare++;
		if (h->line_hook != NULL && h->line_hook(h, line, len))
			continue;
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

void harness_init_full(struct harness *h, unsigned idle_ms,
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

void harness_init(struct harness *h, unsigned idle_ms, size_t max_output)
{
	harness_init_full(h, idle_ms, 64, max_output);
}

void harness_deinit(struct harness *h)
{
	if (h->conn != NULL)
		conn_destroy(&h->conn);
	close(h->peer);
	str_free(&h->lines);
	ioloop_destroy(&h->loop);
}

void harness_stop_loop(void *ctx)
{
	ioloop_stop(ctx);
}

void harness_run_for(struct ioloop *loop, unsigned msecs)
{
	struct timeout *tick = timeout_add(loop, msecs, harness_stop_loop, loop);
	ioloop_run(loop);
	timeout_remove(&tick);
}

void stream_fill(void *ctx)
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

void stream_peer_read(void *ctx)
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
