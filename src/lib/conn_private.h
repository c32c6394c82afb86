/* conn_private.h: what conn.c, conn_io.c and conn_tls.c share; nothing
 * outside src/lib/conn*.c includes it.
 *
 * Roles: conn.c is the life cycle (create, destroy, events, timers,
 * closing); conn_io.c the buffers (reading into the input buffer, lines,
 * output, the limits, giving memory back when idle) and the plain stream;
 * conn_tls.c the TLS stream, the handshake and STARTTLS; conn_client.c
 * the client side (connect, client TLS and its verification, the session
 * cache), which conn.c and conn_tls.c reach through conn->client.
 *
 * The stream: every byte between the buffers and the socket goes through
 * conn->stream (read / write / pending), one set of functions per layer.
 * Plain and TLS are the bottom layers; conn_tls_handshake() switches
 * from one to the other. A filter layer stacks on top of them: it keeps
 * the layer it replaced and its own state in conn->layer, its read()
 * pulls from below and transforms, its write() transforms and pushes
 * down, and it may hold bytes of its own: input (pending()) and output
 * (out_pending(), pushed by flush()), bounded like the conn's buffers.
 * conn_deflate.c (RFC 4978 COMPRESS=DEFLATE) is the one filter today;
 * installing it is a pointer swap, nothing in the buffer code changes. */
#ifndef POSTEL_CONN_PRIVATE_H
#define POSTEL_CONN_PRIVATE_H

#include "conn.h"
#include "str.h"

#include <arpa/inet.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#define CONN_READ_CHUNK 16384
#define CONN_CLOSE_GRACE_MS 10000
/* A nearly empty buffer with more capacity than this is cut back to its
 * contents, and an empty one is freed (conn_io.c): an idle connection
 * holds no buffer, not what its largest line or reply once needed. */
#define CONN_BUFFER_KEEP 4096
/* ...but only once the connection has been quiet this long: a client
 * fetching messages one after another (POP3 RETR 1..n) reuses the big
 * output buffer instead of growing it from nothing for every message,
 * and a busy one does not allocate for every command. */
#define CONN_SHRINK_DELAY_MS 1000

enum conn_state {
	CONN_CONNECTING, /* client side: connect() in progress (conn_client.c) */
	CONN_PLAIN,
	CONN_STARTTLS_FLUSH, /* STARTTLS accepted: flushing the reply */
	CONN_HANDSHAKE,
	CONN_TLS,
	CONN_DEAD,
};

/* One layer between the buffers and the socket. read/write return the
 * bytes moved (>0), 0 when the socket would block (setting
 * conn->ssl_want_write when a read needs the fd writable), or -1 when the
 * connection is over (peer_eof and close_reason set as they apply). */
struct conn_stream {
	const char *name;
	ssize_t (*read)(struct conn *conn, void *buf, size_t size);
	ssize_t (*write)(struct conn *conn, const void *data, size_t len);
	/* bytes held inside the layer that epoll will not report */
	bool (*pending)(const struct conn *conn);
	/* Filter layers only (NULL in plain and TLS): output held inside
	 * the layer, pushed down by flush() (1 all gone, 0 blocked, -1
	 * dead); idle() gives memory back once the conn is quiet; free()
	 * tears the layer down and puts the lower stream back. */
	bool (*out_pending)(const struct conn *conn);
	int (*flush)(struct conn *conn);
	void (*idle)(struct conn *conn);
	void (*free)(struct conn *conn);
};

extern const struct conn_stream conn_stream_plain;
extern const struct conn_stream conn_stream_tls;

struct conn {
	struct ioloop *loop;
	int fd;
	struct io *io;
	struct conn_settings set;
	enum conn_state state;
	const struct conn_stream *stream;
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
	struct timeout *shrink_to;  /* armed while a buffer is shrinkable */
	bool traffic;               /* a settle point since shrink_to was armed */
	void (*drained_cb)(void *ctx);
	void *drained_ctx;
	conn_callback_t *cb;
	void *ctx;
	char peer_ip[INET6_ADDRSTRLEN];
	unsigned local_port;
	struct conn_client *client; /* client side only (conn_client.c) */
	void *layer; /* the filter layer's state (conn_deflate.c), or NULL */
};

/* Output the peer has not taken yet: in the buffer or inside a layer. */
static inline bool conn_out_unsent(const struct conn *conn)
{
	return conn->out_pos < conn->out.len ||
		(conn->stream->out_pending != NULL && conn->stream->out_pending(conn));
}

/* conn.c */
void conn_fail(struct conn *conn, const char *reason);
void conn_progress(struct conn *conn);
void conn_update_io(struct conn *conn);
void conn_handle(void *ctx);
void conn_on_idle(void *ctx);

/* conn_io.c */
/* >0 bytes read, 0 would block / buffer full, -1 dead */
ssize_t conn_read_some(struct conn *conn);
/* 1 all written, 0 some left, -1 error */
int conn_flush(struct conn *conn);
/* Called after traffic: empty buffers are freed, nearly empty ones above
 * CONN_BUFFER_KEEP cut back, once the connection has been quiet for
 * CONN_SHRINK_DELAY_MS. */
void conn_buffers_settle(struct conn *conn);
void conn_discard_input(struct conn *conn);

/* conn_tls.c */
void conn_tls_start(struct conn *conn, struct tls_ctx *tls);
void conn_tls_handshake(struct conn *conn);
void conn_tls_free(struct conn *conn);

/* conn_client.c */
/* A client SSL for conn (SNI, host check, cached session), NULL on error. */
SSL *conn_client_ssl_new(struct conn *conn);
/* Handshake done: record the peer, check the verification policy, tell
 * the session. -1 when the connection was failed (strict and unverified). */
int conn_client_tls_established(struct conn *conn);
void conn_client_free(struct conn *conn);

#endif
