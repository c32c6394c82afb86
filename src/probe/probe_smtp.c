/* probe_smtp.c: the SMTP dialogue of probe (ports 25, 587, 465):
 * greeting, EHLO (HELO when EHLO is refused), STARTTLS (RFC 3207), AUTH
 * PLAIN or LOGIN (RFC 4954), QUIT. */
#include "probe/probe_reply.h"
#include "probe/probe_session.h"
#include "lib/base64.h"

#include <string.h>

/* Replies longer than this many lines are refused (a sane EHLO has ~15). */
#define PROBE_SMTP_REPLY_LINES_MAX 100

/* Read one reply: its code, and its lines' text joined by "\n" into
 * *text_r (temp pool). Each line's text also goes to line_cb when set. */
static int probe_smtp_reply(struct probe_session *s, unsigned *code_r,
			    const char **text_r, struct probe_caps *caps,
			    struct probe_caps *mechs, const char **error_r)
{
	str_t all = STR_INIT;
	int ret = -1;

	for (unsigned i = 0; i < PROBE_SMTP_REPLY_LINES_MAX; i++) {
		const char *line, *text;
		size_t len, text_len;
		unsigned code;
		bool last;

		if (probe_io_read_line(&s->io, &line, &len, error_r) < 0)
			goto out;
		if (probe_smtp_reply_line(line, len, &code, &last, &text, &text_len) < 0 ||
		    (i > 0 && code != *code_r)) {
			*error_r = t_printf("malformed reply %s", probe_quote(line, len));
			goto out;
		}
		*code_r = code;
		if (i > 0)
			str_appendc(&all, '\n');
		str_append(&all, line, len);
		/* EHLO: the first line is the server's name, keywords follow */
		if (caps != NULL && i > 0)
			probe_smtp_ehlo_line(s->p->pool, caps, mechs, text, text_len);
		if (last) {
			*text_r = t_strndup(str_c(&all), all.len);
			ret = 0;
			goto out;
		}
	}
	*error_r = "reply of over 100 lines";
out:
	str_free(&all);
	return ret;
}

static int probe_smtp_cmd(struct probe_session *s, const char *cmd, unsigned *code_r,
			  const char **text_r, const char **error_r)
{
	if (probe_io_write_line(&s->io, cmd, error_r) < 0)
		return -1;
	return probe_smtp_reply(s, code_r, text_r, NULL, NULL, error_r);
}

static int probe_smtp_greeting(struct probe_session *s, const char **error_r)
{
	unsigned code;
	const char *text;

	if (probe_smtp_reply(s, &code, &text, NULL, NULL, error_r) < 0) {
		*error_r = t_printf("no greeting: %s", *error_r);
		return -1;
	}
	s->p->greeting = pool_strdup(s->p->pool, text);
	if (code != 220) {
		*error_r = t_printf("the server refuses clients: %s",
				    probe_quote(text, strlen(text)));
		return -1;
	}
	return 0;
}

static int probe_smtp_capabilities(struct probe_session *s, struct probe_caps *caps,
				   struct probe_caps *mechs, bool *plain_login_r,
				   const char **error_r)
{
	unsigned code;
	const char *text;

	*plain_login_r = false;
	if (probe_io_write_line(&s->io, t_printf("EHLO %s", s->ehlo_name), error_r) < 0 ||
	    probe_smtp_reply(s, &code, &text, caps, mechs, error_r) < 0)
		return -1;
	if (code == 250)
		return 0;
	probe_note(s->p, "EHLO refused (%s): no extensions", probe_quote(text, strlen(text)));
	if (probe_smtp_cmd(s, t_printf("HELO %s", s->ehlo_name), &code, &text, error_r) < 0)
		return -1;
	if (code != 250) {
		*error_r = t_printf("EHLO and HELO refused: %s", probe_quote(text, strlen(text)));
		return -1;
	}
	return 0;
}

static int probe_smtp_starttls(struct probe_session *s, const char **error_r)
{
	unsigned code;
	const char *text;

	if (probe_smtp_cmd(s, "STARTTLS", &code, &text, error_r) < 0)
		return -1;
	if (code != 220) {
		*error_r = t_printf("STARTTLS refused: %s", probe_quote(text, strlen(text)));
		return -1;
	}
	return 0;
}

/* A SASL exchange step: send line, expect code. */
static int probe_smtp_step(struct probe_session *s, const char *line, unsigned want,
			   const char **text_r, const char **error_r)
{
	unsigned code;

	if (probe_smtp_cmd(s, line, &code, text_r, error_r) < 0)
		return -1;
	if (code != want) {
		*error_r = probe_quote(*text_r, strlen(*text_r));
		return -1;
	}
	return 0;
}

static int probe_smtp_login(struct probe_session *s, const struct probe_caps *mechs,
			    bool plain_login, const char **reply_r, const char **error_r)
{
	const char *user = s->set->user, *pass = s->set->password;
	str_t blob = STR_INIT, raw = STR_INIT;
	int ret = -1;

	if (probe_caps_has(mechs, "PLAIN")) {
		/* RFC 4616: authzid NUL authcid NUL passwd */
		probe_sasl_plain(s, "AUTH PLAIN ", &blob);
		ret = probe_smtp_step(s, str_c(&blob), 235, reply_r, error_r);
	} else if (probe_caps_has(mechs, "LOGIN")) {
		str_appendz(&blob, "AUTH LOGIN ");
		base64_encode(user, strlen(user), &blob);
		if (probe_smtp_step(s, str_c(&blob), 334, reply_r, error_r) == 0) {
			str_clear(&raw);
			base64_encode(pass, strlen(pass), &raw);
			ret = probe_smtp_step(s, str_c(&raw), 235, reply_r, error_r);
		}
	} else {
		*error_r = "the server offers neither PLAIN nor LOGIN";
	}
	if (ret == 0)
		*reply_r = probe_quote(*reply_r, strlen(*reply_r));
	str_free_secure(&blob);
	str_free_secure(&raw);
	return ret;
}

static void probe_smtp_quit(struct probe_session *s)
{
	unsigned code;
	const char *text, *error;
	(void)probe_smtp_cmd(s, "QUIT", &code, &text, &error);
}

const struct probe_dialogue probe_smtp_dialogue = {
	.starttls_cap = "STARTTLS",
	.greeting = probe_smtp_greeting,
	.capabilities = probe_smtp_capabilities,
	.starttls = probe_smtp_starttls,
	.login = probe_smtp_login,
	.quit = probe_smtp_quit,
};
