/* imap_session.c: IMAP session life cycle, the input loop, the command
 * table and the replies.
 *
 * Input (RFC 9051 2.2, 4.3): each line goes to the command parser
 * (imap_parser.h); a line ending in a literal prefix gets "+" (unless it
 * is a {n+}, RFC 7888) once the size passed the limits, and the literal's
 * octets go to the parser before the next line. A complete command is
 * checked against the table (state, TLS for logins) and run; it holds
 * the input until its tagged reply, so pipelined commands (RFC 9051
 * 5.5) are answered in order. Limits: the line length, the arguments
 * held, the literal sizes (much smaller before login), and
 * max_bad_commands; past them BYE. */
#include "imap_session_private.h"
#include "imap/imap_commands.h"
#include "imap/imap_reply.h"
#include "imap/imap_store.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NA IMAP_CMD_NOT_AUTH
#define AU IMAP_CMD_AUTH
#define SE IMAP_CMD_SELECTED
#define UI IMAP_CMD_UID
/* RFC 9051 6.1 (any state), 6.2 (not authenticated), 6.3 (authenticated),
 * 6.4 (selected); RFC 2971 ID, RFC 5161 ENABLE, RFC 2342 NAMESPACE,
 * RFC 3691 UNSELECT, RFC 4315 UID EXPUNGE, RFC 6851 MOVE, RFC 2177 IDLE.
 * Sorted by name: looked up by bsearch. */
static const struct imap_cmd_def imap_cmds[] = {
	{ "APPEND", imap_cmd_append, AU | SE },
	{ "AUTHENTICATE", imap_cmd_authenticate, NA },
	{ "CAPABILITY", imap_cmd_capability, NA | AU | SE },
	{ "CHECK", imap_cmd_check, SE },
	{ "CLOSE", imap_cmd_close, SE },
	{ "COMPRESS", imap_cmd_compress, AU | SE },
	{ "COPY", imap_cmd_copy, SE | UI },
	{ "CREATE", imap_cmd_create, AU | SE },
	{ "DELETE", imap_cmd_delete, AU | SE },
	{ "ENABLE", imap_cmd_enable, AU | SE }, /* selected: CONDSTORE/QRESYNC only */
	{ "EXAMINE", imap_cmd_examine, AU | SE },
	{ "EXPUNGE", imap_cmd_expunge, SE | UI },
	{ "FETCH", imap_cmd_fetch, SE | UI },
	{ "ID", imap_cmd_id, NA | AU | SE },
	{ "IDLE", imap_cmd_idle, AU | SE },
	{ "LIST", imap_cmd_list, AU | SE },
	{ "LOGIN", imap_cmd_login, NA },
	{ "LOGOUT", imap_cmd_logout, NA | AU | SE },
	{ "LSUB", imap_cmd_lsub, AU | SE },
	{ "MOVE", imap_cmd_move, SE | UI },
	{ "NAMESPACE", imap_cmd_namespace, AU | SE },
	{ "NOOP", imap_cmd_noop, NA | AU | SE },
	{ "NOTIFY", imap_cmd_notify, AU | SE },
	{ "RENAME", imap_cmd_rename, AU | SE },
	{ "SEARCH", imap_cmd_search, SE | UI },
	{ "SELECT", imap_cmd_select, AU | SE },
	{ "SORT", imap_cmd_sort, SE | UI },
	{ "STARTTLS", imap_cmd_starttls, NA },
	{ "STATUS", imap_cmd_status, AU | SE },
	{ "STORE", imap_cmd_store, SE | UI },
	{ "SUBSCRIBE", imap_cmd_subscribe, AU | SE },
	{ "THREAD", imap_cmd_thread, SE | UI },
	{ "UNAUTHENTICATE", imap_cmd_unauthenticate, AU | SE },
	{ "UNSELECT", imap_cmd_unselect, SE },
	{ "UNSUBSCRIBE", imap_cmd_unsubscribe, AU | SE },
};
#undef NA
#undef AU
#undef SE
#undef UI

static void imap_on_conn_event(void *ctx, enum conn_event ev);
static void imap_process_input(struct imap_session *s);

static int cmd_def_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct imap_cmd_def *)elem)->name);
}

static const struct imap_cmd_def *imap_cmd_find(const char *name)
{
	return bsearch(name, imap_cmds, sizeof(imap_cmds) / sizeof(imap_cmds[0]),
		       sizeof(imap_cmds[0]), cmd_def_cmp);
}

static void imap_write_tagged(struct imap_session *s, const char *tag, const char *status,
			      const char *resp_code, const char *fmt, va_list ap)
{
	str_t line = STR_INIT;
	str_printf(&line, "%s %s ", tag != NULL ? tag : "*", status);
	if (resp_code != NULL)
		str_printf(&line, "[%s] ", resp_code);
	str_vprintf(&line, fmt, ap);
	str_appendz(&line, "\r\n");
	conn_write(s->base.conn, line.data, line.len);
	str_free(&line);
}

/* The command has its tagged reply: forget it and read the next. */
static void imap_cmd_end(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	bool waited = s->input == IMAP_INPUT_WAIT;
	memset(&s->cmd, 0, sizeof(s->cmd));
	imap_store_release(s);
	imap_parser_reset(s->parser);
	session_command_done(&s->base);
	if (s->input == IMAP_INPUT_WAIT || s->input == IMAP_INPUT_SASL)
		s->input = IMAP_INPUT_COMMAND;
	if (waited && !s->base.closing)
		conn_input_resume(s->base.conn);
	imap_notify_kick(s);
}

void imap_cmd_ok(struct imap_cmd *cmd, const char *resp_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_write_tagged(cmd->s, cmd->tag, "OK", resp_code, fmt, ap);
	va_end(ap);
	imap_cmd_end(cmd);
}

void imap_cmd_no(struct imap_cmd *cmd, const char *resp_code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_write_tagged(cmd->s, cmd->tag, "NO", resp_code, fmt, ap);
	va_end(ap);
	imap_cmd_end(cmd);
}

/* A BAD, tagged when the tag is known; true when it was one too many. */
static bool imap_bad(struct imap_session *s, const char *tag, const char *resp_code,
		     const char *fmt, va_list ap)
{
	imap_write_tagged(s, tag, "BAD", resp_code, fmt, ap);
	if (++s->bad_commands <= s->base.env->config->max_bad_commands || s->base.closing)
		return false;
	log_info("sid=%s event=too_many_errors ip=%s", s->base.sid, s->base.peer_ip);
	imap_session_bye(s, "Too many bad commands, closing connection");
	return true;
}

void imap_cmd_bad(struct imap_cmd *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_bad(cmd->s, cmd->tag, NULL, fmt, ap);
	va_end(ap);
	imap_cmd_end(cmd);
}

/* BAD for a line that never became a command. */
static void imap_line_bad(struct imap_session *s, const char *tag, const char *resp_code,
			  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void imap_line_bad(struct imap_session *s, const char *tag, const char *resp_code,
			  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	imap_bad(s, tag, resp_code, fmt, ap);
	va_end(ap);
	imap_parser_reset(s->parser);
	session_command_done(&s->base);
}

void imap_cmd_wait(struct imap_cmd *cmd)
{
	cmd->s->input = IMAP_INPUT_WAIT;
	conn_input_pause(cmd->s->base.conn);
}

void imap_session_bye(struct imap_session *s, const char *text)
{
	if (s->base.closing)
		return;
	imap_untagged(s, "BYE %s", text);
	s->logout_sent = true;
	session_close(&s->base);
}

bool imap_session_auth_offered(const struct imap_session *s)
{
	/* tls_started: implicit TLS whose handshake is still running (the
	 * greeting is written before it ends, but only ever goes out over TLS) */
	return conn_is_tls(s->base.conn) || s->tls_started ||
	       s->base.env->config->allow_plaintext_auth;
}

static const char *imap_log_tag(const char *tag)
{
	return tag != NULL && strlen(tag) <= IMAP_TAG_LOG_MAX ? log_str(tag) : "-";
}

static void imap_dispatch(struct imap_session *s, const struct imap_command *pc)
{
	struct imap_cmd *cmd = &s->cmd;
	memset(cmd, 0, sizeof(*cmd));
	cmd->s = s;
	cmd->tag = pc->tag;
	cmd->name = pc->name;
	cmd->args = pc->args;
	cmd->count = pc->count;
	s->commands++;
	if (strcmp(pc->name, "UID") == 0) {
		/* RFC 9051 6.4.9: UID names the command it changes */
		if (pc->count == 0 || pc->args[0].type != IMAP_ARG_ATOM) {
			imap_cmd_bad(cmd, "UID needs a command");
			return;
		}
		char *name = pool_strdup(s->base.cmd_pool, pc->args[0].str);
		for (char *p = name; *p != '\0'; p++)
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		cmd->name = name;
		cmd->uid = true;
		cmd->args = pc->args + 1;
		cmd->count = pc->count - 1;
	}
	const struct imap_cmd_def *def = imap_cmd_find(cmd->name);
	if (def == NULL || (cmd->uid && (def->flags & IMAP_CMD_UID) == 0)) {
		imap_cmd_bad(cmd, "Unknown command %s%s", cmd->uid ? "UID " : "",
			     strlen(cmd->name) <= 32 ? cmd->name : "");
		return;
	}
	cmd->def = def;
	unsigned need = s->state == IMAP_STATE_NOT_AUTH ? IMAP_CMD_NOT_AUTH :
		s->state == IMAP_STATE_AUTH ? IMAP_CMD_AUTH : IMAP_CMD_SELECTED;
	if ((def->flags & need) == 0) {
		imap_cmd_bad(cmd, "%s not allowed %s", def->name,
			     s->state == IMAP_STATE_NOT_AUTH ? "before login" :
			     s->state == IMAP_STATE_AUTH ? "without a selected mailbox" :
			     "after login");
		return;
	}
	log_debug("sid=%s event=command tag=%s cmd=%s%s", s->base.sid, imap_log_tag(cmd->tag),
		  cmd->uid ? "UID_" : "", def->name);
	def->func(cmd);
}

/* The tag of a line the parser refused before scanning it (a literal
 * too big is refused from its digits): RFC 9051 9 tag = 1*<any
 * ASTRING-CHAR except "+">, or NULL. */
static const char *imap_line_tag(struct imap_session *s, const char *line, size_t len)
{
	size_t n = 0;
	while (n < len && n < IMAP_TAG_LOG_MAX && line[n] > 0x20 && line[n] < 0x7f &&
	       strchr("(){%*\"\\+", line[n]) == NULL)
		n++;
	if (n == 0 || n >= len || line[n] != ' ')
		return NULL;
	return pool_strndup(s->base.cmd_pool, line, n);
}

/* A literal over the limit (RFC 7889 / RFC 9051 7.1 TOOBIG). The octets
 * of a {n+} are on their way: they cannot be told apart from commands,
 * so the connection ends (RFC 7888 4). */
static void imap_literal_refused(struct imap_session *s, const struct imap_literal_need *need,
				 const char *line, size_t len)
{
	const char *tag = imap_parser_tag(s->parser);
	if (tag == NULL)
		tag = imap_line_tag(s, line, len);
	/* refused from its digits, the parser filled no need: the line says */
	bool nonsync = need != NULL ? need->nonsync :
		len >= 2 && line[len - 1] == '}' && line[len - 2] == '+';
	if (nonsync) {
		conn_printf(s->base.conn, "%s BAD [TOOBIG] Literal too big\r\n",
			    tag != NULL ? tag : "*");
		imap_session_bye(s, "Non-synchronizing literal too big, closing connection");
		return;
	}
	imap_line_bad(s, tag, "TOOBIG", "Literal too big");
}

static void imap_feed_line(struct imap_session *s, const char *line, size_t len)
{
	struct imap_literal_need need;
	const char *error;
	if (imap_parser_tag(s->parser) == NULL && line_is_http_request(line, len)) {
		/* TESTING.md 9 (ALPACA): a tag "GET" would be echoed; drop */
		log_info("sid=%s event=http_request ip=%s", s->base.sid, s->base.peer_ip);
		session_close(&s->base);
		return;
	}
	/* APPEND's message literal is streamed, not parsed (imap_append.c) */
	size_t append_len = len;
	bool append = imap_append_prefix(s, line, len, &append_len);
	int r = imap_parser_feed_line(s->parser, line, append_len, &need, &error);
	if (append && r != 0) {
		imap_append_free(s);
		if (r > 0) {
			imap_line_bad(s, imap_parser_tag(s->parser), NULL, "Invalid APPEND");
			return;
		}
	}
	if (r < 0) {
		if (imap_parser_failure(s->parser) == IMAP_PARSER_FAIL_TOOBIG) {
			imap_literal_refused(s, NULL, line, len);
			return;
		}
		const char *tag = imap_parser_tag(s->parser);
		imap_line_bad(s, tag != NULL ? tag : imap_line_tag(s, line, len), NULL, "%s", error);
		return;
	}
	if (r == 1) {
		/* TESTING.md 11: before login only small literals (a LOGIN's) */
		if (s->state == IMAP_STATE_NOT_AUTH && need.size > IMAP_PREAUTH_LITERAL_MAX) {
			imap_literal_refused(s, &need, line, len);
			return;
		}
		struct literal_prefix prefix = {
			.size = need.size, .nonsync = need.nonsync, .binary = need.binary,
		};
		literal_reader_init(&s->literal, &prefix);
		s->input = IMAP_INPUT_LITERAL;
		/* RFC 9051 7.5: "+" asks for the octets of a synchronising literal */
		if (!need.nonsync)
			conn_printf(s->base.conn, "+ Ready for literal data\r\n");
		return;
	}
	imap_dispatch(s, imap_parser_command(s->parser));
}

static void imap_check_drain(struct imap_session *s)
{
	if (s->base.draining && s->input == IMAP_INPUT_COMMAND && !s->base.closing &&
	    s->cmd.tag == NULL)
		imap_session_bye(s, "[UNAVAILABLE] Server shutting down");
}

static void imap_process_input(struct imap_session *s)
{
	while (!s->base.closing && s->input != IMAP_INPUT_WAIT) {
		if (s->input == IMAP_INPUT_APPEND) {
			if (!imap_append_input(s))
				return;
			continue;
		}
		if (s->input == IMAP_INPUT_LITERAL) {
			if (!literal_read_conn(&s->literal, s->base.conn, IMAP_INPUT_MAX,
					       imap_parser_literal_chunk, s->parser))
				return;
			s->input = IMAP_INPUT_COMMAND;
			continue;
		}
		const char *line;
		size_t len;
		size_t max = s->state == IMAP_STATE_NOT_AUTH ? IMAP_LINE_MAX : IMAP_LINE_MAX_AUTH;
		enum conn_line_result r = conn_read_line(s->base.conn, max, &line, &len, NULL);
		if (r == CONN_LINE_MORE)
			return;
		if (s->input == IMAP_INPUT_IDLE) {
			imap_idle_input_line(s, r == CONN_LINE_TOOLONG ? NULL : line, len);
			continue;
		}
		if (r == CONN_LINE_TOOLONG) {
			if (s->input == IMAP_INPUT_SASL)
				imap_auth_abort(s);
			/* the command it belonged to is lost with it; its tag
			 * gets the BAD (RFC 9051 7.1.5), so a client waiting
			 * for it does not hang */
			const char *tag = imap_parser_tag(s->parser);
			size_t tag_len = line != NULL ? imap_line_tag_length(line, len) : 0;
			if (tag == NULL && tag_len > 0)
				tag = t_strndup(line, tag_len);
			imap_line_bad(s, tag, NULL, "Line too long (at most %zu octets)", max);
			continue;
		}
		if (s->input == IMAP_INPUT_SASL)
			imap_auth_input_line(s, line, len);
		else
			imap_feed_line(s, line, len);
		imap_check_drain(s);
	}
}

bool imap_session_check_gone(struct imap_session *s);

static void imap_session_destroy(struct imap_session *s)
{
	imap_append_free(s);
	session_str_set(&s->user_owned, NULL, 0);
	str_free(&s->out);
	imap_parser_destroy(&s->parser);
	session_deinit(&s->base);
	free(s);
}

static void imap_session_free(struct imap_session *s)
{
	log_info("sid=%s event=disconnect ip=%s service=%s reason=%s tls=%s user=%s commands=%u",
		 s->base.sid, s->base.peer_ip, service_name(s->base.service),
		 conn_close_reason(s->base.conn),
		 conn_is_tls(s->base.conn) ? conn_tls_version(s->base.conn) : "no",
		 s->user != NULL ? log_str(s->user) : "-", s->commands);
	imap_auth_abort(s);
	imap_fetch_abort(s);
	imap_idle_free(s);
	imap_notify_free(s);
	/* the view is closed on the user's lane, then the session ends */
	s->input = IMAP_INPUT_WAIT;
	imap_store_close(s, imap_session_destroy);
}

bool imap_session_check_gone(struct imap_session *s)
{
	if (!session_may_free(&s->base))
		return false;
	imap_session_free(s);
	return true;
}

static void imap_on_conn_event(void *ctx, enum conn_event ev)
{
	struct imap_session *s = ctx;
	switch (ev) {
	case CONN_EV_INPUT:
		imap_process_input(s);
		break;
	case CONN_EV_TIMEOUT:
		log_info("sid=%s event=timeout ip=%s", s->base.sid, s->base.peer_ip);
		/* RFC 9051 5.4: the autologout timer ran out */
		imap_session_bye(s, "Autologout; idle for too long");
		break;
	case CONN_EV_CLOSED:
		session_login_abandon(&s->base, &s->login);
		if (session_on_closed(&s->base))
			imap_session_free(s);
		break;
	}
}

static void imap_session_drain(struct session *base)
{
	struct imap_session *s = (struct imap_session *)base;
	/* a command in flight answers first; imap_check_drain() then ends
	 * it; an IDLE ends at once (RFC 2177: the server may end it) */
	if (s->input == IMAP_INPUT_IDLE ||
	    (s->input != IMAP_INPUT_WAIT && s->cmd.tag == NULL)) {
		imap_auth_abort(s);
		imap_session_bye(s, "[UNAVAILABLE] Server shutting down");
	}
}

static void imap_session_login_timeout(struct session *base)
{
	struct imap_session *s = (struct imap_session *)base;
	imap_untagged(s, "BYE Login timeout; closing connection");
	s->logout_sent = true;
}

static void imap_session_request_timeout(struct session *base)
{
	(void)base; /* IMAP starts no request deadline */
}

static const struct session_vfuncs imap_session_vfuncs = {
	.drain = imap_session_drain,
	.login_timeout = imap_session_login_timeout,
	.request_timeout = imap_session_request_timeout,
};

void imap_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip)
{
	const struct config *config = env->config;
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings set = {
		.max_input = IMAP_INPUT_MAX,
		.max_output = IMAP_OUTPUT_MAX,
		.idle_timeout_ms = config->imap_timeout * 1000,
		.handshake_timeout_ms = config->tls_handshake_timeout * 1000,
		.alpn = "imap",
		.peer_ip = peer_ip,
	};
	bool implicit_tls = service == SERVICE_IMAPS;
	struct session_settings sset = {
		.conn = &set, .implicit_tls = implicit_tls,
		.cb = imap_on_conn_event, .ctx = s,
	};
	imap_idle_socket_init(fd);
	session_init(&s->base, env, &imap_session_vfuncs, fd, service, &sset);
	struct imap_parser_limits limits = {
		.max_args = IMAP_MAX_ARGS,
		.max_depth = IMAP_MAX_DEPTH,
		.max_command_size = IMAP_COMMAND_MAX,
		.literal = { .max_size = IMAP_COMMAND_MAX, .max_nonsync = IMAP_NONSYNC_MAX },
	};
	s->parser = imap_parser_create(&limits);
	s->tls_started = implicit_tls;
	session_login_deadline(&s->base, config->login_timeout);
	log_info("sid=%s event=connect ip=%s service=%s port=%u", s->base.sid,
		 s->base.peer_ip, service_name(service), conn_local_port(s->base.conn));
	/* RFC 9051 7.1.1: the greeting, with the capabilities (7.1 CAPABILITY
	 * response code) so a client need not ask */
	imap_untagged(s, "OK [CAPABILITY %s] Postel IMAP server ready", imap_capabilities(s));
}
