/* pop3_auth.c: logging in with USER/PASS (RFC 1939 section 7) or AUTH
 * (RFC 5034) over the shared SASL mechanisms.
 *
 * PASS goes through the PLAIN mechanism, so both ways share one checked
 * path: passwords are verified on the worker's thread pool, never on the
 * event loop (the session stops reading meanwhile); unknown users cost
 * the same as known ones; a failure from an address that failed before
 * is answered only after a growing delay (auth/authfail.h). Each attempt
 * gets a fresh mechanism state. Success opens the maildrop
 * (pop3_maildrop.c), which answers. */
#include "pop3_private.h"
#include "lib/base64.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "auth/authfail.h"
#include "auth/sasl.h"

#include <string.h>

void pop3_auth_abort(struct pop3_session *s)
{
	if (s->sasl != NULL && !s->job_pending)
		sasl_server_destroy(&s->sasl);
	if (s->input == POP3_INPUT_SASL || s->input == POP3_INPUT_SASL_FINAL)
		s->input = POP3_INPUT_COMMAND;
}

static void pop3_auth_success(struct pop3_session *s)
{
	s->auth_user = pool_strdup(s->pool, sasl_server_user(s->sasl));
	s->user = NULL;
	authfail_record(s->peer_ip, true, ioloop_now_ms(s->worker->loop));
	log_info("sid=%s event=auth result=ok ip=%s mech=%s user=%s", s->sid, s->peer_ip,
		 s->sasl_mech, log_str(s->auth_user));
	sasl_server_destroy(&s->sasl);
	s->input = POP3_INPUT_COMMAND;
	pop3_maildrop_open(s);
}

static void pop3_auth_delay_done(void *ctx)
{
	struct pop3_session *s = ctx;
	timeout_remove(&s->delay_to);
	/* RFC 3206 section 4: [AUTH] is about the credentials */
	pop3_err(s, "[AUTH] Authentication failed");
	s->job_pending = false;
	pop3_session_resume(s);
}

static void pop3_auth_failure(struct pop3_session *s, const char *why)
{
	uint64_t now = ioloop_now_ms(s->worker->loop);
	unsigned delay = authfail_delay_ms(s->peer_ip, now);
	authfail_record(s->peer_ip, false, now);
	log_info("sid=%s event=auth result=fail ip=%s mech=%s reason=%s delay_ms=%u",
		 s->sid, s->peer_ip, s->sasl_mech != NULL ? s->sasl_mech : "-",
		 log_str(why), delay);
	if (s->sasl != NULL)
		sasl_server_destroy(&s->sasl);
	/* RFC 1939 section 7: after a failed PASS, start again with USER */
	s->user = NULL;
	s->input = POP3_INPUT_COMMAND;
	if (delay == 0) {
		pop3_err(s, "[AUTH] Authentication failed");
		return;
	}
	/* answer late, reading nothing meanwhile */
	s->job_pending = true;
	pop3_session_wait(s);
	s->delay_to = timeout_add(s->worker->loop, delay, pop3_auth_delay_done, s);
}

/* Our fault (database, randomness): no delay, and the client may retry. */
static void pop3_auth_temp_failure(struct pop3_session *s, const char *why)
{
	log_error("sid=%s event=auth result=tempfail ip=%s mech=%s reason=%s", s->sid,
		  s->peer_ip, s->sasl_mech != NULL ? s->sasl_mech : "-", log_str(why));
	sasl_server_destroy(&s->sasl);
	s->user = NULL;
	s->input = POP3_INPUT_COMMAND;
	pop3_err(s, "[SYS/TEMP] Temporary authentication failure");
}

static void pop3_auth_verify_work(void *ctx)
{
	struct pop3_session *s = ctx;
	sasl_server_verify_blocking(s->sasl);
}

static void pop3_auth_verify_done(void *ctx)
{
	struct pop3_session *s = ctx;
	s->job_pending = false;
	if (s->destroy_when_done) {
		sasl_server_destroy(&s->sasl);
		pop3_session_resume(s);
		return;
	}
	const char *error = NULL;
	if (sasl_server_verify_finish(s->sasl, &error) == SASL_OK)
		pop3_auth_success(s);
	else if (sasl_server_temp_failure(s->sasl))
		pop3_auth_temp_failure(s, error);
	else
		pop3_auth_failure(s, error != NULL ? error : "bad credentials");
	if (!s->job_pending)
		pop3_session_resume(s);
}

static void pop3_auth_challenge(struct pop3_session *s, const str_t *challenge)
{
	/* RFC 5034 section 4: "+" SP base64 */
	str_t enc = STR_INIT;
	base64_encode(challenge->data, challenge->len, &enc);
	conn_printf(s->conn, "+ %s\r\n", str_c(&enc));
	str_free(&enc);
}

static void pop3_auth_step(struct pop3_session *s, bool has_input,
			   const unsigned char *in, size_t len)
{
	str_t challenge = STR_INIT;
	const char *error = NULL;
	enum sasl_result r = sasl_server_step(s->sasl, has_input, in, len, &challenge, &error);
	switch (r) {
	case SASL_CONTINUE:
		pop3_auth_challenge(s, &challenge);
		s->input = POP3_INPUT_SASL;
		break;
	case SASL_OK:
		if (challenge.len > 0) {
			/* RFC 5034 section 4: data with success goes in a
			 * challenge, answered by an empty line */
			pop3_auth_challenge(s, &challenge);
			s->input = POP3_INPUT_SASL_FINAL;
		} else {
			pop3_auth_success(s);
		}
		break;
	case SASL_FAIL:
		if (sasl_server_temp_failure(s->sasl))
			pop3_auth_temp_failure(s, error);
		else
			pop3_auth_failure(s, error != NULL ? error : "bad credentials");
		break;
	case SASL_VERIFY:
		s->job_pending = true;
		pop3_session_wait(s);
		threadpool_submit(s->worker->pool, pop3_auth_verify_work,
				  pop3_auth_verify_done, s);
		break;
	}
	str_free_secure(&challenge);
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
		if (len != 0) {
			pop3_auth_failure(s, "non-empty final response");
			return;
		}
		pop3_auth_success(s);
		return;
	}
	str_t dec = STR_INIT;
	if (base64_decode(line, len, &dec) < 0) {
		str_free(&dec);
		pop3_auth_abort(s);
		pop3_err_bad(s, "Invalid base64 data");
		return;
	}
	pop3_auth_step(s, true, (const unsigned char *)dec.data, dec.len);
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
	s->user = pool_strndup(s->pool, cmd->args, cmd->args_len);
	pop3_ok(s, "Send PASS");
}

void pop3_cmd_pass(struct pop3_session *s, const struct pop3_command *cmd)
{
	if (s->user == NULL) {
		pop3_err_bad(s, "Send USER first");
		return;
	}
	s->sasl = sasl_server_create("PLAIN", s->worker->userdb);
	s->sasl_mech = "USER";
	/* RFC 1939 section 7: the whole rest of the line, spaces included,
	 * is the password; PLAIN (RFC 4616) carries it as authcid NUL pass */
	str_t blob = STR_INIT;
	str_appendc(&blob, '\0');
	str_appendz(&blob, s->user);
	str_appendc(&blob, '\0');
	str_append(&blob, cmd->args, cmd->args_len);
	pop3_auth_step(s, true, (const unsigned char *)blob.data, blob.len);
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
		conn_write(s->conn, r.data, r.len);
		str_free(&r);
		return;
	}
	int n = pop3_split_args(cmd->args, cmd->args_len, 1, 2, words, lens, &error);
	if (n < 0 || lens[0] > 20) {
		pop3_err_bad(s, "%s", n < 0 ? error : "Unknown mechanism");
		return;
	}
	const char *mech = pool_strndup(s->pool, words[0], lens[0]);
	s->sasl = sasl_server_create(mech, s->worker->userdb);
	if (s->sasl == NULL) {
		pop3_err_bad(s, "Unknown mechanism");
		return;
	}
	s->sasl_mech = mech;
	if (n == 1) {
		pop3_auth_step(s, false, NULL, 0);
		return;
	}
	str_t dec = STR_INIT;
	/* RFC 5034 section 4: "=" is an empty initial response */
	if (!(lens[1] == 1 && words[1][0] == '=') &&
	    base64_decode(words[1], lens[1], &dec) < 0) {
		str_free(&dec);
		sasl_server_destroy(&s->sasl);
		pop3_err_bad(s, "Invalid base64 data");
		return;
	}
	pop3_auth_step(s, true, (const unsigned char *)dec.data, dec.len);
	str_free_secure(&dec);
}
