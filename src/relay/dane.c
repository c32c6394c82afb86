/* dane.c: TLSA answers to a DANE policy, and the SSL hook that hands the
 * records to OpenSSL (SSL_dane_enable, SSL_dane_tlsa_add). See dane.h. */
#include "relay/dane.h"
#include "dns/dns.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "relay/smtp_client.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define DANE_TLSA_MAX 32 /* records kept per host; more are ignored */

struct dane_tlsa_set {
	unsigned count;
	struct dane_tlsa rec[DANE_TLSA_MAX];
	uint8_t *data[DANE_TLSA_MAX];
};

bool dane_tlsa_parse(const uint8_t *rdata, size_t len, struct dane_tlsa *r)
{
	if (len < 4) /* RFC 6698 2.1: 3 octets, then the data (not empty) */
		return false;
	r->usage = rdata[0];
	r->selector = rdata[1];
	r->mtype = rdata[2];
	r->data = rdata + 3;
	r->len = len - 3;
	return true;
}

bool dane_tlsa_usable(const struct dane_tlsa *r)
{
	/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP */
	if (r->usage != 2 && r->usage != 3)
		return false;
	if (r->selector > 1 || r->mtype > 2)
		return false;
	/* RFC 6698 2.1.3: SHA-256 and SHA-512 digests have fixed lengths */
	return (r->mtype == 1 && r->len == 32) || (r->mtype == 2 && r->len == 64) ||
		(r->mtype == 0 && r->len > 0);
}

enum dane_status dane_from_answer(const struct dns_answer *a,
				  struct dane_tlsa_set **set_r)
{
	*set_r = NULL;
	switch (a->result) {
	case DNS_RESULT_FAIL:
	case DNS_RESULT_TIMEOUT:
		return DANE_DEFER;
	case DNS_RESULT_NODATA:
	case DNS_RESULT_NXDOMAIN:
		return DANE_NONE;
	case DNS_RESULT_DATA:
		break;
	}
	if (a->security == DNS_BOGUS)
		return DANE_DEFER;
	if (a->security != DNS_SECURE || a->count == 0)
		return DANE_NONE; /* RFC 7672 2.2: only validated records count */
	struct dane_tlsa_set *set = xcalloc(1, sizeof(*set));
	for (unsigned i = 0; i < a->count && set->count < DANE_TLSA_MAX; i++) {
		struct dane_tlsa r;
		if (!dane_tlsa_parse(a->data[i], a->len[i], &r) || !dane_tlsa_usable(&r))
			continue;
		set->data[set->count] = xmalloc(r.len);
		memcpy(set->data[set->count], r.data, r.len);
		r.data = set->data[set->count];
		set->rec[set->count++] = r;
	}
	if (set->count == 0) {
		dane_tlsa_set_free(&set);
		return DANE_UNUSABLE;
	}
	*set_r = set;
	return DANE_USABLE;
}

void dane_tlsa_set_free(struct dane_tlsa_set **setp)
{
	struct dane_tlsa_set *set = *setp;
	if (set == NULL)
		return;
	for (unsigned i = 0; i < set->count; i++)
		free(set->data[i]);
	free(set);
	*setp = NULL;
}

unsigned dane_tlsa_set_count(const struct dane_tlsa_set *set)
{
	return set != NULL ? set->count : 0;
}

int dane_prepare_ssl(void *vssl, void *ctx)
{
	SSL *ssl = vssl;
	const struct dane_tlsa_set *set = ctx;
	/* the SNI/host name set by conn_client.c is the reference identifier
	 * (RFC 7672 3.2.2: the MX host name) */
	const char *name = X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0);
	if (name == NULL)
		name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	/* a copy: SSL_dane_enable() replaces (frees) the param's host list */
	char host[256];
	if (name == NULL || strlen(name) >= sizeof(host) ||
	    snprintf(host, sizeof(host), "%s", name) < 0 ||
	    SSL_dane_enable(ssl, host) <= 0) {
		ERR_clear_error();
		log_info("event=dane_error reason=\"cannot enable DANE\"");
		return -1;
	}
	/* RFC 7672 3.1.1: DANE-EE(3) ignores the names in the certificate */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	int added = 0;
	for (unsigned i = 0; i < set->count; i++) {
		const struct dane_tlsa *r = &set->rec[i];
		if (SSL_dane_tlsa_add(ssl, r->usage, r->selector, r->mtype,
				      r->data, r->len) > 0)
			added++;
	}
	ERR_clear_error();
	if (added == 0) {
		log_info("event=dane_error host=%s reason=\"no TLSA record accepted\"",
			 log_value(host, strlen(host)));
		return -1;
	}
	return 0;
}

void dane_client_dest(struct dane_tlsa_set *set, struct smtp_client_dest *dest)
{
	/* RFC 7672 2.2: STARTTLS is mandatory, verification by the records */
	if (dest->tls_mode != SMTP_CLIENT_TLS_IMPLICIT)
		dest->tls_mode = SMTP_CLIENT_TLS_REQUIRED;
	dest->tls_prepare = dane_prepare_ssl;
	dest->tls_prepare_ctx = set;
}

void dane_client_dest_encrypt(struct smtp_client_dest *dest)
{
	if (dest->tls_mode != SMTP_CLIENT_TLS_IMPLICIT)
		dest->tls_mode = SMTP_CLIENT_TLS_ENCRYPT;
}

const char *dane_status_name(enum dane_status status)
{
	static const char *const names[] = { "none", "usable", "unusable", "defer" };
	return (unsigned)status < 4 ? names[status] : "?";
}

const char *dane_outcome(enum dane_status status, const struct conn_tls_peer *peer)
{
	if (status != DANE_USABLE)
		return "none";
	return peer != NULL && peer->dane ? "authenticated" : "failed";
}
