/* dane.h: DANE for SMTP (RFC 7672, RFC 6698): what the TLSA answer for
 * _25._tcp.<mx host> means for one connection, and the hook that makes
 * the client's TLS handshake authenticate with those records through
 * OpenSSL's DANE API.
 *
 * dane_from_answer() reads the answer (dns.h):
 *   - secure, with at least one usable record: DANE_USABLE; the
 *     connection must use TLS and authenticate with the records
 *     (dane_client_dest() sets that up), a failure defers (RFC 7672 2.2);
 *   - secure, records present, none usable (usages 0/1 are ignored, RFC
 *     7672 3.1; unknown selector/matching types): DANE_UNUSABLE, TLS is
 *     still mandatory but unauthenticated (dane_client_dest_encrypt());
 *   - insecure, NODATA, NXDOMAIN: DANE_NONE (opportunistic, RFC 7435);
 *   - FAIL (SERVFAIL, bogus) or TIMEOUT: DANE_DEFER; the runner must not
 *     send to this host now (RFC 7672 2.2: a "bogus" or indeterminate TLSA
 *     answer is not a reason to downgrade).
 * The runner asks for TLSA only when the MX host's address answer was
 * secure (RFC 7672 2.2.2).
 *
 * After the session, dane_outcome() names what happened from the peer the
 * client saw: "authenticated", "failed" (the conn then ended with
 * "tls_verify" before a byte of mail), or "none". */
#ifndef POSTEL_DANE_H
#define POSTEL_DANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct dns_answer;
struct conn_tls_peer;
struct smtp_client_dest;
struct dane_tlsa_set;

enum dane_status { DANE_NONE, DANE_USABLE, DANE_UNUSABLE, DANE_DEFER };

/* RFC 6698 2.1: usage, selector, matching type, association data. */
struct dane_tlsa {
	uint8_t usage, selector, mtype;
	const uint8_t *data;
	size_t len;
};

/* *set_r: the usable records (copied) when DANE_USABLE, else NULL. */
enum dane_status dane_from_answer(const struct dns_answer *answer,
				  struct dane_tlsa_set **set_r);
void dane_tlsa_set_free(struct dane_tlsa_set **set);
unsigned dane_tlsa_set_count(const struct dane_tlsa_set *set);
/* RFC 6698 2.1 wire form to a record; false when shorter than 4 octets. */
bool dane_tlsa_parse(const uint8_t *rdata, size_t len, struct dane_tlsa *r);
/* RFC 7672 3.1: usages 2 (DANE-TA) and 3 (DANE-EE), selector 0/1,
 * matching type 0/1/2. */
bool dane_tlsa_usable(const struct dane_tlsa *r);

/* Makes dest require TLS (STARTTLS must be offered) and authenticate with
 * set, names checked against dest->host (RFC 7672 3.2.2); set must live
 * until the client is done. */
void dane_client_dest(struct dane_tlsa_set *set, struct smtp_client_dest *dest);
/* DANE_UNUSABLE: STARTTLS still mandatory, the certificate not
 * authenticated (RFC 7672 2.2; Postfix's "encrypt" level). */
void dane_client_dest_encrypt(struct smtp_client_dest *dest);
/* The conn_tls_prepare_t hook dane_client_dest() installs (ctx = set). */
int dane_prepare_ssl(void *ssl, void *ctx);

const char *dane_status_name(enum dane_status status);
/* "authenticated", "failed" or "none" (peer NULL: no handshake). */
const char *dane_outcome(enum dane_status status, const struct conn_tls_peer *peer);

#endif
