/* pop3_session.c: POP3 session life cycle, the input loop, the command
 * table and replies. Each command is checked against the table's flags
 * (state, TLS), then handed to its handler, which validates its arguments
 * and then acts.
 *
 * Pipelining (RFC 2449 section 6.6): every complete command line buffered
 * is processed in order and replies are buffered; a command that waits
 * (password check, maildrop open, RETR streaming, expunge) pauses reading
 * until it has answered, so replies never overtake each other. */
#include "pop3_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/ioloop.h"
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum pop3_cmd_flags {
	POP3_CMD_AUTHORIZATION = 1u << 0, /* allowed before login */
	POP3_CMD_TRANSACTION = 1u << 1,   /* allowed after login */
	POP3_CMD_LOGIN = 1u << 2,         /* sends credentials: TLS first */
};

struct pop3_cmd_def {
	enum pop3_verb verb;
	pop3_cmd_handler_t *handler;
	unsigned flags;
};

#define AUTHZ POP3_CMD_AUTHORIZATION
#define TRANS POP3_CMD_TRANSACTION
/* RFC 1939 sections 4-6, RFC 2449 5 (CAPA), RFC 2595 4 (STLS), RFC 5034
 * (AUTH), RFC 6856 3.1 (UTF8: AUTHORIZATION state only) */
static const struct pop3_cmd_def pop3_cmds[] = {
	{ POP3_CMD_USER, pop3_cmd_user, AUTHZ | POP3_CMD_LOGIN },
	{ POP3_CMD_PASS, pop3_cmd_pass, AUTHZ | POP3_CMD_LOGIN },
	{ POP3_CMD_AUTH, pop3_cmd_auth, AUTHZ | POP3_CMD_LOGIN },
	{ POP3_CMD_APOP, pop3_cmd_apop, AUTHZ },
	{ POP3_CMD_CAPA, pop3_cmd_capa, AUTHZ | TRANS },
	{ POP3_CMD_STLS, pop3_cmd_stls, AUTHZ },
	{ POP3_CMD_UTF8, pop3_cmd_utf8, AUTHZ },
	{ POP3_CMD_QUIT, pop3_cmd_quit, AUTHZ | TRANS },
	{ POP3_CMD_STAT, pop3_cmd_stat, TRANS },
	{ POP3_CMD_LIST, pop3_cmd_list, TRANS },
	{ POP3_CMD_RETR, pop3_cmd_retr, TRANS },
	{ POP3_CMD_DELE, pop3_cmd_dele, TRANS },
	{ POP3_CMD_NOOP, pop3_cmd_noop, TRANS },
	{ POP3_CMD_RSET, pop3_cmd_rset, TRANS },
	{ POP3_CMD_TOP, pop3_cmd_top, TRANS },
	{ POP3_CMD_UIDL, pop3_cmd_uidl, TRANS },
};
#undef AUTHZ
#undef TRANS

static void pop3_on_conn_event(void *ctx, enum conn_event ev);

static void pop3_vreply(struct pop3_session *s, const char *status,
			const char *fmt, va_list ap)
{
	str_t line = STR_INIT;
	str_appendz(&line, status);
	str_vprintf(&line, fmt, ap);
	str_appendz(&line, "\r\n");
	conn_write(s->base.conn, line.data, line.len);
	str_free(&line);
}

void pop3_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_vreply(s, "+OK ", fmt, ap);
	va_end(ap);
}

void pop3_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_vreply(s, "-ERR ", fmt, ap);
	va_end(ap);
}

void pop3_err_bad(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pop3_vreply(s, "-ERR ", fmt, ap);
	va_end(ap);
	if (++s->bad_commands <= s->base.env->config->max_bad_commands || s->base.closing)
		return;
	log_info("sid=%s event=too_many_errors ip=%s", s->base.sid, s->base.peer_ip);
	conn_printf(s->base.conn, "-ERR Too many bad commands, closing connection\r\n");
	pop3_session_close(s);
}

void pop3_session_close(struct pop3_session *s)
{
	session_close(&s->base);
}

bool pop3_session_auth_offered(const struct pop3_session *s)
{
	return conn_is_tls(s->base.conn) || s->base.env->config->allow_plaintext_auth;
}

/* The last of a session, once its maildrop is closed. */
static void pop3_session_destroy(struct pop3_session *s)
{
	session_str_set(&s->user, NULL, 0);
	session_deinit(&s->base);
	free(s);
}

static void pop3_session_free(struct pop3_session *s)
{
	log_info("sid=%s event=disconnect ip=%s service=%s reason=%s tls=%s user=%s "
		 "retrieved=%u retrieved_octets=%llu deleted=%u",
		 s->base.sid, s->base.peer_ip, service_name(s->base.service), conn_close_reason(s->base.conn),
		 conn_is_tls(s->base.conn) ? conn_tls_version(s->base.conn) : "no",
		 s->auth_user != NULL ? log_str(s->auth_user) : "-", s->retrieved,
		 (unsigned long long)s->retrieved_octets, s->expunged);
	pop3_retr_abort(s);
	pop3_auth_abort(s);
	/* RFC 1939 section 6: without QUIT nothing is deleted. The lock goes
	 * now; the store handle is closed on the pool (its index may
	 * checkpoint), and the session ends, for the worker too, after that */
	if (s->maildrop != NULL) {
		s->input = POP3_INPUT_WAIT; /* a drain meanwhile leaves it be */
		pop3_maildrop_close(s, pop3_session_destroy);
		return;
	}
	pop3_session_destroy(s);
}

static void pop3_dispatch(struct pop3_session *s, const char *line, size_t len)
{
	struct pop3_command cmd;
	const char *error;
	if (pop3_parse_command(line, len, &cmd, &error) < 0) {
		if (cmd.verb == POP3_CMD_HTTP) {
			/* ALPACA / cross-protocol: drop at once, echo nothing */
			log_info("sid=%s event=http_request ip=%s", s->base.sid, s->base.peer_ip);
			pop3_session_close(s);
			return;
		}
		pop3_err_bad(s, "%s", error);
		return;
	}
	if (cmd.verb != POP3_CMD_AUTH && len > POP3_LINE_MAX) {
		pop3_err_bad(s, "Line too long");
		return;
	}
	for (size_t i = 0; i < sizeof(pop3_cmds) / sizeof(*pop3_cmds); i++) {
		const struct pop3_cmd_def *def = &pop3_cmds[i];
		if (def->verb != cmd.verb)
			continue;
		unsigned need = s->state == POP3_STATE_AUTHORIZATION ?
			POP3_CMD_AUTHORIZATION : POP3_CMD_TRANSACTION;
		if ((def->flags & need) == 0) {
			pop3_err_bad(s, "%s not valid in this state", cmd.name);
			return;
		}
		if ((def->flags & POP3_CMD_LOGIN) && !pop3_session_auth_offered(s)) {
			/* RFC 2595 4 / RFC 3206 4: TLS first */
			pop3_err_bad(s, "[AUTH] Plaintext authentication disallowed "
				     "on non-secure connections; use STLS first");
			return;
		}
		def->handler(s, &cmd);
		return;
	}
	pop3_err_bad(s, "Unknown command");
}

static void pop3_process_input(struct pop3_session *s)
{
	while (!s->base.closing && s->input != POP3_INPUT_WAIT) {
		bool sasl = s->input != POP3_INPUT_COMMAND;
		const char *line;
		size_t len;
		bool bare_lf;
		enum conn_line_result r = conn_read_line(s->base.conn, POP3_AUTH_LINE_MAX,
							 &line, &len, &bare_lf);
		if (r == CONN_LINE_MORE)
			return;
		if (r == CONN_LINE_TOOLONG || bare_lf) {
			if (sasl)
				pop3_auth_abort(s);
			pop3_err_bad(s, r == CONN_LINE_TOOLONG ? "Line too long" :
				     "Line must end with CRLF");
			continue;
		}
		if (sasl)
			pop3_auth_input_line(s, line, len);
		else
			pop3_dispatch(s, line, len);
		/* what the command allocated goes with it */
		if (s->input == POP3_INPUT_COMMAND)
			session_command_done(&s->base);
		if (s->base.draining && s->input == POP3_INPUT_COMMAND && !s->base.closing &&
		    s->state != POP3_STATE_UPDATE) {
			pop3_err(s, "[SYS/TEMP] Server shutting down");
			pop3_session_close(s);
		}
	}
}

void pop3_session_wait(struct pop3_session *s)
{
	s->input = POP3_INPUT_WAIT;
	conn_input_pause(s->base.conn);
}

void pop3_session_resume(struct pop3_session *s)
{
	if (session_may_free(&s->base)) {
		pop3_session_free(s);
		return;
	}
	if (s->input == POP3_INPUT_WAIT)
		s->input = POP3_INPUT_COMMAND;
	if (s->base.draining && s->input == POP3_INPUT_COMMAND && !s->base.closing &&
	    s->state != POP3_STATE_UPDATE) {
		pop3_err(s, "[SYS/TEMP] Server shutting down");
		pop3_session_close(s);
		return;
	}
	conn_input_resume(s->base.conn);
}

static void pop3_on_conn_event(void *ctx, enum conn_event ev)
{
	struct pop3_session *s = ctx;
	switch (ev) {
	case CONN_EV_INPUT:
		pop3_process_input(s);
		break;
	case CONN_EV_TIMEOUT:
		log_info("sid=%s event=timeout ip=%s", s->base.sid, s->base.peer_ip);
		/* RFC 1939 section 3: autologout, without entering UPDATE;
		 * in the middle of a RETR or LIST a reply would corrupt it */
		if (s->input != POP3_INPUT_WAIT)
			pop3_err(s, "Autologout; idle for too long");
		pop3_retr_abort(s);
		pop3_session_close(s);
		break;
	case CONN_EV_CLOSED:
		/* a login waiting for its penalty or its check holds the
		 * session no longer */
		session_login_abandon(&s->base, &s->login);
		if (session_on_closed(&s->base))
			pop3_session_free(s);
		break;
	}
}

static void pop3_session_drain(struct session *base)
{
	struct pop3_session *s = (struct pop3_session *)base;
	if (s->input != POP3_INPUT_WAIT && s->state != POP3_STATE_UPDATE &&
	    !s->base.closing) {
		pop3_auth_abort(s);
		pop3_err(s, "[SYS/TEMP] Server shutting down");
		pop3_session_close(s);
	}
}

static void pop3_session_login_timeout(struct session *base)
{
	struct pop3_session *s = (struct pop3_session *)base;
	/* RFC 2449 8.1.2: [SYS/TEMP], the client may try again */
	pop3_err(s, "[SYS/TEMP] Login timeout; closing connection");
}

static void pop3_session_request_timeout(struct session *base)
{
	(void)base; /* POP3 starts no request deadline */
}

static const struct session_vfuncs pop3_session_vfuncs = {
	.drain = pop3_session_drain,
	.login_timeout = pop3_session_login_timeout,
	.request_timeout = pop3_session_request_timeout,
};

void pop3_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip)
{
	const struct config *config = env->config;
	struct pop3_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings set = {
		.max_input = POP3_INPUT_MAX,
		.max_output = POP3_OUTPUT_MAX,
		.idle_timeout_ms = config->pop3_timeout * 1000,
		.handshake_timeout_ms = config->tls_handshake_timeout * 1000,
		.alpn = "pop3",
		.peer_ip = peer_ip,
	};
	bool implicit_tls = service == SERVICE_POP3S;
	struct session_settings sset = {
		.conn = &set, .implicit_tls = implicit_tls,
		.cb = pop3_on_conn_event, .ctx = s,
	};
	session_init(&s->base, env, &pop3_session_vfuncs, fd, service, &sset);
	s->tls_started = implicit_tls;
	/* CAPA or NOOP must not keep an unauthenticated session for ever */
	session_login_deadline(&s->base, config->login_timeout);
	log_info("sid=%s event=connect ip=%s service=%s port=%u", s->base.sid,
		 s->base.peer_ip, service_name(service), conn_local_port(s->base.conn));
	/* RFC 1939 section 4: the greeting; no APOP timestamp (see README) */
	pop3_ok(s, "Postel POP3 server ready");
}
