/* sasl_scram.c: SCRAM-SHA-256 (RFC 5802 with RFC 7677), server side,
 * without channel binding.
 *
 *   C: client-first  = gs2-header client-first-bare  (n=user,r=cnonce)
 *   S: server-first  = r=cnonce+snonce,s=salt,i=count
 *   C: client-final  = c=base64(gs2-header),r=nonce,p=proof
 *   S: server-final  = v=ServerSignature               (SASL_OK)
 *
 * We offer no SCRAM-SHA-256-PLUS, so gs2 flags "n" and "y" are accepted
 * and "p=" is refused (RFC 5802 section 6). Once -PLUS is offered, "y"
 * must be refused. Unknown users and users without SCRAM keys get a salt
 * derived from a per-database secret and the name, so repeated tries see
 * the same salt, and they fail at the proof like a wrong password
 * (RFC 5802 section 9). */
#include "auth/sasl_private.h"
#include "auth/userdb.h"
#include "lib/base64.h"

#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#define SCRAM_MESSAGE_MAX 2048
#define SCRAM_SERVER_NONCE_BYTES 18 /* 24 base64 characters */

const char *sasl_scram_test_server_nonce = NULL;

enum sasl_scram_state {
	SASL_SCRAM_START,
	SASL_SCRAM_CLIENT_FIRST,
	SASL_SCRAM_CLIENT_FINAL,
};

/* The value of "<attr>=value" at *pos, up to the next ',' or the end;
 * *pos moves past the ','. NULL when the attribute is not there. */
static const char *scram_attr(struct sasl_server *srv, const char **pos, char attr)
{
	const char *p = *pos;
	if (p == NULL || p[0] != attr || p[1] != '=')
		return NULL;
	const char *end = strchr(p, ',');
	size_t len = end == NULL ? strlen(p + 2) : (size_t)(end - p - 2);
	*pos = end == NULL ? NULL : end + 1;
	return pool_strndup(srv->pool, p + 2, len);
}

/* RFC 5802 section 5.1 saslname: "=2C" is ',', "=3D" is '=', any other
 * '=' is an error. NULL when malformed. */
static const char *scram_saslname_decode(struct sasl_server *srv, const char *in)
{
	size_t len = strlen(in), o = 0;
	char *out = pool_alloc(srv->pool, len + 1);

	for (size_t i = 0; i < len; i++) {
		if (in[i] != '=') {
			out[o++] = in[i];
		} else if (strncmp(in + i, "=2C", 3) == 0) {
			out[o++] = ',';
			i += 2;
		} else if (strncmp(in + i, "=3D", 3) == 0) {
			out[o++] = '=';
			i += 2;
		} else {
			return NULL;
		}
	}
	out[o] = '\0';
	if (o == 0 || o > SASL_FIELD_MAX || !sasl_utf8_valid((const unsigned char *)out, o))
		return NULL;
	return out;
}

/* RFC 5802 section 7: printable ASCII except ',' */
static bool scram_nonce_valid(const char *nonce)
{
	if (nonce == NULL || nonce[0] == '\0' || strlen(nonce) > SASL_FIELD_MAX)
		return false;
	for (const char *p = nonce; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e || *p == ',')
			return false;
	}
	return true;
}

static bool scram_hmac(const unsigned char *key, const char *msg,
		       unsigned char out[PASSWORD_SCRAM_KEY_LEN])
{
	unsigned int len = 0;
	return HMAC(EVP_sha256(), key, PASSWORD_SCRAM_KEY_LEN, (const unsigned char *)msg,
		    strlen(msg), out, &len) != NULL && len == PASSWORD_SCRAM_KEY_LEN;
}

/* Keys for a user who cannot succeed: salt = HMAC(secret, lower(name)),
 * so case variants of one name get one salt, as real users do; random
 * keys that no proof matches. */
static int scram_fake_keys(struct sasl_server *srv, struct userdb *db,
			   const char *username)
{
	struct password_scram *keys = &srv->scram_keys;
	unsigned char mac[PASSWORD_SCRAM_KEY_LEN];
	char *lower = pool_strdup(srv->pool, username);

	for (char *p = lower; *p != '\0'; p++) {
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	}
	memset(keys, 0, sizeof(*keys));
	if (!scram_hmac(userdb_secret(db), lower, mac) ||
	    RAND_bytes(keys->stored_key, sizeof(keys->stored_key)) != 1 ||
	    RAND_bytes(keys->server_key, sizeof(keys->server_key)) != 1)
		return -1;
	memcpy(keys->salt, mac, PASSWORD_SCRAM_SALT_LEN);
	keys->salt_len = PASSWORD_SCRAM_SALT_LEN;
	keys->iterations = PASSWORD_SCRAM_ITERATIONS;
	return 0;
}

static enum sasl_result scram_client_first(struct sasl_server *srv, const char *msg,
					   str_t *challenge, const char **error_r)
{
	const char *pos = msg, *authzid = NULL, *username, *cnonce;
	(void)challenge; /* server-first comes from scram_lookup_work() */

	/* RFC 5802 section 7 gs2-header: cbind-flag "," [authzid] "," */
	if (msg[0] == 'p')
		return sasl_server_fail(srv, "SCRAM channel binding requested but not offered",
					error_r);
	if ((msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
		return sasl_server_fail(srv, "SCRAM bad gs2 header", error_r);
	pos = msg + 2;
	if (pos[0] != ',') {
		const char *a = scram_attr(srv, &pos, 'a');
		if (a == NULL || pos == NULL || (authzid = scram_saslname_decode(srv, a)) == NULL)
			return sasl_server_fail(srv, "SCRAM bad authzid", error_r);
	} else {
		pos++;
	}
	srv->scram_gs2_header = pool_strndup(srv->pool, msg, (size_t)(pos - msg));
	srv->scram_client_first_bare = pool_strdup(srv->pool, pos);

	/* RFC 5802 section 5.1 "m": mandatory extension, must fail */
	if (pos[0] == 'm')
		return sasl_server_fail(srv, "SCRAM mandatory extension not supported", error_r);
	const char *n = scram_attr(srv, &pos, 'n');
	if (n == NULL || pos == NULL || (username = scram_saslname_decode(srv, n)) == NULL)
		return sasl_server_fail(srv, "SCRAM bad username", error_r);
	cnonce = scram_attr(srv, &pos, 'r');
	if (!scram_nonce_valid(cnonce))
		return sasl_server_fail(srv, "SCRAM bad client nonce", error_r);
	/* any further attributes are optional extensions: ignored */
	if (authzid != NULL && strcasecmp(authzid, username) != 0)
		return sasl_server_fail(srv, "SCRAM authzid differs from username", error_r);

	srv->attempt_user = username;
	srv->scram_cnonce = cnonce;
	/* the salt and iteration count are the account's: the rest of
	 * this step runs in scram_lookup_work(), off the event loop */
	return SASL_LOOKUP;
}

/* On a worker thread: the account's keys (or stable fake ones), then the
 * server-first message. */
static void scram_lookup_work(struct sasl_server *srv, struct userdb *db)
{
	struct userdb_auth auth;
	const char *error;

	int ret = userdb_auth_lookup(db, srv->attempt_user, srv->pool, &auth, &error);
	if (ret < 0) {
		sasl_server_work_fail(srv, true, t_printf("user lookup failed: %s", error));
		return;
	}
	srv->scram_user_known = ret > 0 && auth.has_scram;
	if (srv->scram_user_known) {
		srv->scram_keys = auth.scram;
		srv->scram_user = auth.address;
	}
	OPENSSL_cleanse(&auth.scram, sizeof(auth.scram));
	if (!srv->scram_user_known && scram_fake_keys(srv, db, srv->attempt_user) < 0) {
		sasl_server_work_fail(srv, true, "SCRAM fake key generation failed");
		return;
	}

	str_t server_first = STR_INIT;
	str_printf(&server_first, "r=%s", srv->scram_cnonce);
	if (sasl_scram_test_server_nonce != NULL) {
		str_appendz(&server_first, sasl_scram_test_server_nonce);
	} else {
		unsigned char rnd[SCRAM_SERVER_NONCE_BYTES];
		if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
			str_free(&server_first);
			sasl_server_work_fail(srv, true, "RAND_bytes failed");
			return;
		}
		base64_encode(rnd, sizeof(rnd), &server_first);
	}
	srv->scram_nonce = pool_strdup(srv->pool, str_c(&server_first) + 2);
	str_appendz(&server_first, ",s=");
	base64_encode(srv->scram_keys.salt, srv->scram_keys.salt_len, &server_first);
	str_printf(&server_first, ",i=%u", srv->scram_keys.iterations);
	srv->scram_server_first = pool_strdup(srv->pool, str_c(&server_first));
	str_free(&server_first);
	srv->work_challenge = srv->scram_server_first;
	srv->state = SASL_SCRAM_CLIENT_FINAL;
	srv->work_result = SASL_CONTINUE;
}

static enum sasl_result scram_client_final(struct sasl_server *srv, const char *msg,
					   str_t *challenge, const char **error_r)
{
	unsigned char signature[PASSWORD_SCRAM_KEY_LEN], client_key[PASSWORD_SCRAM_KEY_LEN];
	unsigned char stored_key[PASSWORD_SCRAM_KEY_LEN];
	const char *pos = msg, *proof_pos;
	str_t cbind = STR_INIT, proof = STR_INIT;
	enum sasl_result ret;

	/* RFC 5802 section 7: proof is the last attribute */
	proof_pos = strstr(msg, ",p=");
	if (proof_pos == NULL || strchr(proof_pos + 1, ',') != NULL)
		return sasl_server_fail(srv, "SCRAM final message without proof", error_r);
	const char *without_proof = pool_strndup(srv->pool, msg, (size_t)(proof_pos - msg));
	const char *c = scram_attr(srv, &pos, 'c');
	const char *r = scram_attr(srv, &pos, 'r');
	const char *p = proof_pos + 3;

	/* c= must repeat our gs2 header: no channel binding data */
	if (c == NULL || base64_decode(c, strlen(c), &cbind) < 0 ||
	    strcmp(str_c(&cbind), srv->scram_gs2_header) != 0 ||
	    cbind.len != strlen(srv->scram_gs2_header)) {
		ret = sasl_server_fail(srv, "SCRAM channel binding mismatch", error_r);
		goto out;
	}
	if (r == NULL || strcmp(r, srv->scram_nonce) != 0) {
		ret = sasl_server_fail(srv, "SCRAM nonce mismatch", error_r);
		goto out;
	}
	if (base64_decode(p, strlen(p), &proof) < 0 || proof.len != PASSWORD_SCRAM_KEY_LEN) {
		ret = sasl_server_fail(srv, "SCRAM malformed proof", error_r);
		goto out;
	}

	/* RFC 5802 section 3: ClientKey = ClientProof XOR
	 * HMAC(StoredKey, AuthMessage); it must hash to StoredKey */
	const char *auth_message = t_printf("%s,%s,%s", srv->scram_client_first_bare,
					    srv->scram_server_first, without_proof);
	if (!scram_hmac(srv->scram_keys.stored_key, auth_message, signature)) {
		srv->temp_failure = true;
		ret = sasl_server_fail(srv, "SCRAM HMAC failed", error_r);
		goto out;
	}
	for (unsigned i = 0; i < PASSWORD_SCRAM_KEY_LEN; i++)
		client_key[i] = (unsigned char)proof.data[i] ^ signature[i];
	SHA256(client_key, sizeof(client_key), stored_key);
	if (CRYPTO_memcmp(stored_key, srv->scram_keys.stored_key, sizeof(stored_key)) != 0 ||
	    !srv->scram_user_known) {
		ret = sasl_server_fail(srv, srv->scram_user_known ? "password mismatch" :
				       "unknown user or no SCRAM keys", error_r);
		goto out;
	}
	/* server-final: v=ServerSignature, HMAC(ServerKey, AuthMessage) */
	if (!scram_hmac(srv->scram_keys.server_key, auth_message, signature)) {
		srv->temp_failure = true;
		ret = sasl_server_fail(srv, "SCRAM HMAC failed", error_r);
		goto out;
	}
	str_appendz(challenge, "v=");
	base64_encode(signature, sizeof(signature), challenge);
	srv->user = srv->scram_user;
	ret = SASL_OK;
out:
	OPENSSL_cleanse(signature, sizeof(signature));
	OPENSSL_cleanse(client_key, sizeof(client_key));
	if (proof.data != NULL)
		OPENSSL_cleanse(proof.data, proof.len);
	str_free(&cbind);
	str_free(&proof);
	return ret;
}

static enum sasl_result sasl_scram_step(struct sasl_server *srv, bool has_input,
					const unsigned char *in, size_t in_len,
					str_t *challenge, const char **error_r)
{
	if (srv->state == SASL_SCRAM_START && !has_input) {
		/* RFC 4422 section 5: the client speaks first; ask for it */
		srv->state = SASL_SCRAM_CLIENT_FIRST;
		return SASL_CONTINUE;
	}
	if (in_len == 0 || in_len > SCRAM_MESSAGE_MAX || !sasl_utf8_valid(in, in_len))
		return sasl_server_fail(srv, "SCRAM message empty, too long or not UTF-8",
					error_r);
	const char *msg = pool_strndup(srv->pool, (const char *)in, in_len);

	switch ((enum sasl_scram_state)srv->state) {
	case SASL_SCRAM_START:
	case SASL_SCRAM_CLIENT_FIRST:
		return scram_client_first(srv, msg, challenge, error_r);
	case SASL_SCRAM_CLIENT_FINAL:
		return scram_client_final(srv, msg, challenge, error_r);
	}
	return sasl_server_fail(srv, "SCRAM in a bad state", error_r);
}

const struct sasl_mech sasl_mech_scram_sha256 = {
	.name = "SCRAM-SHA-256",
	.step = sasl_scram_step,
	.work = scram_lookup_work,
};
