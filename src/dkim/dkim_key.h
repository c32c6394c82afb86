/* dkim_key.h: DKIM signing keys in DATA_DIR/dkim/<domain>/<selector>.key.
 *
 * Layout: DATA_DIR/dkim/ and each DATA_DIR/dkim/<domain>/ are root's,
 * mode 0750, group run_user's; each key is a PEM PKCS#8 private key,
 * root:<run_user's group>, mode 0640, so workers can read but never
 * change or add keys. Every *.key in a domain's directory signs (an
 * RSA and an Ed25519 key side by side give two signatures, as RFC 8463
 * 3 suggests); keys are taken in name order, at most DKIM_KEYS_MAX.
 *
 * Names: a domain is lower-case letters, digits, '-' and '.', labels not
 * empty (dkim_domain_valid); a selector letters, digits, '-', '_', '.'
 * (RFC 6376 3.1 sub-domain syntax, without the dots leading or doubled).
 * Both become path components only after these checks.
 *
 * Errors: -1 and a temporary *error_r. */
#ifndef POSTEL_DKIM_KEY_H
#define POSTEL_DKIM_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "lib/str.h"

#define DKIM_KEYS_MAX 4
#define DKIM_DOMAIN_MAX 253
#define DKIM_SELECTOR_MAX 63
#define DKIM_KEY_FILE_MAX (64 * 1024)
#define DKIM_RSA_BITS 2048

enum dkim_key_type {
	DKIM_KEY_RSA,     /* a=rsa-sha256 */
	DKIM_KEY_ED25519, /* a=ed25519-sha256 (RFC 8463) */
};

typedef struct evp_pkey_st EVP_PKEY;

struct dkim_key {
	char domain[DKIM_DOMAIN_MAX + 1];
	char selector[DKIM_SELECTOR_MAX + 1];
	enum dkim_key_type type;
	EVP_PKEY *pkey;
};

bool dkim_domain_valid(const char *domain);
bool dkim_selector_valid(const char *selector);
const char *dkim_key_type_name(enum dkim_key_type type); /* "rsa", "ed25519" */

/* Loads every key of domain (lower case) into keys[]; *count_r = 0 and a
 * 0 return when the domain has none (no directory). */
int dkim_keys_load(const char *data_dir, const char *domain, struct dkim_key *keys,
		   unsigned max, unsigned *count_r, const char **error_r);
/* Reads a PEM private key (for tests and the loader). */
int dkim_key_from_pem(const char *pem, size_t len, struct dkim_key *key,
		      const char **error_r);
void dkim_key_clear(struct dkim_key *key);

/* A new key of that type (RSA: DKIM_RSA_BITS). */
int dkim_key_generate(enum dkim_key_type type, struct dkim_key *key,
		      const char **error_r);
/* PEM PKCS#8 of the private key. */
int dkim_key_private_pem(const struct dkim_key *key, str_t *out, const char **error_r);
/* RFC 6376 3.6.1 / RFC 8463 4.2: "v=DKIM1; k=rsa; p=BASE64" */
int dkim_key_dns_record(const struct dkim_key *key, str_t *out, const char **error_r);
/* The record as a TXT rdata: quoted strings of at most 255 octets each
 * (RFC 1035 3.3.14; RFC 6376 3.6.2.2 joins them), separated by spaces. */
void dkim_txt_strings(const char *record, size_t len, str_t *out);

#endif
