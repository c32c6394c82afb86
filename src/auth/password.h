/* password.h: password hashes (libxcrypt) and SCRAM-SHA-256 keys.
 *
 * Contract: new hashes are yescrypt ("$y$"). Verification accepts any
 * hash that crypt(3) understands ($y$, $gy$, $7$, $2b$, $6$, $5$, ...) and
 * the Dovecot scheme prefixes {YESCRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT},
 * {BLF-CRYPT}, {MD5-CRYPT} and {CRYPT} (case-insensitive), so hashes can
 * be imported as they are. The comparison is constant-time. Every
 * function is thread-safe (crypt_rn() with a heap crypt_data per call),
 * and wipes its copies of secrets before returning.
 *
 * SCRAM-SHA-256 (RFC 5802 section 3, RFC 7677): the server keeps only
 * salt, iteration count, StoredKey and ServerKey. password_scram_generate()
 * applies SASLprep (RFC 4013) to the password first, as RFC 5802 2.2's
 * Normalize() asks, so that a client which prepares a non-ASCII password
 * derives the same keys; a password that SASLprep refuses (prohibited or
 * unassigned code points, not UTF-8) is used as it is. */
#ifndef POSTEL_AUTH_PASSWORD_H
#define POSTEL_AUTH_PASSWORD_H

#include <stddef.h>

#define PASSWORD_SCRAM_SALT_LEN 16
#define PASSWORD_SCRAM_SALT_MAX 64
#define PASSWORD_SCRAM_ITERATIONS 10000
/* Bounds for stored counts: RFC 7677 section 4 asks for at least 4096;
 * the upper bound keeps one login from costing seconds of CPU. */
#define PASSWORD_SCRAM_ITERATIONS_MIN 4096
#define PASSWORD_SCRAM_ITERATIONS_MAX 1000000
#define PASSWORD_SCRAM_KEY_LEN 32 /* SHA-256 output */

struct password_scram {
	unsigned char salt[PASSWORD_SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned iterations;
	unsigned char stored_key[PASSWORD_SCRAM_KEY_LEN];
	unsigned char server_key[PASSWORD_SCRAM_KEY_LEN];
};

/* Hash plain with yescrypt and a fresh random salt. *hash_r is
 * xmalloc()ed; free it. 0 on success, -1 on failure. */
int password_hash(const char *plain, char **hash_r, const char **error_r);

/* 1: plain matches stored_hash; 0: it does not; -1: stored_hash is not a
 * hash we can check (unknown scheme, malformed, disabled method). */
int password_verify(const char *plain, const char *stored_hash);

/* Check a hash before storing it (postel user add --hash).
 * 1: usable; 0: usable but weak or legacy (error_r says why);
 * -1: unusable (error_r says why). */
int password_hash_check(const char *stored_hash, const char **error_r);

/* A valid yescrypt hash of a password nobody knows, with the same cost as
 * password_hash(), to verify against when the user does not exist. */
const char *password_dummy_hash(void);

/* RFC 5802 section 3: SaltedPassword = Hi(password, salt, i) (PBKDF2 with
 * HMAC-SHA-256), ClientKey = HMAC(SaltedPassword, "Client Key"),
 * StoredKey = H(ClientKey), ServerKey = HMAC(SaltedPassword, "Server Key").
 * Fills every field of keys_r. 0 on success, -1 on failure. */
int password_scram_derive(const char *plain, size_t plain_len,
			  const unsigned char *salt, size_t salt_len,
			  unsigned iterations, struct password_scram *keys_r,
			  const char **error_r);
/* SASLprep (RFC 4013) of a UTF-8 string: 0 and a malloc()ed *out_r, or -1
 * (prohibited or unassigned code points, bidi rule, not UTF-8). */
int password_saslprep(const char *in, char **out_r);
/* password_scram_derive() of SASLprep(plain), or of plain if SASLprep
 * refuses it, with a random 16-byte salt and PASSWORD_SCRAM_ITERATIONS. */
int password_scram_generate(const char *plain, struct password_scram *keys_r,
			    const char **error_r);

#endif
