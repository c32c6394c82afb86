/* imap_dispatch.c: a command's life in the session, from the parsed
 * line to its tagged reply: the command table (RFC 9051 6), the checks
 * against it (state, the UID form), the run, and the tagged OK, NO or
 * BAD that ends it and lets the input loop (imap_input.c) read the next
 * line; max_bad_commands BADs end the session. */
#include "imap_session_private.h"
#include "imap/imap_commands.h"
#include "imap/imap_store.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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
void imap_line_bad(struct imap_session *s, const char *tag, const char *resp_code,
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

static const char *imap_log_tag(const char *tag)
{
	return tag != NULL && strlen(tag) <= IMAP_TAG_LOG_MAX ? log_str(tag) : "-";
}

void imap_dispatch(struct imap_session *s, const struct imap_command *pc)
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
