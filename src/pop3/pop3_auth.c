/* pop3_auth.c: logging in with USER/PASS (RFC 1939 section 7) or AUTH
 * (RFC 5034) over the shared SASL mechanisms.
 *
 * The attempt itself (steps, the password check on the thread pool, the
 * growing delay after failures, the log) is auth/auth_login.h's; PASS goes
 * through the PLAIN mechanism, so both ways share one checked path, and
 * unknown users cost the same as known ones. This file frames it in POP3:
 * "+ " challenges, -ERR [AUTH] / [SYS/TEMP] replies (RFC 3206). Each
 * attempt gets a fresh mechanism state. Success opens the maildrop
 * (pop3_maildrop.c), which answers. */
#include "pop3_private.h"
#include "lib/base64.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "auth/auth_login.h"
#include "auth/sasl.h"
#include "lib/log.h"

#include <string.h>

void pop3_auth_abort(struct pop3_session *s)
{
	if (s->login != NULL && !auth_login_busy(s->login))
		auth_login_free(&s->login);
	if (s->input == POP3_INPUT_SASL || s->input == POP3_INPUT_SASL_FINAL)
		s->input = POP3_INPUT_COMMAND;
}

static void pop3_login_challenge(void *ctx, const unsigned char *data, size_t len,
				 bool final)
{
	struct pop3_session *s = ctx;
	/* RFC 5034 section 4: "+" SP base64; data with success goes in a
	 * challenge too, answered by an empty line */
	str_t enc = STR_INIT;
	base64_encode(data, len, &enc);
	conn_printf(s->base.conn, "+ %s\r\n", str_c(&enc));
	str_free(&enc);
	s->input = final ? POP3_INPUT_SASL_FINAL : POP3_INPUT_SASL;
}

/* an account lookup, a password check or a failure delay: process no
 * command meanwhile (POP3_INPUT_WAIT). The connection still reads (into
 * its bounded buffer), so a client that goes away is seen at once and
 * its session freed (session_login_abandon()), not after the wait. */
static void pop3_login_pause(void *ctx)
{
	struct pop3_session *s = ctx;
	session_job_begin(&s->base);
	s->input = POP3_INPUT_WAIT;
}

/* the challenge after a lookup went out (input set by challenge()) */
static void pop3_login_resume(void *ctx)
{
	struct pop3_session *s = ctx;
	session_job_end(&s->base);
	pop3_session_resume(s);
}

static void pop3_login_finished(void *ctx, enum auth_login_result result,
				const char *user, bool paused)
{
	struct pop3_session *s = ctx;
	const char *cmd = s->user != NULL ? "PASS" : "AUTH";
	s->input = paused ? POP3_INPUT_WAIT : POP3_INPUT_COMMAND;
	/* RFC 1939 section 7: after PASS, USER again */
	session_str_set(&s->user, NULL, 0);
	if (paused)
		session_job_end(&s->base);
	switch (result) {
	case AUTH_LOGIN_OK:
		s->auth_user = pool_strdup(s->base.pool, user);
		session_login_done(&s->base);
		break;
	case AUTH_LOGIN_FAIL:
		/* issue 11 item 4: the refusal, with the name tried */
		log_info("sid=%s event=reject ip=%s service=%s cmd=%s code=-ERR user=%s "
			 "reason=\"[AUTH] Authentication failed\"", s->base.sid, s->base.peer_ip,
			 service_name(s->base.service), cmd,
			 auth_login_name_tried(s->login) != NULL ?
			 log_str(auth_login_name_tried(s->login)) : "-");
		/* RFC 3206 section 4: [AUTH] is about the credentials */
		pop3_err(s, "[AUTH] Authentication failed");
		break;
	case AUTH_LOGIN_TEMPFAIL:
		pop3_err(s, "[SYS/TEMP] Temporary authentication failure");
		break;
	}
	auth_login_free(&s->login);
	if (s->auth_user != NULL)
		pop3_maildrop_open(s);
	else if (paused)
		pop3_session_resume(s);
}

static const struct auth_login_ops pop3_login_ops = {
	.challenge = pop3_login_challenge,
	.pause = pop3_login_pause,
	.resume = pop3_login_resume,
	.finished = pop3_login_finished,
};

static bool pop3_login_start(struct pop3_session *s, const char *mech,
			     const char *log_mech)
{
	struct auth_login_env env = {
		.loop = s->base.env->loop, .pool = s->base.env->hash_pool,
		.data_dir = s->base.env->config->data_dir, .ip = s->base.peer_ip, .sid = s->base.sid,
	};
	s->login = auth_login_start(&env, mech, log_mech, &pop3_login_ops, s);
	return s->login != NULL;
}

void pop3_auth_input_line(struct pop3_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 5034 section 4: the client cancels */
		pop3_auth_abort(s);
		pop3_err(s, "Authentication cancelled");
		return;
	}
	if (s->input == POP3_INPUT_SASL_FINAL) {
		auth_login_final_response(s->login, len == 0);
		return;
	}
	str_t dec = STR_INIT;
	if (base64_decode(line, len, &dec) < 0) {
		str_free(&dec);
		pop3_auth_abort(s);
		pop3_err_bad(s, "Invalid base64 data");
		return;
	}
	auth_login_step(s->login, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}

void pop3_cmd_user(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (!cmd->has_args || cmd->args_len > POP3_USER_MAX ||
	    memchr(cmd->args, ' ', cmd->args_len) != NULL) {
		pop3_err_bad(s, "USER needs one name");
		return;
	}
	/* RFC 1939 section 7: no hint whether the mailbox exists */
	/* replaced, not appended: a million USERs cost one name */
	session_str_set(&s->user, cmd->args, cmd->args_len);
	pop3_ok(s, "Send PASS");
}

void pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (s->user == NULL) {
		pop3_err_bad(s, "Send USER first");
		return;
	}
	pop3_login_start(s, "PLAIN", "USER");
	/* RFC 1939 section 7: the whole rest of the line, spaces included,
	 * is the password; PLAIN (RFC 4616) carries it as NUL user NUL pass */
	str_t blob = STR_INIT;
	str_appendc(&blob, '\0');
	str_appendz(&blob, s->user);
	str_appendc(&blob, '\0');
	str_append(&blob, cmd->args, cmd->args_len);
	auth_login_step(s->login, true, (const unsigned char *)blob.data, blob.len);
	str_free_secure(&blob);
}

void pop3_cmd_auth(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *words[2], *error;
	size_t lens[2];
	if (!cmd->has_args) {
		/* the RFC 1734 listing some clients still probe with */
		str_t r = STR_INIT;
		str_appendz(&r, "+OK\r\n");
		for (const char *const *m = sasl_mechanisms(); *m != NULL; m++)
			str_printf(&r, "%s\r\n", *m);
		str_appendz(&r, ".\r\n");
		conn_write(s->base.conn, r.data, r.len);
		str_free(&r);
		return;
	}
	int n = pop3_split_args(cmd->args, cmd->args_len, 1, 2, words, lens, &error);
	/* RFC 4422 3.1: a mechanism name is at most 20 characters */
	if (n < 0 || lens[0] > 20) {
		pop3_err_bad(s, "%s", n < 0 ? error : "Unknown mechanism");
		return;
	}
	const char *mech = pool_strndup(s->base.cmd_pool, words[0], lens[0]);
	if (!pop3_login_start(s, mech, mech)) {
		pop3_err_bad(s, "Unknown mechanism");
		return;
	}
	if (n == 1) {
		auth_login_step(s->login, false, NULL, 0);
		return;
	}
	str_t dec = STR_INIT;
	/* RFC 5034 section 4: "=" is an empty initial response */
	if (!(lens[1] == 1 && words[1][0] == '=') &&
	    base64_decode(words[1], lens[1], &dec) < 0) {
		str_free(&dec);
		auth_login_free(&s->login);
		pop3_err_bad(s, "Invalid base64 data");
		return;
	}
	auth_login_step(s->login, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}
