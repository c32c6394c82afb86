/* test-literal.c: literal prefixes (TESTING.md item 11: huge sizes refused
 * from the digits, with no allocation), the caller's limits for
 * synchronising, non-synchronising and binary literals, and reading the
 * octets from a connection in bounded pieces or into a bounded buffer. */
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
#include "lib/literal.h"
#include "lib/mem.h"
#include "lib/str.h"

static const struct literal_limits limits = {
	.max_size = 64 * 1024, .max_nonsync = 4096,
};

static enum literal_prefix_result parse(const char *line, struct literal_prefix *p)
{
	const char *error;
	enum literal_prefix_result r =
		literal_parse_prefix(line, strlen(line), &limits, p, &error);
	if (r == LITERAL_PREFIX_INVALID || r == LITERAL_PREFIX_TOOBIG)
		assert_non_null(error);
	return r;
}

static void test_prefix_ok(void **state)
{
	(void)state;
	struct literal_prefix p;
	assert_int_equal(parse("a APPEND INBOX {5}", &p), LITERAL_PREFIX_OK);
	assert_int_equal(p.size, 5);
	assert_false(p.nonsync);
	assert_false(p.binary);
	assert_int_equal(p.start, 15);
	assert_int_equal(parse("a LOGIN {3+}", &p), LITERAL_PREFIX_OK);
	assert_int_equal(p.size, 3);
	assert_true(p.nonsync);
	assert_int_equal(parse("a APPEND INBOX ~{10}", &p), LITERAL_PREFIX_OK);
	assert_true(p.binary);
	assert_int_equal(p.start, 15);
	assert_int_equal(p.size, 10);
	assert_int_equal(parse("a APPEND INBOX ~{7+}", &p), LITERAL_PREFIX_OK);
	assert_true(p.binary);
	assert_true(p.nonsync);
	assert_int_equal(parse("{0}", &p), LITERAL_PREFIX_OK);
	assert_int_equal(p.size, 0);
	/* number64 allows leading zeros, any number of them */
	assert_int_equal(parse("x {000000000000000000000000000042}", &p), LITERAL_PREFIX_OK);
	assert_int_equal(p.size, 42);
	/* exactly at the limits */
	assert_int_equal(parse("x {65536}", &p), LITERAL_PREFIX_OK);
	assert_int_equal(parse("x {4096+}", &p), LITERAL_PREFIX_OK);
}

static void test_prefix_none(void **state)
{
	(void)state;
	struct literal_prefix p;
	assert_int_equal(parse("a NOOP", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("}", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("a SEARCH 5}", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("a {5} NOOP", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("a {5}x", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("a {-1}", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("a { 5}", &p), LITERAL_PREFIX_NONE);
	assert_int_equal(parse("a {5++}", &p), LITERAL_PREFIX_NONE);
}

static void test_prefix_invalid(void **state)
{
	(void)state;
	struct literal_prefix p;
	assert_int_equal(parse("a {}", &p), LITERAL_PREFIX_INVALID);
	assert_int_equal(parse("a {+}", &p), LITERAL_PREFIX_INVALID);
	assert_int_equal(parse("a ~{}", &p), LITERAL_PREFIX_INVALID);
	/* past number64 (2^63-1), however the caller's limit is set */
	assert_int_equal(parse("a {18446744073709551616}", &p), LITERAL_PREFIX_INVALID);
	assert_int_equal(parse("a {18446744073709551615}", &p), LITERAL_PREFIX_INVALID);
	assert_int_equal(parse("a {9223372036854775808}", &p), LITERAL_PREFIX_INVALID);
	assert_int_equal(parse("a {99999999999999999999999999999999999999+}", &p),
			 LITERAL_PREFIX_INVALID);
	struct literal_limits all = { UINT64_MAX, UINT64_MAX };
	const char *error;
	const char *top = "a {9223372036854775807}";
	assert_int_equal(literal_parse_prefix(top, strlen(top), &all, &p, &error),
			 LITERAL_PREFIX_OK);
	assert_true(p.size == LITERAL_NUMBER64_MAX);
	const char *over = "a {9223372036854775808}";
	assert_int_equal(literal_parse_prefix(over, strlen(over), &all, &p, &error),
			 LITERAL_PREFIX_INVALID);
}

/* TESTING.md item 11: refused from the digits; the caller learns the size
 * (for NO [TOOBIG]) and whether the octets are coming anyway. */
static void test_prefix_toobig(void **state)
{
	(void)state;
	struct literal_prefix p;
	assert_int_equal(parse("a APPEND INBOX {4294967295}", &p), LITERAL_PREFIX_TOOBIG);
	assert_int_equal(p.size, 4294967295u);
	assert_false(p.nonsync);
	assert_int_equal(parse("x {65537}", &p), LITERAL_PREFIX_TOOBIG);
	assert_int_equal(parse("x {4097+}", &p), LITERAL_PREFIX_TOOBIG);
	assert_true(p.nonsync);
	assert_int_equal(parse("x ~{65537}", &p), LITERAL_PREFIX_TOOBIG);
	/* pre-auth: the caller passes tighter limits */
	struct literal_limits preauth = { .max_size = 1024, .max_nonsync = 256 };
	const char *error;
	const char *line = "a LOGIN {2000}";
	assert_int_equal(literal_parse_prefix(line, strlen(line), &preauth, &p, &error),
			 LITERAL_PREFIX_TOOBIG);
	line = "a LOGIN {300+}";
	assert_int_equal(literal_parse_prefix(line, strlen(line), &preauth, &p, &error),
			 LITERAL_PREFIX_TOOBIG);
	line = "a LOGIN {300}";
	assert_int_equal(literal_parse_prefix(line, strlen(line), &preauth, &p, &error),
			 LITERAL_PREFIX_OK);
}

struct chunks {
	str_t got;
	size_t calls, largest;
};

static void on_chunk(void *ctx, const char *data, size_t len)
{
	struct chunks *c = ctx;
	assert_true(len > 0);
	c->calls++;
	if (len > c->largest)
		c->largest = len;
	str_append(&c->got, data, len);
}

static void test_reader_feed(void **state)
{
	(void)state;
	struct literal_prefix p = { .size = 10 };
	struct literal_reader r;
	struct chunks c = { STR_INIT, 0, 0 };
	literal_reader_init(&r, &p);
	assert_int_equal(literal_reader_feed(&r, "0123", 4, 3, on_chunk, &c), 4);
	assert_false(literal_reader_finished(&r));
	/* the rest of the command line after the literal is not taken */
	assert_int_equal(literal_reader_feed(&r, "456789 rest", 11, 3, on_chunk, &c), 6);
	assert_true(literal_reader_finished(&r));
	assert_int_equal(literal_reader_feed(&r, " rest", 5, 3, on_chunk, &c), 0);
	assert_string_equal(str_c(&c.got), "0123456789");
	assert_int_equal(c.largest, 3);
	assert_false(r.saw_nul);
	/* NUL: noted in a non-binary literal, fine in a binary one */
	literal_reader_init(&r, &p);
	literal_reader_feed(&r, "a\0b", 3, 16, NULL, NULL);
	assert_true(r.saw_nul);
	p.binary = true;
	literal_reader_init(&r, &p);
	literal_reader_feed(&r, "a\0b", 3, 16, NULL, NULL);
	assert_false(r.saw_nul);
	str_free(&c.got);
}

/* Over a socketpair: a 200 KiB literal through a conn whose input buffer
 * holds 4 KiB arrives whole, in pieces of at most 4 KiB, and the line
 * after it is read as a line. */
struct harness {
	struct ioloop *loop;
	struct conn *conn;
	int peer;
	struct literal_reader r;
	bool in_literal, use_str;
	struct chunks c;
	str_t buf;
	str_t after;
	size_t peak_cap;
};

static void on_event(void *ctx, enum conn_event ev)
{
	struct harness *h = ctx;
	if (ev != CONN_EV_INPUT) {
		conn_destroy(&h->conn);
		ioloop_stop(h->loop);
		return;
	}
	for (;;) {
		if (h->in_literal) {
			bool done = h->use_str ?
				literal_read_conn_str(&h->r, h->conn, &h->buf) :
				literal_read_conn(&h->r, h->conn, 1000, on_chunk, &h->c);
			if (h->buf.cap > h->peak_cap)
				h->peak_cap = h->buf.cap;
			if (!done)
				return;
			h->in_literal = false;
		}
		const char *line, *error;
		size_t len;
		if (conn_read_line(h->conn, 200, &line, &len, NULL) != CONN_LINE_OK)
			return;
		struct literal_prefix p;
		enum literal_prefix_result res =
			literal_parse_prefix(line, len, &limits, &p, &error);
		if (res == LITERAL_PREFIX_OK) {
			str_append(&h->after, line, p.start);
			literal_reader_init(&h->r, &p);
			h->in_literal = true;
			continue;
		}
		str_append(&h->after, line, len);
		str_appendc(&h->after, '|');
		if (len == 4 && memcmp(line, "QUIT", 4) == 0) {
			conn_close_after_output(h->conn);
			return;
		}
	}
}

static void stop(void *ctx)
{
	ioloop_stop(ctx);
}

struct feeder {
	str_t *wire;
	size_t sent;
	int peer;
	struct io *io;
};

static void feed(void *ctx)
{
	struct feeder *f = ctx;
	ssize_t n = send(f->peer, f->wire->data + f->sent, f->wire->len - f->sent,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0)
		f->sent += (size_t)n;
	if (n <= 0 || f->sent == f->wire->len)
		io_remove(&f->io);
}

static void run_literal(bool use_str, size_t size)
{
	struct harness h;
	memset(&h, 0, sizeof(h));
	h.use_str = use_str;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	h.peer = sv[1];
	h.loop = ioloop_create();
	struct conn_settings set = {
		.max_input = 4096, .max_output = 4096,
		.idle_timeout_ms = 5000, .handshake_timeout_ms = 1000,
	};
	h.conn = conn_create(h.loop, sv[0], &set, NULL, on_event, &h);
	char *lit = xmalloc(size);
	for (size_t i = 0; i < size; i++)
		lit[i] = (char)('a' + i % 26);
	str_t wire = STR_INIT;
	str_printf(&wire, "a APPEND INBOX {%zu}\r\n", size);
	str_append(&wire, lit, size);
	str_appendz(&wire, " tail\r\nQUIT\r\n");
	/* the peer end is written as the loop reads the conn end */
	struct feeder f = { .wire = &wire, .peer = h.peer };
	f.io = io_add(h.loop, h.peer, IO_WRITE, feed, &f);
	struct timeout *guard = timeout_add(h.loop, 20000, stop, h.loop);
	ioloop_run(h.loop);
	io_remove(&f.io);
	assert_int_equal(f.sent, wire.len);
	timeout_remove(&guard);
	assert_string_equal(str_c(&h.after), "a APPEND INBOX  tail|QUIT|");
	if (use_str) {
		assert_int_equal(h.buf.len, size);
		assert_memory_equal(h.buf.data, lit, size);
		/* never more than the literal and its NUL */
		assert_true(h.peak_cap <= size + 1);
	} else {
		assert_int_equal(h.c.got.len, size);
		assert_memory_equal(h.c.got.data, lit, size);
		assert_true(h.c.largest <= 1000);
	}
	free(lit);
	str_free(&wire);
	str_free(&h.c.got);
	str_free(&h.buf);
	str_free(&h.after);
	close(h.peer);
	ioloop_destroy(&h.loop);
}

static void test_literal_from_conn_chunks(void **state)
{
	(void)state;
	run_literal(false, 60000);
}

static void test_literal_from_conn_into_str(void **state)
{
	(void)state;
	run_literal(true, 60000);
	run_literal(true, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prefix_ok),
		cmocka_unit_test(test_prefix_none),
		cmocka_unit_test(test_prefix_invalid),
		cmocka_unit_test(test_prefix_toobig),
		cmocka_unit_test(test_reader_feed),
		cmocka_unit_test(test_literal_from_conn_chunks),
		cmocka_unit_test(test_literal_from_conn_into_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
