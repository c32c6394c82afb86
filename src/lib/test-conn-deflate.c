/* test-conn-deflate.c: unit tests for the compression layer
 * (conn_deflate.c) over socketpairs, with zlib as the peer: round trip
 * with commands pipelined after the switch, the reply before the switch
 * in plaintext, input split into single bytes, a corrupt stream ending
 * the connection, an inflate bomb held to the input cap with bounded
 * memory, STARTTLS and a second start refused, the deflater given back
 * once the connection is quiet. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "lib/conn.h"
#include "lib/conn_private.h" /* CONN_SHRINK_DELAY_MS */
#include "lib/ioloop.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/test-conn-harness.h"

/* the shared harness (test-conn-harness.h) first: a struct harness *
 * of these is a struct zh * */
struct zh {
	struct harness h;
	str_t to_send, got; /* got: what the peer read so far */
	size_t sent, piece;
	unsigned refused;
	size_t max_mem, busy_mem, quiet_mem;
	struct timeout *pump_to, *guard_to, *quiet_to;
	z_stream pout;
};

static void zh_stop(void *ctx)
{
	struct zh *h = ctx;
	timeout_remove(&h->guard_to);
	ioloop_stop(h->h.loop);
}

/* before each line read: the compression layer's memory at its peak */
static void zh_sample_memory(struct harness *hh)
{
	struct zh *h = (struct zh *)hh;
	size_t mem = conn_compress_memory(hh->conn);
	if (mem > h->max_mem)
		h->max_mem = mem;
}

/* COMPRESS switches (after its OK, RFC 4978 3), CHECK tries a second
 * layer and TLS above it, any other line but QUIT is echoed; the
 * harness keeps the lines (CHECK aside) and closes at QUIT */
static bool zh_line(struct harness *hh, const char *line, size_t len)
{
	struct zh *h = (struct zh *)hh;
	const char *error;
	if (len == 8 && memcmp(line, "COMPRESS", 8) == 0) {
		conn_write(hh->conn, "OK\r\n", 4);
		assert_int_equal(conn_compress_start(hh->conn, &error), 0);
		assert_true(conn_is_compressed(hh->conn));
	} else if (len == 5 && memcmp(line, "CHECK", 5) == 0) {
		h->refused += conn_compress_start(hh->conn, &error) < 0;
		h->refused += conn_starttls(hh->conn, NULL) < 0;
		return true;
	} else if (len != 4 || memcmp(line, "QUIT", 4) != 0) {
		conn_printf(hh->conn, "> %.*s\r\n", (int)len, line);
	}
	return false;
}

static void zh_init(struct zh *h, size_t max_input)
{
	memset(h, 0, sizeof(*h));
	harness_init_full(&h->h, 10000, max_input, 1 << 20);
	h->h.read_hook = zh_sample_memory;
	h->h.line_hook = zh_line;
	assert_int_equal(deflateInit2(&h->pout, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	h->piece = 1 << 20;
	/* a test that hangs fails instead */
	h->guard_to = timeout_add(h->h.loop, 20000, zh_stop, h);
}

static void zh_deinit(struct zh *h)
{
	timeout_remove(&h->pump_to);
	timeout_remove(&h->guard_to);
	timeout_remove(&h->quiet_to);
	deflateEnd(&h->pout);
	str_free(&h->to_send);
	str_free(&h->got);
	harness_deinit(&h->h);
}

/* Queue bytes for the peer to send, as they are. */
static void zh_queue_raw(struct zh *h, const void *data, size_t len)
{
	str_append(&h->to_send, data, len);
}

/* Queue bytes deflated by the peer (sync flush at the end). */
static void zh_queue_z(struct zh *h, const void *data, size_t len)
{
	unsigned char buf[65536];
	h->pout.next_in = (Bytef *)data;
	h->pout.avail_in = (uInt)len;
	do {
		h->pout.next_out = buf;
		h->pout.avail_out = sizeof(buf);
		assert_true(deflate(&h->pout, Z_SYNC_FLUSH) != Z_STREAM_ERROR);
		str_append(&h->to_send, buf, sizeof(buf) - h->pout.avail_out);
	} while (h->pout.avail_out == 0);
}

/* The peer writes what is queued, `piece` bytes per loop turn. */
static void zh_peer_read(struct zh *h)
{
	char buf[65536];
	ssize_t n;
	for (unsigned i = 0; i < 1024 && (n = read(h->h.peer, buf, sizeof(buf))) > 0; i++)
		str_append(&h->got, buf, (size_t)n);
}

static void zh_pump(void *ctx)
{
	struct zh *h = ctx;
	/* the peer reads as it goes: a unix socket's buffer fills with a few
	 * hundred small writes (each costs its skb) */
	zh_peer_read(h);
	size_t left = h->to_send.len - h->sent;
	size_t n = left < h->piece ? left : h->piece;
	ssize_t w = n > 0 ? write(h->h.peer, h->to_send.data + h->sent, n) : 0;
	if (w > 0)
		h->sent += (size_t)w;
	if (h->sent < h->to_send.len)
		timeout_reset(h->pump_to, 1);
	else
		timeout_remove(&h->pump_to);
}

static void zh_run(struct zh *h)
{
	h->pump_to = timeout_add(h->h.loop, 1, zh_pump, h);
	ioloop_run(h->h.loop);
	assert_non_null(h->guard_to); /* stopped by CLOSED, not the guard */
}

/* What the peer received: `plain` bytes as they are, the rest inflated. */
static void zh_received(struct zh *h, size_t plain, str_t *head, str_t *body)
{
	zh_peer_read(h);
	str_t all = h->got;
	char buf[65536];
	assert_true(all.len >= plain);
	str_append(head, all.data, plain);
	z_stream in;
	memset(&in, 0, sizeof(in));
	assert_int_equal(inflateInit2(&in, -15), Z_OK);
	in.next_in = (Bytef *)all.data + plain;
	in.avail_in = (uInt)(all.len - plain);
	while (in.avail_in > 0) {
		in.next_out = (Bytef *)buf;
		in.avail_out = sizeof(buf);
		int r = inflate(&in, Z_SYNC_FLUSH);
		assert_true(r == Z_OK || r == Z_BUF_ERROR);
		str_append(body, buf, sizeof(buf) - in.avail_out);
		if (r == Z_BUF_ERROR)
			break;
	}
	assert_int_equal(in.avail_in, 0); /* whole: every burst was flushed */
	inflateEnd(&in);
}

static void test_round_trip_pipelined(void **state)
{
	(void)state;
	struct zh h;
	zh_init(&h, 1024);
	/* the reply queued before the switch goes out in plaintext, and so
	 * does the OK; what the peer pipelined after its command is
	 * compressed already (RFC 4978 3) */
	zh_queue_raw(&h, "A\r\nCOMPRESS\r\n", 13);
	zh_queue_z(&h, "B\r\nCC\r\nQUIT\r\n", 13);
	zh_run(&h);
	assert_string_equal(str_c(&h.h.lines), "A|COMPRESS|B|CC|QUIT|");
	assert_string_equal(h.h.close_reason, "closed");
	str_t head = STR_INIT, body = STR_INIT;
	zh_received(&h, 9, &head, &body);
	assert_string_equal(str_c(&head), "> A\r\nOK\r\n");
	assert_string_equal(str_c(&body), "> B\r\n> CC\r\n");
	str_free(&head);
	str_free(&body);
	zh_deinit(&h);
}

static void test_split_reads(void **state)
{
	(void)state;
	struct zh h;
	zh_init(&h, 1024);
	zh_queue_raw(&h, "COMPRESS\r\n", 10);
	str_t expect = STR_INIT, echo = STR_INIT;
	str_appendz(&expect, "COMPRESS|");
	for (unsigned i = 0; i < 150; i++) {
		char line[32];
		int n = snprintf(line, sizeof(line), "line %u\r\n", i);
		zh_queue_z(&h, line, (size_t)n);
		str_append(&expect, line, (size_t)n - 2);
		str_appendc(&expect, '|');
		str_printf(&echo, "> %.*s\r\n", n - 2, line);
	}
	zh_queue_z(&h, "QUIT\r\n", 6);
	str_appendz(&expect, "QUIT|");
	/* after the plaintext command, the deflate stream a byte at a time */
	assert_int_equal(write(h.h.peer, h.to_send.data, 10), 10);
	h.sent = 10;
	h.piece = 1;
	zh_run(&h);
	assert_string_equal(str_c(&h.h.lines), str_c(&expect));
	str_t head = STR_INIT, body = STR_INIT;
	zh_received(&h, 4, &head, &body);
	assert_string_equal(str_c(&head), "OK\r\n");
	assert_string_equal(str_c(&body), str_c(&echo));
	str_free(&head);
	str_free(&body);
	str_free(&expect);
	str_free(&echo);
	zh_deinit(&h);
}

static void test_corrupt_stream_closes(void **state)
{
	(void)state;
	struct zh h;
	zh_init(&h, 1024);
	zh_queue_raw(&h, "COMPRESS\r\n", 10);
	/* RFC 1951 3.2.3: BTYPE 11 is reserved, an error */
	zh_queue_raw(&h, "\xff\xff\xff\xff", 4);
	zh_run(&h);
	assert_int_equal(h.h.closed, 1);
	assert_string_equal(h.h.close_reason, "compress_error");
	zh_deinit(&h);
}

static void test_bomb_bounded(void **state)
{
	(void)state;
	struct zh h;
	zh_init(&h, 256);
	zh_queue_raw(&h, "COMPRESS\r\n", 10);
	/* 32 MiB of one byte deflate to about 32 KiB */
	char *zeros = xmalloc(1 << 20);
	memset(zeros, 'a', 1 << 20);
	for (unsigned i = 0; i < 32; i++)
		zh_queue_z(&h, zeros, 1 << 20);
	free(zeros);
	zh_queue_z(&h, "\r\nQUIT\r\n", 8);
	assert_true(h.to_send.len < 256 * 1024);
	zh_run(&h);
	assert_true(h.h.toolong >= 1);
	assert_string_equal(str_c(&h.h.lines), "COMPRESS|QUIT|");
	/* the inflate state and 32 KiB window, one chunk in flight at most;
	 * never the 32 MiB */
	assert_true(h.max_mem > 32 * 1024);
	assert_true(h.max_mem < 64 * 1024);
	zh_deinit(&h);
}

static void test_refusals(void **state)
{
	(void)state;
	struct zh h;
	zh_init(&h, 1024);
	zh_queue_raw(&h, "COMPRESS\r\n", 10);
	zh_queue_z(&h, "CHECK\r\nQUIT\r\n", 13);
	zh_run(&h);
	/* a second compression layer and TLS above it: both -1 */
	assert_int_equal(h.refused, 2);
	zh_deinit(&h);
}

static void quiet_check(void *ctx)
{
	struct zh *h = ctx;
	timeout_remove(&h->quiet_to);
	h->quiet_mem = conn_compress_memory(h->h.conn);
	zh_queue_z(h, "QUIT\r\n", 6);
	h->pump_to = timeout_add(h->h.loop, 1, zh_pump, h);
}

static void busy_check(void *ctx)
{
	struct zh *h = ctx;
	timeout_remove(&h->quiet_to);
	h->busy_mem = conn_compress_memory(h->h.conn);
	h->quiet_to = timeout_add(h->h.loop, CONN_SHRINK_DELAY_MS * 2 + 500, quiet_check, h);
}

static void test_deflater_freed_when_quiet(void **state)
{
	(void)state;
	struct zh h;
	zh_init(&h, 1024);
	zh_queue_raw(&h, "COMPRESS\r\n", 10);
	zh_queue_z(&h, "HELLO\r\n", 7);
	h.quiet_to = timeout_add(h.h.loop, 100, busy_check, &h);
	zh_run(&h);
	print_message("compression layer: %zu bytes while busy, %zu when quiet\n",
		      h.busy_mem, h.quiet_mem);
	/* busy: inflater and deflater; quiet: the inflater alone */
	assert_true(h.busy_mem > h.quiet_mem + 16 * 1024);
	assert_true(h.quiet_mem < 48 * 1024);
	str_t head = STR_INIT, body = STR_INIT;
	zh_received(&h, 4, &head, &body);
	assert_string_equal(str_c(&body), "> HELLO\r\n");
	str_free(&head);
	str_free(&body);
	zh_deinit(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_pipelined),
		cmocka_unit_test(test_split_reads),
		cmocka_unit_test(test_corrupt_stream_closes),
		cmocka_unit_test(test_bomb_bounded),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_deflater_freed_when_quiet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
