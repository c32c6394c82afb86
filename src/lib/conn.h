/* conn.h: one buffered network connection, plaintext or TLS.
 *
 * Owns the fd, an input buffer and an output buffer, both bounded. The
 * protocol session gets one callback, cb(ctx, event): CONN_EV_INPUT when new
 * input is buffered (or buffered input should be reprocessed after
 * conn_input_resume()), CONN_EV_CLOSED when the peer closed, an error or a
 * timeout happened, or the output limit was hit; after CLOSED the session
 * must call conn_destroy() and never touch conn again.
 *
 * Output is buffered and written when the fd is writable; the session never
 * blocks. conn_starttls() flushes pending output in plaintext, DISCARDS any
 * input already received (RFC 3207 section 4.2 / CVE-2011-0411), then does
 * the TLS handshake; input after that arrives decrypted.
 *
 * Memory: both buffers hold only what is in flight and are cut back to
 * their contents once (nearly) empty and quiet, freed when empty
 * (conn_buffer_capacity() is 0 on an idle connection), so a
 * connection that once streamed a large message or read a long line costs
 * no more than a fresh one while idle. The output cap holds for every
 * writer, unsolicited output too (IMAP IDLE pushes, untagged replies from
 * a timer): a write past it ends the connection, so such a producer asks
 * conn_output_room() first and defers (conn_set_output_drained()) instead.
 *
 * Long-lived sessions change their idle timeout as they go
 * (conn_set_idle_timeout(): RFC 9051 5.4 wants at least 30 minutes once
 * logged in, less before). Bytes between the buffers and the socket pass
 * through the stream layers: plain or TLS, and optionally a compression
 * layer above it (conn_compress_start(); see conn_private.h). */
#ifndef POSTEL_CONN_H
#define POSTEL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ioloop;
struct tls_ctx;
struct conn;

enum conn_event {
	CONN_EV_INPUT,
	CONN_EV_TIMEOUT, /* idle too long: write a reply, conn_close_after_output() */
	CONN_EV_CLOSED,
};

typedef void conn_callback_t(void *ctx, enum conn_event ev);

struct conn_settings {
	size_t max_input;     /* input buffer cap; a line longer is TOOLONG */
	size_t max_output;    /* output buffer cap; past it the conn closes */
	unsigned idle_timeout_ms;      /* no progress for this long: TIMEOUT */
	unsigned handshake_timeout_ms; /* TLS handshake must finish by then */
	const char *alpn; /* our protocol's ALPN id: "smtp", "imap", "pop3" */
	const char *peer_ip; /* as accept() gave it; NULL: asked of the socket */
};

/* An address as text ("192.0.2.1", "2001:db8::1"), "unknown" for other
 * families; buf holds at least INET6_ADDRSTRLEN. */
struct sockaddr_storage;
void conn_addr_text(const struct sockaddr_storage *ss, char *buf, size_t size);

/* tls != NULL: implicit TLS, the handshake starts at once. */
struct conn *conn_create(struct ioloop *loop, int fd,
			 const struct conn_settings *set,
			 struct tls_ctx *tls, conn_callback_t *cb, void *ctx);
void conn_destroy(struct conn **conn);

/* Peer address as text ("127.0.0.1", "::1"), and the local port. */
const char *conn_peer_ip(const struct conn *conn);
unsigned conn_local_port(const struct conn *conn);

enum conn_line_result {
	CONN_LINE_OK,       /* *line_r/len_r: the line without its line end */
	CONN_LINE_MORE,     /* no complete line buffered yet */
	CONN_LINE_TOOLONG,  /* over max_len; consumed up to and incl. the next
			       LF if any, else the buffer is discarded and the
			       rest of the line will be skipped on arrival;
			       *line_r/len_r: its first octets (at most 128),
			       or NULL/0 when a skipped rest is reported */
};
/* Returns the next line. bare_lf_r (may be NULL) is set when the line ended
 * in LF without CR. The line stays valid until the next conn_* call. */
enum conn_line_result conn_read_line(struct conn *conn, size_t max_len,
				     const char **line_r, size_t *len_r,
				     bool *bare_lf_r);
/* Raw access to buffered input, for DATA, BDAT and literals (literal.h).
 * The pointer stays valid until the next conn_* call. */
size_t conn_input_peek(struct conn *conn, const char **data_r);
void conn_input_consume(struct conn *conn, size_t n);
/* Stop delivering CONN_EV_INPUT (and stop reading the socket) while paused.
 * resume() re-delivers CONN_EV_INPUT from the loop so buffered pipelined
 * input gets processed. */
void conn_input_pause(struct conn *conn);
void conn_input_resume(struct conn *conn);

void conn_write(struct conn *conn, const void *data, size_t len);
void conn_printf(struct conn *conn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append to the output buffer in place, without a copy in between (a
 * streamer transforming message data): begin returns the buffer (NULL on
 * a dead connection) for the caller to append to with str_* calls, and
 * conn_write_end() must follow before any other conn_* call; output over
 * the cap then ends the connection, as conn_write() does. */
struct str *conn_write_begin(struct conn *conn);
void conn_write_end(struct conn *conn);
size_t conn_output_pending(const struct conn *conn);
/* How many more bytes conn_write() takes before the output cap ends the
 * connection; 0 once it is closing or dead. A producer of unsolicited
 * output that does not fit waits for the output-drained callback. */
size_t conn_output_room(const struct conn *conn);
/* Bytes allocated for the input and output buffers together (not what
 * they hold): small whenever the connection is idle. */
size_t conn_buffer_capacity(const struct conn *conn);
/* Streaming a large reply (POP3 RETR): cb(ctx) runs on the loop each time
 * all buffered output has been written, so the session can produce the
 * next piece only as the peer reads; memory stays at one piece. cb may
 * write; NULL stops it. Not called once the conn is closing or dead. */
void conn_set_output_drained(struct conn *conn, void (*cb)(void *ctx), void *ctx);
/* Close once all output has been written (e.g. after 221 or 421). */
void conn_close_after_output(struct conn *conn);

/* A new idle timeout, counted from now (e.g. longer after login). */
void conn_set_idle_timeout(struct conn *conn, unsigned msecs);
unsigned conn_idle_timeout(const struct conn *conn);

/* -1 when not plaintext, or compressed (a filter layer is installed). */
int conn_starttls(struct conn *conn, struct tls_ctx *tls);
/* RFC 4978 COMPRESS=DEFLATE, for any protocol (conn_deflate.c): stacks a
 * raw-deflate layer on the stream (plain or TLS). Call it right after
 * writing the reply that switches compression on: output queued so far
 * goes out as it is, everything written after it compressed and flushed
 * at the end of each burst; input still buffered (pipelined after the
 * command) is compressed already and gets inflated. Inflated input is
 * bounded by the same input cap. A corrupt stream ends the connection,
 * conn_close_reason() "compress_error". -1 with error_r when already
 * compressed or not established. */
int conn_compress_start(struct conn *conn, const char **error_r);
bool conn_is_compressed(const struct conn *conn);
/* Bytes the compression layer holds (zlib's state and windows, bytes in
 * flight); 0 without one. */
size_t conn_compress_memory(const struct conn *conn);
bool conn_is_tls(const struct conn *conn);
/* "TLSv1.3" / cipher name, or NULL when plaintext. */
const char *conn_tls_version(const struct conn *conn);
const char *conn_tls_cipher(const struct conn *conn);
/* Why CLOSED happened: "eof", "error", "timeout", "output_overflow",
 * "tls_handshake", "closed" (after conn_close_after_output). */
const char *conn_close_reason(const struct conn *conn);
/* INPUT handlers must not call conn_destroy(); they call
 * conn_close_after_output() and destroy on CLOSED. */

/* Client side (conn_client.c): conn_connect() opens a non-blocking TCP
 * connection on the loop; set->ready(ctx) runs once it is connected (and,
 * with implicit TLS, once the handshake passed the verification policy),
 * and again after each conn_starttls_client() handshake: only then may the
 * session write. A refused or timed-out connect, a failed handshake or a
 * strict verification failure is CONN_EV_CLOSED with conn_close_reason()
 * "connect_failed", "connect_timeout", "tls_handshake" or "tls_verify".
 * ready must not destroy the conn. Everything else is the server side's
 * conn: the same bounded buffers, idle timeout and events. */
struct conn_tls_client; /* CA store + bounded session cache, per process */

enum conn_tls_verify {
	CONN_TLS_VERIFY_STRICT,        /* chain and name must verify */
	/* RFC 7435 / RFC 7672 2.2: encrypt, log but accept an unverifiable
	 * certificate */
	CONN_TLS_VERIFY_OPPORTUNISTIC,
};

/* Acts on the client's SSL (an OpenSSL SSL *) before the handshake, e.g.
 * DANE (relay/dane.h: SSL_dane_enable and the TLSA records); -1 fails the
 * connection with "tls_error". A conn with a hook never resumes a cached
 * session, so every handshake is authenticated afresh. */
typedef int conn_tls_prepare_t(void *ssl, void *ctx);

struct conn_tls_client_params {
	struct conn_tls_client *ctx;
	const char *sni;     /* server name sent and checked; NULL: none */
	enum conn_tls_verify verify;
	conn_tls_prepare_t *prepare; /* NULL: none */
	void *prepare_ctx;
};

/* What the handshake showed, for logging and later DANE. */
struct conn_tls_peer {
	bool verified;          /* chain and name verified */
	bool resumed;           /* session resumed from the cache */
	bool dane;              /* verified by a DANE TLSA record (RFC 7672) */
	char verify_error[96];  /* "ok" or OpenSSL's reason */
	char subject[160], issuer[160];
	char sha256[65];        /* hex fingerprint of the leaf certificate */
};

struct conn_client_settings {
	struct conn_settings conn;
	unsigned connect_timeout_ms;
	void (*ready)(void *ctx);
};

/* ca_file NULL or "": the system CA store. cache_max: sessions kept (one
 * per destination, least recently used dropped). Destroy it only after
 * every conn using it. */
struct conn_tls_client *conn_tls_client_create(const char *ca_file,
					       unsigned cache_max,
					       const char **error_r);
void conn_tls_client_destroy(struct conn_tls_client **ctx);
unsigned conn_tls_client_cached(const struct conn_tls_client *ctx);

/* ip: an address literal. tls != NULL: implicit TLS. NULL with error_r
 * only for what fails at once (a bad address, no socket). */
struct conn *conn_connect(struct ioloop *loop, const char *ip, unsigned port,
			  const struct conn_client_settings *set,
			  const struct conn_tls_client_params *tls,
			  conn_callback_t *cb, void *ctx, const char **error_r);
/* After the server's 220 to STARTTLS (RFC 3207 4.2: input buffered so far
 * is discarded). -1 when not a plaintext client conn. */
int conn_starttls_client(struct conn *conn,
			 const struct conn_tls_client_params *tls);
/* NULL until a client handshake completed. */
const struct conn_tls_peer *conn_tls_peer(const struct conn *conn);

#endif
