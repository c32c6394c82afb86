/* probe_tls.c: TLS client context and certificate inspection. See
 * probe_tls.h. */
#include "probe/probe_tls.h"
#include "dns/dns_parse.h"

#include <arpa/inet.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

void *probe_tls_ctx_create(const char *cafile, const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL) {
		*error_r = "cannot create a TLS context";
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	int ok = cafile != NULL ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
				: SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		char buf[256];
		ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
		ERR_clear_error();
		*error_r = t_printf("cannot load CA certificates%s%s: %s",
				    cafile != NULL ? " from " : "",
				    cafile != NULL ? cafile : "", buf);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

void probe_tls_ctx_destroy(void **ctx)
{
	SSL_CTX_free(*ctx);
	*ctx = NULL;
}

static char *probe_x509_name(pool_t *pool, X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;

	if (bio == NULL)
		return pool_strdup(pool, "?");
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	long len = BIO_get_mem_data(bio, &data);
	char *out = probe_text_safe(pool, data, len > 0 ? (size_t)len : 0, 512);
	BIO_free(bio);
	return out;
}

static bool probe_name_matches(X509 *cert, const char *name)
{
	unsigned char buf[16];
	if (inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1)
		return X509_check_ip_asc(cert, name, 0) == 1;
	return X509_check_host(cert, name, strlen(name), 0, NULL) == 1;
}

/* RFC 5280 4.2.1.6: the DNS names and IP addresses a certificate is for. */
static void probe_cert_names(pool_t *pool, struct probe_cert *c, X509 *cert)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int count = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;

	for (int i = 0; i < count; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		char ip[INET6_ADDRSTRLEN];
		char *name = NULL;

		if (gn->type == GEN_DNS) {
			name = dns_text_safe(pool, (const char *)ASN1_STRING_get0_data(gn->d.dNSName),
					     (size_t)ASN1_STRING_length(gn->d.dNSName), 255);
		} else if (gn->type == GEN_IPADD) {
			int len = ASN1_STRING_length(gn->d.iPAddress);
			const unsigned char *d = ASN1_STRING_get0_data(gn->d.iPAddress);
			if ((len == 4 || len == 16) &&
			    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, ip, sizeof(ip)) != NULL)
				name = pool_strdup(pool, ip);
		}
		if (name == NULL)
			continue;
		if (c->name_count == PROBE_CERT_NAMES_MAX) {
			c->names_truncated = true;
			break;
		}
		c->names[c->name_count++] = name;
	}
	GENERAL_NAMES_free(sans);
}

void probe_tls_inspect(struct probe_port *p, void *ssl_ptr, const char *name)
{
	SSL *ssl = ssl_ptr;
	struct probe_cert *c = &p->cert;

	p->tls_done = true;
	p->tls_version = pool_strdup(p->pool, SSL_get_version(ssl));
	p->tls_cipher = pool_strdup(p->pool, SSL_get_cipher_name(ssl));
	X509 *cert = SSL_get1_peer_certificate(ssl);
	if (cert == NULL)
		return;
	c->present = true;
	c->subject = probe_x509_name(p->pool, X509_get_subject_name(cert));
	c->issuer = probe_x509_name(p->pool, X509_get_issuer_name(cert));
	const ASN1_TIME *not_after = X509_get0_notAfter(cert);
	struct tm tm;
	if (ASN1_TIME_to_tm(not_after, &tm) == 1) {
		char buf[64];
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
		c->not_after = pool_strdup(p->pool, buf);
	}
	int days = 0, secs = 0;
	if (ASN1_TIME_diff(&days, &secs, NULL, not_after) == 1)
		c->days_left = days - (secs < 0 ? 1 : 0);
	long result = SSL_get_verify_result(ssl);
	c->chain_ok = result == X509_V_OK;
	if (!c->chain_ok)
		c->verify_error = pool_strdup(p->pool,
					      X509_verify_cert_error_string(result));
	c->name_ok = probe_name_matches(cert, name);
	probe_cert_names(p->pool, c, cert);
	X509_free(cert);
}
