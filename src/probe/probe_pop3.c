/* probe_pop3.c: the POP3 dialogue of probe (ports 110, 995): greeting,
 * CAPA (RFC 2449), STLS (RFC 2595 4), AUTH PLAIN (RFC 5034) or USER/PASS
 * (RFC 1939), QUIT. */
#include "probe/probe_reply.h"
#include "probe/probe_session.h"
#include "lib/base64.h"

#include <string.h>
#include <strings.h>

#define PROBE_POP3_CAPA_LINES_MAX 100

/* One status line: 0 for "+OK", -1 with the line quoted for anything else. */
static int probe_pop3_status(struct probe_session *s, const char **line_r,
			     const char **error_r)
{
	const char *line;
	size_t len;

	if (probe_io_read_line(&s->io, &line, &len, error_r) < 0)
		return -1;
	*line_r = t_strndup(line, len);
	if (slice_iprefix(line, len, "+OK"))
		return 0;
	*error_r = probe_quote(line, len);
	return -1;
}

static int probe_pop3_cmd(struct probe_session *s, const char *cmd,
			  const char **line_r, const char **error_r)
{
	if (probe_io_write_line(&s->io, cmd, error_r) < 0)
		return -1;
	return probe_pop3_status(s, line_r, error_r);
}

static int probe_pop3_greeting(struct probe_session *s, const char **error_r)
{
	const char *line, *error;

	*error_r = NULL;
	if (probe_pop3_status(s, &line, &error) < 0) {
		if (!s->io.timed_out && strncmp(error, "\"-ERR", 5) == 0) {
			s->p->greeting = pool_strdup(s->p->pool, line);
			*error_r = t_printf("the server refuses clients: %s", error);
		} else {
			*error_r = t_printf("no greeting: %s", error);
		}
		return -1;
	}
	s->p->greeting = pool_strdup(s->p->pool, line);
	return 0;
}

static int probe_pop3_capabilities(struct probe_session *s, struct probe_caps *caps,
				   struct probe_caps *mechs, bool *plain_login_r,
				   const char **error_r)
{
	const char *status;

	*plain_login_r = false;
	if (probe_pop3_cmd(s, "CAPA", &status, error_r) < 0) {
		if (s->io.timed_out || strncmp(*error_r, "\"-ERR", 5) != 0)
			return -1;
		/* RFC 2449 is optional: USER/PASS is all a server must have */
		probe_note(s->p, "CAPA not supported: capabilities unknown");
		*plain_login_r = true;
		return 0;
	}
	for (unsigned i = 0; i < PROBE_POP3_CAPA_LINES_MAX; i++) {
		const char *line;
		size_t len;
		if (probe_io_read_line(&s->io, &line, &len, error_r) < 0)
			return -1;
		if (len == 1 && line[0] == '.') {
			*plain_login_r = probe_caps_has(caps, "USER");
			return 0;
		}
		if (len > 0 && line[0] == '.') { /* RFC 1939 3: byte-stuffing */
			line++;
			len--;
		}
		probe_pop3_capa_line(s->p->pool, caps, mechs, line, len);
	}
	*error_r = "CAPA list of over 100 lines";
	return -1;
}

static int probe_pop3_starttls(struct probe_session *s, const char **error_r)
{
	const char *line;
	if (probe_pop3_cmd(s, "STLS", &line, error_r) < 0) {
		*error_r = t_printf("STLS refused: %s", *error_r);
		return -1;
	}
	return 0;
}

static int probe_pop3_login(struct probe_session *s, const struct probe_caps *mechs,
			    bool plain_login, const char **reply_r, const char **error_r)
{
	const char *user = s->set->user, *pass = s->set->password;
	str_t cmd = STR_INIT;
	int ret;

	if (probe_caps_has(mechs, "PLAIN")) {
		probe_sasl_plain(s, "AUTH PLAIN ", &cmd);
		ret = probe_pop3_cmd(s, str_c(&cmd), reply_r, error_r);
	} else if (plain_login) {
		ret = probe_pop3_cmd(s, t_printf("USER %s", user), reply_r, error_r);
		if (ret == 0) {
			str_printf(&cmd, "PASS %s", pass);
			ret = probe_pop3_cmd(s, str_c(&cmd), reply_r, error_r);
		}
	} else {
		*error_r = "the server offers neither SASL PLAIN nor USER/PASS";
		ret = -1;
	}
	/* RFC 2449 8.1.1: [IN-USE] means the credentials were accepted but
	 * another session holds the maildrop (this probe's own session on the
	 * other POP3 port, often): the login works */
	if (ret < 0 && *error_r != NULL && strncasecmp(*error_r, "\"-ERR [IN-USE]", 14) == 0) {
		*reply_r = t_printf("%s (credentials accepted; the maildrop is in use "
				    "by another session)", *error_r);
		str_free_secure(&cmd);
		return 0;
	}
	if (ret == 0)
		*reply_r = probe_quote(*reply_r, strlen(*reply_r));
	str_free_secure(&cmd);
	return ret;
}

static void probe_pop3_quit(struct probe_session *s)
{
	const char *line, *error;
	(void)probe_pop3_cmd(s, "QUIT", &line, &error);
}

const struct probe_dialogue probe_pop3_dialogue = {
	.starttls_cap = "STLS",
	.greeting = probe_pop3_greeting,
	.capabilities = probe_pop3_capabilities,
	.starttls = probe_pop3_starttls,
	.login = probe_pop3_login,
	.quit = probe_pop3_quit,
};
