/* smtp_session.c: SMTP session life cycle, the input loop and the command
 * table. Each command is checked against the table's flags, then handed
 * to its handler, which validates its arguments and then acts.
 *
 * Pipelining (RFC 2920): every complete command line buffered is processed
 * in order and replies are buffered; the connection writes them once the
 * input is used up, so pipelined clients get one write per group. */
#include "smtp_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "auth/sasl.h"
#include "auth/auth_login.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum smtp_cmd_flags {
	SMTP_CMD_NEEDS_HELO = 1u << 0,   /* 503 before EHLO/HELO */
	SMTP_CMD_NO_TX = 1u << 1,        /* 503 inside a mail transaction */
};

struct smtp_cmd_def {
	enum smtp_cmd_verb verb;
	smtp_cmd_handler_t *handler;
	unsigned flags;
};

static const struct smtp_cmd_def smtp_cmds[] = {
	{ SMTP_CMD_EHLO, smtp_cmd_ehlo, 0 },
	{ SMTP_CMD_HELO, smtp_cmd_helo, 0 },
	{ SMTP_CMD_MAIL, smtp_cmd_mail, SMTP_CMD_NEEDS_HELO },
	{ SMTP_CMD_RCPT, smtp_cmd_rcpt, SMTP_CMD_NEEDS_HELO },
	{ SMTP_CMD_DATA, smtp_cmd_data, SMTP_CMD_NEEDS_HELO },
	{ SMTP_CMD_BDAT, smtp_cmd_bdat, SMTP_CMD_NEEDS_HELO },
	{ SMTP_CMD_RSET, smtp_cmd_rset, 0 },
	{ SMTP_CMD_NOOP, smtp_cmd_noop, 0 },
	{ SMTP_CMD_QUIT, smtp_cmd_quit, 0 },
	{ SMTP_CMD_VRFY, smtp_cmd_vrfy, 0 },
	{ SMTP_CMD_EXPN, smtp_cmd_expn, 0 },
	{ SMTP_CMD_HELP, smtp_cmd_help, 0 },
	{ SMTP_CMD_STARTTLS, smtp_cmd_starttls, SMTP_CMD_NEEDS_HELO | SMTP_CMD_NO_TX },
	{ SMTP_CMD_AUTH, smtp_cmd_auth, SMTP_CMD_NEEDS_HELO | SMTP_CMD_NO_TX },
};

static void smtp_on_conn_event(void *ctx, enum conn_event ev);

/* Remember the command being answered, and the path a MAIL or RCPT
 * named ("FROM:<a@b> SIZE=1" gives "<a@b>"), for the refusal log. */
static void smtp_cmd_track(struct smtp_session *s, const struct smtp_command *cmd)
{
	s->cmd_verb = cmd->verb;
	s->cmd_path[0] = '\0';
	if ((cmd->verb != SMTP_CMD_MAIL && cmd->verb != SMTP_CMD_RCPT) || cmd->args == NULL)
		return;
	const char *p = cmd->args, *end = cmd->args + cmd->args_len;
	const char *colon = memchr(p, ':', cmd->args_len);
	if (colon != NULL)
		p = colon + 1;
	while (p < end && *p == ' ')
		p++;
	const char *sp = memchr(p, ' ', (size_t)(end - p));
	size_t n = (size_t)((sp != NULL ? sp : end) - p);
	if (n >= sizeof(s->cmd_path))
		n = sizeof(s->cmd_path) - 1;
	memcpy(s->cmd_path, p, n);
	s->cmd_path[n] = '\0';
}

static void smtp_cmd_untrack(struct smtp_session *s)
{
	s->cmd_verb = SMTP_CMD_UNKNOWN;
	s->cmd_path[0] = '\0';
}

/* Issue 11 item 4: one line per refused MAIL, RCPT, AUTH (with the name
 * tried, never the password) and message, at the one place every reply
 * passes. 421 closes the session and is logged where it is decided. */
static void smtp_log_reject(struct smtp_session *s, unsigned code, const char *enhanced,
			    const char *text, size_t text_len)
{
	struct smtp_tx *tx = s->tx;
	const char *from = tx != NULL ? tx->mail.from.canonical : NULL;
	const char *user = s->auth_user;
	str_t kv = STR_INIT;
	switch (s->cmd_verb) {
	case SMTP_CMD_MAIL:
		str_printf(&kv, "from=%s", log_str(s->cmd_path));
		break;
	case SMTP_CMD_RCPT:
		str_printf(&kv, "from=%s rcpt=%s", from != NULL ? log_str(from) : "-",
			   log_str(s->cmd_path));
		break;
	case SMTP_CMD_AUTH:
		user = s->login != NULL ? auth_login_name_tried(s->login) : NULL;
		break;
	case SMTP_CMD_DATA:
	case SMTP_CMD_BDAT:
		str_printf(&kv, "from=%s rcpts=%u size=%llu", from != NULL ? log_str(from) : "-",
			   tx != NULL ? tx->rcpt_count : 0,
			   (unsigned long long)(tx != NULL ? tx->dec.size : 0));
		break;
	default:
		str_free(&kv);
		return;
	}
	if (++s->rejects_logged > SMTP_REJECT_LOG_MAX) {
		if (s->rejects_logged == SMTP_REJECT_LOG_MAX + 1)
			log_info("sid=%s event=reject_log_suppressed ip=%s after=%u",
				 s->base.sid, s->base.peer_ip, SMTP_REJECT_LOG_MAX);
		str_free(&kv);
		return;
	}
	log_info("sid=%s event=reject ip=%s service=%s cmd=%s code=%u enhanced=%s %s%suser=%s "
		 "reason=%s", s->base.sid, s->base.peer_ip, service_name(s->base.service),
		 smtp_cmd_verb_name(s->cmd_verb), code, enhanced != NULL ? enhanced : "-",
		 str_c(&kv), kv.len > 0 ? " " : "", user != NULL ? log_str(user) : "-",
		 log_value(text, text_len));
	str_free(&kv);
}

void smtp_reply(struct smtp_session *s, unsigned code, const char *enhanced,
		const char *fmt, ...)
{
	va_list ap;
	str_t line = STR_INIT;
	str_printf(&line, "%03u ", code);
	/* RFC 2034: enhanced codes on every reply but the greeting */
	if (enhanced != NULL)
		str_printf(&line, "%s ", enhanced);
	size_t text_start = line.len;
	va_start(ap, fmt);
	str_vprintf(&line, fmt, ap);
	va_end(ap);
	if (code >= 400 && code != 421)
		smtp_log_reject(s, code, enhanced, line.data + text_start, line.len - text_start);
	str_appendz(&line, "\r\n");
	conn_write(s->base.conn, line.data, line.len);
	str_free(&line);
	if (code >= 500)
		smtp_session_bad_command(s);
}

void smtp_reply_err(struct smtp_session *s, const struct smtp_reply_err *err)
{
	smtp_reply(s, err->code, err->enhanced, "%s", err->text);
}

void smtp_session_close(struct smtp_session *s)
{
	session_close(&s->base);
}

void smtp_session_bad_command(struct smtp_session *s)
{
	if (++s->bad_commands <= s->base.env->config->max_bad_commands || s->base.closing)
		return;
	log_info("sid=%s event=too_many_errors ip=%s", s->base.sid, s->base.peer_ip);
	conn_write(s->base.conn, "421 4.7.0 Too many errors, closing connection\r\n", 47);
	smtp_session_close(s);
}

bool smtp_session_tls(const struct smtp_session *s)
{
	return conn_is_tls(s->base.conn);
}

bool smtp_session_auth_offered(const struct smtp_session *s)
{
	return smtp_session_tls(s) || s->base.env->config->allow_plaintext_auth;
}

unsigned smtp_session_exts(const struct smtp_session *s)
{
	unsigned exts = SMTP_EXT_SIZE | SMTP_EXT_8BITMIME | SMTP_EXT_SMTPUTF8 |
		SMTP_EXT_DSN;
	if (smtp_session_auth_offered(s))
		exts |= SMTP_EXT_AUTH;
	if (smtp_session_tls(s))	/* RFC 8689 4: only over TLS */
		exts |= SMTP_EXT_REQUIRETLS;
	return exts;
}

void smtp_tx_reset(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	if (tx == NULL)
		return;
	/* do not let an idle session keep a big message's blocks */
	if (tx->spool_fd >= 0 && tx->spool_size > SMTP_SPOOL_KEEP_MAX &&
	    ftruncate(tx->spool_fd, 0) < 0) {
		close(s->spool_fd);
		s->spool_fd = -1;
	}
	session_request_stop(&s->base);
	str_free(&tx->spool_buf);
	smtp_data_decoder_deinit(&tx->dec);
	pool_destroy(&tx->pool);
	free(tx);
	s->tx = NULL;
}

/* RFC 3207 4.2: after STARTTLS the session starts over. */
void smtp_session_reset(struct smtp_session *s)
{
	smtp_tx_reset(s);
	smtp_auth_abort(s);
	session_str_set(&s->helo, NULL, 0);
	s->esmtp = false;
	s->auth_user = NULL;
}

static void smtp_session_free(struct smtp_session *s)
{
	log_info("sid=%s event=disconnect ip=%s service=%s reason=%s tls=%s messages=%u user=%s",
		 s->base.sid, s->base.peer_ip, service_name(s->base.service), conn_close_reason(s->base.conn),
		 conn_is_tls(s->base.conn) ? conn_tls_version(s->base.conn) : "no", s->messages,
		 s->auth_user != NULL ? log_str(s->auth_user) : "-");
	smtp_tx_reset(s);
	smtp_auth_abort(s);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	session_str_set(&s->helo, NULL, 0);
	session_deinit(&s->base);
	free(s);
}

static void smtp_dispatch(struct smtp_session *s, const char *line, size_t len)
{
	struct smtp_command cmd;
	struct smtp_reply_err err;
	int ret = smtp_parse_command(line, len, &cmd, &err);
	smtp_cmd_track(s, &cmd);
	if (ret < 0) {
		if (cmd.verb == SMTP_CMD_HTTP) {
			/* ALPACA / cross-protocol: drop at once, echo nothing */
			log_info("sid=%s event=http_request ip=%s", s->base.sid, s->base.peer_ip);
			smtp_session_close(s);
			return;
		}
		smtp_reply_err(s, &err);
		return;
	}
	for (size_t i = 0; i < sizeof(smtp_cmds) / sizeof(smtp_cmds[0]); i++) {
		const struct smtp_cmd_def *def = &smtp_cmds[i];
		if (def->verb != cmd.verb)
			continue;
		if ((def->flags & SMTP_CMD_NEEDS_HELO) && s->helo == NULL) {
			smtp_reply(s, 503, "5.5.1", "Send EHLO or HELO first");
			return;
		}
		if ((def->flags & SMTP_CMD_NO_TX) && s->tx != NULL) {
			smtp_reply(s, 503, "5.5.1", "Not allowed during a mail transaction");
			return;
		}
		def->handler(s, &cmd);
		return;
	}
	smtp_reply(s, 502, "5.5.1", "Command not implemented");
}

static void smtp_process_input(struct smtp_session *s)
{
	while (!s->base.closing) {
		switch (s->state) {
		case SMTP_STATE_WAIT:
			return;
		case SMTP_STATE_DATA:
			if (!smtp_data_input(s))
				return;
			continue;
		case SMTP_STATE_BDAT:
		case SMTP_STATE_BDAT_SKIP:
			if (!smtp_bdat_input(s))
				return;
			continue;
		case SMTP_STATE_COMMAND:
		case SMTP_STATE_AUTH:
		case SMTP_STATE_AUTH_FINAL:
			break;
		}
		bool auth = s->state != SMTP_STATE_COMMAND;
		if (!auth)
			smtp_cmd_untrack(s);
		const char *line;
		size_t len;
		bool bare_lf;
		enum conn_line_result r = conn_read_line(s->base.conn,
			auth ? SMTP_AUTH_LINE_MAX : SMTP_LINE_MAX, &line, &len, &bare_lf);
		if (r == CONN_LINE_MORE)
			return;
		if (r == CONN_LINE_TOOLONG) {
			if (auth)
				smtp_auth_abort(s);
			/* RFC 5321 4.5.3.1.4 */
			smtp_reply(s, 500, "5.5.2", "Line too long");
			continue;
		}
		if (bare_lf) {
			/* RFC 5321 2.3.8: lines end in CRLF only */
			if (auth)
				smtp_auth_abort(s);
			smtp_reply(s, 500, "5.5.2", "Line must end with CRLF");
			continue;
		}
		if (auth)
			smtp_auth_input_line(s, line, len);
		else
			smtp_dispatch(s, line, len);
		/* what the command allocated goes with it; a reply still to
		 * come (WAIT, DATA) keeps the command for the refusal log */
		if (s->state == SMTP_STATE_COMMAND) {
			session_command_done(&s->base);
			smtp_cmd_untrack(s);
		}
		if (s->base.draining && s->tx == NULL && s->state == SMTP_STATE_COMMAND &&
		    !s->base.closing) {
			smtp_reply(s, 421, "4.3.2", "Service shutting down");
			smtp_session_close(s);
		}
	}
}

void smtp_session_resume(struct smtp_session *s)
{
	if (session_may_free(&s->base)) {
		smtp_session_free(s);
		return;
	}
	conn_input_resume(s->base.conn);
}

void smtp_session_continue(struct smtp_session *s)
{
	if (session_may_free(&s->base)) {
		smtp_session_free(s);
		return;
	}
	smtp_process_input(s);
	if (s->state != SMTP_STATE_WAIT)
		conn_input_resume(s->base.conn);
}

static void smtp_on_conn_event(void *ctx, enum conn_event ev)
{
	struct smtp_session *s = ctx;
	switch (ev) {
	case CONN_EV_INPUT:
		smtp_process_input(s);
		break;
	case CONN_EV_TIMEOUT:
		/* RFC 5321 4.5.3.2.7 */
		log_info("sid=%s event=timeout ip=%s", s->base.sid, s->base.peer_ip);
		conn_write(s->base.conn, "421 4.4.2 Timeout, closing connection\r\n", 39);
		smtp_session_close(s);
		break;
	case CONN_EV_CLOSED:
		/* a login waiting for its penalty or its check holds the
		 * session no longer */
		session_login_abandon(&s->base, &s->login);
		if (session_on_closed(&s->base))
			smtp_session_free(s);
		break;
	}
}

static void smtp_session_drain(struct session *base)
{
	struct smtp_session *s = (struct smtp_session *)base;
	if (s->tx == NULL && s->state == SMTP_STATE_COMMAND && !s->base.closing) {
		conn_write(s->base.conn, "421 4.3.2 Service shutting down\r\n", 33);
		smtp_session_close(s);
	}
}

static void smtp_session_login_timeout(struct session *base)
{
	/* RFC 4954 6 leaves the time to log in to the server; 421 closes */
	conn_write(base->conn, "421 4.7.0 Authentication timeout, closing connection\r\n", 54);
}

static void smtp_session_request_timeout(struct session *base)
{
	/* Postfix smtpd_min_data_rate: the message arrives too slowly */
	conn_write(base->conn, "421 4.4.2 Data rate too low, closing connection\r\n", 49);
}

static const struct session_vfuncs smtp_session_vfuncs = {
	.drain = smtp_session_drain,
	.login_timeout = smtp_session_login_timeout,
	.request_timeout = smtp_session_request_timeout,
};

void smtp_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip)
{
	const struct config *config = env->config;
	struct smtp_session *s = xcalloc(1, sizeof(*s));
	s->spool_fd = -1;
	struct conn_settings set = {
		.max_input = SMTP_INPUT_MAX,
		.max_output = SMTP_OUTPUT_MAX,
		.idle_timeout_ms = config->smtp_timeout * 1000,
		.handshake_timeout_ms = config->tls_handshake_timeout * 1000,
		.alpn = "smtp",
		.peer_ip = peer_ip,
	};
	bool implicit_tls = service == SERVICE_SUBMISSIONS;
	struct session_settings sset = {
		.conn = &set, .implicit_tls = implicit_tls,
		.cb = smtp_on_conn_event, .ctx = s,
	};
	session_init(&s->base, env, &smtp_session_vfuncs, fd, service, &sset);
	s->tls_started = implicit_tls;
	/* submission needs AUTH (RFC 6409 4.3 lets the server require it):
	 * a client that never logs in does not keep its slot; on port 25
	 * other servers never authenticate */
	if (service != SERVICE_SMTP)
		session_login_deadline(&s->base, config->login_timeout);
	log_info("sid=%s event=connect ip=%s service=%s port=%u", s->base.sid,
		 s->base.peer_ip, service_name(service), conn_local_port(s->base.conn));
	/* RFC 5321 4.2: greeting; no enhanced code on 220 (RFC 2034 3) */
	conn_printf(s->base.conn, "220 %s ESMTP Postel\r\n", config->hostname);
}
