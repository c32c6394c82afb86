/* smarthost.h: all outbound mail through one provider (issue 10 item 5):
 * relayhost = [smtp.example.net]:587 with relayhost_user and
 * relayhost_password_file, the usual setup for a home server whose ISP
 * blocks port 25.
 *
 * smarthost_load() reads the config once (the runner, before its
 * sandbox: runner_smarthost.c): the host, the port (default
 * 587; 465 means implicit TLS, RFC 8314 3.3, any other STARTTLS), and the
 * password from its file, which must be a regular file not readable or
 * writable by others (root:postel 0640 is the intended form) and hold one
 * line of at most 255 bytes. -1 with *error_r (naming the file and what
 * is wrong with it) when a key is wrong; *sh_r NULL (return 0) when no
 * relayhost is set. relayhost_implicit_tls = yes gives implicit TLS on a
 * port other than 465. smarthost_check() is the same for `postel serve`
 * at start and on reload, and `postel config check`: it keeps nothing.
 *
 * smarthost_dest() gives the runner the destination for ANY recipient
 * while a relayhost is set: TLS always required and verified against
 * relayhost_ca_file (else relay_ca_file, else the system store: the
 * conn_tls_client the runner creates from smarthost_ca_file()), AUTH
 * only over TLS (smtp_client refuses AUTH without it). Brackets mean the
 * name is used as is (A/AAAA, no MX lookup), as in Postfix. */
#ifndef POSTEL_SMARTHOST_H
#define POSTEL_SMARTHOST_H

#include <stdbool.h>

struct config;
struct conn_tls_client;
struct smtp_client_dest;

#define SMARTHOST_PORT_DEFAULT 587
#define SMARTHOST_PASSWORD_MAX 255

struct smarthost {
	char *host;           /* without brackets */
	unsigned port;
	bool implicit_tls;    /* port 465 */
	char *user;           /* NULL: no AUTH */
	char *password;       /* NULL: no AUTH; wiped on free */
	char *ca_file;        /* "": the system store */
};

/* "[host]:port", "[host]", "host:port", "host", "[2001:db8::1]:587". */
int smarthost_parse(const char *spec, char **host_r, unsigned *port_r,
		    const char **error_r);
int smarthost_load(const struct config *config, struct smarthost **sh_r,
		   const char **error_r);
int smarthost_check(const struct config *config, const char **error_r);
void smarthost_free(struct smarthost **sh);
/* The CA file for the runner's conn_tls_client for the relayhost. */
const char *smarthost_ca_file(const struct smarthost *sh);
/* Fills dest for a connection to ip (an address of sh->host); tls is
 * the conn_tls_client made from smarthost_ca_file(). */
void smarthost_dest(const struct smarthost *sh, const char *ip,
		    struct conn_tls_client *tls, struct smtp_client_dest *dest);

#endif
