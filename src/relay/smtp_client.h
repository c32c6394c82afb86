/* smtp_client.h: an SMTP client on the event loop: one destination host,
 * one message at a time with many recipients, the connection reused for
 * the next message to the same host. This is what the queue runner calls.
 *
 * smtp_client_start() connects to ip:port and runs the session: greeting,
 * EHLO with fallback to HELO (RFC 5321 4.1.1.1), STARTTLS per the TLS
 * mode (then EHLO again, RFC 3207 4.2), AUTH PLAIN or LOGIN only over TLS
 * (smarthost), MAIL FROM with SIZE/BODY/SMTPUTF8/RET/ENVID/REQUIRETLS,
 * RCPT TO with NOTIFY/ORCPT (pipelined when the server offers PIPELINING,
 * RFC 2920), then DATA (CRLF line ends and dot-stuffing, RFC 5321 4.5.2)
 * or BDAT (RFC 3030) when CHUNKING is offered, streamed from the message
 * source a piece at a time: the message is never whole in memory.
 *
 * The result comes through cb(ctx, result) from the loop, once per
 * message: a reply for every recipient (code, enhanced code, text: the
 * server's, or one made here with local=true for what was decided without
 * the server: SIZE over the remote limit 552 5.3.4, 8-bit content to a
 * server without 8BITMIME that cannot be made 7-bit 554 5.6.3 (what can is
 * converted: mime_7bit.h), SMTPUTF8 missing 553 5.6.7, REQUIRETLS
 * impossible 550 5.7.30, a timeout, a connection failure or a malformed
 * reply 451 4.4.x with the reason). The callback
 * may call smtp_client_send() for the next message when result->reusable,
 * smtp_client_quit() or smtp_client_destroy(). Per-command timeouts are
 * those of RFC 5321 4.5.3.2 (relay_timeout_* config keys). Every event
 * logs one key=value line with the client id. */
#ifndef POSTEL_SMTP_CLIENT_H
#define POSTEL_SMTP_CLIENT_H

#include "lib/conn.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct ioloop;
struct config;
struct smtp_client;

enum smtp_client_tls_mode {
	SMTP_CLIENT_TLS_NONE,          /* never STARTTLS */
	/* STARTTLS when offered, any certificate (RFC 7435); plaintext if
	 * not offered */
	SMTP_CLIENT_TLS_OPPORTUNISTIC,
	SMTP_CLIENT_TLS_REQUIRED,      /* STARTTLS must be offered and verify */
	/* STARTTLS must be offered, any certificate (RFC 7672 2.2: TLSA
	 * records exist but none is usable) */
	SMTP_CLIENT_TLS_ENCRYPT,
	SMTP_CLIENT_TLS_IMPLICIT,      /* TLS from the first byte, verified */
};

struct smtp_client_settings {
	const char *helo_name;         /* our name for EHLO/HELO */
	/* RFC 5321 4.5.3.2, in milliseconds */
	unsigned connect_ms, greeting_ms, mail_ms, rcpt_ms, data_ms,
		 data_block_ms, data_end_ms;
	unsigned max_reply_lines;      /* 0: SMTP_REPLY_LINES_DEFAULT */
	size_t max_output;             /* conn output cap */
};
/* The settings from the relay_timeout_* keys. */
void smtp_client_settings_from_config(struct smtp_client_settings *set,
				      const struct config *config);

struct smtp_client_dest {
	const char *host;              /* name for SNI, verification, logs */
	const char *ip;                /* address literal to connect to */
	unsigned port;
	enum smtp_client_tls_mode tls_mode;
	struct conn_tls_client *tls;   /* required unless TLS_NONE */
	/* DANE (dane.h): acts on the SSL before the handshake; NULL: none */
	conn_tls_prepare_t *tls_prepare;
	void *tls_prepare_ctx;
	const char *auth_user;         /* NULL: no AUTH; only sent over TLS */
	const char *auth_password;
};

/* The message, read a piece at a time: read() returns bytes (>0), 0 at
 * the end, -1 on error. Line ends may be LF or CRLF. */
struct smtp_client_source {
	ssize_t (*read)(void *ctx, void *buf, size_t size);
	void *ctx;
	uint64_t size;                 /* octets, for SIZE=; 0: unknown */
	bool eightbit;                 /* needs BODY=8BITMIME */
	bool smtputf8;                 /* needs SMTPUTF8 (RFC 6531) */
};
/* A source over an open file (a queue spool file), ctx = &fd. */
ssize_t smtp_client_read_fd(void *ctx, void *buf, size_t size);

struct smtp_client_rcpt {
	const char *address;
	const char *notify;            /* RFC 3461 NOTIFY value or NULL */
	const char *orcpt;             /* "rfc822;xtext" or NULL */
};

struct smtp_client_message {
	const char *id;                /* queue id for logs */
	const char *mail_from;         /* "" for the null sender */
	const char *ret, *envid;       /* RFC 3461 4.3, 4.4, or NULL */
	bool requiretls;               /* RFC 8689 */
	const struct smtp_client_rcpt *rcpts;
	unsigned rcpt_count;
	struct smtp_client_source source;
};

struct smtp_client_reply {
	unsigned code;                 /* 2xx, 4xx, 5xx */
	char enhanced[16];             /* "" when none */
	const char *text;              /* lines joined by "\n" */
	bool local;                    /* decided here, not the server's */
};

struct smtp_client_result {
	const struct smtp_client_reply *rcpt; /* one per recipient */
	unsigned rcpt_count;
	struct smtp_client_reply final;  /* reply to the final dot / BDAT LAST
					    or the failure that ended it */
	bool tls;                        /* the session was encrypted */
	const struct conn_tls_peer *peer;/* NULL when plaintext */
	bool reusable;                   /* smtp_client_send() may follow */
	/* the server refused our AUTH (RFC 4954 6: 535 5.7.8 and the
	 * like): final is its reply, a fault of our credentials */
	bool auth_refused;
};

typedef void smtp_client_callback_t(void *ctx, const struct smtp_client_result *res);

/* Copies dest and set; msg and what it points to must stay valid until
 * the callback. NULL with error_r for a bad destination. */
struct smtp_client *smtp_client_start(struct ioloop *loop,
				      const struct smtp_client_settings *set,
				      const struct smtp_client_dest *dest,
				      const struct smtp_client_message *msg,
				      smtp_client_callback_t *cb, void *ctx,
				      const char **error_r);
/* The next message on the same connection (RSET first). -1 when the
 * connection is no longer usable. */
int smtp_client_send(struct smtp_client *c, const struct smtp_client_message *msg,
		     smtp_client_callback_t *cb, void *ctx);
/* QUIT politely, then free the client by itself. */
void smtp_client_quit(struct smtp_client **c);
void smtp_client_destroy(struct smtp_client **c);

#endif
