/* smtp_client_tx.c: one mail transaction of the SMTP client: checks made
 * before sending (SIZE, 8BITMIME, SMTPUTF8, REQUIRETLS), MAIL and RCPT
 * (pipelined per RFC 2920 when offered), DATA with CRLF line ends and
 * dot-stuffing (RFC 5321 4.5.2) or BDAT chunks (RFC 3030), the body read
 * a chunk at a time as the server takes it, and the replies matched to
 * what they answer. See smtp_client.h. */
#include "relay/smtp_client_private.h"
#include "mime/mime_7bit.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static unsigned smtp_client_cmd_timeout(const struct smtp_client *c,
					enum smtp_client_cmd cmd);

static void smtp_client_push(struct smtp_client *c, enum smtp_client_cmd cmd)
{
	if (c->pend_count == c->pend_size) {
		/* at most MAIL, every RCPT and DATA are outstanding */
		unsigned size = c->pend_size * 2 + 8;
		enum smtp_client_cmd *n = xcalloc(size, sizeof(*n));
		for (unsigned i = 0; i < c->pend_count; i++)
			n[i] = c->pending[(c->pend_head + i) % c->pend_size];
		free(c->pending);
		c->pending = n;
		c->pend_size = size;
		c->pend_head = 0;
	}
	c->pending[(c->pend_head + c->pend_count++) % c->pend_size] = cmd;
	/* RFC 5321 4.5.3.2: the timer runs for the reply now awaited (one
	 * command at a time without PIPELINING: each gets its own limit) */
	if (c->pend_count == 1)
		smtp_client_expect_timeout(c, smtp_client_cmd_timeout(c, cmd));
}

static unsigned smtp_client_cmd_timeout(const struct smtp_client *c,
					enum smtp_client_cmd cmd)
{
	switch (cmd) {
	case SMTP_CMD_MAIL: return c->set.mail_ms;
	case SMTP_CMD_RCPT: return c->set.rcpt_ms;
	case SMTP_CMD_DATA: return c->set.data_ms;
	case SMTP_CMD_BDAT: return c->set.data_block_ms;
	case SMTP_CMD_DOT:
	case SMTP_CMD_DOT_DISCARD:
	case SMTP_CMD_BDAT_LAST: return c->set.data_end_ms;
	}
	return c->set.mail_ms;
}

/* Envelope values come from the queue; still, none may carry a byte that
 * would end or split a command line. */
static bool smtp_client_arg_ok(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

static bool smtp_client_envelope_ok(const struct smtp_client_message *m)
{
	if (!smtp_client_arg_ok(m->mail_from) || !smtp_client_arg_ok(m->ret) ||
	    !smtp_client_arg_ok(m->envid))
		return false;
	for (unsigned i = 0; i < m->rcpt_count; i++) {
		if (!smtp_client_arg_ok(m->rcpts[i].address) ||
		    !smtp_client_arg_ok(m->rcpts[i].notify) ||
		    !smtp_client_arg_ok(m->rcpts[i].orcpt))
			return false;
	}
	return true;
}

/* Decided here, before the transaction: the connection stays usable. */
static void smtp_client_refuse(struct smtp_client *c, unsigned code,
			       const char *enhanced, const char *text)
{
	free((char *)c->final.text);
	c->final.code = code;
	snprintf(c->final.enhanced, sizeof(c->final.enhanced), "%s", enhanced);
	c->final.text = xstrdup(text);
	c->final.local = true;
	smtp_client_finish(c, true);
}

static void smtp_client_send_rcpt(struct smtp_client *c, unsigned i)
{
	const struct smtp_client_rcpt *r = &c->msg->rcpts[i];
	str_t cmd = STR_INIT;
	str_printf(&cmd, "RCPT TO:<%s>", r->address);
	if (c->caps.dsn && r->notify != NULL)
		str_printf(&cmd, " NOTIFY=%s", r->notify);   /* RFC 3461 4.1 */
	if (c->caps.dsn && r->orcpt != NULL)
		str_printf(&cmd, " ORCPT=%s", r->orcpt);     /* RFC 3461 4.2 */
	str_appendz(&cmd, "\r\n");
	conn_write(c->conn, cmd.data, cmd.len);
	str_free(&cmd);
	smtp_client_push(c, SMTP_CMD_RCPT);
}

static void smtp_client_send_mail(struct smtp_client *c)
{
	const struct smtp_client_message *m = c->msg;
	str_t cmd = STR_INIT;
	str_printf(&cmd, "MAIL FROM:<%s>", m->mail_from);
	if (c->caps.size && m->source.size > 0)        /* RFC 1870 */
		str_printf(&cmd, " SIZE=%llu", (unsigned long long)m->source.size);
	if (m->source.eightbit && c->conv == NULL)       /* RFC 6152 2 */
		str_appendz(&cmd, " BODY=8BITMIME");
	if (m->source.smtputf8)                          /* RFC 6531 3.4 */
		str_appendz(&cmd, " SMTPUTF8");
	if (c->caps.dsn && m->ret != NULL)
		str_printf(&cmd, " RET=%s", m->ret);
	if (c->caps.dsn && m->envid != NULL)
		str_printf(&cmd, " ENVID=%s", m->envid);
	if (m->requiretls)                               /* RFC 8689 3 */
		str_appendz(&cmd, " REQUIRETLS");
	str_appendz(&cmd, "\r\n");
	conn_write(c->conn, cmd.data, cmd.len);
	str_free(&cmd);
	smtp_client_push(c, SMTP_CMD_MAIL);
}

void smtp_client_tx_begin(struct smtp_client *c)
{
	const struct smtp_client_message *m = c->msg;
	const struct conn_tls_peer *peer = c->tls ? conn_tls_peer(c->conn) : NULL;
	c->accepted = 0;
	c->next_rcpt = 0;
	c->pend_count = 0;
	if (m->rcpt_count == 0)
		smtp_client_refuse(c, 554, "5.5.1", "no recipients");
	else if (!smtp_client_envelope_ok(m))
		smtp_client_refuse(c, 554, "5.6.0", "envelope holds a control character");
	else if (c->caps.size && c->caps.size_max > 0 && m->source.size > c->caps.size_max)
		/* RFC 1870 6: do not send what the server said it refuses */
		smtp_client_refuse(c, 552, "5.3.4", "message size exceeds the remote SIZE limit");
	else if (m->source.smtputf8 && !c->caps.smtputf8)
		smtp_client_refuse(c, 553, "5.6.7", "server lacks SMTPUTF8"); /* RFC 6531 3.2 */
	else if (m->requiretls && (peer == NULL || !peer->verified || !c->caps.requiretls))
		/* RFC 8689 4.2.1 */
		smtp_client_refuse(c, 550, "5.7.30", "REQUIRETLS not supported by the server");
	else {
		c->src = m->source;
		if (m->source.eightbit && !c->caps.eightbitmime) {
			/* RFC 6152 3: converted to 7 bit (mime_7bit.h) */
			c->conv = mime_7bit_new(m->source.read, m->source.ctx);
			c->src.read = mime_7bit_read;
			c->src.ctx = c->conv;
			log_info("client=%s event=relay_8bit_converted id=%s host=%s",
				 c->id, log_str(m->id), log_str(c->dest.host));
		}
		c->state = SMTP_CLIENT_TX;
		smtp_client_send_mail(c);
		if (c->caps.pipelining) {
			/* RFC 2920 3.1: DATA ends the group */
			for (unsigned i = 0; i < m->rcpt_count; i++)
				smtp_client_send_rcpt(c, i);
			if (!c->caps.chunking) {
				conn_write(c->conn, "DATA\r\n", 6);
				smtp_client_push(c, SMTP_CMD_DATA);
			}
		}
		smtp_client_expect_timeout(c, c->set.mail_ms);
	}
}

void smtp_client_body_encode(struct smtp_client_body *b, const char *in,
			     size_t len, bool dotstuff, str_t *out)
{
	str_reserve(out, len * 2 + 2);
	char *o = out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		char ch = in[i];
		if (ch == '\n') {
			if (!b->prev_cr)
				*o++ = '\r';
			*o++ = '\n';
			b->at_line_start = true;
			b->prev_cr = false;
			continue;
		}
		/* RFC 5321 4.5.2: a line starting with "." gets one more */
		if (b->at_line_start && ch == '.' && dotstuff)
			*o++ = '.';
		*o++ = ch;
		b->at_line_start = false;
		b->prev_cr = ch == '\r';
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	if (len > 0)
		b->ended_with_lf = in[len - 1] == '\n';
}

void smtp_client_body_finish(struct smtp_client_body *b, str_t *out)
{
	if (!b->ended_with_lf)
		str_appendz(out, b->prev_cr ? "\n" : "\r\n");
	b->ended_with_lf = true;
	b->prev_cr = false;
	b->at_line_start = true;
}

static void smtp_client_source_failed(struct smtp_client *c)
{
	const char *why = c->conv != NULL ? mime_7bit_error(c->conv) : NULL;
	if (why != NULL) /* RFC 6152 3: what cannot be converted bounces */
		smtp_client_fail(c, 554, "5.6.3", why, true);
	else
		smtp_client_fail(c, 451, "4.3.0", "cannot read the message", true);
}

/* DATA: the next piece once the server took the last one. */
static void smtp_client_body_more(void *ctx)
{
	struct smtp_client *c = ctx;
	char buf[SMTP_CLIENT_READ_CHUNK];
	ssize_t n = c->src.read(c->src.ctx, buf, sizeof(buf));
	if (n < 0) {
		smtp_client_source_failed(c);
		return;
	}
	str_t out = STR_INIT;
	if (n > 0) {
		smtp_client_body_encode(&c->body, buf, (size_t)n, true, &out);
		smtp_client_expect_timeout(c, c->set.data_block_ms);
	} else {
		smtp_client_body_finish(&c->body, &out);
		str_appendz(&out, ".\r\n");
		conn_set_output_drained(c->conn, NULL, NULL);
		c->state = SMTP_CLIENT_TX;
		smtp_client_push(c, SMTP_CMD_DOT);
		smtp_client_expect_timeout(c, c->set.data_end_ms);
	}
	conn_write(c->conn, out.data, out.len);
	str_free(&out);
}

/* BDAT: one chunk per reply (RFC 3030 2: each is answered). */
static void smtp_client_bdat_next(struct smtp_client *c)
{
	char buf[SMTP_CLIENT_READ_CHUNK];
	ssize_t n = c->src.read(c->src.ctx, buf, sizeof(buf));
	if (n < 0) {
		smtp_client_source_failed(c);
		return;
	}
	str_t data = STR_INIT, cmd = STR_INIT;
	if (n > 0)
		smtp_client_body_encode(&c->body, buf, (size_t)n, false, &data);
	else
		smtp_client_body_finish(&c->body, &data);
	str_printf(&cmd, "BDAT %zu%s\r\n", data.len, n == 0 ? " LAST" : "");
	conn_write(c->conn, cmd.data, cmd.len);
	conn_write(c->conn, data.data, data.len);
	str_free(&cmd);
	str_free(&data);
	enum smtp_client_cmd kind = n == 0 ? SMTP_CMD_BDAT_LAST : SMTP_CMD_BDAT;
	smtp_client_push(c, kind);
	smtp_client_expect_timeout(c, smtp_client_cmd_timeout(c, kind));
}

static void smtp_client_data_start(struct smtp_client *c)
{
	memset(&c->body, 0, sizeof(c->body));
	c->body.at_line_start = true;
	c->body.ended_with_lf = true;
	if (c->caps.chunking) {
		smtp_client_bdat_next(c);
		return;
	}
	if (c->caps.pipelining)
		return; /* DATA went with the group */
	conn_write(c->conn, "DATA\r\n", 6);
	smtp_client_push(c, SMTP_CMD_DATA);
}

static void smtp_client_set_final_reply(struct smtp_client *c,
					const struct smtp_reply *r)
{
	smtp_client_reply_set(&c->final, r);
}

/* All RCPT replies are in: data, or the end of the transaction. */
static void smtp_client_rcpts_done(struct smtp_client *c, const struct smtp_reply *r,
				   bool mail_failed)
{
	if (c->accepted > 0 && !mail_failed) {
		smtp_client_data_start(c);
		return;
	}
	if (c->caps.pipelining && !c->caps.chunking)
		return; /* wait for the DATA reply */
	if (!mail_failed)
		smtp_client_set_final_reply(c, r);
	smtp_client_finish(c, true);
}

void smtp_client_tx_reply(struct smtp_client *c, const struct smtp_reply *r)
{
	if (c->pend_count == 0) {
		smtp_client_fail(c, 451, "4.5.0", "unexpected reply", true);
		return;
	}
	enum smtp_client_cmd cmd = c->pending[c->pend_head];
	c->pend_head = (c->pend_head + 1) % c->pend_size;
	c->pend_count--;
	if (c->pend_count > 0)
		smtp_client_expect_timeout(c, smtp_client_cmd_timeout(
			c, c->pending[c->pend_head]));
	bool ok = r->code / 100 == 2;
	/* RFC 5321 3.8: 421 means the server is closing */
	if (r->code == 421) {
		smtp_client_fail(c, r->code, r->enhanced, str_c(&r->text), false);
		return;
	}
	bool mail_failed = c->final_is_mail;
	switch (cmd) {
	case SMTP_CMD_MAIL:
		if (!ok) {
			smtp_client_set_final_reply(c, r);
			c->final_is_mail = true;
			if (!c->caps.pipelining)
				smtp_client_finish(c, true);
			return;
		}
		if (!c->caps.pipelining)
			smtp_client_send_rcpt(c, c->next_rcpt);
		return;
	case SMTP_CMD_RCPT: {
		unsigned i = c->next_rcpt++;
		if (!mail_failed)
			smtp_client_reply_set(&c->rcpt[i], r);
		if (ok)
			c->accepted++;
		if (c->next_rcpt < c->msg->rcpt_count) {
			if (!c->caps.pipelining)
				smtp_client_send_rcpt(c, c->next_rcpt);
			return;
		}
		smtp_client_rcpts_done(c, r, mail_failed);
		return;
	}
	case SMTP_CMD_DATA:
		if (r->code == 354 && c->accepted > 0 && !mail_failed) {
			c->state = SMTP_CLIENT_BODY;
			conn_set_output_drained(c->conn, smtp_client_body_more, c);
			smtp_client_expect_timeout(c, c->set.data_block_ms);
		} else if (r->code == 354) {
			/* RFC 2920 3.1: nothing to send, end the empty message */
			conn_write(c->conn, ".\r\n", 3);
			smtp_client_push(c, SMTP_CMD_DOT_DISCARD);
			smtp_client_expect_timeout(c, c->set.data_end_ms);
		} else {
			if (!mail_failed)
				smtp_client_set_final_reply(c, r);
			smtp_client_finish(c, true);
		}
		return;
	case SMTP_CMD_BDAT:
		if (ok) {
			smtp_client_bdat_next(c);
			return;
		}
		smtp_client_set_final_reply(c, r);
		smtp_client_finish(c, true);
		return;
	case SMTP_CMD_DOT:
	case SMTP_CMD_BDAT_LAST:
		smtp_client_set_final_reply(c, r);
		smtp_client_finish(c, true);
		return;
	case SMTP_CMD_DOT_DISCARD:
		smtp_client_finish(c, true);
		return;
	}
}

static void smtp_client_reply_clear(struct smtp_client_reply *r)
{
	free((char *)r->text);
	memset(r, 0, sizeof(*r));
}

void smtp_client_tx_free(struct smtp_client *c)
{
	for (unsigned i = 0; c->rcpt != NULL && i < c->rcpt_n; i++)
		smtp_client_reply_clear(&c->rcpt[i]);
	free(c->rcpt);
	c->rcpt = NULL;
	c->rcpt_n = 0;
	smtp_client_reply_clear(&c->final);
	mime_7bit_free(&c->conv);
	c->final_is_mail = false;
	c->pend_count = 0;
	c->pend_head = 0;
}
