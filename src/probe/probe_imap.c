/* probe_imap.c: the IMAP dialogue of probe (ports 143, 993): greeting,
 * CAPABILITY, STARTTLS (RFC 9051 6.2.1), AUTHENTICATE PLAIN (the response
 * with the command under SASL-IR, RFC 4959, else after the "+"
 * continuation) or LOGIN, LOGOUT. Untagged responses other
 * than CAPABILITY are skipped; a command may see at most 100 of them. */
#include "probe/probe_reply.h"
#include "probe/probe_session.h"
#include "lib/base64.h"

#include <string.h>

#define PROBE_IMAP_LINES_MAX 100

/* Send "tag cmd" and read to the tagged reply. Capabilities seen on the
 * way go to caps/mechs when set. A "+" continuation is answered once with
 * cont when set (a SASL response). 0 for OK, -1 with the reply quoted. */
static int probe_imap_cmd(struct probe_session *s, const char *cmd, const char *cont,
			  struct probe_caps *caps, struct probe_caps *mechs,
			  const char **reply_r, const char **error_r)
{
	const char *tag = t_printf("p%u", ++s->tag);
	size_t tag_len = strlen(tag);

	if (probe_io_write_line(&s->io, t_printf("%s %s", tag, cmd), error_r) < 0)
		return -1;
	for (unsigned i = 0; i < PROBE_IMAP_LINES_MAX; i++) {
		const char *line, *atoms;
		size_t len, atoms_len;
		if (probe_io_read_line(&s->io, &line, &len, error_r) < 0)
			return -1;
		if (caps != NULL && probe_imap_caps_in_line(line, len, &atoms, &atoms_len))
			probe_imap_caps(s->p->pool, caps, mechs, atoms, atoms_len);
		if (len > tag_len && memcmp(line, tag, tag_len) == 0 &&
		    line[tag_len] == ' ') {
			*reply_r = probe_quote(line + tag_len + 1, len - tag_len - 1);
			if (slice_iprefix(line + tag_len + 1, len - tag_len - 1, "OK"))
				return 0;
			*error_r = *reply_r;
			return -1;
		}
		if (len > 0 && line[0] == '+') {
			if (cont == NULL) {
				*error_r = t_printf("unexpected continuation %s",
						    probe_quote(line, len));
				return -1;
			}
			if (probe_io_write_line(&s->io, cont, error_r) < 0)
				return -1;
			cont = NULL;
		}
	}
	*error_r = "over 100 lines before the tagged reply";
	return -1;
}

static int probe_imap_greeting(struct probe_session *s, const char **error_r)
{
	const char *line, *error;
	size_t len;

	if (probe_io_read_line(&s->io, &line, &len, &error) < 0) {
		*error_r = t_printf("no greeting: %s", error);
		return -1;
	}
	s->p->greeting = pool_strndup(s->p->pool, line, len);
	if (slice_iprefix(line, len, "* OK") || slice_iprefix(line, len, "* PREAUTH"))
		return 0;
	*error_r = t_printf(slice_iprefix(line, len, "* BYE") ?
			    "the server refuses clients: %s" : "not an IMAP greeting: %s",
			    probe_quote(line, len));
	return -1;
}

static int probe_imap_capabilities(struct probe_session *s, struct probe_caps *caps,
				   struct probe_caps *mechs, bool *plain_login_r,
				   const char **error_r)
{
	const char *reply;

	if (probe_imap_cmd(s, "CAPABILITY", NULL, caps, mechs, &reply, error_r) < 0)
		return -1;
	/* RFC 9051 6.2.3: LOGIN is refused while LOGINDISABLED is listed */
	*plain_login_r = !probe_caps_has(caps, "LOGINDISABLED");
	return 0;
}

static int probe_imap_starttls(struct probe_session *s, const char **error_r)
{
	const char *reply;
	if (probe_imap_cmd(s, "STARTTLS", NULL, NULL, NULL, &reply, error_r) < 0) {
		*error_r = t_printf("STARTTLS refused: %s", *error_r);
		return -1;
	}
	return 0;
}

/* An IMAP quoted string (RFC 9051 4.3), or NULL when text cannot be one. */
static const char *probe_imap_quoted(str_t *out, const char *text)
{
	str_appendc(out, '"');
	for (const char *p = text; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n')
			return NULL;
		if (*p == '"' || *p == '\\')
			str_appendc(out, '\\');
		str_appendc(out, *p);
	}
	str_appendc(out, '"');
	return str_c(out);
}

static int probe_imap_login(struct probe_session *s, const struct probe_caps *mechs,
			    bool plain_login, const char **reply_r, const char **error_r)
{
	const char *user = s->set->user, *pass = s->set->password;
	str_t cmd = STR_INIT;
	int ret = -1;

	const struct probe_caps *caps = s->p->tls_done ? &s->p->caps_after :
		&s->p->caps_before;
	if (probe_caps_has(mechs, "PLAIN") && probe_caps_has(caps, "SASL-IR")) {
		probe_sasl_plain(s, "AUTHENTICATE PLAIN ", &cmd);
		ret = probe_imap_cmd(s, str_c(&cmd), NULL, NULL, NULL, reply_r, error_r);
	} else if (probe_caps_has(mechs, "PLAIN")) {
		probe_sasl_plain(s, "", &cmd);
		ret = probe_imap_cmd(s, "AUTHENTICATE PLAIN", str_c(&cmd), NULL, NULL,
				     reply_r, error_r);
	} else if (plain_login) {
		str_appendz(&cmd, "LOGIN ");
		if (probe_imap_quoted(&cmd, user) == NULL) {
			*error_r = "the user name cannot be sent";
		} else {
			str_appendc(&cmd, ' ');
			if (probe_imap_quoted(&cmd, pass) == NULL)
				*error_r = "the password holds a line break";
			else
				ret = probe_imap_cmd(s, str_c(&cmd), NULL, NULL, NULL,
						     reply_r, error_r);
		}
	} else {
		*error_r = "the server offers neither AUTHENTICATE PLAIN nor LOGIN";
	}
	str_free_secure(&cmd);
	return ret;
}

static void probe_imap_quit(struct probe_session *s)
{
	const char *reply, *error;
	(void)probe_imap_cmd(s, "LOGOUT", NULL, NULL, NULL, &reply, &error);
}

const struct probe_dialogue probe_imap_dialogue = {
	.starttls_cap = "STARTTLS",
	.greeting = probe_imap_greeting,
	.capabilities = probe_imap_capabilities,
	.starttls = probe_imap_starttls,
	.login = probe_imap_login,
	.quit = probe_imap_quit,
};
