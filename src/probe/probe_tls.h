/* probe_tls.h: the TLS client side of probe: one SSL_CTX shared by the
 * port threads, and what a handshake showed about the server.
 *
 * The handshake never stops on a bad certificate (SSL_VERIFY_NONE), so a
 * probe can still report the certificate and the capabilities after TLS;
 * the chain's verdict against the CA store (the system's, or only --cafile)
 * and the host name check (X509_check_host / X509_check_ip_asc) are
 * recorded in struct probe_cert instead. */
#ifndef POSTEL_PROBE_TLS_H
#define POSTEL_PROBE_TLS_H

#include "probe/probe.h"

/* An SSL_CTX * for clients, or NULL with *error_r. */
void *probe_tls_ctx_create(const char *cafile, const char **error_r);
void probe_tls_ctx_destroy(void **ctx);

/* Fill p's TLS version, cipher and certificate from the finished
 * handshake on ssl (an SSL *), checking the certificate against name. */
void probe_tls_inspect(struct probe_port *p, void *ssl, const char *name);

/* Days before a certificate counts as expiring soon (a warning). */
#define PROBE_CERT_WARN_DAYS 14

#endif
