/* conn_io.c: a connection's buffers and its plain stream. See conn.h and
 * conn_private.h.
 *
 * Memory: the input buffer holds only bytes received and not yet consumed
 * (reads land in a stack buffer first, so a 16 KiB read does not reserve
 * 16 KiB per connection); the output buffer holds only what the peer has
 * not taken yet. Either one, once it is (nearly) empty, is cut back to
 * its contents when its capacity is over CONN_BUFFER_KEEP, and freed when
 * it is empty: a connection that streamed a large message or read a long
 * line goes back to a few hundred bytes, an idle one to none. The cut waits until the connection has been quiet for
 * CONN_SHRINK_DELAY_MS (a timer, pushed back by traffic), so a busy
 * connection keeps its buffers from one reply to the next. The output
 * buffer is not cut while a streamer is registered
 * (conn_set_output_drained()): it is refilled at once. */
#include "conn_private.h"
#include "ioloop.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static ssize_t conn_plain_read(struct conn *conn, void *buf, size_t size)
{
	ssize_t n = read(conn->fd, buf, size);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn->close_reason = "error";
		conn->peer_eof = true;
		return -1;
	}
	if (n == 0) {
		conn->peer_eof = true;
		return -1;
	}
	return n;
}

static ssize_t conn_plain_write(struct conn *conn, const void *data, size_t len)
{
	ssize_t n = send(conn->fd, data, len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn->close_reason = "error";
		return -1;
	}
	return n;
}

static bool conn_plain_pending(const struct conn *conn)
{
	(void)conn;
	return false;
}

const struct conn_stream conn_stream_plain = {
	.name = "plain",
	.read = conn_plain_read,
	.write = conn_plain_write,
	.pending = conn_plain_pending,
};

/* Replace s by a copy of its bytes from `from` on, in a buffer just big
 * enough; an empty one is freed. */
static void conn_str_shrink(str_t *s, size_t from)
{
	str_t small = STR_INIT;
	if (s->len > from)
		str_append(&small, s->data + from, s->len - from);
	str_free(s);
	*s = small;
}

/* An empty buffer is freed whatever its size: thousands of idle
 * connections (IMAP IDLE) then hold no buffer at all. */
static bool conn_in_shrinkable(const struct conn *conn)
{
	return conn->in.cap > 0 && (conn->in.len == 0 ||
		(conn->in.cap > CONN_BUFFER_KEEP && conn->in.len < CONN_BUFFER_KEEP / 2));
}

static bool conn_out_shrinkable(const struct conn *conn)
{
	size_t pending = conn->out.len - conn->out_pos;
	return conn->out.cap > 0 && conn->drained_cb == NULL && (pending == 0 ||
		(conn->out.cap > CONN_BUFFER_KEEP && pending < CONN_BUFFER_KEEP / 2));
}

/* The delay ran out: shrink if nothing happened since it was armed,
 * else wait another delay. A connection with traffic at least once per
 * delay pays one timer reset per delay, not a free and regrow per
 * message. */
static void conn_on_shrink(void *ctx)
{
	struct conn *conn = ctx;
	if (conn->traffic) {
		conn->traffic = false;
		timeout_reset(conn->shrink_to, CONN_SHRINK_DELAY_MS);
		return;
	}
	timeout_remove(&conn->shrink_to);
	if (conn_in_shrinkable(conn))
		conn_str_shrink(&conn->in, 0);
	if (conn_out_shrinkable(conn)) {
		conn_str_shrink(&conn->out, conn->out_pos);
		conn->out_pos = 0;
	}
	if (conn->stream->idle != NULL)
		conn->stream->idle(conn);
}

void conn_buffers_settle(struct conn *conn)
{
	conn->traffic = true;
	if (conn->shrink_to != NULL || conn->state == CONN_DEAD)
		return;
	if (conn_in_shrinkable(conn) || conn_out_shrinkable(conn) ||
	    conn->stream->idle != NULL) {
		conn->traffic = false;
		conn->shrink_to = timeout_add(conn->loop, CONN_SHRINK_DELAY_MS,
					      conn_on_shrink, conn);
	}
}

size_t conn_buffer_capacity(const struct conn *conn)
{
	return conn->in.cap + conn->out.cap;
}

void conn_discard_input(struct conn *conn)
{
	str_clear(&conn->in);
	conn->skipping_line = false;
	conn_buffers_settle(conn);
}

/* Drop bytes of an over-long line through its LF; without an LF yet, drop
 * everything and keep skipping as more arrives. */
static void conn_skip_line(struct conn *conn)
{
	const char *lf = memchr(conn->in.data, '\n', conn->in.len);
	if (lf == NULL) {
		conn->skipped += conn->in.len;
		str_clear(&conn->in);
		conn->skipping_line = true;
		return;
	}
	str_consume(&conn->in, (size_t)(lf - conn->in.data) + 1);
	conn->skipping_line = false;
	conn->skipped = 0;
}

ssize_t conn_read_some(struct conn *conn)
{
	if (conn->in.len >= conn->set.max_input)
		return 0;
	size_t room = conn->set.max_input - conn->in.len;
	if (room > CONN_READ_CHUNK)
		room = CONN_READ_CHUNK;
	char buf[CONN_READ_CHUNK];
	ssize_t n = conn->stream->read(conn, buf, room);
	if (n <= 0)
		return n;
	str_append(&conn->in, buf, (size_t)n);
	if (conn->skipping_line)
		conn_skip_line(conn);
	return n;
}

int conn_flush(struct conn *conn)
{
	/* implicit TLS: the greeting waits for the handshake */
	if (conn->state == CONN_HANDSHAKE)
		return 0;
	while (conn->out_pos < conn->out.len) {
		size_t len = conn->out.len - conn->out_pos;
		if (len > INT32_MAX)
			len = INT32_MAX;
		ssize_t n = conn->stream->write(conn, conn->out.data + conn->out_pos, len);
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		conn->out_pos += (size_t)n;
		/* the peer reading what we stream (POP3 RETR of a big message
		 * over a slow link) is progress too: only a session where
		 * neither side moves is idle (RFC 1939 3: the autologout timer
		 * is for inactivity) */
		conn_progress(conn);
	}
	str_clear(&conn->out);
	conn->out_pos = 0;
	if (conn->stream->flush != NULL) {
		/* a filter's own output (the end of a compressed burst) */
		int r = conn->stream->flush(conn);
		if (r <= 0)
			return r;
	}
	conn_buffers_settle(conn);
	return 1;
}

/* The start of a line refused as too long, so a protocol can name the
 * command (an IMAP tag) in its refusal. */
#define CONN_LINE_HEAD 128

static void conn_line_head(struct conn *conn, const char **line_r, size_t *len_r)
{
	size_t n = conn->in.len < CONN_LINE_HEAD ? conn->in.len : CONN_LINE_HEAD;
	*line_r = t_strndup(conn->in.data, n);
	*len_r = n;
}

enum conn_line_result conn_read_line(struct conn *conn, size_t max_len,
				     const char **line_r, size_t *len_r,
				     bool *bare_lf_r)
{
	if (conn->skipping_line) {
		/* an endless line is reported again every max_input bytes,
		 * so the session's error count can end it */
		if (conn->skipped < conn->set.max_input)
			return CONN_LINE_MORE;
		conn->skipped = 0;
		conn_progress(conn);
		*line_r = NULL;
		*len_r = 0;
		return CONN_LINE_TOOLONG;
	}
	if (conn->in.len == 0)
		return CONN_LINE_MORE;
	size_t scan = conn->in.len < max_len + 2 ? conn->in.len : max_len + 2;
	const char *lf = memchr(conn->in.data, '\n', scan);
	if (lf == NULL) {
		if (conn->in.len >= max_len + 2) {
			conn_line_head(conn, line_r, len_r);
			conn_skip_line(conn);
			conn_progress(conn);
			conn_buffers_settle(conn);
			return CONN_LINE_TOOLONG;
		}
		return CONN_LINE_MORE;
	}
	size_t total = (size_t)(lf - conn->in.data) + 1;
	size_t len = total - 1;
	bool bare = true;
	if (len > 0 && conn->in.data[len - 1] == '\r') {
		len--;
		bare = false;
	}
	conn_progress(conn);
	if (len > max_len) {
		conn_line_head(conn, line_r, len_r);
		str_consume(&conn->in, total);
		conn_buffers_settle(conn);
		return CONN_LINE_TOOLONG;
	}
	/* hand out a copy in the temp pool: the buffer moves on consume */
	*line_r = t_strndup(conn->in.data, len);
	*len_r = len;
	if (bare_lf_r != NULL)
		*bare_lf_r = bare;
	str_consume(&conn->in, total);
	conn_buffers_settle(conn);
	return CONN_LINE_OK;
}

size_t conn_input_peek(struct conn *conn, const char **data_r)
{
	*data_r = str_c(&conn->in);
	return conn->in.len;
}

void conn_input_consume(struct conn *conn, size_t n)
{
	str_consume(&conn->in, n);
	if (n > 0) {
		conn_progress(conn);
		conn_buffers_settle(conn);
	}
}

/* Output over the cap ends the connection at once, whoever wrote it (a
 * reply, or unsolicited output from a timer): what is queued is dropped,
 * and CLOSED follows from the loop. */
static bool conn_output_fits(struct conn *conn, size_t len)
{
	if (conn->state == CONN_DEAD)
		return false;
	size_t pending = conn->out.len - conn->out_pos;
	if (len <= conn->set.max_output && pending <= conn->set.max_output - len)
		return true;
	log_info("event=output_overflow ip=%s pending=%zu max=%zu", conn->peer_ip,
		 pending + len, conn->set.max_output);
	conn_fail(conn, "output_overflow");
	str_free(&conn->out);
	conn->out_pos = 0;
	return false;
}

void conn_write(struct conn *conn, const void *data, size_t len)
{
	if (!conn_output_fits(conn, len))
		return;
	str_append(&conn->out, data, len);
	if (!conn->in_callback)
		conn_update_io(conn);
}

str_t *conn_write_begin(struct conn *conn)
{
	return conn->state == CONN_DEAD ? NULL : &conn->out;
}

void conn_write_end(struct conn *conn)
{
	if (!conn_output_fits(conn, 0))
		return;
	if (!conn->in_callback)
		conn_update_io(conn);
}

void conn_printf(struct conn *conn, const char *fmt, ...)
{
	if (conn->state == CONN_DEAD)
		return;
	str_t text = STR_INIT;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&text, fmt, ap);
	va_end(ap);
	conn_write(conn, text.data, text.len);
	str_free(&text);
}

size_t conn_output_pending(const struct conn *conn)
{
	return conn->out.len - conn->out_pos;
}

size_t conn_output_room(const struct conn *conn)
{
	if (conn->state == CONN_DEAD || conn->closing)
		return 0;
	size_t pending = conn->out.len - conn->out_pos;
	return pending >= conn->set.max_output ? 0 : conn->set.max_output - pending;
}
