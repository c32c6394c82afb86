/* imap_auth.c: STARTTLS (RFC 9051 6.2.1), LOGIN (6.2.3) and AUTHENTICATE
 * (6.2.2, RFC 4959 SASL-IR) over the shared SASL mechanisms.
 *
 * The attempt itself (steps, the penalty before the check, the password
 * check on the thread pool, the log) is auth/auth_login.h's, as for SMTP
 * and POP3; LOGIN goes through PLAIN so both ways share one checked
 * path. This file frames it in IMAP: "+ " continuations, "*" to cancel,
 * NO [AUTHENTICATIONFAILED] / [UNAVAILABLE] / [PRIVACYREQUIRED]
 * (RFC 5530). Credentials are taken only over TLS unless
 * allow_plaintext_auth (LOGINDISABLED, RFC 9051 6.2.3). */
#include "imap_commands.h"
#include "auth/auth_login.h"
#include "imap/imap_args.h"
#include "imap/imap_reply.h"
#include "imap/imap_session_private.h"
#include "lib/base64.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"

#include <string.h>

/* RFC 4422 3.1: a mechanism name is at most 20 characters */
#define IMAP_MECH_MAX 20

void imap_auth_abort(struct imap_session *s)
{
	if (s->login != NULL && !auth_login_busy(s->login))
		auth_login_free(&s->login);
}

static void imap_login_challenge(void *ctx, const unsigned char *data, size_t len,
				 bool final)
{
	struct imap_session *s = ctx;
	/* RFC 9051 6.2.2: SCRAM's server-final is a "+" the client answers
	 * with an empty line */
	s->sasl_final = final;
	str_t enc = STR_INIT;
	base64_encode(data, len, &enc);
	conn_printf(s->base.conn, "+ %s\r\n", str_c(&enc));
	str_free(&enc);
	s->input = IMAP_INPUT_SASL;
	conn_input_resume(s->base.conn);
}

static void imap_login_pause(void *ctx)
{
	struct imap_session *s = ctx;
	session_job_begin(&s->base);
	s->input = IMAP_INPUT_WAIT;
	conn_input_pause(s->base.conn);
}

static void imap_login_resume(void *ctx)
{
	struct imap_session *s = ctx;
	session_job_end(&s->base);
	if (imap_session_check_gone(s))
		return;
	/* the challenge went out and set IMAP_INPUT_SASL */
	conn_input_resume(s->base.conn);
}

static void imap_login_finished(void *ctx, enum auth_login_result result,
				const char *user, bool paused)
{
	struct imap_session *s = ctx;
	struct imap_cmd *cmd = &s->cmd;
	if (paused)
		session_job_end(&s->base);
	if (s->input == IMAP_INPUT_SASL)
		s->input = IMAP_INPUT_WAIT; /* the command ends with its reply */
	switch (result) {
	case AUTH_LOGIN_OK:
		/* heap, not the session pool: UNAUTHENTICATE and another
		 * login may repeat without the pool growing (imap_unauth.c) */
		session_str_set(&s->user_owned, user, strlen(user));
		s->user = s->user_owned;
		s->state = IMAP_STATE_AUTH;
		session_login_done(&s->base);
		/* RFC 9051 5.4: the autologout timer of a logged-in client */
		conn_set_idle_timeout(s->base.conn, s->base.env->config->imap_timeout * 1000);
		auth_login_free(&s->login);
		/* RFC 9051 6.2.3: the capabilities may change at login; say so */
		imap_cmd_ok(cmd, t_printf("CAPABILITY %s", imap_capabilities(s)),
			    "Logged in");
		return;
	case AUTH_LOGIN_FAIL:
		log_info("sid=%s event=reject ip=%s service=%s cmd=%s code=NO user=%s "
			 "reason=\"[AUTHENTICATIONFAILED] Authentication failed\"",
			 s->base.sid, s->base.peer_ip, service_name(s->base.service),
			 cmd->def->name, auth_login_name_tried(s->login) != NULL ?
			 log_str(auth_login_name_tried(s->login)) : "-");
		auth_login_free(&s->login);
		imap_cmd_no(cmd, "AUTHENTICATIONFAILED", "Authentication failed");
		break;
	case AUTH_LOGIN_TEMPFAIL:
		auth_login_free(&s->login);
		imap_cmd_no(cmd, "UNAVAILABLE", "Temporary authentication failure");
		break;
	}
	if (imap_session_check_gone(s))
		return;
}

static const struct auth_login_ops imap_login_ops = {
	.challenge = imap_login_challenge,
	.pause = imap_login_pause,
	.resume = imap_login_resume,
	.finished = imap_login_finished,
};

static bool imap_login_start(struct imap_session *s, const char *mech,
			     const char *log_mech)
{
	struct auth_login_env env = {
		.loop = s->base.env->loop, .pool = s->base.env->hash_pool,
		.data_dir = s->base.env->config->data_dir, .ip = s->base.peer_ip,
		.sid = s->base.sid,
	};
	s->login = auth_login_start(&env, mech, log_mech, &imap_login_ops, s);
	return s->login != NULL;
}

static bool imap_auth_allowed(struct imap_cmd *cmd)
{
	if (imap_session_auth_offered(cmd->s))
		return true;
	/* RFC 9051 6.2.3 LOGINDISABLED, RFC 5530 PRIVACYREQUIRED */
	imap_cmd_no(cmd, "PRIVACYREQUIRED", "Use STARTTLS first; credentials are not "
		    "accepted in clear");
	return false;
}

void imap_auth_input_line(struct imap_session *s, const char *line, size_t len)
{
	struct imap_cmd *cmd = &s->cmd;
	if (len == 1 && line[0] == '*') {
		/* RFC 9051 6.2.2: the client cancels; BAD */
		imap_auth_abort(s);
		imap_cmd_bad(cmd, "Authentication cancelled");
		return;
	}
	s->input = IMAP_INPUT_WAIT;
	if (s->sasl_final) {
		s->sasl_final = false;
		auth_login_final_response(s->login, len == 0);
		return;
	}
	str_t dec = STR_INIT;
	if (base64_decode(line, len, &dec) < 0) {
		str_free(&dec);
		imap_auth_abort(s);
		imap_cmd_bad(cmd, "Invalid base64 data");
		return;
	}
	auth_login_step(s->login, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}

void imap_cmd_authenticate(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	if (cmd->count < 1 || cmd->count > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    (cmd->count == 2 && cmd->args[1].type != IMAP_ARG_ATOM)) {
		imap_cmd_bad(cmd, "AUTHENTICATE needs a mechanism and an optional "
			     "initial response");
		return;
	}
	if (!imap_auth_allowed(cmd))
		return;
	const struct imap_arg *mech = &cmd->args[0];
	if (mech->len > IMAP_MECH_MAX || !imap_login_start(s, mech->str, mech->str)) {
		imap_cmd_no(cmd, "CANNOT", "Unsupported authentication mechanism");
		return;
	}
	imap_cmd_wait(cmd);
	if (cmd->count == 1) {
		auth_login_step(s->login, false, NULL, 0);
		return;
	}
	/* RFC 4959 3: "=" is an empty initial response */
	const struct imap_arg *ir = &cmd->args[1];
	str_t dec = STR_INIT;
	if (!(ir->len == 1 && ir->str[0] == '=') && base64_decode(ir->str, ir->len, &dec) < 0) {
		str_free(&dec);
		auth_login_free(&s->login);
		imap_cmd_bad(cmd, "Invalid base64 data");
		return;
	}
	auth_login_step(s->login, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}

void imap_cmd_login(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	const char *user, *pass, *error;
	size_t user_len, pass_len;
	if (cmd->count != 2 ||
	    imap_arg_get_astring(&cmd->args[0], &user, &user_len, &error) < 0 ||
	    imap_arg_get_astring(&cmd->args[1], &pass, &pass_len, &error) < 0) {
		imap_cmd_bad(cmd, "LOGIN needs a user name and a password");
		return;
	}
	if (!imap_auth_allowed(cmd))
		return;
	imap_login_start(s, "PLAIN", "LOGIN");
	imap_cmd_wait(cmd);
	/* PLAIN (RFC 4616) carries it as NUL user NUL password */
	str_t blob = STR_INIT;
	str_appendc(&blob, '\0');
	str_append(&blob, user, user_len);
	str_appendc(&blob, '\0');
	str_append(&blob, pass, pass_len);
	auth_login_step(s->login, true, (const unsigned char *)blob.data, blob.len);
	str_free_secure(&blob);
}

void imap_cmd_starttls(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "STARTTLS takes no arguments");
		return;
	}
	if (conn_is_tls(s->base.conn) || s->tls_started) {
		imap_cmd_bad(cmd, "TLS already active");
		return;
	}
	if (conn_is_compressed(s->base.conn)) {
		/* RFC 4978 3: TLS goes under compression, never above it */
		imap_cmd_bad(cmd, "STARTTLS after COMPRESS");
		return;
	}
	if (s->base.env->tls == NULL) {
		imap_cmd_no(cmd, "UNAVAILABLE", "TLS not available");
		return;
	}
	imap_cmd_ok(cmd, NULL, "Begin TLS negotiation now");
	/* flushes the reply, discards pipelined input (RFC 9051 6.2.1: the
	 * client sends nothing until the handshake is done; what came is
	 * an injection attempt, CVE-2011-0411 style), handshakes */
	conn_starttls(s->base.conn, s->base.env->tls);
	s->tls_started = true;
	imap_auth_abort(s);
}
