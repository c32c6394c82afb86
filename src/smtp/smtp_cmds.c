/* smtp_cmds.c: the SMTP commands that do not carry message data or SASL:
 * EHLO, HELO, MAIL, RCPT, RSET, NOOP, QUIT, VRFY, EXPN, HELP, STARTTLS. */
#include "smtp_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/log.h"
#include "auth/sasl.h"
#include "auth/userdb.h"

#include <string.h>

static void smtp_ehlo_reply(struct smtp_session *s)
{
	const struct config *config = s->base.env->config;
	str_t r = STR_INIT;
	str_printf(&r, "250-%s Hello %s\r\n", config->hostname, s->helo);
	str_appendz(&r, "250-PIPELINING\r\n");
	str_printf(&r, "250-SIZE %llu\r\n", (unsigned long long)config->message_size_limit);
	str_appendz(&r, "250-8BITMIME\r\n");
	str_appendz(&r, "250-ENHANCEDSTATUSCODES\r\n");
	if (!smtp_session_tls(s) && s->base.env->tls != NULL)
		str_appendz(&r, "250-STARTTLS\r\n");
	if (smtp_session_auth_offered(s)) {
		str_appendz(&r, "250-AUTH");
		for (const char *const *m = sasl_mechanisms(); *m != NULL; m++)
			str_printf(&r, " %s", *m);
		str_appendz(&r, "\r\n");
	}
	str_appendz(&r, "250-CHUNKING\r\n");
	str_appendz(&r, "250-DSN\r\n");
	/* RFC 8689 4: REQUIRETLS only once the session is encrypted */
	if (smtp_session_tls(s))
		str_appendz(&r, "250-REQUIRETLS\r\n");
	str_appendz(&r, "250 SMTPUTF8\r\n");
	conn_write(s->base.conn, r.data, r.len);
	str_free(&r);
}

static void smtp_helo_common(struct smtp_session *s, const struct smtp_command *cmd,
			     bool ehlo)
{
	struct smtp_reply_err err;
	const char *domain;
	if (smtp_parse_helo(cmd->args, cmd->args_len, ehlo, s->base.cmd_pool, &domain,
			    &err) < 0) {
		smtp_reply_err(s, &err);
		return;
	}
	/* RFC 5321 4.1.4: EHLO/HELO also resets any transaction */
	smtp_tx_reset(s);
	/* replaced, not appended: a million EHLOs cost one name */
	session_str_set(&s->helo, domain, strlen(domain));
	s->esmtp = ehlo;
	if (ehlo)
		smtp_ehlo_reply(s);
	else
		smtp_reply(s, 250, NULL, "%s", s->base.env->config->hostname);
}

void smtp_cmd_ehlo(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_helo_common(s, cmd, true);
}

void smtp_cmd_helo(struct smtp_session *s, const struct smtp_command *cmd)
{
	smtp_helo_common(s, cmd, false);
}

static bool smtp_submission(const struct smtp_session *s)
{
	return s->base.service == SERVICE_SUBMISSION || s->base.service == SERVICE_SUBMISSIONS;
}

void smtp_cmd_mail(struct smtp_session *s, const struct smtp_command *cmd)
{
	const struct config *config = s->base.env->config;
	struct smtp_reply_err err;
	if (s->tx != NULL) {
		smtp_reply(s, 503, "5.5.1", "Nested MAIL command");
		return;
	}
	if (smtp_submission(s) && s->auth_user == NULL) {
		/* RFC 4954 6 */
		smtp_reply(s, 530, "5.7.0", "Authentication required");
		return;
	}
	struct smtp_tx *tx = xcalloc(1, sizeof(*tx));
	tx->pool = pool_create(2048);
	tx->spool_fd = -1;
	unsigned exts = s->esmtp ? smtp_session_exts(s) : 0;
	if (smtp_parse_mail(cmd->args, cmd->args_len, exts, tx->pool, &tx->mail, &err) < 0) {
		pool_destroy(&tx->pool);
		free(tx);
		smtp_reply_err(s, &err);
		return;
	}
	if (tx->mail.params.has_size && tx->mail.params.size > config->message_size_limit) {
		pool_destroy(&tx->pool);
		free(tx);
		/* RFC 1870 6.1 */
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		return;
	}
	if (s->auth_user != NULL && tx->mail.from.null_path) {
		pool_destroy(&tx->pool);
		free(tx);
		smtp_reply(s, 553, "5.7.1", "Sender address not owned by authenticated user");
		return;
	}
	if (s->auth_user != NULL) {
		/* off the loop: replies 250 or 553 when the lookup is back */
		smtp_lookup_sender(s, tx);
		return;
	}
	s->tx = tx;
	smtp_reply(s, 250, "2.1.0", "Sender OK");
}

void smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_command *cmd)
{
	const struct config *config = s->base.env->config;
	struct smtp_tx *tx = s->tx;
	struct smtp_reply_err err;
	if (tx == NULL) {
		smtp_reply(s, 503, "5.5.1", "Need MAIL before RCPT");
		return;
	}
	if (tx->rcpt_count >= config->max_recipients) {
		/* RFC 5321 4.5.3.1.10: 452 when too many recipients */
		smtp_reply(s, 452, "4.5.3", "Too many recipients");
		return;
	}
	struct smtp_rcpt rcpt;
	unsigned exts = s->esmtp ? smtp_session_exts(s) : 0;
	if (smtp_parse_rcpt(cmd->args, cmd->args_len, exts, tx->mail.params.smtputf8,
			    tx->pool, &rcpt, &err) < 0) {
		smtp_reply_err(s, &err);
		return;
	}
	const char *address = rcpt.to.canonical;
	if (rcpt.to.postmaster) {
		/* RFC 5321 4.5.1: <Postmaster> means postmaster of this host */
		address = pool_printf(tx->pool, "postmaster@%s", config->hostname);
	}
	/* off the loop: replies when the lookup is back */
	smtp_lookup_rcpt(s, &rcpt, address);
}

void smtp_cmd_rset(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	smtp_tx_reset(s);
	smtp_reply(s, 250, "2.0.0", "OK");
}

void smtp_cmd_noop(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	smtp_reply(s, 250, "2.0.0", "OK");
}

void smtp_cmd_quit(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	smtp_reply(s, 221, "2.0.0", "Bye");
	smtp_session_close(s);
}

void smtp_cmd_vrfy(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	/* RFC 5321 3.5.3: 252 when we will not verify */
	smtp_reply(s, 252, "2.5.2", "Cannot VRFY user, but will accept message and attempt delivery");
}

void smtp_cmd_expn(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	smtp_reply(s, 502, "5.5.1", "EXPN not available");
}

void smtp_cmd_help(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	conn_printf(s->base.conn, "214-2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT\r\n"
		    "214-2.0.0 VRFY HELP STARTTLS AUTH\r\n"
		    "214 2.0.0 See RFC 5321\r\n");
}

void smtp_cmd_starttls(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	if (smtp_session_tls(s) || s->tls_started) {
		/* RFC 3207 4.2: no second STARTTLS */
		smtp_reply(s, 503, "5.5.1", "TLS already active");
		return;
	}
	if (s->base.env->tls == NULL) {
		smtp_reply(s, 454, "4.7.0", "TLS not available");
		return;
	}
	smtp_reply(s, 220, "2.0.0", "Ready to start TLS");
	/* flushes the 220, discards pipelined input, then handshakes */
	conn_starttls(s->base.conn, s->base.env->tls);
	s->tls_started = true;
	smtp_session_reset(s);
}
