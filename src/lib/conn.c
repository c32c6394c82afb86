/* conn.c: buffered non-blocking connection, plaintext or TLS. See conn.h.
 *
 * Life cycle: events from the fd drive conn_handle(); it reads what it can,
 * hands CONN_EV_INPUT to the session, then writes what it can. CLOSED is
 * always the last callback, delivered from a deferred timeout so that the
 * session never destroys the conn while conn code is on the stack. */
#include "conn.h"
#include "ioloop.h"
#include "tls.h"
#include "mem.h"
#include "log.h"
#include "str.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define CONN_READ_CHUNK 16384
#define CONN_CLOSE_GRACE_MS 10000

enum conn_state {
	CONN_PLAIN,
	CONN_STARTTLS_FLUSH, /* STARTTLS accepted: flushing the reply */
	CONN_HANDSHAKE,
	CONN_TLS,
	CONN_DEAD,
};

struct conn {
	struct ioloop *loop;
	int fd;
	struct io *io;
	struct conn_settings set;
	enum conn_state state;
	SSL *ssl;
	struct tls_ctx *starttls_ctx;
	bool ssl_want_write;
	bool tls_up; /* handshake completed: close_notify owed at the end */

	str_t in, out;
	size_t out_pos;
	bool skipping_line; /* after TOOLONG without LF: drop to next LF */
	size_t skipped;     /* bytes dropped so far from that line */
	bool paused, peer_eof, closing, in_callback;
	const char *close_reason;

	struct timeout *idle_to, *handshake_to, *defer_to, *close_to;
	struct timeout *drained_to;
	void (*drained_cb)(void *ctx);
	void *drained_ctx;
	conn_callback_t *cb;
	void *ctx;
	char peer_ip[INET6_ADDRSTRLEN];
	unsigned local_port;
};

static void conn_handle(void *ctx);
static void conn_check_drained(struct conn *conn);

/* The idle timer measures time since the session last made progress (a
 * whole line, or message data consumed), not since the last byte: a
 * client trickling one byte at a time (slowloris) still times out. */
static void conn_progress(struct conn *conn)
{
	if (conn->idle_to != NULL)
		timeout_reset(conn->idle_to, conn->set.idle_timeout_ms);
}
static void conn_update_io(struct conn *conn);

static void conn_fail(struct conn *conn, const char *reason);

static void conn_deliver_closed(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->defer_to);
	conn->cb(conn->ctx, CONN_EV_CLOSED);
}

/* Mark dead and schedule the CLOSED callback. */
static void conn_fail(struct conn *conn, const char *reason)
{
	if (conn->state == CONN_DEAD)
		return;
	conn->state = CONN_DEAD;
	if (conn->close_reason == NULL)
		conn->close_reason = reason;
	io_remove(&conn->io);
	timeout_remove(&conn->idle_to);
	timeout_remove(&conn->handshake_to);
	timeout_remove(&conn->close_to);
	timeout_remove(&conn->defer_to);
	timeout_remove(&conn->drained_to);
	conn->defer_to = ioloop_defer(conn->loop, conn_deliver_closed, conn);
}

static void conn_on_idle(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->idle_to);
	if (conn->closing || conn->state == CONN_HANDSHAKE) {
		conn_fail(conn, "timeout");
		return;
	}
	conn->close_reason = "timeout";
	conn->cb(conn->ctx, CONN_EV_TIMEOUT);
	if (conn->state != CONN_DEAD) {
		if (!conn->closing)
			conn_close_after_output(conn);
		conn_update_io(conn);
	}
}

static void conn_on_handshake_timeout(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->handshake_to);
	conn_fail(conn, "tls_handshake_timeout");
}

static void conn_on_close_grace(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->close_to);
	conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "closed");
}

static void conn_start_tls(struct conn *conn, struct tls_ctx *tls)
{
	conn->ssl = SSL_new(tls_ctx_ssl_ctx(tls));
	if (conn->ssl == NULL) {
		conn_fail(conn, "tls_error");
		return;
	}
	SSL_set_fd(conn->ssl, conn->fd);
	SSL_set_app_data(conn->ssl, (void *)conn->set.alpn);
	SSL_set_accept_state(conn->ssl);
	conn->state = CONN_HANDSHAKE;
	conn->handshake_to = timeout_add(conn->loop, conn->set.handshake_timeout_ms,
					 conn_on_handshake_timeout, conn);
}

void conn_addr_text(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const void *a = ss->ss_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)ss)->sin_addr :
		ss->ss_family == AF_INET6 ?
		(const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr : NULL;
	if (a == NULL || inet_ntop(ss->ss_family, a, buf, (socklen_t)size) == NULL)
		snprintf(buf, size, "unknown");
}

struct conn *conn_create(struct ioloop *loop, int fd,
			 const struct conn_settings *set,
			 struct tls_ctx *tls, conn_callback_t *cb, void *ctx)
{
	struct conn *conn = xcalloc(1, sizeof(*conn));
	conn->loop = loop;
	conn->fd = fd;
	conn->set = *set;
	conn->cb = cb;
	conn->ctx = ctx;
	conn->state = CONN_PLAIN;

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (set->peer_ip != NULL)
		snprintf(conn->peer_ip, sizeof(conn->peer_ip), "%s", set->peer_ip);
	else if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		conn_addr_text(&ss, conn->peer_ip, sizeof(conn->peer_ip));
	else
		snprintf(conn->peer_ip, sizeof(conn->peer_ip), "unknown");
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		conn->local_port = ss.ss_family == AF_INET6 ?
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	conn->io = io_add(loop, fd, IO_READ, conn_handle, conn);
	conn->idle_to = timeout_add(loop, set->idle_timeout_ms, conn_on_idle, conn);
	if (tls != NULL)
		conn_start_tls(conn, tls);
	return conn;
}

void conn_destroy(struct conn **connp)
{
	struct conn *conn = *connp;
	if (conn == NULL)
		return;
	io_remove(&conn->io);
	timeout_remove(&conn->idle_to);
	timeout_remove(&conn->handshake_to);
	timeout_remove(&conn->defer_to);
	timeout_remove(&conn->close_to);
	timeout_remove(&conn->drained_to);
	if (conn->ssl != NULL) {
		if (conn->tls_up)
			SSL_shutdown(conn->ssl); /* close_notify, RFC 8446 6.1 */
		SSL_free(conn->ssl);
	}
	/* Send our FIN, then drop what the peer already sent: closing with
	 * unread input makes the kernel answer with RST, which can destroy
	 * our last reply (a 421) before the client reads it. */
	shutdown(conn->fd, SHUT_WR);
	char drain[4096];
	for (unsigned i = 0; i < 16; i++) {
		if (recv(conn->fd, drain, sizeof(drain), MSG_DONTWAIT) <= 0)
			break;
	}
	close(conn->fd);
	str_free(&conn->in);
	str_free(&conn->out);
	free(conn);
	*connp = NULL;
}

const char *conn_peer_ip(const struct conn *conn)
{
	return conn->peer_ip;
}

unsigned conn_local_port(const struct conn *conn)
{
	return conn->local_port;
}

const char *conn_close_reason(const struct conn *conn)
{
	return conn->close_reason != NULL ? conn->close_reason : "eof";
}

bool conn_is_tls(const struct conn *conn)
{
	/* tls_up stays true after close, for the disconnect log line */
	return conn->ssl != NULL && conn->tls_up;
}

const char *conn_tls_version(const struct conn *conn)
{
	return conn_is_tls(conn) ? SSL_get_version(conn->ssl) : NULL;
}

const char *conn_tls_cipher(const struct conn *conn)
{
	return conn_is_tls(conn) ? SSL_get_cipher_name(conn->ssl) : NULL;
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

/* Returns >0 bytes read, 0 would block / buffer full, -1 dead. */
static ssize_t conn_read_some(struct conn *conn)
{
	if (conn->in.len >= conn->set.max_input)
		return 0;
	size_t room = conn->set.max_input - conn->in.len;
	if (room > CONN_READ_CHUNK)
		room = CONN_READ_CHUNK;
	str_reserve(&conn->in, room);
	char *dst = conn->in.data + conn->in.len;
	ssize_t n;
	if (conn->ssl != NULL) {
		ERR_clear_error();
		int r = SSL_read(conn->ssl, dst, (int)room);
		if (r <= 0) {
			int err = SSL_get_error(conn->ssl, r);
			if (err == SSL_ERROR_WANT_READ)
				return 0;
			if (err == SSL_ERROR_WANT_WRITE) {
				conn->ssl_want_write = true;
				return 0;
			}
			conn->peer_eof = true;
			if (err != SSL_ERROR_ZERO_RETURN)
				conn->close_reason = "tls_error";
			return -1;
		}
		n = r;
	} else {
		n = read(conn->fd, dst, room);
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
	}
	conn->in.len += (size_t)n;
	conn->in.data[conn->in.len] = '\0';
	if (conn->skipping_line)
		conn_skip_line(conn);
	return n;
}

static int conn_flush(struct conn *conn)
{
	/* implicit TLS: the greeting waits for the handshake */
	if (conn->state == CONN_HANDSHAKE)
		return 0;
	while (conn->out_pos < conn->out.len) {
		size_t len = conn->out.len - conn->out_pos;
		const char *src = conn->out.data + conn->out_pos;
		ssize_t n;
		if (conn->ssl != NULL && conn->state == CONN_TLS) {
			ERR_clear_error();
			int r = SSL_write(conn->ssl, src, len > INT32_MAX ? INT32_MAX : (int)len);
			if (r <= 0) {
				int err = SSL_get_error(conn->ssl, r);
				if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
					return 0;
				conn->close_reason = "tls_error";
				return -1;
			}
			n = r;
		} else {
			n = send(conn->fd, src, len, MSG_NOSIGNAL);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					return 0;
				conn->close_reason = "error";
				return -1;
			}
		}
		conn->out_pos += (size_t)n;
		/* the peer reading what we stream (POP3 RETR of a big message
		 * over a slow link) is progress too: only a session where
		 * neither side moves is idle (RFC 1939 3: the autologout timer
		 * is for inactivity) */
		if (n > 0)
			conn_progress(conn);
	}
	str_clear(&conn->out);
	conn->out_pos = 0;
	return 1;
}

static void conn_update_io(struct conn *conn)
{
	if (conn->state == CONN_DEAD || conn->io == NULL)
		return;
	unsigned conds = 0;
	bool want_read = !conn->paused && !conn->closing && !conn->peer_eof &&
		conn->state != CONN_STARTTLS_FLUSH;
	if (conn->state == CONN_HANDSHAKE)
		want_read = true;
	if (want_read && conn->in.len < conn->set.max_input)
		conds |= IO_READ;
	if (conn->ssl_want_write ||
	    (conn->out_pos < conn->out.len && conn->state != CONN_HANDSHAKE))
		conds |= IO_WRITE;
	io_set_conds(conn->io, conds);
}

static void conn_do_handshake(struct conn *conn)
{
	ERR_clear_error();
	int r = SSL_do_handshake(conn->ssl);
	if (r == 1) {
		conn->state = CONN_TLS;
		conn->tls_up = true;
		timeout_remove(&conn->handshake_to);
		log_debug("event=tls_established ip=%s version=%s cipher=%s",
			  conn->peer_ip, SSL_get_version(conn->ssl),
			  SSL_get_cipher_name(conn->ssl));
		return;
	}
	int err = SSL_get_error(conn->ssl, r);
	if (err == SSL_ERROR_WANT_READ) {
		conn->ssl_want_write = false;
		return;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		conn->ssl_want_write = true;
		return;
	}
	unsigned long e = ERR_peek_error();
	char buf[160];
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	log_info("event=tls_handshake_failed ip=%s error=%s", conn->peer_ip,
		 log_value(buf, strlen(buf)));
	conn_fail(conn, "tls_handshake");
}

static void conn_call_input(struct conn *conn)
{
	conn->in_callback = true;
	conn->cb(conn->ctx, CONN_EV_INPUT);
	conn->in_callback = false;
}

static void conn_on_drained(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->drained_to);
	if (conn->state == CONN_DEAD || conn->drained_cb == NULL || conn->closing ||
	    conn->out_pos < conn->out.len)
		return;
	conn->in_callback = true;
	conn->drained_cb(conn->drained_ctx);
	conn->in_callback = false;
	if (conn->state != CONN_DEAD)
		conn_handle(conn); /* write it, as after any callback */
}

/* Output all written and a streamer waiting: ask it for more from the
 * loop (not from here), so one fast reader cannot hog the loop. */
static void conn_check_drained(struct conn *conn)
{
	if (conn->drained_cb != NULL && conn->drained_to == NULL && !conn->closing &&
	    (conn->state == CONN_PLAIN || conn->state == CONN_TLS) &&
	    conn->out_pos >= conn->out.len)
		conn->drained_to = ioloop_defer(conn->loop, conn_on_drained, conn);
}

static void conn_handle(void *ctx)
{
	struct conn *conn = ctx;
	conn->ssl_want_write = false;

	if (conn->out_pos < conn->out.len) {
		if (conn_flush(conn) < 0) {
			conn_fail(conn, "error");
			return;
		}
	}
	if (conn->state == CONN_STARTTLS_FLUSH && conn->out_pos >= conn->out.len) {
		/* RFC 3207 4.2: nothing read before the handshake survives */
		str_clear(&conn->in);
		conn->skipping_line = false;
		conn_start_tls(conn, conn->starttls_ctx);
		conn->starttls_ctx = NULL;
	}
	if (conn->state == CONN_HANDSHAKE) {
		conn_do_handshake(conn);
		if (conn->state != CONN_TLS) {
			conn_update_io(conn);
			return;
		}
	}
	if (conn->state == CONN_DEAD)
		return;

	for (unsigned rounds = 0; rounds < 64; rounds++) {
		bool got = false;
		if (!conn->paused && !conn->closing && !conn->peer_eof &&
		    conn->state != CONN_STARTTLS_FLUSH) {
			ssize_t n;
			while ((n = conn_read_some(conn)) > 0)
				got = true;
		}
		if (!got && rounds > 0)
			break;
		if (conn->paused || conn->closing || conn->state == CONN_DEAD)
			break;
		if (conn->in.len > 0 || got)
			conn_call_input(conn);
		if (conn->state == CONN_DEAD || conn->paused || conn->closing ||
		    conn->state == CONN_STARTTLS_FLUSH)
			break;
		/* TLS may hold decrypted data that epoll will not report */
		if (!(conn->ssl != NULL && SSL_pending(conn->ssl) > 0))
			break;
	}
	if (conn->state == CONN_DEAD)
		return;
	if (conn->out.len > conn->set.max_output) {
		conn_fail(conn, "output_overflow");
		return;
	}
	if (conn->out_pos < conn->out.len && conn_flush(conn) < 0) {
		conn_fail(conn, "error");
		return;
	}
	if (conn->state == CONN_STARTTLS_FLUSH && conn->out_pos >= conn->out.len) {
		conn_handle(conn); /* reply flushed: start the handshake now */
		return;
	}
	if (conn->closing && conn->out_pos >= conn->out.len) {
		conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "closed");
		return;
	}
	if (conn->peer_eof && !conn->paused) {
		conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "eof");
		return;
	}
	conn_check_drained(conn);
	conn_update_io(conn);
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
		return CONN_LINE_TOOLONG;
	}
	size_t scan = conn->in.len < max_len + 2 ? conn->in.len : max_len + 2;
	const char *lf = memchr(conn->in.data, '\n', scan);
	if (lf == NULL) {
		if (conn->in.len >= max_len + 2) {
			conn_skip_line(conn);
			conn_progress(conn);
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
		str_consume(&conn->in, total);
		return CONN_LINE_TOOLONG;
	}
	/* hand out a copy in the temp pool: the buffer moves on consume */
	*line_r = t_strndup(conn->in.data, len);
	*len_r = len;
	if (bare_lf_r != NULL)
		*bare_lf_r = bare;
	str_consume(&conn->in, total);
	return CONN_LINE_OK;
}

size_t conn_input_peek(struct conn *conn, const char **data_r)
{
	*data_r = conn->in.data;
	return conn->in.len;
}

void conn_input_consume(struct conn *conn, size_t n)
{
	str_consume(&conn->in, n);
	if (n > 0)
		conn_progress(conn);
}

void conn_input_pause(struct conn *conn)
{
	conn->paused = true;
	conn_update_io(conn);
}

static void conn_resume_deferred(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->defer_to);
	if (conn->state == CONN_DEAD)
		return;
	conn_handle(conn);
}

void conn_input_resume(struct conn *conn)
{
	if (conn->state == CONN_DEAD)
		return;
	conn->paused = false;
	if (conn->defer_to == NULL)
		conn->defer_to = ioloop_defer(conn->loop, conn_resume_deferred, conn);
}

void conn_write(struct conn *conn, const void *data, size_t len)
{
	if (conn->state == CONN_DEAD)
		return;
	str_append(&conn->out, data, len);
	if (!conn->in_callback)
		conn_update_io(conn);
}

void conn_printf(struct conn *conn, const char *fmt, ...)
{
	if (conn->state == CONN_DEAD)
		return;
	va_list ap;
	va_start(ap, fmt);
	str_vprintf(&conn->out, fmt, ap);
	va_end(ap);
	if (!conn->in_callback)
		conn_update_io(conn);
}

size_t conn_output_pending(const struct conn *conn)
{
	return conn->out.len - conn->out_pos;
}

void conn_close_after_output(struct conn *conn)
{
	if (conn->closing || conn->state == CONN_DEAD)
		return;
	conn->closing = true;
	/* a peer that never reads must not keep us forever */
	conn->close_to = timeout_add(conn->loop, CONN_CLOSE_GRACE_MS,
				     conn_on_close_grace, conn);
	if (!conn->in_callback) {
		if (conn->out_pos >= conn->out.len)
			conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "closed");
		else
			conn_update_io(conn);
	}
}

int conn_starttls(struct conn *conn, struct tls_ctx *tls)
{
	if (conn->ssl != NULL || conn->state != CONN_PLAIN)
		return -1;
	conn->state = CONN_STARTTLS_FLUSH;
	conn->starttls_ctx = tls;
	/* RFC 3207 4.2: discard whatever the client pipelined after STARTTLS */
	str_clear(&conn->in);
	conn->skipping_line = false;
	if (!conn->in_callback)
		conn_update_io(conn);
	return 0;
}

void conn_set_output_drained(struct conn *conn, void (*cb)(void *ctx), void *ctx)
{
	conn->drained_cb = cb;
	conn->drained_ctx = ctx;
	if (cb == NULL)
		timeout_remove(&conn->drained_to);
	else if (conn->state != CONN_DEAD && !conn->in_callback)
		conn_check_drained(conn);
}
