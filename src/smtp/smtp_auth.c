/* smtp_auth.c: AUTH (RFC 4954) over the shared SASL mechanisms.
 *
 * Passwords are checked on the worker's thread pool, never on the event
 * loop; the session stops reading meanwhile. A failed attempt from an
 * address that failed before is answered only after a growing delay
 * (auth/authfail.h); other addresses are not slowed. Each AUTH command
 * gets a fresh mechanism state. */
#include "smtp_private.h"
#include "lib/base64.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "auth/authfail.h"
#include "auth/sasl.h"

#include <string.h>

void smtp_auth_abort(struct smtp_session *s)
{
	if (s->sasl != NULL && !s->job_pending)
		sasl_server_destroy(&s->sasl);
	if (s->state == SMTP_STATE_AUTH || s->state == SMTP_STATE_AUTH_FINAL)
		s->state = SMTP_STATE_COMMAND;
}

static void smtp_auth_success(struct smtp_session *s)
{
	s->auth_user = pool_strdup(s->pool, sasl_server_user(s->sasl));
	authfail_record(s->peer_ip, true, ioloop_now_ms(s->worker->loop));
	log_info("sid=%s event=auth result=ok ip=%s mech=%s user=%s", s->sid, s->peer_ip,
		 s->sasl_mech, log_str(s->auth_user));
	sasl_server_destroy(&s->sasl);
	s->state = SMTP_STATE_COMMAND;
	smtp_reply(s, 235, "2.7.0", "Authentication successful");
}

static void smtp_auth_delay_done(void *ctx)
{
	struct smtp_session *s = ctx;
	timeout_remove(&s->delay_to);
	s->state = SMTP_STATE_COMMAND;
	smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
	s->job_pending = false;
	smtp_session_resume(s);
}

static void smtp_auth_failure(struct smtp_session *s, const char *why)
{
	uint64_t now = ioloop_now_ms(s->worker->loop);
	unsigned delay = authfail_delay_ms(s->peer_ip, now);
	authfail_record(s->peer_ip, false, now);
	log_info("sid=%s event=auth result=fail ip=%s mech=%s reason=%s delay_ms=%u",
		 s->sid, s->peer_ip, s->sasl_mech != NULL ? s->sasl_mech : "-",
		 log_str(why), delay);
	if (s->sasl != NULL)
		sasl_server_destroy(&s->sasl);
	if (delay == 0) {
		s->state = SMTP_STATE_COMMAND;
		smtp_reply(s, 535, "5.7.8", "Authentication credentials invalid");
		return;
	}
	/* answer late, reading nothing meanwhile */
	s->state = SMTP_STATE_WAIT;
	s->job_pending = true;
	conn_input_pause(s->conn);
	s->delay_to = timeout_add(s->worker->loop, delay, smtp_auth_delay_done, s);
}

/* Our fault (database, randomness): no delay, and the client may retry. */
static void smtp_auth_temp_failure(struct smtp_session *s, const char *why)
{
	log_error("sid=%s event=auth result=tempfail ip=%s mech=%s reason=%s", s->sid,
		  s->peer_ip, s->sasl_mech != NULL ? s->sasl_mech : "-", log_str(why));
	sasl_server_destroy(&s->sasl);
	s->state = SMTP_STATE_COMMAND;
	/* RFC 4954 6 */
	smtp_reply(s, 454, "4.7.0", "Temporary authentication failure");
}

static void smtp_auth_verify_work(void *ctx)
{
	struct smtp_session *s = ctx;
	sasl_server_verify_blocking(s->sasl);
}

static void smtp_auth_verify_done(void *ctx)
{
	struct smtp_session *s = ctx;
	s->job_pending = false;
	if (s->destroy_when_done) {
		sasl_server_destroy(&s->sasl);
		smtp_session_resume(s);
		return;
	}
	const char *error = NULL;
	if (sasl_server_verify_finish(s->sasl, &error) == SASL_OK)
		smtp_auth_success(s);
	else if (sasl_server_temp_failure(s->sasl))
		smtp_auth_temp_failure(s, error);
	else
		smtp_auth_failure(s, error != NULL ? error : "bad credentials");
	if (s->state != SMTP_STATE_WAIT)
		smtp_session_resume(s);
}

static void smtp_auth_step(struct smtp_session *s, bool has_input,
			   const unsigned char *in, size_t len)
{
	str_t challenge = STR_INIT;
	const char *error = NULL;
	enum sasl_result r = sasl_server_step(s->sasl, has_input, in, len, &challenge, &error);
	switch (r) {
	case SASL_CONTINUE: {
		str_t enc = STR_INIT;
		base64_encode(challenge.data, challenge.len, &enc);
		conn_printf(s->conn, "334 %s\r\n", str_c(&enc));
		str_free(&enc);
		s->state = SMTP_STATE_AUTH;
		break;
	}
	case SASL_OK:
		if (challenge.len > 0) {
			/* RFC 4954 4: additional data with success goes in a
			 * 334 challenge, answered by an empty line */
			str_t enc = STR_INIT;
			base64_encode(challenge.data, challenge.len, &enc);
			conn_printf(s->conn, "334 %s\r\n", str_c(&enc));
			str_free(&enc);
			s->state = SMTP_STATE_AUTH_FINAL;
		} else {
			smtp_auth_success(s);
		}
		break;
	case SASL_FAIL:
		if (sasl_server_temp_failure(s->sasl))
			smtp_auth_temp_failure(s, error);
		else
			smtp_auth_failure(s, error != NULL ? error : "bad credentials");
		break;
	case SASL_VERIFY:
		s->state = SMTP_STATE_WAIT;
		s->job_pending = true;
		conn_input_pause(s->conn);
		threadpool_submit(s->worker->pool, smtp_auth_verify_work,
				  smtp_auth_verify_done, s);
		break;
	}
	str_free_secure(&challenge);
}

void smtp_auth_input_line(struct smtp_session *s, const char *line, size_t len)
{
	if (len == 1 && line[0] == '*') {
		/* RFC 4954 4: the client cancels */
		smtp_auth_abort(s);
		smtp_reply(s, 501, "5.0.0", "Authentication cancelled");
		return;
	}
	if (s->state == SMTP_STATE_AUTH_FINAL) {
		if (len != 0) {
			smtp_auth_failure(s, "non-empty final response");
			return;
		}
		smtp_auth_success(s);
		return;
	}
	str_t dec = STR_INIT;
	if (base64_decode(line, len, &dec) < 0) {
		str_free(&dec);
		smtp_auth_abort(s);
		smtp_reply(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	smtp_auth_step(s, true, (const unsigned char *)dec.data, dec.len);
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
	if (smtp_parse_auth(cmd->args, cmd->args_len, s->pool, &auth, &err) < 0) {
		smtp_reply_err(s, &err);
		return;
	}
	s->sasl = sasl_server_create(auth.mechanism, s->worker->userdb);
	if (s->sasl == NULL) {
		smtp_reply(s, 504, "5.5.4", "Unrecognized authentication type");
		return;
	}
	s->sasl_mech = auth.mechanism;
	if (auth.initial_response == NULL) {
		smtp_auth_step(s, false, NULL, 0);
		return;
	}
	str_t dec = STR_INIT;
	/* "=" is an empty initial response (RFC 4954 4) */
	if (auth.initial_response[0] != '\0' &&
	    base64_decode(auth.initial_response, strlen(auth.initial_response), &dec) < 0) {
		str_free(&dec);
		sasl_server_destroy(&s->sasl);
		smtp_reply(s, 501, "5.5.2", "Invalid base64 data");
		return;
	}
	smtp_auth_step(s, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}
