/* fuzz-deflate.c: libFuzzer target for the inflate side of the
 * connection's compression layer (lib/conn_deflate.c, RFC 4978).
 *
 * Input: the raw deflate stream a client sends after COMPRESS. It goes
 * through a real conn over a socketpair (at most 128 KiB, then EOF);
 * each line read is echoed back, so the deflate side runs too.
 * Invariants, checked with abort():
 *   - the connection ends with CLOSED ("eof" or "compress_error", or
 *     "closed" after FUZZ_LINES_MAX lines), never hangs (a 10 s guard)
 *     and never crashes;
 *   - no line handed out is longer than the line limit;
 *   - the layer never holds more than its inflate state, window and one
 *     read chunk in flight (bounded, whatever the input expands to). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/conn.h"
#include "lib/ioloop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_LINE_MAX 200
#define FUZZ_MEMORY_MAX (96 * 1024)
#define FUZZ_LINES_MAX 20000

struct fuzz_ctx {
	struct ioloop *loop;
	struct conn *conn;
	unsigned lines;
	bool closed;
};

static void fuzz_on_event(void *ctx, enum conn_event ev)
{
	struct fuzz_ctx *f = ctx;
	if (ev == CONN_EV_CLOSED) {
		const char *reason = conn_close_reason(f->conn);
		if (strcmp(reason, "eof") != 0 && strcmp(reason, "compress_error") != 0 &&
		    strcmp(reason, "closed") != 0)
			abort();
		f->closed = true;
		conn_destroy(&f->conn);
		ioloop_stop(f->loop);
		return;
	}
	if (ev == CONN_EV_TIMEOUT) {
		conn_close_after_output(f->conn);
		return;
	}
	for (unsigned i = 0; i < 100000; i++) {
		if (conn_compress_memory(f->conn) > FUZZ_MEMORY_MAX)
			abort();
		const char *line;
		size_t len;
		enum conn_line_result r = conn_read_line(f->conn, FUZZ_LINE_MAX, &line, &len, NULL);
		if (r == CONN_LINE_MORE)
			break;
		if (r == CONN_LINE_TOOLONG)
			continue;
		if (len > FUZZ_LINE_MAX)
			abort();
		/* a bomb of short lines: enough is seen, keep each run short */
		if (++f->lines > FUZZ_LINES_MAX) {
			conn_close_after_output(f->conn);
			return;
		}
		if (conn_output_room(f->conn) > len + 2) {
			conn_write(f->conn, line, len);
			conn_write(f->conn, "\r\n", 2);
		}
	}
}

static void fuzz_guard(void *ctx)
{
	(void)ctx;
	abort(); /* the connection never ended: a hang */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 128 * 1024)
		size = 128 * 1024;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	int big = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	struct fuzz_ctx f = { .loop = ioloop_create() };
	struct conn_settings set = {
		.max_input = 1024, .max_output = 256 * 1024,
		.idle_timeout_ms = 4000, .handshake_timeout_ms = 1000,
	};
	f.conn = conn_create(f.loop, sv[0], &set, NULL, fuzz_on_event, &f);
	const char *error;
	if (conn_compress_start(f.conn, &error) < 0)
		abort();
	size_t off = 0;
	for (unsigned i = 0; i < 1000 && off < size; i++) {
		ssize_t n = write(sv[1], data + off, size - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	struct timeout *guard = timeout_add(f.loop, 10000, fuzz_guard, NULL);
	ioloop_run(f.loop);
	timeout_remove(&guard);
	if (!f.closed)
		abort();
	close(sv[1]);
	ioloop_destroy(&f.loop);
	return 0;
}
