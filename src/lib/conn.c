/* conn.c: buffered non-blocking connection, plaintext or TLS: its life
 * cycle. See conn.h; the buffers are in conn_io.c, TLS in conn_tls.c.
 *
 * Life cycle: events from the fd drive conn_handle(); it reads what it can,
 * hands CONN_EV_INPUT to the session, then writes what it can. CLOSED is
 * always the last callback, delivered from a deferred timeout so that the
 * session never destroys the conn while conn code is on the stack. */
#include "conn_private.h"
#include "ioloop.h"
#include "mem.h"
#include "log.h"

#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

static void conn_check_drained(struct conn *conn);
static void conn_resume_deferred(void *ctx);

/* The idle timer measures time since the session last made progress (a
 * whole line, or message data consumed), not since the last byte: a
 * client trickling one byte at a time (slowloris) still times out. */
void conn_progress(struct conn *conn)
{
	if (conn->idle_to != NULL)
		timeout_reset(conn->idle_to, conn->set.idle_timeout_ms);
}

static void conn_deliver_closed(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->defer_to);
	conn->cb(conn->ctx, CONN_EV_CLOSED);
}

/* Mark dead and schedule the CLOSED callback. */
void conn_fail(struct conn *conn, const char *reason)
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
	timeout_remove(&conn->shrink_to);
	conn->defer_to = ioloop_defer(conn->loop, conn_deliver_closed, conn);
}

void conn_on_idle(void *ctx)
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

static void conn_on_close_grace(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->close_to);
	conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "closed");
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
	conn->stream = &conn_stream_plain;

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
		conn_tls_start(conn, tls);
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
	timeout_remove(&conn->shrink_to);
	if (conn->stream->free != NULL)
		conn->stream->free(conn); /* a filter sits above TLS */
	conn_tls_free(conn);
	conn_client_free(conn);
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

void conn_update_io(struct conn *conn)
{
	if (conn->state == CONN_DEAD || conn->state == CONN_CONNECTING ||
	    conn->io == NULL)
		return;
	unsigned conds = 0;
	bool want_read = !conn->paused && !conn->closing && !conn->peer_eof &&
		conn->state != CONN_STARTTLS_FLUSH;
	if (conn->state == CONN_HANDSHAKE)
		want_read = true;
	if (want_read && conn->in.len < conn->set.max_input)
		conds |= IO_READ;
	if (conn->ssl_want_write ||
	    (conn_out_unsent(conn) && conn->state != CONN_HANDSHAKE))
		conds |= IO_WRITE;
	io_set_conds(conn->io, conds);
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
	    conn_out_unsent(conn))
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
	    !conn_out_unsent(conn))
		conn->drained_to = ioloop_defer(conn->loop, conn_on_drained, conn);
}

void conn_handle(void *ctx)
{
	struct conn *conn = ctx;
	conn->ssl_want_write = false;

	if (conn_out_unsent(conn)) {
		if (conn_flush(conn) < 0) {
			conn_fail(conn, "error");
			return;
		}
	}
	if (conn->state == CONN_STARTTLS_FLUSH && conn->out_pos >= conn->out.len) {
		/* RFC 3207 4.2: nothing read before the handshake survives */
		conn_discard_input(conn);
		conn_tls_start(conn, conn->starttls_ctx);
		conn->starttls_ctx = NULL;
	}
	if (conn->state == CONN_HANDSHAKE) {
		conn_tls_handshake(conn);
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
		if (!conn->stream->pending(conn))
			break;
	}
	if (conn->state == CONN_DEAD)
		return;
	if (conn_out_unsent(conn) && conn_flush(conn) < 0) {
		conn_fail(conn, "error");
		return;
	}
	if (conn->state == CONN_STARTTLS_FLUSH && conn->out_pos >= conn->out.len) {
		conn_handle(conn); /* reply flushed: start the handshake now */
		return;
	}
	if (conn->closing && !conn_out_unsent(conn)) {
		conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "closed");
		return;
	}
	if (conn->peer_eof && !conn->paused) {
		conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "eof");
		return;
	}
	/* after 64 rounds a layer (TLS, a filter) may still hold input that
	 * epoll will not report: go on from the loop */
	if (!conn->paused && !conn->closing && conn->in.len < conn->set.max_input &&
	    conn->stream->pending(conn) && conn->defer_to == NULL)
		conn->defer_to = ioloop_defer(conn->loop, conn_resume_deferred, conn);
	conn_check_drained(conn);
	conn_buffers_settle(conn);
	conn_update_io(conn);
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

void conn_close_after_output(struct conn *conn)
{
	if (conn->closing || conn->state == CONN_DEAD)
		return;
	conn->closing = true;
	/* a peer that never reads must not keep us forever */
	conn->close_to = timeout_add(conn->loop, CONN_CLOSE_GRACE_MS,
				     conn_on_close_grace, conn);
	if (!conn->in_callback) {
		if (!conn_out_unsent(conn))
			conn_fail(conn, conn->close_reason != NULL ? conn->close_reason : "closed");
		else
			conn_update_io(conn);
	}
}

void conn_set_output_drained(struct conn *conn, void (*cb)(void *ctx), void *ctx)
{
	conn->drained_cb = cb;
	conn->drained_ctx = ctx;
	if (cb == NULL) {
		timeout_remove(&conn->drained_to);
		conn_buffers_settle(conn);
	} else if (conn->state != CONN_DEAD && !conn->in_callback)
		conn_check_drained(conn);
}

void conn_set_idle_timeout(struct conn *conn, unsigned msecs)
{
	conn->set.idle_timeout_ms = msecs;
	/* from now: a client that just logged in gets the whole new span */
	if (conn->idle_to != NULL)
		timeout_reset(conn->idle_to, msecs);
}

unsigned conn_idle_timeout(const struct conn *conn)
{
	return conn->set.idle_timeout_ms;
}
