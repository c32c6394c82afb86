/* imap_session_private.h: the IMAP session and the command it runs,
 * shared by the files of the session and every command: imap_session.c
 * (life cycle), imap_input.c (the input loop with literals),
 * imap_dispatch.c (the command table, the tagged replies that end a
 * command). Untagged output is imap_reply.h; the commands and the hooks
 * the session calls into them imap_commands.h.
 *
 * States (RFC 9051 3): not authenticated, authenticated, selected,
 * logout. A command runs from its dispatch until its tagged reply
 * (imap_cmd_ok/no/bad); meanwhile no other command is read, so replies
 * never overtake each other and the parser's strings (the arguments)
 * stay valid. A command that waits for the store runs its work on the
 * thread pool (imap_store_run(), imap_store.h) and replies from its done
 * callback. */
#ifndef POSTEL_IMAP_SESSION_PRIVATE_H
#define POSTEL_IMAP_SESSION_PRIVATE_H

#include "imap_session.h"
#include "session/session.h"
#include "imap/imap_parser.h"
#include "lib/literal.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <stdbool.h>
#include <stdint.h>

struct auth_login;
struct imap_append;
struct imap_fetch_job;
struct imap_idle;
struct imap_notify;
struct imap_selected;
struct session_user;
struct store_delivery;

/* RFC 9051 4 / 7162 4: a server should take command lines of at least
 * 8000 octets; a line past this is refused before login. After it, a
 * QRESYNC SELECT with its known UIDs or a long UID set may need more:
 * IMAP_LINE_MAX_AUTH (Dovecot takes 64 KiB), within IMAP_INPUT_MAX. */
#define IMAP_LINE_MAX 8192
#define IMAP_LINE_MAX_AUTH (32 * 1024)
/* RFC 7888 4: LITERAL- limits {n+} to 4096 octets. */
#define IMAP_NONSYNC_MAX 4096
/* Before login: a LOGIN with literals needs no more (TESTING.md 11). */
#define IMAP_PREAUTH_LITERAL_MAX 1024
/* A command's arguments held in memory (APPEND's message is streamed,
 * not counted here). */
#define IMAP_COMMAND_MAX (64 * 1024)
#define IMAP_MAX_ARGS 4096
#define IMAP_MAX_DEPTH 16
#define IMAP_INPUT_MAX (64 * 1024)
#define IMAP_OUTPUT_MAX (1024 * 1024)
/* RFC 9051 5.4: the autologout timer of an authenticated client is at
 * least 30 minutes; before login a client gets the login deadline. */
#define IMAP_AUTOLOGOUT_MIN_S (30 * 60)
#define IMAP_TAG_LOG_MAX 64

enum imap_state {
	IMAP_STATE_NOT_AUTH,
	IMAP_STATE_AUTH,
	IMAP_STATE_SELECTED,
	IMAP_STATE_LOGOUT,
};

enum imap_input {
	IMAP_INPUT_COMMAND,  /* reading command lines */
	IMAP_INPUT_LITERAL,  /* reading a literal's octets */
	IMAP_INPUT_SKIP,     /* skipping a refused {n+} literal's octets */
	IMAP_INPUT_SASL,     /* AUTHENTICATE: a response line */
	IMAP_INPUT_WAIT,     /* a command runs: read nothing */
	IMAP_INPUT_APPEND,   /* APPEND: the message literal, then its line end */
	IMAP_INPUT_IDLE,     /* IDLE: waiting for DONE */
};

struct imap_cmd;
typedef void imap_cmd_func_t(struct imap_cmd *cmd);

struct imap_cmd_def {
	const char *name;
	imap_cmd_func_t *func;
	unsigned flags; /* IMAP_CMD_* */
};

enum imap_cmd_flags {
	IMAP_CMD_NOT_AUTH = 1u << 0, /* allowed before login */
	IMAP_CMD_AUTH = 1u << 1,     /* allowed after login */
	IMAP_CMD_SELECTED = 1u << 2, /* allowed with a mailbox selected */
	IMAP_CMD_UID = 1u << 3,      /* has a UID form (RFC 9051 6.4.9) */
	IMAP_CMD_ANY = IMAP_CMD_NOT_AUTH | IMAP_CMD_AUTH | IMAP_CMD_SELECTED,
	IMAP_CMD_LOGGED_IN = IMAP_CMD_AUTH | IMAP_CMD_SELECTED,
};

/* The command being run: from the parser, valid until its reply. */
struct imap_cmd {
	struct imap_session *s;
	const struct imap_cmd_def *def;
	const char *tag;
	const char *name;            /* upper-case, without "UID " */
	const struct imap_arg *args; /* after the name (and after UID's name) */
	unsigned count;
	bool uid;                    /* UID FETCH etc. */
};

struct imap_session {
	struct session base; /* first: conn, sid, pools, jobs, drain */

	enum imap_state state;
	enum imap_input input;
	struct imap_parser *parser;
	struct literal_reader literal;
	unsigned bad_commands;
	bool tls_started;
	bool rev2;            /* ENABLE IMAP4rev2 (RFC 9051 6.3.1) */
	bool utf8_accept;     /* names in UTF-8: rev2 (RFC 9051 5.1) */
	bool logout_sent;

	struct imap_cmd cmd;  /* the command running (cmd.tag != NULL) */
	bool sasl_final;      /* AUTHENTICATE: the next line answers server-final */
	struct auth_login *login;
	const char *user;     /* the canonical address, after login */

	struct session_user *suser; /* the user's lane and store handle */
	bool store_busy;      /* a job of this session is out */
	bool lane_held;       /* session_user_hold() for the running command */
	struct imap_selected *sel;
	/* APPEND (imap_append.c): the line being read is an APPEND's; the
	 * message being streamed, and its open delivery (aborted by
	 * imap_store_close() if the session ends first) */
	bool append_cmd;
	struct imap_append *append;
	struct store_delivery *delivery;
	struct imap_idle *idle; /* IDLE running (imap_idle.c) */
	/* MULTIAPPEND (imap_multiappend.c, RFC 3502): the messages of the
	 * running APPEND written before the current one, committed with it
	 * in one step or aborted (also by imap_store_close()) */
	struct store_delivery **multi;
	unsigned multi_count;
	/* UNAUTHENTICATE (imap_unauth.c): the heap copy s->user points to */
	char *user_owned;
	/* UTF8=ACCEPT (imap_utf8.c, RFC 6855): enabled by its own ENABLE
	 * (utf8_accept is also set by IMAP4rev2) */
	bool utf8_enabled;

	/* a large answer written as the client reads (imap_output_end) */
	str_t out;
	size_t out_off;
	void (*out_final)(struct imap_cmd *cmd);
	/* FETCH between its chunks (imap_fetch_cmd.c) */
	struct imap_fetch_job *fetch;

	/* for the disconnect log line */
	unsigned commands;

	/* CONDSTORE and QRESYNC (RFC 7162; imap_condstore.c, imap_qresync.c) */
	bool condstore;       /* enabled (3.1: ENABLE or a CONDSTORE-enabling command) */
	bool qresync;         /* ENABLE QRESYNC (3.2.3): VANISHED, not EXPUNGE */
	/* QRESYNC pending expunges (RFC 7162 3.2, imap_modseq_pending.c):
	 * the HIGHESTMODSEQ to send before the reply, 0: none */
	uint64_t modseq_pending;
	/* NOTIFY (RFC 5465, imap_notify*.c): the groups set, or NULL */
	struct imap_notify *notify;
};

/* imap_dispatch.c */
/* The tagged reply that ends cmd; CRLF added. resp_code may be NULL, else
 * the text inside [...] (RFC 9051 7.1). */
void imap_cmd_ok(struct imap_cmd *cmd, const char *resp_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void imap_cmd_no(struct imap_cmd *cmd, const char *resp_code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* BAD: counts towards max_bad_commands. */
void imap_cmd_bad(struct imap_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A command waits for a job or a login: read nothing until it replies. */
void imap_cmd_wait(struct imap_cmd *cmd);

/* imap_session.c */
/* After a job came back: the session may be gone (freed now, true). */
bool imap_session_check_gone(struct imap_session *s);
/* "* BYE text" and close once written. */
void imap_session_bye(struct imap_session *s, const char *text);
bool imap_session_auth_offered(const struct imap_session *s);

/* Between the session's files. imap_dispatch.c: run the command the
 * parser completed; BAD for a line that never became a command.
 * imap_input.c: read and act on what the client sent, until it runs out
 * or a command waits. */
void imap_dispatch(struct imap_session *s, const struct imap_command *pc);
void imap_line_bad(struct imap_session *s, const char *tag, const char *resp_code,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void imap_input_process(struct imap_session *s);

#endif
