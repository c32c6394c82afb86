/* smtp_client.c: the SMTP client's session: connect, greeting, EHLO or
 * HELO, STARTTLS, the replies dispatched by state, results and
 * connection reuse. Capabilities and AUTH are smtp_client_ehlo.c, the
 * transaction smtp_client_tx.c. See smtp_client.h for the contract. */
#include "relay/smtp_client_private.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static unsigned smtp_client_counter;

void smtp_client_expect_timeout(struct smtp_client *c, unsigned ms)
{
	if (c->conn != NULL)
		conn_set_idle_timeout(c->conn, ms);
}

void smtp_client_reply_set(struct smtp_client_reply *dst,
			   const struct smtp_reply *r)
{
	free((char *)dst->text);
	dst->code = r->code;
	memcpy(dst->enhanced, r->enhanced, sizeof(dst->enhanced));
	dst->text = xstrdup(str_c(&r->text));
	dst->local = false;
}

static void smtp_client_deliver(void *ctx)
{
	struct smtp_client *c = ctx;
	timeout_remove(&c->result_to);
	const struct smtp_client_message *msg = c->msg;
	struct smtp_client_result res = {
		.rcpt = c->rcpt, .rcpt_count = msg->rcpt_count, .final = c->final,
		.tls = c->tls,
		.peer = c->have_peer ? &c->peer : NULL,
		.reusable = c->result_reusable && c->state == SMTP_CLIENT_IDLE,
		.auth_refused = c->auth_refused,
	};
	for (unsigned i = 0; i < msg->rcpt_count; i++) {
		const struct smtp_client_reply *r = &c->rcpt[i];
		log_info("client=%s event=relay_rcpt id=%s host=%s ip=%s rcpt=%s "
			 "code=%u status=%s tls=%s local=%s reply=%s", c->id,
			 log_str(msg->id), log_str(c->dest.host), c->dest.ip,
			 log_str(msg->rcpts[i].address), r->code,
			 r->enhanced[0] != '\0' ? r->enhanced : "-",
			 c->tls ? "yes" : "no", r->local ? "yes" : "no",
			 log_str(r->text));
	}
	c->result_ready = false;
	/* last: the callback may destroy c or send the next message */
	c->cb(c->cb_ctx, &res);
}

/* The message is done: every recipient without a reply gets the final
 * one; the callback runs from the loop. */
void smtp_client_finish(struct smtp_client *c, bool reusable)
{
	if (c->result_ready || c->msg == NULL)
		return;
	for (unsigned i = 0; i < c->msg->rcpt_count; i++) {
		struct smtp_client_reply *r = &c->rcpt[i];
		/* a recipient refused keeps its RCPT reply; one accepted
		 * gets what the message got */
		if (r->code != 0 && r->code / 100 != 2)
			continue;
		free((char *)r->text);
		*r = c->final;
		r->text = xstrdup(c->final.text != NULL ? c->final.text : "");
	}
	c->result_ready = true;
	c->result_reusable = reusable;
	if (reusable) {
		c->state = SMTP_CLIENT_IDLE;
		conn_set_output_drained(c->conn, NULL, NULL);
		smtp_client_expect_timeout(c, c->set.mail_ms);
	}
	c->result_to = ioloop_defer(c->loop, smtp_client_deliver, c);
}

static void smtp_client_set_final(struct smtp_client *c, unsigned code,
				  const char *enhanced, const char *text, bool local)
{
	free((char *)c->final.text);
	c->final.code = code;
	snprintf(c->final.enhanced, sizeof(c->final.enhanced), "%s", enhanced);
	c->final.text = xstrdup(text);
	c->final.local = local;
}

/* The session cannot go on: the message gets this reply (a local one
 * for timeouts and broken replies) and the connection ends. */
void smtp_client_fail(struct smtp_client *c, unsigned code, const char *enhanced,
		      const char *text, bool local)
{
	log_info("client=%s event=relay_fail host=%s ip=%s code=%u status=%s "
		 "local=%s reason=%s", c->id, log_str(c->dest.host), c->dest.ip,
		 code, enhanced, local ? "yes" : "no", log_str(text));
	smtp_client_set_final(c, code, enhanced, text, local);
	if (c->conn != NULL && c->state != SMTP_CLIENT_DONE) {
		conn_set_output_drained(c->conn, NULL, NULL);
		conn_close_after_output(c->conn);
	}
	c->state = SMTP_CLIENT_DONE;
	smtp_client_finish(c, false);
}

static void smtp_client_fail_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	smtp_client_fail(c, r->code, r->enhanced, str_c(&r->text), false);
}

static void smtp_client_on_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	unsigned cls = r->code / 100;
	if (c->rset_pipelined && c->state == SMTP_CLIENT_TX) {
		/* the first reply of the group answers the RSET */
		c->rset_pipelined = false;
		if (cls != 2)
			smtp_client_fail_reply(c, r);
		return;
	}
	switch (c->state) {
	case SMTP_CLIENT_GREETING:
		/* RFC 5321 3.1: 554 instead of 220 means no service */
		if (cls != 2)
			smtp_client_fail_reply(c, r);
		else
			smtp_client_send_ehlo(c, false);
		return;
	case SMTP_CLIENT_EHLO:
		if (cls == 2) {
			smtp_client_caps_parse(&c->caps, r);
			smtp_client_greeted(c);
		} else if (cls == 5 && !c->tls)
			smtp_client_send_ehlo(c, true); /* RFC 5321 4.1.1.1 */
		else
			smtp_client_fail_reply(c, r);
		return;
	case SMTP_CLIENT_HELO:
		if (cls != 2)
			smtp_client_fail_reply(c, r);
		else
			smtp_client_greeted(c);
		return;
	case SMTP_CLIENT_STARTTLS:
		if (cls != 2) {
			if (c->dest.tls_mode == SMTP_CLIENT_TLS_REQUIRED ||
			    c->dest.tls_mode == SMTP_CLIENT_TLS_ENCRYPT)
				smtp_client_fail_reply(c, r);
			else {
				c->caps.starttls = false; /* RFC 7435: go on */
				smtp_client_greeted(c);
			}
			return;
		}
		struct conn_tls_client_params p = {
			.ctx = c->dest.tls, .sni = c->dest.host,
			.verify = c->dest.tls_mode == SMTP_CLIENT_TLS_REQUIRED ?
				CONN_TLS_VERIFY_STRICT : CONN_TLS_VERIFY_OPPORTUNISTIC,
			.prepare = c->dest.tls_prepare,
			.prepare_ctx = c->dest.tls_prepare_ctx,
		};
		c->state = SMTP_CLIENT_TLS_WAIT;
		if (conn_starttls_client(c->conn, &p) < 0)
			smtp_client_fail(c, 451, "4.7.5", "STARTTLS failed", true);
		return;
	case SMTP_CLIENT_AUTH:
	case SMTP_CLIENT_AUTH_PASS:
		if (r->code != 235) {
			c->auth_refused = true;
			smtp_client_fail_reply(c, r);
		} else {
			c->state = SMTP_CLIENT_IDLE;
			smtp_client_tx_begin(c);
		}
		return;
	case SMTP_CLIENT_AUTH_USER:
		if (r->code != 334) {
			c->auth_refused = true;
			smtp_client_fail_reply(c, r);
			return;
		}
		/* the server's 334 after AUTH LOGIN asks for the user, the
		 * next one for the password */
		smtp_client_auth_login_next(c, c->dest.auth_user);
		c->state = SMTP_CLIENT_AUTH_LOGIN_PASS_WAIT;
		return;
	case SMTP_CLIENT_AUTH_LOGIN_PASS_WAIT:
		if (r->code != 334) {
			c->auth_refused = true;
			smtp_client_fail_reply(c, r);
			return;
		}
		smtp_client_auth_login_next(c, c->dest.auth_password);
		c->state = SMTP_CLIENT_AUTH_PASS;
		return;
	case SMTP_CLIENT_RSET:
		if (cls != 2)
			smtp_client_fail_reply(c, r);
		else
			smtp_client_tx_begin(c);
		return;
	case SMTP_CLIENT_TX:
	case SMTP_CLIENT_BODY:
		smtp_client_tx_reply(c, r);
		return;
	case SMTP_CLIENT_QUIT:
		conn_close_after_output(c->conn);
		c->state = SMTP_CLIENT_DONE;
		return;
	case SMTP_CLIENT_IDLE:
		/* unsolicited (a 421 before closing): the connection is over */
		conn_close_after_output(c->conn);
		c->state = SMTP_CLIENT_DONE;
		return;
	case SMTP_CLIENT_CONNECTING:
	case SMTP_CLIENT_TLS_WAIT:
	case SMTP_CLIENT_DONE:
		return;
	}
}

static void smtp_client_input(struct smtp_client *c)
{
	const char *line, *error;
	size_t len;
	for (;;) {
		if (c->state == SMTP_CLIENT_DONE || c->state == SMTP_CLIENT_TLS_WAIT)
			return;
		enum conn_line_result lr =
			conn_read_line(c->conn, SMTP_REPLY_LINE_MAX, &line, &len, NULL);
		if (lr == CONN_LINE_MORE)
			return;
		int ret = lr == CONN_LINE_TOOLONG ? -1 :
			smtp_reply_feed(&c->parser, line, len, &error);
		if (lr == CONN_LINE_TOOLONG)
			error = "reply line too long";
		if (ret < 0) {
			str_t why = STR_INIT;
			str_printf(&why, "malformed reply: %s", error);
			smtp_client_fail(c, 451, "4.5.0", str_c(&why), true);
			str_free(&why);
			return;
		}
		if (ret > 0)
			smtp_client_on_reply(c, &c->parser.reply);
	}
}

/* What the client was waiting for, for the failure text. */
static const char *smtp_client_waiting_for(const struct smtp_client *c)
{
	static const char *const states[] = {
		[SMTP_CLIENT_CONNECTING] = "connect", [SMTP_CLIENT_GREETING] = "greeting",
		[SMTP_CLIENT_EHLO] = "EHLO", [SMTP_CLIENT_HELO] = "HELO",
		[SMTP_CLIENT_STARTTLS] = "STARTTLS", [SMTP_CLIENT_TLS_WAIT] = "TLS handshake",
		[SMTP_CLIENT_AUTH] = "AUTH", [SMTP_CLIENT_AUTH_USER] = "AUTH",
		[SMTP_CLIENT_AUTH_PASS] = "AUTH", [SMTP_CLIENT_AUTH_LOGIN_PASS_WAIT] = "AUTH",
		[SMTP_CLIENT_IDLE] = "idle", [SMTP_CLIENT_RSET] = "RSET",
		[SMTP_CLIENT_TX] = "transaction", [SMTP_CLIENT_BODY] = "DATA block",
		[SMTP_CLIENT_QUIT] = "QUIT", [SMTP_CLIENT_DONE] = "done",
	};
	static const char *const cmds[] = {
		[SMTP_CMD_MAIL] = "MAIL", [SMTP_CMD_RCPT] = "RCPT", [SMTP_CMD_DATA] = "DATA",
		[SMTP_CMD_DOT] = "final dot", [SMTP_CMD_DOT_DISCARD] = "final dot",
		[SMTP_CMD_BDAT] = "BDAT", [SMTP_CMD_BDAT_LAST] = "BDAT LAST",
	};
	if (c->state == SMTP_CLIENT_TX && c->pend_count > 0)
		return cmds[c->pending[c->pend_head]];
	return states[c->state];
}

static void smtp_client_on_event(void *ctx, enum conn_event ev)
{
	struct smtp_client *c = ctx;
	str_t why = STR_INIT;
	switch (ev) {
	case CONN_EV_INPUT:
		smtp_client_input(c);
		break;
	case CONN_EV_TIMEOUT:
		/* RFC 5321 4.5.3.2: the client gives up on the command */
		str_printf(&why, "timeout waiting for %s reply",
			   smtp_client_waiting_for(c));
		if (c->state == SMTP_CLIENT_IDLE || c->state == SMTP_CLIENT_QUIT) {
			c->state = SMTP_CLIENT_DONE;
			conn_close_after_output(c->conn);
		} else
			smtp_client_fail(c, 451, "4.4.2", str_c(&why), true);
		break;
	case CONN_EV_CLOSED: {
		const char *reason = conn_close_reason(c->conn);
		bool tls_fail = strncmp(reason, "tls", 3) == 0;
		str_printf(&why, "connection %s during %s", reason,
			   smtp_client_waiting_for(c));
		conn_destroy(&c->conn);
		if (c->state != SMTP_CLIENT_DONE && c->state != SMTP_CLIENT_IDLE &&
		    c->state != SMTP_CLIENT_QUIT)
			smtp_client_fail(c, 451, tls_fail ? "4.7.5" :
					 c->state == SMTP_CLIENT_CONNECTING ? "4.4.1" :
					 "4.4.2", str_c(&why), true);
		c->state = SMTP_CLIENT_DONE;
		if (c->quitting && !c->result_ready) {
			str_free(&why);
			struct smtp_client *cc = c;
			smtp_client_destroy(&cc);
			return;
		}
		break;
	}
	}
	str_free(&why);
}

static void smtp_client_on_ready(void *ctx)
{
	struct smtp_client *c = ctx;
	if (c->state == SMTP_CLIENT_CONNECTING) {
		c->tls = c->dest.tls_mode == SMTP_CLIENT_TLS_IMPLICIT;
		c->state = SMTP_CLIENT_GREETING;
		smtp_client_expect_timeout(c, c->set.greeting_ms);
		log_debug("client=%s event=connected host=%s ip=%s port=%u", c->id,
			  log_str(c->dest.host), c->dest.ip, c->dest.port);
	} else if (c->state == SMTP_CLIENT_TLS_WAIT)
		c->tls = true;
	const struct conn_tls_peer *peer = conn_tls_peer(c->conn);
	if (c->tls && peer != NULL) {
		/* kept: the result may outlive the connection */
		c->peer = *peer;
		c->have_peer = true;
	}
	if (c->state == SMTP_CLIENT_TLS_WAIT)
		smtp_client_send_ehlo(c, false); /* RFC 3207 4.2: forget, ask again */
}

static bool smtp_client_dest_ok(const struct smtp_client_dest *d,
				const char **error_r)
{
	if (d->ip == NULL || d->host == NULL) {
		*error_r = "destination without host or address";
		return false;
	}
	if (d->tls_mode != SMTP_CLIENT_TLS_NONE && d->tls == NULL) {
		*error_r = "TLS mode without a TLS client context";
		return false;
	}
	if (d->auth_user != NULL && d->auth_password == NULL) {
		*error_r = "AUTH user without a password";
		return false;
	}
	return true;
}

struct smtp_client *smtp_client_start(struct ioloop *loop,
				      const struct smtp_client_settings *set,
				      const struct smtp_client_dest *dest,
				      const struct smtp_client_message *msg,
				      smtp_client_callback_t *cb, void *ctx,
				      const char **error_r)
{
	if (!smtp_client_dest_ok(dest, error_r))
		return NULL;
	struct smtp_client *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->set = *set;
	c->set.helo_name = xstrdup(set->helo_name != NULL ? set->helo_name : "localhost");
	c->dest = *dest;
	c->dest.host = xstrdup(dest->host);
	c->dest.ip = xstrdup(dest->ip);
	c->dest.auth_user = dest->auth_user != NULL ? xstrdup(dest->auth_user) : NULL;
	c->dest.auth_password = dest->auth_password != NULL ?
		xstrdup(dest->auth_password) : NULL;
	snprintf(c->id, sizeof(c->id), "%x-%u", (unsigned)getpid(), ++smtp_client_counter);
	smtp_reply_parser_init(&c->parser, set->max_reply_lines);
	c->msg = msg;
	c->cb = cb;
	c->cb_ctx = ctx;
	c->rcpt = xcalloc(msg->rcpt_count + 1, sizeof(*c->rcpt));
	c->rcpt_n = msg->rcpt_count;
	c->state = SMTP_CLIENT_CONNECTING;

	struct conn_client_settings cs = {
		.conn = {
			.max_input = 4 * (SMTP_REPLY_LINE_MAX + 2),
			.max_output = set->max_output > 0 ? set->max_output : 256 * 1024,
			.idle_timeout_ms = set->greeting_ms,
			.handshake_timeout_ms = set->greeting_ms,
		},
		.connect_timeout_ms = set->connect_ms,
		.ready = smtp_client_on_ready,
	};
	struct conn_tls_client_params tp = {
		.ctx = dest->tls, .sni = dest->host, .verify = CONN_TLS_VERIFY_STRICT,
		.prepare = dest->tls_prepare, .prepare_ctx = dest->tls_prepare_ctx,
	};
	c->conn = conn_connect(loop, dest->ip, dest->port, &cs,
			       dest->tls_mode == SMTP_CLIENT_TLS_IMPLICIT ? &tp : NULL,
			       smtp_client_on_event, c, error_r);
	if (c->conn == NULL) {
		c->msg = NULL;
		smtp_client_destroy(&c);
		return NULL;
	}
	log_debug("client=%s event=connect host=%s ip=%s port=%u", c->id,
		  log_str(dest->host), dest->ip, dest->port);
	return c;
}

int smtp_client_send(struct smtp_client *c, const struct smtp_client_message *msg,
		     smtp_client_callback_t *cb, void *ctx)
{
	if (c->conn == NULL || c->state != SMTP_CLIENT_IDLE || c->result_ready)
		return -1;
	smtp_client_tx_free(c);
	c->msg = msg;
	c->cb = cb;
	c->cb_ctx = ctx;
	c->rcpt = xcalloc(msg->rcpt_count + 1, sizeof(*c->rcpt));
	c->rcpt_n = msg->rcpt_count;
	smtp_client_write(c, "RSET");
	c->state = SMTP_CLIENT_RSET;
	smtp_client_expect_timeout(c, c->set.mail_ms);
	if (c->caps.pipelining) {
		/* RFC 2920 3.1: RSET may stand anywhere in a command group */
		c->rset_pipelined = true;
		smtp_client_tx_begin(c);
	}
	return 0;
}

void smtp_client_quit(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;
	*cp = NULL;
	if (c == NULL)
		return;
	if (c->conn == NULL || c->state != SMTP_CLIENT_IDLE) {
		smtp_client_destroy(&c);
		return;
	}
	timeout_remove(&c->result_to);
	c->result_ready = false;
	c->quitting = true;
	smtp_client_write(c, "QUIT");
	c->state = SMTP_CLIENT_QUIT;
	smtp_client_expect_timeout(c, c->set.mail_ms);
}

void smtp_client_destroy(struct smtp_client **cp)
{
	struct smtp_client *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	timeout_remove(&c->result_to);
	conn_destroy(&c->conn);
	smtp_client_tx_free(c);
	free(c->pending);
	smtp_reply_parser_free(&c->parser);
	free((char *)c->set.helo_name);
	free((char *)c->dest.host);
	free((char *)c->dest.ip);
	free((char *)c->dest.auth_user);
	if (c->dest.auth_password != NULL) {
		explicit_bzero((char *)c->dest.auth_password, strlen(c->dest.auth_password));
		free((char *)c->dest.auth_password);
	}
	free(c);
}
