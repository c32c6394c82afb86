/* dkim_sign.h: DKIM-Signature fields for a message (RFC 6376 5, RFC 8463).
 *
 * Contract: the message (header section, empty line, body; CRLF line
 * ends, as it will be sent) is fed in pieces of any size. The header
 * section is kept up to DKIM_HEADER_MAX bytes; the body only passes
 * through the relaxed body canonicaliser into SHA-256, so memory stays
 * bounded whatever the body's size. Afterwards dkim_sign_from_domain()
 * gives the domain of the single From: address, and dkim_sign_field()
 * appends one "DKIM-Signature: ...\r\n" per key: c=relaxed/relaxed, t=,
 * no l= (a body that grows after signing fails), h= every present field
 * of DKIM_SIGNED_FIELDS once per instance and From once more (RFC 6376
 * 8.15: an added From: breaks the signature), lines folded at 78.
 *
 * Errors: -1 and a temporary *error_r (too big a header section, no or
 * several From: addresses, a signing failure). */
#ifndef POSTEL_DKIM_SIGN_H
#define POSTEL_DKIM_SIGN_H

#include <stddef.h>
#include <time.h>

#include "dkim/dkim_key.h"
#include "lib/str.h"

#define DKIM_HEADER_MAX (256 * 1024)

struct dkim_sign;

struct dkim_sign *dkim_sign_begin(void);
void dkim_sign_feed(struct dkim_sign *ds, const void *data, size_t len);
/* After the last piece. The domain is lower case and dkim_domain_valid. */
int dkim_sign_from_domain(struct dkim_sign *ds, const char **domain_r,
			  const char **error_r);
/* key->domain is d=; the From: domain or a parent of it for alignment. */
int dkim_sign_field(struct dkim_sign *ds, const struct dkim_key *key, time_t t,
		    str_t *out, const char **error_r);
void dkim_sign_free(struct dkim_sign **ds);

/* The bytes a signature signs: the relaxed fields names[] select (the
 * last unused instance of each), each with CRLF, then the relaxed
 * sig_field (a DKIM-Signature field with b= empty) without CRLF. */
void dkim_sign_header_data(struct dkim_sign *ds, const char *const *names, unsigned count,
			   const char *sig_field, size_t sig_len, str_t *data);
/* The body hash (after the last piece). */
const unsigned char *dkim_sign_body_hash(struct dkim_sign *ds);

/* The base64 signature of data (canonical header fields) with key:
 * rsa-sha256 signs SHA-256(data) with PKCS#1 v1.5; ed25519-sha256 signs
 * SHA-256(data) with PureEdDSA (RFC 8463 3). */
int dkim_sign_data(const struct dkim_key *key, const void *data, size_t len,
		   str_t *b64_out, const char **error_r);

#endif
