/* tls.h: OpenSSL 3 server contexts.
 *
 * tls_ctx_create() loads cert+key (or generates a self-signed certificate
 * for hostname into the data directory on first use and logs its SHA-256
 * fingerprint). Only TLS 1.2 and 1.3. SSL_MODE_RELEASE_BUFFERS is set so
 * idle connections hold no TLS buffers. ALPN: a client that offers ALPN
 * without any mail protocol ("smtp", "imap", "pop3") is refused (ALPACA).
 * tls_ctx_reload() swaps in the certificate files again (SIGHUP). */
#ifndef POSTEL_TLS_H
#define POSTEL_TLS_H

struct tls_ctx;

struct tls_ctx *tls_ctx_create(const char *cert_file, const char *key_file,
			       const char *data_dir, const char *hostname,
			       const char **error_r);
/* What `config check` asks: the certificate and key load and match, as
 * tls_ctx_create() would load them (the self-signed pair only when it
 * exists and names hostname). -1 with error_r where serve would fail;
 * note_r (NULL if none) for what still works but deserves a look: a
 * certificate that has expired or does not name hostname, or a
 * self-signed one serve will make. Changes nothing. */
int tls_check(const char *cert_file, const char *key_file, const char *data_dir,
	      const char *hostname, const char **note_r, const char **error_r);
int tls_ctx_reload(struct tls_ctx *ctx, const char **error_r);
void tls_ctx_destroy(struct tls_ctx **ctx);
/* The ALPN protocol ("imap", ...) the server handshake steps this thread
 * runs next must see, NULL after them (none: ALPN is not answered). */
void tls_alpn_expect(const char *proto);
/* The OpenSSL SSL_CTX*, for conn.c */
void *tls_ctx_ssl_ctx(struct tls_ctx *ctx);

#endif
