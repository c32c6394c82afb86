/* test-sasl.c: unit tests for sasl.h against a real accounts.db: PLAIN
 * (good, bad, NUL count, UTF-8, authzid, sizes), LOGIN, and SCRAM-SHA-256
 * (the RFC 7677 section 3 exchange byte for byte, a full exchange with a
 * client computed here, bad proofs, unknown users, gs2 and saslname
 * rules). Every attempt uses a fresh struct sasl_server. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/sasl_private.h"
#include "auth/userdb.h"
#include "auth/test-userdb-dir.h"
#include "lib/base64.h"

#define HASH_SHA512_PW "$6$R8tbujE6rGQElZ8.$3hHXOx5g.IYiQ6huPtoJdKWLvvWRlS/uItW67RMZyQM94Vssy7aLFlAHrk4cmaMPLBkpoVGbyWjpAobvF0aVj1"

static char test_dir[64];
static struct userdb *db;

static void add_user(const char *address, const char *password, bool scram)
{
	struct password_scram keys;
	const char *error = NULL;
	char *hash;

	assert_int_equal(password_hash(password, &hash, &error), 0);
	assert_int_equal(password_scram_generate(password, &keys, &error), 0);
	if (userdb_user_add(db, address, hash, scram ? &keys : NULL, &error) != 1)
		fail_msg("user add: %s", error);
	free(hash);
}

/* The RFC 7677 user "user" is not an address, so it goes in by SQL. */
static void add_rfc7677_user(void)
{
	struct password_scram keys;
	str_t salt = STR_INIT;
	const char *error;
	char path[128];
	sqlite3 *sql;
	sqlite3_stmt *stmt;

	assert_int_equal(base64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, &salt), 0);
	assert_int_equal(password_scram_derive("pencil", 6, (unsigned char *)salt.data,
					       salt.len, 4096, &keys, &error), 0);
	snprintf(path, sizeof(path), "%s/" USERDB_DIRNAME "/accounts.db", test_dir);
	assert_int_equal(sqlite3_open(path, &sql), SQLITE_OK);
	sqlite3_busy_timeout(sql, 5000);
	assert_int_equal(sqlite3_prepare_v2(sql, "INSERT INTO users VALUES "
					    "('user', '$y$x', ?1, 4096, ?2, ?3)", -1, &stmt, NULL), SQLITE_OK);
	sqlite3_bind_blob(stmt, 1, keys.salt, (int)keys.salt_len, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, keys.stored_key, 32, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, keys.server_key, 32, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
	sqlite3_finalize(stmt);
	sqlite3_close(sql);
	str_free(&salt);
}

static int group_setup(void **state)
{
	const char *error = NULL;
	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/test-sasl.XXXXXX");
	assert_non_null(mkdtemp(test_dir));
	if (userdb_open(test_dir, &db, &error) < 0)
		fail_msg("userdb_open: %s", error);
	add_user("Alice@example.org", "secret", true);
	add_user("a=b@example.org", "eq", true);
	assert_int_equal(userdb_user_add(db, "imported@example.org", HASH_SHA512_PW, NULL, &error), 1);
	add_rfc7677_user();
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	userdb_close(&db);
	test_userdb_dir_remove(test_dir);
	return 0;
}

/* A pool thread's part: the account is read there, with the thread's
 * own handle, closed when the thread exits. */
static void *work_thread(void *ctx)
{
	const char *error = NULL;
	struct userdb *tdb = userdb_thread(test_dir, &error);
	if (tdb == NULL)
		fail_msg("userdb_thread: %s", error);
	/* kept for the thread's life */
	assert_ptr_equal(userdb_thread(test_dir, &error), tdb);
	assert_ptr_not_equal(tdb, db);
	sasl_server_work(ctx, tdb);
	return NULL;
}

/* Run the work a step handed out as the protocol code would: on another
 * thread, then finish here. */
static enum sasl_result run_work(struct sasl_server *srv, str_t *challenge,
				 const char **error_r)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, work_thread, srv), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	return sasl_server_work_finish(srv, challenge, error_r);
}

/* One step with raw bytes; an account lookup (SCRAM) is run at once. */
static enum sasl_result step(struct sasl_server *srv, const void *in, size_t len,
			     str_t *challenge, const char **error_r)
{
	enum sasl_result ret = sasl_server_step(srv, true, in, len, challenge, error_r);
	if (ret == SASL_LOOKUP) {
		assert_int_equal(challenge->len, 0);
		ret = run_work(srv, challenge, error_r);
	}
	return ret;
}

/* Run a verify as the protocol code would. */
static enum sasl_result verify(struct sasl_server *srv, const char **error_r)
{
	str_t challenge = STR_INIT;
	enum sasl_result ret = run_work(srv, &challenge, error_r);
	assert_int_equal(challenge.len, 0);
	str_free(&challenge);
	return ret;
}

/* The error of the last failed plain() attempt. */
static const char *plain_error;

/* A one-message PLAIN attempt; returns the final result. */
static enum sasl_result plain(const void *msg, size_t len, const char **user_r)
{
	struct sasl_server *srv = sasl_server_create("plain");
	str_t challenge = STR_INIT;
	const char *error = NULL;

	assert_non_null(srv);
	enum sasl_result ret = step(srv, msg, len, &challenge, &error);
	if (ret == SASL_VERIFY)
		ret = verify(srv, &error);
	if (ret == SASL_FAIL) {
		assert_non_null(error);
		/* the password never shows in the error */
		assert_null(strstr(error, "secret"));
		assert_null(sasl_server_user(srv));
		plain_error = t_printf("%s", error);
	}
	*user_r = ret == SASL_OK ? t_printf("%s", sasl_server_user(srv)) : NULL;
	sasl_server_destroy(&srv);
	assert_null(srv);
	str_free(&challenge);
	return ret;
}

#define PLAIN(lit, user_r) plain(lit, sizeof(lit) - 1, user_r)

static void test_mechanisms(void **state)
{
	(void)state;
	const char *const *mechs = sasl_mechanisms();
	assert_string_equal(mechs[0], "PLAIN");
	assert_string_equal(mechs[1], "LOGIN");
	assert_string_equal(mechs[2], "SCRAM-SHA-256");
	assert_null(mechs[3]);
	assert_null(sasl_server_create("CRAM-MD5"));
	assert_null(sasl_server_create("SCRAM-SHA-256-PLUS"));
	struct sasl_server *srv = sasl_server_create("scram-sha-256");
	assert_non_null(srv);
	sasl_server_destroy(&srv);
}

static void test_plain_good(void **state)
{
	(void)state;
	const char *user;
	assert_int_equal(PLAIN("\0alice@example.org\0secret", &user), SASL_OK);
	assert_string_equal(user, "Alice@example.org");
	assert_int_equal(PLAIN("ALICE@example.org\0alice@EXAMPLE.org\0secret", &user), SASL_OK);
	assert_string_equal(user, "Alice@example.org");
	/* an imported SHA512-CRYPT hash */
	assert_int_equal(PLAIN("\0imported@example.org\0pw", &user), SASL_OK);

	/* no initial response: empty challenge, then the message */
	struct sasl_server *srv = sasl_server_create("PLAIN");
	str_t challenge = STR_INIT;
	const char *error;
	str_appendz(&challenge, "junk");
	assert_int_equal(sasl_server_step(srv, false, NULL, 0, &challenge, &error), SASL_CONTINUE);
	assert_int_equal(challenge.len, 0);
	assert_int_equal(step(srv, "\0alice@example.org\0secret", 25, &challenge, &error),
			 SASL_VERIFY);
	/* no step while the verify runs */
	assert_int_equal(step(srv, "x", 1, &challenge, &error), SASL_FAIL);
	sasl_server_destroy(&srv);
	str_free(&challenge);
}

static void test_plain_bad(void **state)
{
	(void)state;
	const char *user;
	/* wrong password, unknown user: both go through a verify */
	assert_int_equal(PLAIN("\0alice@example.org\0Secret", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0nobody@example.org\0secret", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0imported@example.org\0secret", &user), SASL_FAIL);
	/* wrong NUL count */
	assert_int_equal(PLAIN("", &user), SASL_FAIL);
	assert_int_equal(PLAIN("alice@example.org\0secret", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0alice@example.org\0secret\0", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0alice@example.org\0secret\0x", &user), SASL_FAIL);
	assert_non_null(strstr(plain_error, "two NULs"));
	assert_int_equal(PLAIN("\0\0alice@example.org\0secret", &user), SASL_FAIL);
	/* empty fields */
	assert_int_equal(PLAIN("\0\0secret", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0alice@example.org\0", &user), SASL_FAIL);
	/* invalid UTF-8 anywhere: bad byte, overlong, surrogate, truncated */
	assert_int_equal(PLAIN("\0alice@example.org\0secr\xff", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0alice@example.org\0\xc0\xaf", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\0alice@example.org\0\xed\xa0\x80", &user), SASL_FAIL);
	assert_int_equal(PLAIN("\xe2\x82\0alice@example.org\0secret", &user), SASL_FAIL);
	/* valid non-ASCII UTF-8 is fine (and just a wrong password here) */
	struct sasl_server *srv = sasl_server_create("PLAIN");
	str_t challenge = STR_INIT;
	const char *error;
	assert_int_equal(step(srv, "\0alice@example.org\0p\xc3\xa4ss\xf0\x9f\x98\x80", 28,
			      &challenge, &error), SASL_VERIFY);
	sasl_server_destroy(&srv);
	/* authzid must name the same user */
	assert_int_equal(PLAIN("imported@example.org\0alice@example.org\0secret", &user),
			 SASL_FAIL);
	/* oversize: a 256-byte password, a 64 KiB message */
	char big[65536];
	memset(big, 'x', sizeof(big));
	memcpy(big, "\0alice@example.org\0", 19);
	assert_int_equal(plain(big, 19 + 255, &user), SASL_FAIL); /* wrong, but verified */
	assert_int_equal(plain(big, 19 + 256, &user), SASL_FAIL);
	assert_int_equal(plain(big, sizeof(big), &user), SASL_FAIL);
	/* a step after FAIL fails */
	srv = sasl_server_create("PLAIN");
	assert_int_equal(step(srv, "a", 1, &challenge, &error), SASL_FAIL);
	assert_int_equal(step(srv, "\0alice@example.org\0secret", 25, &challenge, &error),
			 SASL_FAIL);
	sasl_server_destroy(&srv);
	str_free(&challenge);
}

static void test_login(void **state)
{
	(void)state;
	str_t challenge = STR_INIT;
	const char *error;

	struct sasl_server *srv = sasl_server_create("LOGIN");
	assert_int_equal(sasl_server_step(srv, false, NULL, 0, &challenge, &error), SASL_CONTINUE);
	assert_string_equal(str_c(&challenge), "Username:");
	assert_int_equal(step(srv, "alice@example.org", 17, &challenge, &error), SASL_CONTINUE);
	assert_string_equal(str_c(&challenge), "Password:");
	assert_int_equal(step(srv, "secret", 6, &challenge, &error), SASL_VERIFY);
	assert_int_equal(verify(srv, &error), SASL_OK);
	assert_string_equal(sasl_server_user(srv), "Alice@example.org");
	sasl_server_destroy(&srv);

	/* the initial response is the user name */
	srv = sasl_server_create("login");
	assert_int_equal(step(srv, "alice@example.org", 17, &challenge, &error), SASL_CONTINUE);
	assert_string_equal(str_c(&challenge), "Password:");
	assert_int_equal(step(srv, "wrong", 5, &challenge, &error), SASL_VERIFY);
	assert_int_equal(verify(srv, &error), SASL_FAIL);
	assert_null(sasl_server_user(srv));
	sasl_server_destroy(&srv);

	/* unknown user: same path */
	srv = sasl_server_create("LOGIN");
	assert_int_equal(step(srv, "ghost@example.org", 17, &challenge, &error), SASL_CONTINUE);
	assert_int_equal(step(srv, "secret", 6, &challenge, &error), SASL_VERIFY);
	assert_int_equal(verify(srv, &error), SASL_FAIL);
	sasl_server_destroy(&srv);

	/* empty user name or password, NUL in the password */
	srv = sasl_server_create("LOGIN");
	assert_int_equal(step(srv, "", 0, &challenge, &error), SASL_FAIL);
	sasl_server_destroy(&srv);
	srv = sasl_server_create("LOGIN");
	assert_int_equal(step(srv, "alice@example.org", 17, &challenge, &error), SASL_CONTINUE);
	assert_int_equal(step(srv, "sec\0ret", 7, &challenge, &error), SASL_FAIL);
	sasl_server_destroy(&srv);
	srv = sasl_server_create("LOGIN");
	assert_int_equal(step(srv, "alice@example.org", 17, &challenge, &error), SASL_CONTINUE);
	assert_int_equal(step(srv, "", 0, &challenge, &error), SASL_FAIL);
	sasl_server_destroy(&srv);
	str_free(&challenge);
}

/* The client side of SCRAM-SHA-256, written from RFC 5802 section 3. */
static void scram_client_final(const char *password, const char *client_first_bare,
			       const char *server_first, const char *cbind_b64,
			       str_t *final, str_t *expected_v)
{
	const char *r = strstr(server_first, "r="), *s = strstr(server_first, ",s=");
	const char *i = strstr(server_first, ",i=");
	str_t salt = STR_INIT, without_proof = STR_INIT;
	unsigned char salted[32], client_key[32], stored[32], sig[32], server_key[32];
	unsigned int len;

	assert_non_null(r);
	assert_non_null(s);
	assert_non_null(i);
	assert_int_equal(base64_decode(s + 3, (size_t)(i - s - 3), &salt), 0);
	assert_int_equal(PKCS5_PBKDF2_HMAC(password, (int)strlen(password),
					   (unsigned char *)salt.data, (int)salt.len,
					   atoi(i + 3), EVP_sha256(), 32, salted), 1);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Client Key", 10, client_key, &len);
	HMAC(EVP_sha256(), salted, 32, (const unsigned char *)"Server Key", 10, server_key, &len);
	SHA256(client_key, 32, stored);
	str_printf(&without_proof, "c=%s,r=%.*s", cbind_b64, (int)(s - r - 2), r + 2);
	const char *auth_message = t_printf("%s,%s,%s", client_first_bare, server_first,
					    str_c(&without_proof));
	HMAC(EVP_sha256(), stored, 32, (const unsigned char *)auth_message,
	     strlen(auth_message), sig, &len);
	for (unsigned k = 0; k < 32; k++)
		client_key[k] ^= sig[k];
	str_clear(final);
	str_printf(final, "%s,p=", str_c(&without_proof));
	base64_encode(client_key, 32, final);
	HMAC(EVP_sha256(), server_key, 32, (const unsigned char *)auth_message,
	     strlen(auth_message), sig, &len);
	str_clear(expected_v);
	str_appendz(expected_v, "v=");
	base64_encode(sig, 32, expected_v);
	str_free(&salt);
	str_free(&without_proof);
}

static void test_scram_rfc7677_exchange(void **state)
{
	(void)state;
	str_t challenge = STR_INIT;
	const char *error = NULL;
	const char *cf = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
	const char *final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";

	sasl_scram_test_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	struct sasl_server *srv = sasl_server_create("SCRAM-SHA-256");
	assert_int_equal(step(srv, cf, strlen(cf), &challenge, &error), SASL_CONTINUE);
	assert_string_equal(str_c(&challenge),
			    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	if (step(srv, final, strlen(final), &challenge, &error) != SASL_OK)
		fail_msg("final: %s", error);
	assert_string_equal(str_c(&challenge), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	assert_string_equal(sasl_server_user(srv), "user");
	sasl_server_destroy(&srv);

	/* the same exchange with one proof bit flipped */
	srv = sasl_server_create("SCRAM-SHA-256");
	assert_int_equal(step(srv, cf, strlen(cf), &challenge, &error), SASL_CONTINUE);
	char *bad = t_printf("%s", final);
	bad[strlen(bad) - 2] = 'U'; /* ...dVQ= -> ...dUQ= */
	assert_int_equal(step(srv, bad, strlen(bad), &challenge, &error), SASL_FAIL);
	assert_int_equal(challenge.len, 0);
	assert_null(sasl_server_user(srv));
	sasl_server_destroy(&srv);
	sasl_scram_test_server_nonce = NULL;
	str_free(&challenge);
}

/* A full exchange with a computed client. Returns the final result and
 * the salt the server offered. */
static enum sasl_result scram_exchange(const char *client_first, const char *password,
				       const char *cbind_b64, str_t *salt_r)
{
	str_t challenge = STR_INIT, final = STR_INIT, expected_v = STR_INIT;
	const char *error = NULL;
	const char *bare = strstr(client_first, "n=");
	struct sasl_server *srv = sasl_server_create("SCRAM-SHA-256");

	/* no initial response first: the client-first comes next */
	assert_int_equal(sasl_server_step(srv, false, NULL, 0, &challenge, &error), SASL_CONTINUE);
	assert_int_equal(challenge.len, 0);
	enum sasl_result ret = step(srv, client_first, strlen(client_first), &challenge, &error);
	if (ret != SASL_CONTINUE)
		goto out;
	/* the server nonce extends ours */
	assert_true(strncmp(str_c(&challenge), "r=cnonce123", 11) == 0);
	if (salt_r != NULL) {
		str_clear(salt_r);
		str_appendz(salt_r, strstr(str_c(&challenge), ",s="));
	}
	scram_client_final(password, bare, str_c(&challenge), cbind_b64, &final, &expected_v);
	ret = step(srv, final.data, final.len, &challenge, &error);
	if (ret == SASL_OK) {
		assert_string_equal(str_c(&challenge), str_c(&expected_v));
		assert_non_null(sasl_server_user(srv));
	} else {
		assert_null(sasl_server_user(srv));
	}
out:
	sasl_server_destroy(&srv);
	str_free(&challenge);
	str_free(&final);
	str_free(&expected_v);
	return ret;
}

static void test_scram_exchange(void **state)
{
	(void)state;
	str_t salt1 = STR_INIT, salt2 = STR_INIT;

	assert_int_equal(scram_exchange("n,,n=alice@example.org,r=cnonce123", "secret",
					"biws", NULL), SASL_OK);
	assert_int_equal(scram_exchange("n,,n=alice@example.org,r=cnonce123", "wrong",
					"biws", NULL), SASL_FAIL);
	/* "y": the client could bind, but we offer no -PLUS */
	assert_int_equal(scram_exchange("y,,n=ALICE@example.org,r=cnonce123", "secret",
					"eSws", NULL), SASL_OK);
	/* an authzid equal to the user, and one that is not */
	assert_int_equal(scram_exchange("n,a=alice@example.org,n=alice@example.org,r=cnonce123",
					"secret", "bixhPWFsaWNlQGV4YW1wbGUub3JnLA==", NULL), SASL_OK);
	assert_int_equal(scram_exchange("n,a=imported@example.org,n=alice@example.org,r=cnonce123",
					"secret", "biws", NULL), SASL_FAIL);
	/* c= must repeat the gs2 header */
	assert_int_equal(scram_exchange("n,,n=alice@example.org,r=cnonce123", "secret",
					"eSws", NULL), SASL_FAIL);
	/* saslname: =3D is '=' */
	assert_int_equal(scram_exchange("n,,n=a=3Db@example.org,r=cnonce123", "eq",
					"biws", NULL), SASL_OK);
	assert_int_equal(scram_exchange("n,,n=a=3db@example.org,r=cnonce123", "eq",
					"biws", NULL), SASL_FAIL);
	assert_int_equal(scram_exchange("n,,n=a=41@example.org,r=cnonce123", "eq",
					"biws", NULL), SASL_FAIL);
	assert_int_equal(scram_exchange("n,,n=a=@example.org,r=cnonce123", "eq",
					"biws", NULL), SASL_FAIL);

	/* unknown users and users without SCRAM keys get through to the end,
	 * with a salt that is stable and shaped like a real one */
	assert_int_equal(scram_exchange("n,,n=ghost@example.org,r=cnonce123", "x",
					"biws", &salt1), SASL_FAIL);
	assert_int_equal(scram_exchange("n,,n=GHOST@example.org,r=cnonce123", "y",
					"biws", &salt2), SASL_FAIL);
	assert_string_equal(str_c(&salt1), str_c(&salt2));
	assert_int_equal(salt1.len, strlen(",s=") + 24 + strlen(",i=10000"));
	assert_non_null(strstr(str_c(&salt1), ",i=10000"));
	assert_int_equal(scram_exchange("n,,n=other@example.org,r=cnonce123", "x",
					"biws", &salt2), SASL_FAIL);
	assert_string_not_equal(str_c(&salt1), str_c(&salt2));
	assert_int_equal(scram_exchange("n,,n=imported@example.org,r=cnonce123", "pw",
					"biws", NULL), SASL_FAIL);
	/* =2C is ',' (no such user, but it parses) */
	assert_int_equal(scram_exchange("n,,n=a=2Cb@example.org,r=cnonce123", "x",
					"biws", NULL), SASL_FAIL);
	str_free(&salt1);
	str_free(&salt2);
}

static enum sasl_result scram_first(const char *msg, size_t len)
{
	str_t challenge = STR_INIT;
	const char *error = NULL;
	struct sasl_server *srv = sasl_server_create("SCRAM-SHA-256");
	enum sasl_result ret = step(srv, msg, len, &challenge, &error);
	sasl_server_destroy(&srv);
	str_free(&challenge);
	return ret;
}

#define SCRAM_FIRST(lit) scram_first(lit, sizeof(lit) - 1)

static void test_scram_bad_messages(void **state)
{
	(void)state;
	str_t challenge = STR_INIT;
	const char *error;

	assert_int_equal(SCRAM_FIRST("n,,n=alice@example.org,r=abc"), SASL_CONTINUE);
	assert_int_equal(SCRAM_FIRST("n,,n=alice@example.org,r=abc,x=ext"), SASL_CONTINUE);
	assert_int_equal(SCRAM_FIRST("p=tls-unique,,n=alice@example.org,r=abc"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,m=ext,n=alice@example.org,r=abc"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST(""), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("x,,n=alice@example.org,r=abc"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,r=abc,n=alice@example.org"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,n=alice@example.org"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,n=alice@example.org,r="), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,n=,r=abc"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,a=x"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,n=alice@example.org,r=a\x7f"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,n=alice@example.org\0,r=abc"), SASL_FAIL);
	assert_int_equal(SCRAM_FIRST("n,,n=al\xffice@example.org,r=abc"), SASL_FAIL);

	/* final message errors: nonce, proof placement and encoding */
	static const char *const bad_finals[] = {
		"c=biws,r=abcWRONG,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=abc",
		"c=biws,r=abc,p=dHzb",
		"c=biws,r=abc,p=!!!!",
		"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
	};
	for (size_t i = 0; i < sizeof(bad_finals) / sizeof(bad_finals[0]); i++) {
		struct sasl_server *srv = sasl_server_create("SCRAM-SHA-256");
		sasl_scram_test_server_nonce = "";
		assert_int_equal(step(srv, "n,,n=alice@example.org,r=abc", 28, &challenge, &error),
				 SASL_CONTINUE);
		sasl_scram_test_server_nonce = NULL;
		if (step(srv, bad_finals[i], strlen(bad_finals[i]), &challenge, &error) != SASL_FAIL)
			fail_msg("accepted %s", bad_finals[i]);
		/* and nothing more after a failure */
		assert_int_equal(step(srv, "x", 1, &challenge, &error), SASL_FAIL);
		sasl_server_destroy(&srv);
	}
	str_free(&challenge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mechanisms),
		cmocka_unit_test(test_plain_good),
		cmocka_unit_test(test_plain_bad),
		cmocka_unit_test(test_login),
		cmocka_unit_test(test_scram_rfc7677_exchange),
		cmocka_unit_test(test_scram_exchange),
		cmocka_unit_test(test_scram_bad_messages),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
