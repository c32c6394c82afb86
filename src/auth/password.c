/* password.c: see password.h. */
#include "auth/password.h"
#include "auth/password_scratch.h"
#include "lib/mem.h"

#include <crypt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stringprep.h>

/* yescrypt of 32 random bytes (hex) that were never stored, default cost
 * ("j9T"), salt from crypt_gensalt_rn("$y$", 0, ...) like password_hash().
 * sasl.c also refuses a match against it, so it is doubly unusable. */
static const char password_dummy[] =
	"$y$j9T$IO80IYiyqibYUi6uhB7680$rPWRh6L/zoO103XK35ZruyAuxJvzKlSUsV9qeNzq4xD";

/* Dovecot password scheme prefixes whose payload is a crypt(3) string. */
static const char *const password_crypt_schemes[] = {
	"{YESCRYPT}", "{SHA512-CRYPT}", "{SHA256-CRYPT}", "{BLF-CRYPT}",
	"{MD5-CRYPT}", "{CRYPT}", NULL
};

const char *password_dummy_hash(void)
{
	return password_dummy;
}

/* The crypt(3) part of stored_hash, or NULL for a "{SCHEME}" we do not
 * know (PLAIN, SSHA, ...: those are not crypt strings). */
static const char *password_strip_scheme(const char *stored_hash)
{
	if (stored_hash[0] != '{')
		return stored_hash;
	for (unsigned i = 0; password_crypt_schemes[i] != NULL; i++) {
		size_t len = strlen(password_crypt_schemes[i]);
		if (strncasecmp(stored_hash, password_crypt_schemes[i], len) == 0)
			return stored_hash + len;
	}
	return NULL;
}

/* crypt_rn() into a heap crypt_data (32 KiB: too big for worker thread
 * stacks), with yescrypt's scratch region on huge pages
 * (password_scratch.h). Returns an xmalloc()ed copy of the result or NULL when crypt
 * refuses the setting. */
static char *password_crypt(const char *plain, const char *setting)
{
	struct crypt_data *data = xcalloc(1, sizeof(*data));
	char *result = NULL;
	password_scratch_begin();
	const char *out = crypt_rn(plain, setting, data, sizeof(*data));
	password_scratch_end();

	/* libxcrypt failure tokens start with '*' */
	if (out != NULL && out[0] != '*')
		result = xstrdup(out);
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return result;
}

int password_hash(const char *plain, char **hash_r, const char **error_r)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];

	/* count 0: libxcrypt's default cost; NULL rbytes: it reads the OS RNG */
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, setting, sizeof(setting)) == NULL) {
		*error_r = "crypt_gensalt_rn($y$) failed";
		return -1;
	}
	*hash_r = password_crypt(plain, setting);
	if (*hash_r == NULL) {
		*error_r = "crypt_rn(yescrypt) failed";
		return -1;
	}
	return 0;
}

int password_verify(const char *plain, const char *stored_hash)
{
	const char *setting = password_strip_scheme(stored_hash);
	if (setting == NULL || setting[0] == '\0')
		return -1;

	char *computed = password_crypt(plain, setting);
	if (computed == NULL)
		return -1;
	size_t len = strlen(computed);
	/* the length of a hash is public (it follows from its method);
	 * only the bytes need a constant-time comparison */
	int ret = len == strlen(setting) &&
		CRYPTO_memcmp(computed, setting, len) == 0 ? 1 : 0;
	OPENSSL_cleanse(computed, len);
	free(computed);
	return ret;
}

int password_hash_check(const char *stored_hash, const char **error_r)
{
	const char *setting = password_strip_scheme(stored_hash);
	if (setting == NULL) {
		*error_r = "unsupported password scheme (only crypt(3) hashes)";
		return -1;
	}
	for (const char *p = setting; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == ':') {
			*error_r = "hash contains a character crypt(3) never produces";
			return -1;
		}
	}
	int check = crypt_checksalt(setting);
	if (setting[0] == '\0' || check == CRYPT_SALT_INVALID ||
	    check == CRYPT_SALT_METHOD_DISABLED) {
		*error_r = "not a hash this system's crypt(3) supports";
		return -1;
	}
	/* A complete hash re-hashes to a string of its own length; a bare
	 * setting or a truncated hash does not. This also catches strings
	 * that crypt would read as a DES salt ("garbage" -> "gaXXXX..."). */
	char *computed = password_crypt("", setting);
	bool complete = computed != NULL && strlen(computed) == strlen(setting);
	free(computed);
	if (!complete) {
		*error_r = "incomplete or malformed hash";
		return -1;
	}
	if (check == CRYPT_SALT_METHOD_LEGACY || check == CRYPT_SALT_TOO_CHEAP) {
		*error_r = "legacy or weak hash method; ask the user to set a new password";
		return 0;
	}
	return 1;
}

static bool password_hmac_sha256(const unsigned char *key, size_t key_len,
				 const char *msg, unsigned char out[PASSWORD_SCRAM_KEY_LEN])
{
	unsigned int out_len = 0;
	return HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
		    strlen(msg), out, &out_len) != NULL &&
		out_len == PASSWORD_SCRAM_KEY_LEN;
}

int password_scram_derive(const char *plain, size_t plain_len,
			  const unsigned char *salt, size_t salt_len,
			  unsigned iterations, struct password_scram *keys_r,
			  const char **error_r)
{
	unsigned char salted[PASSWORD_SCRAM_KEY_LEN], client_key[PASSWORD_SCRAM_KEY_LEN];
	int ret = -1;

	if (salt_len == 0 || salt_len > PASSWORD_SCRAM_SALT_MAX ||
	    iterations < 1 || iterations > PASSWORD_SCRAM_ITERATIONS_MAX ||
	    plain_len > INT32_MAX) {
		*error_r = "bad SCRAM parameters";
		return -1;
	}
	memset(keys_r, 0, sizeof(*keys_r));
	memcpy(keys_r->salt, salt, salt_len);
	keys_r->salt_len = salt_len;
	keys_r->iterations = iterations;

	/* RFC 5802 section 2.2: Hi() is PBKDF2 with HMAC as the PRF */
	if (PKCS5_PBKDF2_HMAC(plain, (int)plain_len, salt, (int)salt_len,
			      (int)iterations, EVP_sha256(), sizeof(salted),
			      salted) != 1 ||
	    !password_hmac_sha256(salted, sizeof(salted), "Client Key", client_key) ||
	    SHA256(client_key, sizeof(client_key), keys_r->stored_key) == NULL ||
	    !password_hmac_sha256(salted, sizeof(salted), "Server Key", keys_r->server_key)) {
		*error_r = "SCRAM key derivation failed";
		goto out;
	}
	ret = 0;
out:
	OPENSSL_cleanse(salted, sizeof(salted));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	return ret;
}

int password_saslprep(const char *in, char **out_r)
{
	char *out = NULL;
	/* RFC 4013 section 2 (SASLprep) on stored strings: unassigned code
	 * points are prohibited (RFC 3454 section 7) */
	if (stringprep_profile(in, &out, "SASLprep", STRINGPREP_NO_UNASSIGNED) !=
	    STRINGPREP_OK) {
		free(out);
		*out_r = NULL;
		return -1;
	}
	*out_r = out;
	return 0;
}

int password_scram_generate(const char *plain, struct password_scram *keys_r,
			    const char **error_r)
{
	unsigned char salt[PASSWORD_SCRAM_SALT_LEN];
	char *prepared;

	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		*error_r = "RAND_bytes failed";
		return -1;
	}
	if (password_saslprep(plain, &prepared) == 0)
		plain = prepared;
	int ret = password_scram_derive(plain, strlen(plain), salt, sizeof(salt),
					PASSWORD_SCRAM_ITERATIONS, keys_r, error_r);
	if (prepared != NULL) {
		OPENSSL_cleanse(prepared, strlen(prepared));
		free(prepared);
	}
	return ret;
}
