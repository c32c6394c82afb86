/* smtp_client_ehlo.c: what the SMTP client does with the server's EHLO
 * reply: the capabilities it parses (RFC 5321 4.1.1.1 keywords and their
 * parameters) and AUTH PLAIN (RFC 4616) or LOGIN (RFC 4954), which it
 * runs only over TLS; sending EHLO or HELO and what follows its answer
 * (STARTTLS, AUTH or the transaction). Also the settings from the
 * config. See smtp_client.h. */
#include "relay/smtp_client_private.h"
#include "lib/base64.h"
#include "lib/config.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

void smtp_client_settings_from_config(struct smtp_client_settings *set,
				      const struct config *config)
{
	memset(set, 0, sizeof(*set));
	set->helo_name = config->hostname;
	set->connect_ms = config->relay_timeout_connect * 1000;
	set->greeting_ms = config->relay_timeout_greeting * 1000;
	set->mail_ms = config->relay_timeout_mail * 1000;
	set->rcpt_ms = config->relay_timeout_rcpt * 1000;
	set->data_ms = config->relay_timeout_data * 1000;
	set->data_block_ms = config->relay_timeout_data_block * 1000;
	set->data_end_ms = config->relay_timeout_data_end * 1000;
}

ssize_t smtp_client_read_fd(void *ctx, void *buf, size_t size)
{
	return read(*(int *)ctx, buf, size);
}

void smtp_client_auth_start(struct smtp_client *c)
{
	/* credentials never cross without TLS (issue 10 item 5) */
	if (!c->tls) {
		smtp_client_fail(c, 451, "4.7.0", "AUTH refused: no TLS", true);
		return;
	}
	str_t cmd = STR_INIT, plain = STR_INIT;
	if (c->caps.auth_plain) {
		/* RFC 4616 2: authzid NUL authcid NUL passwd */
		str_appendc(&plain, '\0');
		str_appendz(&plain, c->dest.auth_user);
		str_appendc(&plain, '\0');
		str_appendz(&plain, c->dest.auth_password);
		str_appendz(&cmd, "AUTH PLAIN ");
		base64_encode(plain.data, plain.len, &cmd);
		c->state = SMTP_CLIENT_AUTH;
	} else if (c->caps.auth_login) {
		str_appendz(&cmd, "AUTH LOGIN");
		c->state = SMTP_CLIENT_AUTH_USER;
	} else {
		smtp_client_fail(c, 451, "4.7.0", "server offers no AUTH PLAIN or LOGIN",
				 true);
		return;
	}
	smtp_client_write(c, str_c(&cmd));
	str_free_secure(&cmd);
	str_free_secure(&plain);
	smtp_client_expect_timeout(c, c->set.mail_ms);
}

void smtp_client_auth_login_next(struct smtp_client *c, const char *value)
{
	str_t cmd = STR_INIT;
	base64_encode(value, strlen(value), &cmd);
	smtp_client_write(c, str_c(&cmd));
	str_free_secure(&cmd);
	smtp_client_expect_timeout(c, c->set.mail_ms);
}

void smtp_client_caps_parse(struct smtp_client_caps *caps, const struct smtp_reply *r)
{
	const char *text;
	size_t len;
	caps->esmtp = true;
	for (unsigned i = 1; smtp_reply_line(r, i, &text, &len); i++) {
		size_t kw = 0;
		while (kw < len && text[kw] != ' ' && text[kw] != '=')
			kw++;
		const char *arg = kw < len ? text + kw + 1 : "";
		size_t arg_len = kw < len ? len - kw - 1 : 0;
#define KW(name) (kw == sizeof(name) - 1 && strncasecmp(text, name, kw) == 0)
		if (KW("PIPELINING"))
			caps->pipelining = true;
		else if (KW("SIZE")) {
			unsigned long long v = 0;
			caps->size = true;
			if (arg_len > 0 && parse_uint64(arg, arg_len, UINT64_MAX, &v))
				caps->size_max = v;
		} else if (KW("8BITMIME"))
			caps->eightbitmime = true;
		else if (KW("SMTPUTF8"))
			caps->smtputf8 = true;
		else if (KW("CHUNKING"))
			caps->chunking = true;
		else if (KW("DSN"))
			caps->dsn = true;
		else if (KW("STARTTLS"))
			caps->starttls = true;
		else if (KW("REQUIRETLS"))
			caps->requiretls = true;
		else if (KW("AUTH")) {
			/* "AUTH PLAIN LOGIN" or the old "AUTH=PLAIN LOGIN" */
			for (size_t p = 0; p < arg_len;) {
				size_t e = p;
				while (e < arg_len && arg[e] != ' ')
					e++;
				if (e - p == 5 && strncasecmp(arg + p, "PLAIN", 5) == 0)
					caps->auth_plain = true;
				if (e - p == 5 && strncasecmp(arg + p, "LOGIN", 5) == 0)
					caps->auth_login = true;
				p = e + 1;
			}
		}
#undef KW
	}
}

static bool smtp_client_want_tls(const struct smtp_client *c)
{
	return !c->tls && (c->dest.tls_mode == SMTP_CLIENT_TLS_OPPORTUNISTIC ||
			   c->dest.tls_mode == SMTP_CLIENT_TLS_REQUIRED ||
			   c->dest.tls_mode == SMTP_CLIENT_TLS_ENCRYPT);
}

void smtp_client_write(struct smtp_client *c, const char *line)
{
	conn_write(c->conn, line, strlen(line));
	conn_write(c->conn, "\r\n", 2);
}

void smtp_client_send_ehlo(struct smtp_client *c, bool helo)
{
	str_t cmd = STR_INIT;
	str_printf(&cmd, "%s %s", helo ? "HELO" : "EHLO", c->set.helo_name);
	smtp_client_write(c, str_c(&cmd));
	str_free(&cmd);
	memset(&c->caps, 0, sizeof(c->caps));
	c->state = helo ? SMTP_CLIENT_HELO : SMTP_CLIENT_EHLO;
	smtp_client_expect_timeout(c, c->set.mail_ms);
}

/* EHLO (or HELO) answered: STARTTLS, AUTH, or the transaction. */
void smtp_client_greeted(struct smtp_client *c)
{
	if (smtp_client_want_tls(c) && c->caps.starttls) {
		smtp_client_write(c, "STARTTLS");
		c->state = SMTP_CLIENT_STARTTLS;
		smtp_client_expect_timeout(c, c->set.mail_ms);
		return;
	}
	if (!c->tls && (c->dest.tls_mode == SMTP_CLIENT_TLS_REQUIRED ||
			c->dest.tls_mode == SMTP_CLIENT_TLS_ENCRYPT)) {
		smtp_client_fail(c, 451, "4.7.10", "STARTTLS required but not offered",
				 true);
		return;
	}
	if (c->dest.auth_user != NULL && c->state != SMTP_CLIENT_AUTH) {
		smtp_client_auth_start(c);
		return;
	}
	c->state = SMTP_CLIENT_IDLE;
	smtp_client_tx_begin(c);
}
