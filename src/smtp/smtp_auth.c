/* smtp_auth.c: AUTH (RFC 4954) over the shared SASL mechanisms.
 *
 * The attempt itself (steps, the account lookup and password check on the
 * thread pool, the growing delay after failures, the log) is
 * auth/auth_login.h's; this file frames it in SMTP: 334 challenges,
 * 235/535/454 replies. The session processes no command while a lookup,
 * check or delay is pending. Each AUTH command gets a fresh mechanism
 * state. */
#include "smtp_private.h"
#include "lib/base64.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "auth/auth_login.h"

#include <string.h>

void smtp_auth_abort(struct smtp_session *s)
{
	if (s->login != NULL && !auth_login_busy(s->login))
		auth_login_free(&s->login);
	if (s->state == SMTP_STATE_AUTH || s->state == SMTP_STATE_AUTH_FINAL)
		s->state = SMTP_STATE_COMMAND;
}

static void smtp_login_challenge(void *ctx, const unsigned char *data, size_t len,
				 bool final)
{
	struct smtp_session *s = ctx;
	/* RFC 4954 4: additional data with success goes in a 334 challenge,
	 * answered by an empty line */
	str_t enc = STR_INIT;
	base64_encode(data, len, &enc);
	conn_printf(s->base.conn, "334 %s\r\n", str_c(&enc));
	str_free(&enc);
	s->state = final ? SMTP_STATE_AUTH_FINAL : SMTP_STATE_AUTH;
}

/* an account lookup, a password check or a failure delay: process no
 * command meanwhile (SMTP_STATE_WAIT). The connection still reads (into
 * its bounded buffer), so a client that goes away is seen at once and
 * its session freed (session_login_abandon()), not after the wait: a client
 * that half-closes during a login is taken as gone, as Postfix does. */
static void smtp_login_pause(void *ctx)
{
	struct smtp_session *s = ctx;
	s->state = SMTP_STATE_WAIT;
	session_job_begin(&s->base);
}

/* the challenge after a lookup went out (state set by challenge()) */
static void smtp_login_resume(void *ctx)
{
	struct smtp_session *s = ctx;
	session_job_end(&s->base);
	smtp_session_resume(s);
}

static void smtp_login_finished(void *ctx, enum auth_login_result result,
				const char *user, bool paused)
{
	struct smtp_session *s = ctx;
	s->state = SMTP_STATE_COMMAND;
	if (paused)
		session_job_end(&s->base);
	switch (result) {
	case AUTH_LOGIN_OK:
		s->auth_user = pool_strdup(s->base.pool, user);
		session_login_done(&s->base);
		smtp_reply(s, 235, "2.7.0", "Authentication successful");
		break;
	case AUTH_LOGIN_FAIL:
		smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		break;
	case AUTH_LOGIN_TEMPFAIL:
		/* RFC 4954 6 */
		smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
		break;
	}
	auth_login_free(&s->login);
	if (s->base.draining && s->tx == NULL && !s->base.closing) {
		/* SIGTERM came during the check: the reply went out */
		smtp_reply(s, 421, "4.3.2", "Service shutting down");
		smtp_session_close(s);
	}
	if (paused)
		smtp_session_resume(s);
}

static const struct auth_login_ops smtp_login_ops = {
	.challenge = smtp_login_challenge,
	.pause = smtp_login_pause,
	.resume = smtp_login_resume,
	.finished = smtp_login_finished,
};

void smtp_auth_input_line(struct smtp_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 4954 4: the client cancels */
		smtp_auth_abort(s);
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (s->state == SMTP_STATE_AUTH_FINAL) {
		auth_login_final_response(s->login, len == 0);
		return;
	}
	str_t dec = STR_INIT;
	if (base64_decode(line, len, &dec) < 0) {
		str_free(&dec);
		smtp_auth_abort(s);
		smtp_reply(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	auth_login_step(s->login, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}

void smtp_cmd_auth(struct smtp_session *s, const struct smtp_command *cmd)
{
	struct smtp_reply_err err;
	if (s->auth_user != NULL) {
		/* RFC 4954 4: no AUTH after a successful AUTH */
		smtp_reply(s, 503, "5.5.1", "Already authenticated");
		return;
	}
	if (!smtp_session_auth_offered(s)) {
		/* RFC 4954 6: 538 when encryption is required first */
		smtp_reply(s, 538, "5.7.11", "Encryption required for requested authentication mechanism");
		return;
	}
	struct smtp_auth auth;
	if (smtp_parse_auth(cmd->args, cmd->args_len, s->base.cmd_pool, &auth, &err) < 0) {
		smtp_reply_err(s, &err);
		return;
	}
	struct auth_login_env env = {
		.loop = s->base.env->loop, .pool = s->base.env->hash_pool,
		.data_dir = s->base.env->config->data_dir, .ip = s->base.peer_ip, .sid = s->base.sid,
	};
	s->login = auth_login_start(&env, auth.mechanism, auth.mechanism,
				    &smtp_login_ops, s);
	if (s->login == NULL) {
		smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	if (auth.initial_response == NULL) {
		auth_login_step(s->login, false, NULL, 0);
		return;
	}
	str_t dec = STR_INIT;
	/* "=" is an empty initial response (RFC 4954 4) */
	if (auth.initial_response[0] != '\0' &&
	    base64_decode(auth.initial_response, strlen(auth.initial_response), &dec) < 0) {
		str_free(&dec);
		auth_login_free(&s->login);
		smtp_reply(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	auth_login_step(s->login, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}
