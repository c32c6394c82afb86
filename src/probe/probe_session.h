/* probe_session.h: what the protocol dialogues of probe share (private to
 * src/probe/).
 *
 * probe_port.c drives a port through connect, greeting, capabilities,
 * STARTTLS, capabilities again and an optional login, calling the
 * protocol's struct probe_dialogue for each step. A step returns 0, or -1
 * with *error_r in plain words (the server's reply quoted, escaped). */
#ifndef POSTEL_PROBE_SESSION_H
#define POSTEL_PROBE_SESSION_H

#include "probe/probe.h"
#include "probe/probe_io.h"

struct probe_session {
	struct probe_io io;
	struct probe_port *p;
	const struct probe_settings *set;
	char ehlo_name[80];  /* our address literal, for EHLO */
	unsigned tag;        /* IMAP command tags */
};

struct probe_dialogue {
	const char *starttls_cap; /* the capability that offers STARTTLS */
	int (*greeting)(struct probe_session *s, const char **error_r);
	/* Fills caps and mechs; *plain_login_r when a login command that is
	 * not SASL is usable (POP3 USER, IMAP LOGIN without LOGINDISABLED). */
	int (*capabilities)(struct probe_session *s, struct probe_caps *caps,
			    struct probe_caps *mechs, bool *plain_login_r,
			    const char **error_r);
	/* Sends the STARTTLS command; 0 when the server says go ahead. */
	int (*starttls)(struct probe_session *s, const char **error_r);
	/* Log in; 0 on success with *reply_r the server's reply, -1 with
	 * *error_r the server's reason. mechs/plain_login: what is offered. */
	int (*login)(struct probe_session *s, const struct probe_caps *mechs,
		     bool plain_login, const char **reply_r, const char **error_r);
	void (*quit)(struct probe_session *s);
};

extern const struct probe_dialogue probe_smtp_dialogue;
extern const struct probe_dialogue probe_pop3_dialogue;
extern const struct probe_dialogue probe_imap_dialogue;

/* Append "prefix" and the base64 SASL PLAIN response (RFC 4616:
 * NUL user NUL password) of the --user credentials to out. out holds a
 * secret afterwards: free it with str_free_secure(). */
void probe_sasl_plain(const struct probe_session *s, const char *prefix, str_t *out);

/* Quote a server's line for an error message. Temp pool. */
const char *probe_quote(const char *line, size_t len);

#endif
