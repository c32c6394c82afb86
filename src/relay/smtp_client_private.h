/* smtp_client_private.h: what smtp_client.c (session: connect, greeting,
 * EHLO, STARTTLS, results, reuse), smtp_client_ehlo.c (capabilities,
 * AUTH) and smtp_client_tx.c (one transaction: MAIL, RCPT, DATA/BDAT and
 * the body) share. Nothing else includes it. */
#ifndef POSTEL_SMTP_CLIENT_PRIVATE_H
#define POSTEL_SMTP_CLIENT_PRIVATE_H

#include "relay/smtp_client.h"
#include "relay/smtp_reply.h"
#include "lib/str.h"

#define SMTP_CLIENT_READ_CHUNK 8192

enum smtp_client_state {
	SMTP_CLIENT_CONNECTING,
	SMTP_CLIENT_GREETING,
	SMTP_CLIENT_EHLO,
	SMTP_CLIENT_HELO,
	SMTP_CLIENT_STARTTLS,
	SMTP_CLIENT_TLS_WAIT,   /* handshake running */
	SMTP_CLIENT_AUTH,
	SMTP_CLIENT_AUTH_USER,
	SMTP_CLIENT_AUTH_PASS,
	SMTP_CLIENT_IDLE,       /* between messages */
	SMTP_CLIENT_RSET,
	SMTP_CLIENT_TX,         /* awaiting transaction replies */
	SMTP_CLIENT_BODY,       /* streaming DATA */
	SMTP_CLIENT_QUIT,
	SMTP_CLIENT_DONE,       /* connection over */
	SMTP_CLIENT_AUTH_LOGIN_PASS_WAIT,
};

/* What a pending reply answers (RFC 2920: replies come in order). */
enum smtp_client_cmd {
	SMTP_CMD_MAIL,
	SMTP_CMD_RCPT,
	SMTP_CMD_DATA,
	SMTP_CMD_DOT,
	SMTP_CMD_DOT_DISCARD,   /* "." after 354 with no recipient accepted */
	SMTP_CMD_BDAT,
	SMTP_CMD_BDAT_LAST,
};

struct smtp_client_caps {
	bool esmtp, pipelining, size, eightbitmime, smtputf8, chunking, dsn;
	bool starttls, requiretls, auth_plain, auth_login;
	uint64_t size_max;      /* 0: no limit given */
};

/* Dot-stuffing and CRLF state carried across pieces of the body. */
struct smtp_client_body {
	bool at_line_start;
	bool prev_cr;
	bool ended_with_lf;
};

struct smtp_client {
	struct ioloop *loop;
	struct smtp_client_settings set;
	struct smtp_client_dest dest;   /* strings owned */
	char id[20];
	struct conn *conn;
	enum smtp_client_state state;
	struct smtp_reply_parser parser;
	struct smtp_client_caps caps;
	bool tls;
	bool quitting;
	bool rset_pipelined;   /* RSET sent with the next MAIL (reuse) */
	bool have_peer;
	bool auth_refused;               /* see smtp_client_result */
	struct conn_tls_peer peer;       /* what the handshake showed */

	const struct smtp_client_message *msg;
	smtp_client_callback_t *cb;
	void *cb_ctx;
	struct smtp_client_reply *rcpt;  /* per recipient, texts owned */
	unsigned rcpt_n;                 /* entries of rcpt: msg may be gone
					    once its callback returned */
	struct smtp_client_reply final;  /* text owned */
	bool final_is_mail;              /* final is the refused MAIL */
	unsigned accepted;
	unsigned next_rcpt;              /* without PIPELINING */
	enum smtp_client_cmd *pending;   /* ring of expected replies */
	unsigned pend_head, pend_count, pend_size;
	struct smtp_client_body body;
	bool result_ready, result_reusable;
	struct timeout *result_to;
	/* what the body is read from: msg->source, or the 8-bit to 7-bit
	 * conversion over it (mime_7bit.h) */
	struct smtp_client_source src;
	struct mime_7bit *conv;
};

/* smtp_client.c */
void smtp_client_write(struct smtp_client *c, const char *line);
/* EHLO (helo false) or HELO sent, its reply awaited (smtp_client_ehlo.c) */
void smtp_client_send_ehlo(struct smtp_client *c, bool helo);
/* EHLO or HELO answered: STARTTLS, AUTH, or the transaction */
void smtp_client_greeted(struct smtp_client *c);
void smtp_client_finish(struct smtp_client *c, bool reusable);
void smtp_client_fail(struct smtp_client *c, unsigned code, const char *enhanced,
		      const char *text, bool local);
void smtp_client_reply_set(struct smtp_client_reply *dst,
			   const struct smtp_reply *r);
void smtp_client_expect_timeout(struct smtp_client *c, unsigned ms);

/* smtp_client_tx.c */
void smtp_client_tx_begin(struct smtp_client *c);
void smtp_client_tx_reply(struct smtp_client *c, const struct smtp_reply *r);
void smtp_client_tx_free(struct smtp_client *c);
/* Body bytes to wire form: CRLF line ends (a bare LF gets its CR), and
 * with dotstuff a leading "." doubled (RFC 5321 4.5.2). */
void smtp_client_body_encode(struct smtp_client_body *b, const char *in,
			     size_t len, bool dotstuff, str_t *out);
/* What ends the body: CRLF if it did not end with one. */
void smtp_client_body_finish(struct smtp_client_body *b, str_t *out);

/* smtp_client_ehlo.c */
/* EHLO reply lines after the first into caps. */
void smtp_client_caps_parse(struct smtp_client_caps *caps,
			    const struct smtp_reply *r);
/* AUTH with the destination's credentials; fails the message when not
 * over TLS or no mechanism fits. */
void smtp_client_auth_start(struct smtp_client *c);
/* One base64 line of AUTH LOGIN. */
void smtp_client_auth_login_next(struct smtp_client *c, const char *value);

#endif
