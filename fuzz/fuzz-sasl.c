/* fuzz-sasl.c: libFuzzer target for the SASL server mechanisms (sasl.h).
 *
 * A userdb in a temporary directory, made once, holds one user,
 * FUZZ_USER, with a yescrypt hash and SCRAM-SHA-256 keys of FUZZ_PASSWORD.
 * Input: byte 0 picks the mechanism (bits 0-1: PLAIN, LOGIN,
 * SCRAM-SHA-256, scram-sha-256), whether the first message is an initial
 * response (bit 2) and whether this harness fills in a SCRAM proof (bit
 * 3: a client-final message ending in ",p=*" gets the correct proof for
 * the exchange so far, so the fuzzer can reach success and go past it).
 * The rest is split at "\xff\xff" into up to 4 client messages. The
 * server nonce is fixed (sasl_scram_test_server_nonce) so inputs replay.
 * VERIFY and LOOKUP are run as the protocol code would:
 * sasl_server_work() (here on the same thread), then
 * sasl_server_work_finish(). Invariants, checked with abort():
 *   - SASL_OK from PLAIN or LOGIN only when the input holds FUZZ_PASSWORD
 *     (memmem), and more precisely only when the verified message had
 *     exactly that password for a name equal to FUZZ_USER ignoring case;
 *     and such a message always succeeds;
 *   - SASL_OK from SCRAM only when the proof sent is the one computed
 *     here from the real ClientKey over the actual AuthMessage, and the
 *     server signature is then the right one; the canonical exchange
 *     with the filled-in proof always succeeds;
 *   - SASL_VERIFY only from PLAIN and LOGIN; challenges are what each
 *     mechanism promises ("", "Username:", "Password:", "r=...");
 *   - sasl_server_user() is FUZZ_USER after OK and NULL otherwise;
 *     a failure is never "temporary" (the database works); any step
 *     after the end fails; error_r is set on failure and never holds the
 *     password;
 *   - no leaks (LeakSanitizer, per input). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/sasl_private.h"
#include "auth/userdb.h"
#include "auth/test-userdb-dir.h"
#include "lib/base64.h"
#include "lib/mem.h"
#include "lib/str.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_USER "Fuzz=User@example.org"
#define FUZZ_USER_SASLNAME "Fuzz=3DUser@example.org"
#define FUZZ_PASSWORD "fuzz-secret-pw"
#define FUZZ_SERVER_NONCE "FuzzServerNonce+0123456789"
#define MAX_MESSAGES 4

static char fuzz_dir[] = "/tmp/fuzz-sasl.XXXXXX";
static struct userdb *db;
static struct password_scram keys;
static unsigned char client_key[PASSWORD_SCRAM_KEY_LEN];

static void cleanup(void)
{
	userdb_close(&db);
	test_userdb_dir_remove(fuzz_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char salted[PASSWORD_SCRAM_KEY_LEN], check[SHA256_DIGEST_LENGTH];
	const char *error = "?";
	unsigned int len = 0;
	char *hash;

	(void)argc;
	(void)argv;
	if (mkdtemp(fuzz_dir) == NULL || userdb_open(fuzz_dir, &db, &error) < 0 ||
	    password_hash(FUZZ_PASSWORD, &hash, &error) < 0 ||
	    password_scram_generate(FUZZ_PASSWORD, &keys, &error) < 0 ||
	    userdb_user_add(db, FUZZ_USER, hash, &keys, &error) != 1) {
		fprintf(stderr, "fuzz-sasl setup: %s\n", error);
		abort();
	}
	free(hash);
	atexit(cleanup);
	/* The client's side of RFC 5802 section 3, to make proofs; it must
	 * agree with the StoredKey the server keeps. */
	if (PKCS5_PBKDF2_HMAC(FUZZ_PASSWORD, strlen(FUZZ_PASSWORD), keys.salt,
			      (int)keys.salt_len, (int)keys.iterations, EVP_sha256(),
			      sizeof(salted), salted) != 1 ||
	    HMAC(EVP_sha256(), salted, sizeof(salted),
		 (const unsigned char *)"Client Key", 10, client_key, &len) == NULL ||
	    len != sizeof(client_key))
		abort();
	SHA256(client_key, sizeof(client_key), check);
	if (memcmp(check, keys.stored_key, sizeof(check)) != 0)
		abort();
	sasl_scram_test_server_nonce = FUZZ_SERVER_NONCE;
	return 0;
}

struct message {
	const unsigned char *data;
	size_t len;
};

static unsigned split_messages(const uint8_t *data, size_t size,
			       struct message msgs[MAX_MESSAGES])
{
	unsigned n = 0;

	while (n < MAX_MESSAGES - 1) {
		const uint8_t *sep = memmem(data, size, "\xff\xff", 2);
		if (sep == NULL)
			break;
		msgs[n].data = data;
		msgs[n++].len = (size_t)(sep - data);
		size -= (size_t)(sep - data) + 2;
		data = sep + 2;
	}
	msgs[n].data = data;
	msgs[n++].len = size;
	return n;
}

static bool msg_is(const struct message *m, const char *s)
{
	return m->len == strlen(s) && memcmp(m->data, s, m->len) == 0;
}

static bool msg_is_user(const unsigned char *s, size_t len)
{
	return len == strlen(FUZZ_USER) && strncasecmp((const char *)s, FUZZ_USER, len) == 0;
}

/* PLAIN: [authzid] NUL authcid NUL passwd with the right name and
 * password. The authzid may be empty or the same name. */
static bool plain_is_right(const struct message *m)
{
	const unsigned char *nul1 = memchr(m->data, '\0', m->len);
	if (nul1 == NULL)
		return false;
	const unsigned char *authcid = nul1 + 1, *end = m->data + m->len;
	const unsigned char *nul2 = memchr(authcid, '\0', (size_t)(end - authcid));
	if (nul2 == NULL)
		return false;
	size_t authzid_len = (size_t)(nul1 - m->data);
	struct message pw = { nul2 + 1, (size_t)(end - nul2 - 1) };
	return (authzid_len == 0 || msg_is_user(m->data, authzid_len)) &&
		msg_is_user(authcid, (size_t)(nul2 - authcid)) &&
		msg_is(&pw, FUZZ_PASSWORD);
}

static void hmac256(const unsigned char *key, const str_t *msg,
		    unsigned char out[PASSWORD_SCRAM_KEY_LEN])
{
	unsigned int len = 0;
	if (HMAC(EVP_sha256(), key, PASSWORD_SCRAM_KEY_LEN,
		 (const unsigned char *)str_c(msg), msg->len, out, &len) == NULL ||
	    len != PASSWORD_SCRAM_KEY_LEN)
		abort();
}

/* AuthMessage = client-first-bare "," server-first ","
 * client-final-without-proof (RFC 5802 section 3). The bare message
 * follows the gs2 header, which ends at the second ','. false when
 * client_first has no gs2 header. */
static bool scram_auth_message(const str_t *client_first, const str_t *server_first,
			       const char *final, size_t without_proof_len,
			       str_t *out)
{
	const char *c1 = strchr(str_c(client_first), ',');
	const char *c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;
	if (c2 == NULL)
		return false;
	str_appendz(out, c2 + 1);
	str_appendc(out, ',');
	str_append(out, str_c(server_first), server_first->len);
	str_appendc(out, ',');
	str_append(out, final, without_proof_len);
	return true;
}

/* base64 of ClientKey XOR HMAC(StoredKey, AuthMessage). */
static void scram_proof(const str_t *auth_message, str_t *out)
{
	unsigned char sig[PASSWORD_SCRAM_KEY_LEN], proof[PASSWORD_SCRAM_KEY_LEN];

	hmac256(keys.stored_key, auth_message, sig);
	for (unsigned i = 0; i < sizeof(proof); i++)
		proof[i] = client_key[i] ^ sig[i];
	base64_encode(proof, sizeof(proof), out);
}

struct run {
	unsigned mech;          /* 0 PLAIN, 1 LOGIN, 2 SCRAM */
	bool scram_fill;
	str_t client_first;     /* SCRAM: the message answered by server-first */
	str_t server_first;
	str_t client_final;     /* SCRAM: the message that got OK/FAIL */
	bool canonical;         /* SCRAM: the textbook exchange, proof filled */
	struct message verified; /* PLAIN/LOGIN: the message that got VERIFY */
	struct message login_user;
};

/* The bytes to send for message m, filled in by this harness when asked. */
static void prepare(struct run *r, const struct message *m, str_t *out)
{
	str_clear(out);
	str_append(out, m->data, m->len);
	if (r->mech != 2 || !r->scram_fill || r->server_first.len == 0 ||
	    out->len < 4 || memchr(out->data, '\0', out->len) != NULL ||
	    memcmp(out->data + out->len - 4, ",p=*", 4) != 0)
		return;
	str_t auth = STR_INIT;
	size_t without_proof_len = out->len - 4;
	if (scram_auth_message(&r->client_first, &r->server_first, out->data,
			       without_proof_len, &auth)) {
		str_truncate(out, out->len - 1);
		scram_proof(&auth, out);
	}
	str_free(&auth);

	/* the textbook exchange: n,,n=USER,r=CNONCE then c=biws,r=NONCE,p= */
	static const char first_prefix[] = "n,,n=" FUZZ_USER_SASLNAME ",r=";
	const char *cnonce = str_c(&r->client_first) + strlen(first_prefix);
	if (r->client_first.len <= strlen(first_prefix) ||
	    strncmp(str_c(&r->client_first), first_prefix, strlen(first_prefix)) != 0 ||
	    strlen(cnonce) > SASL_FIELD_MAX || strchr(cnonce, ',') != NULL)
		return;
	for (const char *p = cnonce; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e)
			return;
	}
	const char *want = t_printf("c=biws,r=%s%s,p=", cnonce, FUZZ_SERVER_NONCE);
	r->canonical = without_proof_len + 3 == strlen(want) &&
		memcmp(out->data, want, strlen(want)) == 0;
}

static void check_challenge(const struct run *r, const str_t *ch,
			    const struct message *m)
{
	switch (r->mech) {
	case 0:
		if (ch->len != 0)
			abort();
		break;
	case 1:
		if (strcmp(str_c(ch), "Username:") != 0 && strcmp(str_c(ch), "Password:") != 0)
			abort();
		break;
	case 2:
		if (ch->len == 0 && m == NULL)
			break;
		/* r=CNONCE+SNONCE,s=SALT,i=COUNT */
		if (m == NULL || strncmp(str_c(ch), "r=", 2) != 0 ||
		    strstr(str_c(ch), FUZZ_SERVER_NONCE ",s=") == NULL ||
		    strlen(str_c(ch)) != ch->len)
			abort();
		break;
	}
}

static void check_scram_ok(const struct run *r, const str_t *server_final)
{
	const char *final = str_c(&r->client_final);
	const char *p = strstr(final, ",p=");
	str_t auth = STR_INIT, proof = STR_INIT, v = STR_INIT;
	unsigned char sig[PASSWORD_SCRAM_KEY_LEN];

	if (p == NULL || !scram_auth_message(&r->client_first, &r->server_first, final,
					     (size_t)(p - final), &auth))
		abort();
	scram_proof(&auth, &proof);
	if (strcmp(p + 3, str_c(&proof)) != 0)
		abort();
	hmac256(keys.server_key, &auth, sig);
	str_appendz(&v, "v=");
	base64_encode(sig, sizeof(sig), &v);
	if (strcmp(str_c(server_final), str_c(&v)) != 0 || server_final->len != v.len)
		abort();
	str_free(&auth);
	str_free(&proof);
	str_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const mech_names[] = {
		"PLAIN", "LOGIN", "SCRAM-SHA-256", "scram-sha-256"
	};
	struct message msgs[MAX_MESSAGES];
	struct run r;
	str_t ch = STR_INIT, in = STR_INIT;
	const char *error = NULL;
	enum sasl_result ret;
	unsigned next = 0;

	if (size < 1)
		return 0;
	memset(&r, 0, sizeof(r));
	r.mech = data[0] & 3;
	if (r.mech == 3)
		r.mech = 2;
	r.scram_fill = (data[0] & 8) != 0;
	unsigned n = split_messages(data + 1, size - 1, msgs);

	struct sasl_server *srv = sasl_server_create(mech_names[data[0] & 3]);
	if (srv == NULL)
		abort();
	if ((data[0] & 4) != 0) {
		prepare(&r, &msgs[0], &in);
		ret = sasl_server_step(srv, true, (const unsigned char *)in.data, in.len,
				       &ch, &error);
		next = 1;
	} else {
		ret = sasl_server_step(srv, false, NULL, 0, &ch, &error);
	}
	for (;;) {
		const struct message *m = next > 0 ? &msgs[next - 1] : NULL;
		if (ret == SASL_VERIFY) {
			if (r.mech == 2 || m == NULL || ch.len != 0)
				abort();
			r.verified = *m;
			sasl_server_work(srv, db);
			ret = sasl_server_work_finish(srv, &ch, &error);
			if ((ret != SASL_OK && ret != SASL_FAIL) || ch.len != 0)
				abort();
			break;
		}
		if (ret == SASL_LOOKUP) {
			/* SCRAM client-first: the account is read as a pool
			 * thread would, then server-first comes back */
			if (r.mech != 2 || ch.len != 0)
				abort();
			sasl_server_work(srv, db);
			ret = sasl_server_work_finish(srv, &ch, &error);
			if (ret != SASL_CONTINUE && ret != SASL_FAIL)
				abort();
			continue;
		}
		if (ret != SASL_CONTINUE)
			break;
		check_challenge(&r, &ch, m);
		if (r.mech == 1 && strcmp(str_c(&ch), "Password:") == 0)
			r.login_user = *m;
		if (r.mech == 2 && ch.len > 0) {
			str_clear(&r.client_first);
			str_append(&r.client_first, in.data, in.len);
			str_clear(&r.server_first);
			str_append(&r.server_first, ch.data, ch.len);
		}
		if (next == n)
			break; /* the client went away mid-exchange */
		prepare(&r, &msgs[next++], &in);
		if (r.mech == 2) {
			str_clear(&r.client_final);
			str_append(&r.client_final, in.data, in.len);
		}
		ret = sasl_server_step(srv, true, (const unsigned char *)in.data, in.len,
				       &ch, &error);
	}

	if (sasl_server_temp_failure(srv))
		abort();
	if (ret == SASL_FAIL) {
		if (error == NULL || strstr(error, FUZZ_PASSWORD) != NULL ||
		    sasl_server_user(srv) != NULL)
			abort();
	}
	if (ret == SASL_OK) {
		const char *user = sasl_server_user(srv);
		if (user == NULL || strcmp(user, FUZZ_USER) != 0)
			abort();
		if (r.mech != 2 && memmem(data, size, FUZZ_PASSWORD,
					  strlen(FUZZ_PASSWORD)) == NULL)
			abort();
		if (r.mech == 2)
			check_scram_ok(&r, &ch);
	}
	/* the password and the name checked here, not by the server */
	if (r.verified.data != NULL) {
		bool right = r.mech == 0 ? plain_is_right(&r.verified) :
			msg_is(&r.verified, FUZZ_PASSWORD) &&
			msg_is_user(r.login_user.data, r.login_user.len);
		if (right != (ret == SASL_OK))
			abort();
	}
	if (r.mech == 2 && r.canonical && ret != SASL_OK)
		abort();
	if (ret == SASL_OK || ret == SASL_FAIL) {
		/* nothing more once the exchange has ended */
		error = NULL;
		if (sasl_server_step(srv, true, (const unsigned char *)"x", 1, &ch,
				     &error) != SASL_FAIL || error == NULL)
			abort();
	}

	sasl_server_destroy(&srv);
	if (srv != NULL)
		abort();
	str_free(&ch);
	str_free(&in);
	str_free(&r.client_first);
	str_free(&r.server_first);
	str_free(&r.client_final);
	pool_clear(pool_temp());
	return 0;
}
