/* probe.h: "postel probe", a client that tells a person why they cannot
 * reach a mail server and which port to use instead.
 *
 * One probe_port per service (smtp 25, submission 587, submissions 465,
 * pop3 110, pop3s 995, imap 143, imaps 993). Each is probed in its own
 * thread (7 at most) with one deadline covering connect, greeting, TLS,
 * capabilities and the optional login. A port's result lives in its own
 * pool; nothing in it is shared with other threads while they run.
 * Everything a server sent is untrusted: it is stored raw and escaped
 * where it is printed (probe_text_safe(), probe_json). The server never
 * runs any of this code. */
#ifndef POSTEL_PROBE_H
#define POSTEL_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/mem.h"

enum probe_proto { PROBE_PROTO_SMTP, PROBE_PROTO_POP3, PROBE_PROTO_IMAP };

struct probe_service {
	const char *name;      /* "submission" */
	unsigned port;         /* standard port, 587 */
	enum probe_proto proto;
	bool implicit_tls;     /* 465, 995, 993 */
	const char *job;       /* "send mail from a client" */
	const char *alternate; /* the service for the same job, or NULL */
};

#define PROBE_SERVICE_COUNT 7
extern const struct probe_service probe_services[PROBE_SERVICE_COUNT];
const struct probe_service *probe_service_find(const char *name);

/* A list of capability words (EHLO keywords, CAPA lines, CAPABILITY
 * atoms) or SASL mechanisms, bounded in count and length. */
#define PROBE_CAPS_MAX 64
#define PROBE_CAP_LEN_MAX 200
struct probe_caps {
	unsigned count;
	bool truncated; /* more than PROBE_CAPS_MAX were offered */
	char *items[PROBE_CAPS_MAX];
};

enum probe_status { PROBE_OK, PROBE_WARN, PROBE_FAIL };

/* Where a port's probe stopped. */
enum probe_stage {
	PROBE_STAGE_NONE,      /* it did not fail */
	PROBE_STAGE_CONNECT,
	PROBE_STAGE_GREETING,
	PROBE_STAGE_TLS,       /* handshake or STARTTLS refused/missing */
	PROBE_STAGE_CERT,      /* handshake done, certificate not valid */
	PROBE_STAGE_CAPS,
	PROBE_STAGE_LOGIN,
};

enum probe_connect_error {
	PROBE_CONN_NONE,
	PROBE_CONN_REFUSED,
	PROBE_CONN_TIMEOUT,
	PROBE_CONN_UNREACHABLE,
	PROBE_CONN_NAME,       /* the host name does not resolve */
	PROBE_CONN_OTHER,
};

#define PROBE_CERT_NAMES_MAX 16
struct probe_cert {
	bool present;
	char *subject, *issuer;
	char *not_after;       /* "2036-11-25 10:00:00 UTC" */
	long days_left;        /* negative: expired that many days ago */
	bool chain_ok;         /* verifies against the CA store */
	char *verify_error;    /* OpenSSL's reason when !chain_ok */
	bool name_ok;          /* matches the name probed */
	/* the subjectAltName DNS names and addresses, escaped */
	unsigned name_count;
	bool names_truncated;  /* more than PROBE_CERT_NAMES_MAX */
	char *names[PROBE_CERT_NAMES_MAX];
};

enum probe_login_state {
	PROBE_LOGIN_NOT_TRIED,
	PROBE_LOGIN_OK,
	PROBE_LOGIN_FAILED,
	PROBE_LOGIN_SKIPPED,   /* no auth offered, or only in plaintext */
};

#define PROBE_NOTES_MAX 8
struct probe_port {
	pool_t *pool;
	const struct probe_service *service;
	unsigned port;

	enum probe_status status;
	enum probe_stage failed_stage;
	char *error; /* why it failed, in plain words */

	enum probe_connect_error connect_error;
	double connect_ms;
	char *greeting;        /* raw, untrusted; all lines joined by "\n" */

	bool tls_offered;      /* STARTTLS/STLS advertised (or implicit) */
	bool tls_done;
	char *tls_version, *tls_cipher;
	bool tls_data_after_starttls; /* the server sent data after its go-ahead */
	struct probe_cert cert;
	bool cert_valid;       /* present, unexpired, trusted, for the name */

	struct probe_caps caps_before, caps_after;
	struct probe_caps mechs_before, mechs_after;
	bool plaintext_login_before; /* USER/PASS or IMAP LOGIN usable in clear */
	bool plaintext_login_after;

	enum probe_login_state login;
	char *login_detail;    /* the server's reply, or why skipped */

	unsigned note_count;
	char *notes[PROBE_NOTES_MAX]; /* warnings, in plain words */
};

struct probe_settings {
	const char *host;        /* as given */
	const char *servername;  /* the name the certificate must match */
	unsigned timeout_ms;
	const char *cafile;      /* NULL: the system CA store */
	const char *user;        /* --user, or NULL */
	const char *password;    /* read once, wiped by probe_main */
	bool login_plaintext;    /* --login-plaintext: allow login without TLS */
	void *ssl_ctx;           /* the client SSL_CTX, shared by all threads */
	struct sockaddr_storage addr; /* resolved once */
	socklen_t addr_len;
	char addr_text[64];
	bool addr_ok;
	const char *addr_error;  /* why the name did not resolve */
	bool addr_timeout;       /* ... because the resolver did not answer */
};

/* Run the whole dialogue of one port; fills p. Never fails itself. */
void probe_port_run(const struct probe_settings *set, struct probe_port *p);

void probe_note(struct probe_port *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Mark p failed at stage with a reason (the first failure wins). */
void probe_fail(struct probe_port *p, enum probe_stage stage, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Untrusted text made safe for a terminal: printable ASCII kept, every
 * other byte as \xNN, cut at max bytes of input with "...". */
char *probe_text_safe(pool_t *pool, const char *s, size_t len, size_t max);

#endif
