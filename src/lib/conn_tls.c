/* conn_tls.c: the TLS layer of a connection: the stream that reads and
 * writes through OpenSSL, the handshake (implicit TLS at once, STARTTLS
 * once the reply is flushed) and what the session may ask about it. See
 * conn.h and conn_private.h.
 *
 * The SSL_CTX sets SSL_MODE_RELEASE_BUFFERS (tls.c): OpenSSL frees its
 * record buffers while nothing is in flight, so an idle TLS connection
 * costs its SSL state only. */
#include "conn_private.h"
#include "ioloop.h"
#include "log.h"
#include "tls.h"

#include <string.h>
#include <sys/socket.h>

#include <openssl/err.h>

static ssize_t conn_tls_read(struct conn *conn, void *buf, size_t size)
{
	ERR_clear_error();
	int r = SSL_read(conn->ssl, buf, size > INT32_MAX ? INT32_MAX : (int)size);
	if (r > 0)
		return r;
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

static ssize_t conn_tls_write(struct conn *conn, const void *data, size_t len)
{
	ERR_clear_error();
	int r = SSL_write(conn->ssl, data, len > INT32_MAX ? INT32_MAX : (int)len);
	if (r > 0)
		return r;
	int err = SSL_get_error(conn->ssl, r);
	if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
		return 0;
	conn->close_reason = "tls_error";
	return -1;
}

static bool conn_tls_pending(const struct conn *conn)
{
	return SSL_pending(conn->ssl) > 0;
}

const struct conn_stream conn_stream_tls = {
	.name = "tls",
	.read = conn_tls_read,
	.write = conn_tls_write,
	.pending = conn_tls_pending,
};

static void conn_on_handshake_timeout(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->handshake_to);
	conn_fail(conn, "tls_handshake_timeout");
}

void conn_tls_start(struct conn *conn, struct tls_ctx *tls)
{
	conn->ssl = conn->client != NULL ? conn_client_ssl_new(conn) :
		SSL_new(tls_ctx_ssl_ctx(tls));
	if (conn->ssl == NULL) {
		conn_fail(conn, "tls_error");
		return;
	}
	SSL_set_fd(conn->ssl, conn->fd);
	if (conn->client == NULL)
		SSL_set_accept_state(conn->ssl);
	conn->state = CONN_HANDSHAKE;
	conn->handshake_to = timeout_add(conn->loop, conn->set.handshake_timeout_ms,
					 conn_on_handshake_timeout, conn);
}

void conn_tls_handshake(struct conn *conn)
{
	ERR_clear_error();
	/* the server's ALPN answer (tls.c), without ex_data on the SSL; a
	 * client connection's alpn is NULL (conn_client_create) */
	tls_alpn_expect(conn->set.alpn);
	int r = SSL_do_handshake(conn->ssl);
	tls_alpn_expect(NULL);
	if (r == 1) {
		conn->state = CONN_TLS;
		conn->stream = &conn_stream_tls;
		conn->tls_up = true;
		timeout_remove(&conn->handshake_to);
		log_debug("event=tls_established ip=%s version=%s cipher=%s",
			  conn->peer_ip, SSL_get_version(conn->ssl),
			  SSL_get_cipher_name(conn->ssl));
		if (conn->client != NULL)
			(void)conn_client_tls_established(conn);
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

void conn_tls_free(struct conn *conn)
{
	if (conn->ssl == NULL)
		return;
	if (conn->tls_up)
		SSL_shutdown(conn->ssl); /* close_notify, RFC 8446 6.1 */
	SSL_free(conn->ssl);
	conn->ssl = NULL;
}

int conn_starttls(struct conn *conn, struct tls_ctx *tls)
{
	/* RFC 4978 3 (IMAP refuses it first): no TLS under compression */
	if (conn->ssl != NULL || conn->state != CONN_PLAIN || conn->layer != NULL)
		return -1;
	conn->state = CONN_STARTTLS_FLUSH;
	conn->starttls_ctx = tls;
	/* RFC 3207 4.2: discard whatever the client pipelined after STARTTLS */
	conn_discard_input(conn);
	if (!conn->in_callback)
		conn_update_io(conn);
	return 0;
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
