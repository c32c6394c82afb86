/* pop3_private.h: state shared by the files of the POP3 session:
 * pop3_session.c (life cycle, input loop, command table, replies),
 * pop3_cmds.c (CAPA, STLS, the TRANSACTION commands), pop3_auth.c (USER,
 * PASS, AUTH), pop3_maildrop.c (opening, locking and expunging the
 * maildrop on the thread pool) and pop3_retr.c (RETR and TOP streaming).
 *
 * States (RFC 1939 section 3): AUTHORIZATION until a login succeeds and
 * the maildrop is locked, TRANSACTION until QUIT, then UPDATE while the
 * deleted messages are expunged. The maildrop (the message list of one
 * login) is the transaction state, kept apart in struct pop3_maildrop. */
#ifndef POSTEL_POP3_PRIVATE_H
#define POSTEL_POP3_PRIVATE_H

#include "pop3_session.h"
#include "session/session.h"
#include "pop3_parse.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <stdbool.h>
#include <stdint.h>

struct conn;
struct auth_login;
struct store;

/* RFC 2449 section 4: command lines are at most 255 octets with CRLF;
 * we take up to 512 so that PASS can carry any password the SASL layer
 * accepts (255 octets, RFC 4616 section 4). */
#define POP3_LINE_MAX 510
/* RFC 5034 section 4: AUTH lines are not bound by the 255 limit; as SMTP
 * (RFC 4954 section 4) we accept 12288. */
#define POP3_AUTH_LINE_MAX 12288
#define POP3_INPUT_MAX (64 * 1024)
#define POP3_OUTPUT_MAX (512 * 1024)
/* RETR/TOP, LIST/UIDL: refill the output once it is written, up to this much */
#define POP3_STREAM_CHUNK (256 * 1024)
#define POP3_USER_MAX 255

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
};

enum pop3_input {
	POP3_INPUT_COMMAND,
	POP3_INPUT_SASL,       /* waiting for a SASL response line */
	POP3_INPUT_SASL_FINAL, /* SCRAM: waiting for the empty final line */
	POP3_INPUT_WAIT,       /* async work or a RETR stream in progress */
};

struct pop3_msg {
	uint32_t uid;
	uint64_t size;    /* octets in wire form (CRLF), as RFC 1939 5 counts:
			   * of the RFC 6858 synthetic message for a client
			   * without UTF8 (what RETR sends) */
	uint64_t stored_size;
	int8_t hdr_8bit;  /* store_message_info's */
	bool dg_sized;    /* size is the synthetic message's, computed or
			   * read at login (not the stored size after a
			   * failure): RETR may pass it on as known */
	bool deleted;
};

struct pop3_maildrop {
	pool_t *pool;
	struct store *store; /* this session's own handle: jobs use it */
	struct store_view *view; /* INBOX on store: RETR reads through it */
	int lock_fd;
	uint32_t uidvalidity;
	struct pop3_msg *msgs;
	unsigned count;
	unsigned deleted;
	uint64_t deleted_octets, total_octets;
};

struct pop3_retr;

struct pop3_session {
	struct session base; /* first: conn, sid, pools, jobs, drain */

	enum pop3_state state;
	enum pop3_input input;
	bool tls_started, utf8;
	unsigned bad_commands;

	char *user;            /* from USER, until PASS; replaced by each USER */
	const char *auth_user; /* after a successful login */
	struct auth_login *login; /* USER/PASS or AUTH in progress */

	struct pop3_maildrop *maildrop;
	struct pop3_retr *retr;
	unsigned listing_next; /* LIST/UIDL being written, from this one */
	bool listing_uidl;
	/* for the disconnect log line */
	unsigned retrieved, expunged;
	uint64_t retrieved_octets;
};

/* pop3_session.c */
void pop3_ok(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* -ERR for a request that failed. */
void pop3_err(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* -ERR for a bad command: counts towards max_bad_commands. */
void pop3_err_bad(struct pop3_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pop3_session_close(struct pop3_session *s);
bool pop3_session_auth_offered(const struct pop3_session *s);
/* Async work done: read pipelined input again (or free a dead session). */
void pop3_session_resume(struct pop3_session *s);
void pop3_session_wait(struct pop3_session *s);

/* pop3_cmds.c */
typedef void pop3_cmd_handler_t(struct pop3_session *s, const struct pop3_command *cmd);
pop3_cmd_handler_t pop3_cmd_capa, pop3_cmd_stls, pop3_cmd_quit, pop3_cmd_stat,
	pop3_cmd_list, pop3_cmd_uidl, pop3_cmd_dele, pop3_cmd_noop, pop3_cmd_rset,
	pop3_cmd_utf8, pop3_cmd_apop;

/* pop3_auth.c */
pop3_cmd_handler_t pop3_cmd_user, pop3_cmd_pass, pop3_cmd_auth;
void pop3_auth_input_line(struct pop3_session *s, const char *line, size_t len);
void pop3_auth_abort(struct pop3_session *s);

/* pop3_maildrop.c: after a login, lock and list the maildrop on the thread
 * pool, then reply and enter TRANSACTION (or go back to AUTHORIZATION). */
void pop3_maildrop_open(struct pop3_session *s);
/* QUIT in TRANSACTION: expunge the deleted messages, reply, close. */
void pop3_maildrop_update(struct pop3_session *s);
void pop3_maildrop_free(struct pop3_maildrop **md);
/* The session is ending: the maildrop's lock goes now, its store handle
 * is closed on the delivery pool (closing an index may checkpoint its
 * WAL: writes and fsync), counted as a job of the session; then done(s)
 * on the loop. */
void pop3_maildrop_close(struct pop3_session *s, void (*done)(struct pop3_session *s));
/* A live (not deleted) message by its number argument, or NULL after
 * replying -ERR. */
struct pop3_msg *pop3_maildrop_msg(struct pop3_session *s, const char *arg,
				   size_t len, unsigned *num_r);

/* pop3_retr.c */
pop3_cmd_handler_t pop3_cmd_retr, pop3_cmd_top;
void pop3_retr_abort(struct pop3_session *s);

#endif
