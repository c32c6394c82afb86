/* test-channel.c: unit tests for channel.c: every message type round
 * trips through the codec and over a socketpair on the ioloop; a frame
 * fed one byte at a time arrives once and whole; the size limit and every
 * kind of malformed frame are refused (and the peer dropped); output is
 * bounded when the peer does not read; destroying a channel inside its
 * callback is safe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/channel.h"
#include "lib/ioloop.h"
#include "lib/mem.h"

static struct channel_msg sample(enum channel_msg_type type)
{
	struct channel_msg m = { .type = type };
	switch (type) {
	case CHANNEL_MSG_HELLO:
		m.kind = 1;
		m.generation = 0xdeadbeefu;
		break;
	case CHANNEL_MSG_MAILBOX_CHANGED:
		snprintf(m.user, sizeof(m.user), "alice@example.org");
		snprintf(m.mailbox, sizeof(m.mailbox), "Archive/2026/\xc3\xa9t\xc3\xa9");
		m.modseq = 0x0102030405060708ull;
		break;
	case CHANNEL_MSG_QUEUE_ENTRY_COMMITTED:
		snprintf(m.queue_id, sizeof(m.queue_id), "4F2A9C1B00");
		break;
	}
	return m;
}

static const enum channel_msg_type all_types[] = {
	CHANNEL_MSG_HELLO, CHANNEL_MSG_MAILBOX_CHANGED, CHANNEL_MSG_QUEUE_ENTRY_COMMITTED,
};

static void assert_msg_equal(const struct channel_msg *a, const struct channel_msg *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->generation, b->generation);
	assert_true(a->modseq == b->modseq);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->mailbox, b->mailbox);
	assert_string_equal(a->queue_id, b->queue_id);
}

static size_t encode(const struct channel_msg *m, unsigned char *buf)
{
	size_t len;
	const char *error;
	assert_int_equal(channel_frame_encode(m, buf, CHANNEL_FRAME_MAX, &len, &error), 0);
	return len;
}

static void test_codec_round_trip(void **state)
{
	for (unsigned t = 0; t < 3; t++) {
		struct channel_msg m = sample(all_types[t]), out;
		unsigned char buf[CHANNEL_FRAME_MAX];
		size_t len = encode(&m, buf), used;
		const char *error;
		/* explicit byte order: the header is big-endian */
		assert_int_equal(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3],
				 len - CHANNEL_HEADER_SIZE);
		assert_int_equal(buf[4] << 8 | buf[5], all_types[t]);
		/* every prefix asks for more, never decodes or fails */
		for (size_t i = 0; i < len; i++)
			assert_int_equal(channel_frame_decode(buf, i, &out, &used, &error), 0);
		assert_int_equal(channel_frame_decode(buf, len, &out, &used, &error), 1);
		assert_int_equal(used, len);
		assert_msg_equal(&m, &out);
	}
	/* the modseq's bytes are in order on the wire */
	struct channel_msg m = sample(CHANNEL_MSG_MAILBOX_CHANGED);
	unsigned char buf[CHANNEL_FRAME_MAX];
	size_t len = encode(&m, buf);
	static const unsigned char be[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	assert_memory_equal(buf + len - 8, be, 8);
}

static int decode_error(const unsigned char *buf, size_t len, const char **error_r)
{
	struct channel_msg out;
	size_t used;
	return channel_frame_decode(buf, len, &out, &used, error_r);
}

static void test_codec_limits(void **state)
{
	const char *error = NULL;
	unsigned char buf[CHANNEL_FRAME_MAX + 16];
	/* a length over the limit is refused from the header alone */
	static const unsigned char big[8] = { 0, 0, 0x08, 0x01, 0, 2, 0, 0 };
	assert_int_equal(decode_error(big, sizeof(big), &error), -1);
	assert_non_null(strstr(error, "over the limit"));
	static const unsigned char huge[8] = { 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0 };
	assert_int_equal(decode_error(huge, sizeof(huge), &error), -1);
	/* strings: at most CHANNEL_STR_MAX, at least one byte */
	struct channel_msg m = sample(CHANNEL_MSG_MAILBOX_CHANGED);
	memset(m.user, 'a', CHANNEL_STR_MAX);
	m.user[CHANNEL_STR_MAX] = '\0';
	memset(m.mailbox, 'b', CHANNEL_STR_MAX);
	m.mailbox[CHANNEL_STR_MAX] = '\0';
	size_t len;
	assert_int_equal(channel_frame_encode(&m, buf, sizeof(buf), &len, &error), 0);
	assert_true(len <= CHANNEL_FRAME_MAX);
	struct channel_msg out;
	size_t used;
	assert_int_equal(channel_frame_decode(buf, len, &out, &used, &error), 1);
	assert_msg_equal(&m, &out);
	struct channel_msg empty = sample(CHANNEL_MSG_QUEUE_ENTRY_COMMITTED);
	empty.queue_id[0] = '\0';
	assert_int_equal(channel_frame_encode(&empty, buf, sizeof(buf), &len, &error), -1);
	/* a buffer too small is refused, not overrun */
	struct channel_msg q = sample(CHANNEL_MSG_QUEUE_ENTRY_COMMITTED);
	assert_int_equal(channel_frame_encode(&q, buf, 12, &len, &error), -1);
}

static void test_codec_malformed(void **state)
{
	const char *error;
	unsigned char buf[CHANNEL_FRAME_MAX + 16];
	struct channel_msg m = sample(CHANNEL_MSG_MAILBOX_CHANGED);
	size_t len = encode(&m, buf);
	unsigned char bad[sizeof(buf)];
	/* unknown type, unknown flags */
	memcpy(bad, buf, len);
	bad[5] = 9;
	assert_int_equal(decode_error(bad, len, &error), -1);
	memcpy(bad, buf, len);
	bad[4] = 1;
	assert_int_equal(decode_error(bad, len, &error), -1);
	memcpy(bad, buf, len);
	bad[7] = 1;
	assert_int_equal(decode_error(bad, len, &error), -1);
	/* a control character, a NUL in a string */
	memcpy(bad, buf, len);
	bad[CHANNEL_HEADER_SIZE + 2] = '\n';
	assert_int_equal(decode_error(bad, len, &error), -1);
	memcpy(bad, buf, len);
	bad[CHANNEL_HEADER_SIZE + 3] = '\0';
	assert_int_equal(decode_error(bad, len, &error), -1);
	/* a string longer than its frame */
	memcpy(bad, buf, len);
	bad[CHANNEL_HEADER_SIZE] = 0x07;
	assert_int_equal(decode_error(bad, len, &error), -1);
	/* a frame shorter than its fields (length cut by one) */
	memcpy(bad, buf, len);
	bad[3]--;
	assert_int_equal(decode_error(bad, len - 1, &error), -1);
	/* bytes left over after the last field */
	memcpy(bad, buf, len);
	bad[3]++;
	bad[len] = 0;
	assert_int_equal(decode_error(bad, len + 1, &error), -1);
	assert_non_null(strstr(error, "left over"));
	/* an empty HELLO */
	static const unsigned char hello0[8] = { 0, 0, 0, 0, 0, 1, 0, 0 };
	assert_int_equal(decode_error(hello0, sizeof(hello0), &error), -1);
}

/* ---- over a socketpair on the loop ---- */

struct end {
	struct ioloop *loop;
	struct channel *chan;
	struct channel_msg got[8];
	unsigned count, closed, stop_after;
	char reason[128];
	bool destroy_on_msg;
};

static void on_msg(const struct channel_msg *msg, void *ctx)
{
	struct end *e = ctx;
	if (e->count < 8)
		e->got[e->count] = *msg;
	e->count++;
	if (e->destroy_on_msg)
		channel_destroy(&e->chan);
	if (e->count >= e->stop_after)
		ioloop_stop(e->loop);
}

static void on_closed(const char *reason, void *ctx)
{
	struct end *e = ctx;
	e->closed++;
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	channel_destroy(&e->chan);
	ioloop_stop(e->loop);
}

static void on_guard(void *ctx)
{
	ioloop_stop(ctx);
}

/* Runs the loop until a callback stops it, or 5 s. */
static void run(struct ioloop *loop)
{
	struct timeout *guard = timeout_add(loop, 5000, on_guard, loop);
	ioloop_run(loop);
	timeout_remove(&guard);
}

static void test_transport_every_type(void **state)
{
	int fds[2];
	const char *error;
	assert_int_equal(channel_pair(fds, &error), 0);
	struct ioloop *loop = ioloop_create();
	struct end a = { .loop = loop, .stop_after = 3 }, b = { .loop = loop, .stop_after = 3 };
	a.chan = channel_create(loop, fds[0], on_msg, on_closed, &a);
	b.chan = channel_create(loop, fds[1], on_msg, on_closed, &b);
	for (unsigned t = 0; t < 3; t++) {
		struct channel_msg m = sample(all_types[t]);
		assert_int_equal(channel_send(a.chan, &m, &error), 0);
	}
	run(loop);
	assert_int_equal(b.count, 3);
	for (unsigned t = 0; t < 3; t++) {
		struct channel_msg m = sample(all_types[t]);
		assert_msg_equal(&m, &b.got[t]);
	}
	/* and back; then a close is seen as one on_closed */
	struct channel_msg m = sample(CHANNEL_MSG_HELLO);
	a.stop_after = 1;
	assert_int_equal(channel_send(b.chan, &m, &error), 0);
	run(loop);
	assert_int_equal(a.count, 1);
	channel_destroy(&b.chan);
	run(loop);
	assert_int_equal(a.closed, 1);
	assert_string_equal(a.reason, "peer closed");
	assert_null(a.chan);
	ioloop_destroy(&loop);
}

struct dribble {
	int fd;
	unsigned char buf[CHANNEL_FRAME_MAX * 2];
	size_t len, pos;
	struct timeout *to;
};

static void dribble_next(void *ctx)
{
	struct dribble *d = ctx;
	if (d->pos < d->len) {
		assert_int_equal(write(d->fd, d->buf + d->pos, 1), 1);
		d->pos++;
	}
	timeout_reset(d->to, 0);
}

static void test_transport_split_reads(void **state)
{
	int fds[2];
	const char *error;
	assert_int_equal(channel_pair(fds, &error), 0);
	struct ioloop *loop = ioloop_create();
	struct end e = { .loop = loop, .stop_after = 2 };
	e.chan = channel_create(loop, fds[1], on_msg, on_closed, &e);
	struct dribble d = { .fd = fds[0] };
	struct channel_msg m1 = sample(CHANNEL_MSG_MAILBOX_CHANGED);
	struct channel_msg m2 = sample(CHANNEL_MSG_QUEUE_ENTRY_COMMITTED);
	d.len = encode(&m1, d.buf);
	d.len += encode(&m2, d.buf + d.len);
	d.to = timeout_add(loop, 0, dribble_next, &d);
	run(loop);
	timeout_remove(&d.to);
	assert_int_equal(d.pos, d.len);
	assert_int_equal(e.count, 2);
	assert_msg_equal(&m1, &e.got[0]);
	assert_msg_equal(&m2, &e.got[1]);
	assert_int_equal(e.closed, 0);
	channel_destroy(&e.chan);
	close(fds[0]);
	ioloop_destroy(&loop);
}

/* A malformed frame after a good one: the good one arrives, then the
 * peer is dropped with the reason, and nothing after it is read. */
static void test_transport_malformed_drops_peer(void **state)
{
	int fds[2];
	const char *error;
	assert_int_equal(channel_pair(fds, &error), 0);
	struct ioloop *loop = ioloop_create();
	struct end e = { .loop = loop, .stop_after = 100 };
	e.chan = channel_create(loop, fds[1], on_msg, on_closed, &e);
	unsigned char buf[3 * CHANNEL_FRAME_MAX];
	struct channel_msg m = sample(CHANNEL_MSG_HELLO);
	size_t len = encode(&m, buf);
	static const unsigned char junk[8] = { 0, 0, 0, 4, 0, 0x77, 0, 0 };
	memcpy(buf + len, junk, sizeof(junk));
	len += sizeof(junk);
	len += encode(&m, buf + len);
	assert_int_equal(write(fds[0], buf, len), (ssize_t)len);
	run(loop);
	assert_int_equal(e.count, 1);
	assert_int_equal(e.closed, 1);
	assert_non_null(strstr(e.reason, "unknown type"));
	assert_null(e.chan);
	close(fds[0]);
	ioloop_destroy(&loop);
}

/* The owner destroys the channel in on_msg with more frames buffered. */
static void test_transport_destroy_in_callback(void **state)
{
	int fds[2];
	const char *error;
	assert_int_equal(channel_pair(fds, &error), 0);
	struct ioloop *loop = ioloop_create();
	struct end e = { .loop = loop, .stop_after = 1, .destroy_on_msg = true };
	e.chan = channel_create(loop, fds[1], on_msg, on_closed, &e);
	unsigned char buf[3 * CHANNEL_FRAME_MAX];
	struct channel_msg m = sample(CHANNEL_MSG_HELLO);
	size_t len = encode(&m, buf);
	len += encode(&m, buf + len);
	assert_int_equal(write(fds[0], buf, len), (ssize_t)len);
	run(loop);
	assert_int_equal(e.count, 1);
	assert_null(e.chan);
	close(fds[0]);
	ioloop_destroy(&loop);
}

/* A peer that never reads: sends are refused once the output buffer is
 * full, so memory stays bounded; the channel itself stays usable. */
static void test_transport_output_bounded(void **state)
{
	int fds[2];
	const char *error = NULL;
	assert_int_equal(channel_pair(fds, &error), 0);
	struct ioloop *loop = ioloop_create();
	struct end e = { .loop = loop };
	e.chan = channel_create(loop, fds[0], on_msg, on_closed, &e);
	struct channel_msg m = sample(CHANNEL_MSG_MAILBOX_CHANGED);
	memset(m.user, 'u', CHANNEL_STR_MAX);
	m.user[CHANNEL_STR_MAX] = '\0';
	unsigned sent = 0;
	int ret = 0;
	for (unsigned i = 0; i < 100000 && ret == 0; i++) {
		ret = channel_send(e.chan, &m, &error);
		sent += ret == 0;
	}
	assert_int_equal(ret, -1);
	assert_non_null(strstr(error, "full"));
	assert_true(sent > 10);
	assert_true(channel_output_pending(e.chan) <= CHANNEL_OUTBUF_MAX);
	channel_destroy(&e.chan);
	close(fds[1]);
	ioloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_round_trip),
		cmocka_unit_test(test_codec_limits),
		cmocka_unit_test(test_codec_malformed),
		cmocka_unit_test(test_transport_every_type),
		cmocka_unit_test(test_transport_split_reads),
		cmocka_unit_test(test_transport_malformed_drops_peer),
		cmocka_unit_test(test_transport_destroy_in_callback),
		cmocka_unit_test(test_transport_output_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
