/* test-password.c: unit tests for password.h: yescrypt hashing, verifying
 * imported crypt(3) and Dovecot-prefixed hashes, hash checks, thread
 * safety, and SCRAM-SHA-256 keys against the RFC 7677 section 3 example. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "auth/password.h"
#include "auth/password_scratch.h"
#include "lib/base64.h"
#include "lib/str.h"

/* crypt(3) hashes of "pw", made with libxcrypt */
#define HASH_SHA512 "$6$R8tbujE6rGQElZ8.$3hHXOx5g.IYiQ6huPtoJdKWLvvWRlS/uItW67RMZyQM94Vssy7aLFlAHrk4cmaMPLBkpoVGbyWjpAobvF0aVj1"
#define HASH_SHA256 "$5$bXYcEX/Nxjwj3ba2$2WKHMU1qzNwHeG1XhBUNXZU0TEgOHaAmxTuDoMa76N2"
#define HASH_BCRYPT "$2b$05$nfG1Zmj4zCnOkIlqbKl2q..din6UuCSsLlVc4n3uhPI5DH5wOvD2e"
#define HASH_MD5 "$1$abcdefgh$IQtUouv7y7Q9dRWkQEPCc."
#define HASH_DES "gaxDyoamrjlO6"

static void test_hash_and_verify(void **state)
{
	(void)state;
	char *h1, *h2;
	const char *error;

	assert_int_equal(password_hash("correct horse", &h1, &error), 0);
	assert_int_equal(password_hash("correct horse", &h2, &error), 0);
	assert_true(strncmp(h1, "$y$", 3) == 0);
	assert_string_not_equal(h1, h2); /* fresh salt each time */
	assert_int_equal(password_verify("correct horse", h1), 1);
	assert_int_equal(password_verify("correct horse", h2), 1);
	assert_int_equal(password_verify("correct horsE", h1), 0);
	assert_int_equal(password_verify("", h1), 0);
	assert_int_equal(password_hash_check(h1, &error), 1);
	free(h1);
	free(h2);
}

static void test_verify_imported(void **state)
{
	(void)state;
	static const char *const good[] = {
		HASH_SHA512, HASH_SHA256, HASH_BCRYPT, HASH_MD5, HASH_DES,
		"{SHA512-CRYPT}" HASH_SHA512, "{sha512-crypt}" HASH_SHA512,
		"{SHA256-CRYPT}" HASH_SHA256, "{BLF-CRYPT}" HASH_BCRYPT,
		"{MD5-CRYPT}" HASH_MD5, "{CRYPT}" HASH_DES, "{CRYPT}" HASH_SHA512,
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (password_verify("pw", good[i]) != 1)
			fail_msg("did not verify %s", good[i]);
		assert_int_equal(password_verify("pX", good[i]), 0);
	}
	/* not crypt strings, or nothing at all: unusable, not "mismatch" */
	assert_int_equal(password_verify("pw", "{PLAIN}pw"), -1);
	assert_int_equal(password_verify("pw", "{SSHA}abcd"), -1);
	assert_int_equal(password_verify("pw", ""), -1);
	assert_int_equal(password_verify("pw", "{CRYPT}"), -1);
	assert_int_equal(password_verify("pw", "$y$"), -1);
	/* a truncated hash never matches */
	assert_int_equal(password_verify("pw", "$6$R8tbujE6rGQElZ8.$3hHXOx5g"), 0);
	/* yescrypt with a prefix */
	char *h;
	const char *error;
	assert_int_equal(password_hash("pw", &h, &error), 0);
	char *prefixed = malloc(strlen(h) + 16);
	memcpy(prefixed, "{YESCRYPT}", 10);
	memcpy(prefixed + 10, h, strlen(h) + 1);
	assert_int_equal(password_verify("pw", prefixed), 1);
	free(prefixed);
	free(h);
}

static void test_hash_check(void **state)
{
	(void)state;
	const char *error = NULL;
	assert_int_equal(password_hash_check(HASH_SHA512, &error), 1);
	assert_int_equal(password_hash_check("{BLF-CRYPT}" HASH_BCRYPT, &error), 1);
	assert_int_equal(password_hash_check(password_dummy_hash(), &error), 1);
	/* legacy methods import, with a warning */
	assert_int_equal(password_hash_check(HASH_DES, &error), 0);
	assert_non_null(error);
	assert_int_equal(password_hash_check(HASH_MD5, &error), 0);
	static const char *const bad[] = {
		"", "garbage", "{PLAIN}secret", "{CRYPT}", "$6$R8tbujE6rGQElZ8.",
		"$6$R8tbujE6rGQElZ8.$3hHXOx5g", "$y$j9T$71wQ02qAuYD4QNH4NX.Q.0",
		HASH_SHA512 " ", HASH_SHA512 ":", "$9$nothing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error = NULL;
		if (password_hash_check(bad[i], &error) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(error);
	}
}

static void test_dummy_hash(void **state)
{
	(void)state;
	assert_true(strncmp(password_dummy_hash(), "$y$", 3) == 0);
	assert_int_equal(password_verify("", password_dummy_hash()), 0);
	assert_int_equal(password_verify("password", password_dummy_hash()), 0);
}

static void *verify_thread(void *arg)
{
	(void)arg;
	for (unsigned i = 0; i < 20; i++) {
		if (password_verify("pw", HASH_SHA256) != 1 ||
		    password_verify("no", HASH_MD5) != 0)
			return (void *)1;
	}
	return NULL;
}

static void test_verify_threads(void **state)
{
	(void)state;
	pthread_t threads[4];
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&threads[i], NULL, verify_thread, NULL), 0);
	for (unsigned i = 0; i < 4; i++) {
		void *ret;
		assert_int_equal(pthread_join(threads[i], &ret), 0);
		assert_null(ret);
	}
}

static bool thp_madvise_mode(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f == NULL)
		return false;
	bool ok = fgets(buf, sizeof(buf), f) != NULL && strstr(buf, "[never]") == NULL;
	fclose(f);
	return ok;
}

static long thread_minflt(void)
{
	struct rusage ru;
	assert_int_equal(getrusage(RUSAGE_THREAD, &ru), 0);
	return ru.ru_minflt;
}

/* A yescrypt verify maps its 16 MiB on huge pages: one placed region, and
 * a few dozen page faults instead of ~4,100 (one per 4 KiB page). */
static void test_scratch_hugepages(void **state)
{
	(void)state;
	if (!password_scratch_supported() || !thp_madvise_mode())
		skip();
	unsigned long placed = password_scratch_count();
	long faults = thread_minflt();
	assert_int_equal(password_verify("", password_dummy_hash()), 0);
	faults = thread_minflt() - faults;
	assert_int_equal(password_scratch_count(), placed + 1);
	print_message("yescrypt verify: %ld minor faults\n", faults);
	assert_true(faults < 1024);

	/* outside a hash, a large anonymous mapping is left alone */
	void *p = mmap(NULL, 8u << 20, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(p != MAP_FAILED);
	assert_int_equal(password_scratch_count(), placed + 1);
	assert_int_equal(munmap(p, 8u << 20), 0);
	/* sha512-crypt maps nothing large */
	assert_int_equal(password_verify("pw", HASH_SHA512), 1);
	assert_int_equal(password_scratch_count(), placed + 1);
}

/* RFC 7677 section 3: user "user", password "pencil" */
#define RFC7677_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC7677_AUTH_MESSAGE \
	"n=user,r=rOprNGfwEbeRWgbNEkqO," \
	"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=" RFC7677_SALT ",i=4096," \
	"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC7677_PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC7677_SERVER_SIGNATURE "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

static void hmac(const unsigned char *key, const char *msg, unsigned char out[32])
{
	unsigned int len;
	assert_non_null(HMAC(EVP_sha256(), key, 32, (const unsigned char *)msg,
			     strlen(msg), out, &len));
	assert_int_equal(len, 32);
}

static void test_scram_rfc7677_vector(void **state)
{
	(void)state;
	struct password_scram keys;
	str_t salt = STR_INIT, proof = STR_INIT, sig_b64 = STR_INIT;
	unsigned char sig[32], client_key[32], stored[32];
	const char *error;

	assert_int_equal(base64_decode(RFC7677_SALT, strlen(RFC7677_SALT), &salt), 0);
	assert_int_equal(password_scram_derive("pencil", 6, (unsigned char *)salt.data,
					       salt.len, 4096, &keys, &error), 0);
	assert_int_equal(keys.iterations, 4096);
	assert_int_equal(keys.salt_len, 16);

	/* the server signature of the example exchange */
	hmac(keys.server_key, RFC7677_AUTH_MESSAGE, sig);
	base64_encode(sig, sizeof(sig), &sig_b64);
	assert_string_equal(str_c(&sig_b64), RFC7677_SERVER_SIGNATURE);

	/* the client's proof recovers a ClientKey that hashes to StoredKey */
	assert_int_equal(base64_decode(RFC7677_PROOF, strlen(RFC7677_PROOF), &proof), 0);
	hmac(keys.stored_key, RFC7677_AUTH_MESSAGE, sig);
	for (unsigned i = 0; i < 32; i++)
		client_key[i] = (unsigned char)proof.data[i] ^ sig[i];
	SHA256(client_key, 32, stored);
	assert_memory_equal(stored, keys.stored_key, 32);

	/* a different password gives different keys */
	struct password_scram other;
	assert_int_equal(password_scram_derive("pencil2", 7, (unsigned char *)salt.data,
					       salt.len, 4096, &other, &error), 0);
	assert_memory_not_equal(other.stored_key, keys.stored_key, 32);
	/* nonsense parameters are refused */
	assert_int_equal(password_scram_derive("x", 1, (unsigned char *)salt.data, 0,
					       4096, &other, &error), -1);
	assert_int_equal(password_scram_derive("x", 1, (unsigned char *)salt.data,
					       salt.len, 0, &other, &error), -1);
	str_free(&salt);
	str_free(&proof);
	str_free(&sig_b64);
}

static void test_scram_generate(void **state)
{
	(void)state;
	struct password_scram a, b, check;
	const char *error;

	assert_int_equal(password_scram_generate("pencil", &a, &error), 0);
	assert_int_equal(password_scram_generate("pencil", &b, &error), 0);
	assert_int_equal(a.salt_len, PASSWORD_SCRAM_SALT_LEN);
	assert_int_equal(a.iterations, PASSWORD_SCRAM_ITERATIONS);
	assert_memory_not_equal(a.salt, b.salt, PASSWORD_SCRAM_SALT_LEN);
	assert_memory_not_equal(a.stored_key, b.stored_key, 32);
	assert_int_equal(password_scram_derive("pencil", 6, a.salt, a.salt_len,
					       a.iterations, &check, &error), 0);
	assert_memory_equal(check.stored_key, a.stored_key, 32);
	assert_memory_equal(check.server_key, a.server_key, 32);
}

static void assert_saslprep(const char *in, const char *expected)
{
	char *out;
	if (expected == NULL) {
		assert_int_equal(password_saslprep(in, &out), -1);
		assert_null(out);
		return;
	}
	assert_int_equal(password_saslprep(in, &out), 0);
	assert_string_equal(out, expected);
	free(out);
}

/* RFC 4013 section 3's examples, and SCRAM keys of a prepared password */
static void test_saslprep(void **state)
{
	(void)state;
	assert_saslprep("I\xc2\xad" "X", "IX");        /* SOFT HYPHEN mapped to nothing */
	assert_saslprep("user", "user");
	assert_saslprep("USER", "USER");              /* case is kept */
	assert_saslprep("\xc2\xaa", "a");            /* NFKC */
	assert_saslprep("\xe2\x85\xa8", "IX");       /* ROMAN NUMERAL NINE */
	assert_saslprep("a\xc2\xa0" "b", "a b");        /* non-ASCII space to SPACE */
	assert_saslprep("\x07", NULL);                /* prohibited */
	assert_saslprep("\xd8\xa7" "1", NULL);       /* bidi rule */

	struct password_scram a, check;
	const char *error;
	assert_int_equal(password_scram_generate("I\xc2\xad" "X", &a, &error), 0);
	assert_int_equal(password_scram_derive("IX", 2, a.salt, a.salt_len,
					       a.iterations, &check, &error), 0);
	assert_memory_equal(check.stored_key, a.stored_key, 32);
	/* refused by SASLprep: the bytes as given */
	assert_int_equal(password_scram_generate("\x07x", &a, &error), 0);
	assert_int_equal(password_scram_derive("\x07x", 2, a.salt, a.salt_len,
					       a.iterations, &check, &error), 0);
	assert_memory_equal(check.stored_key, a.stored_key, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_and_verify),
		cmocka_unit_test(test_verify_imported),
		cmocka_unit_test(test_hash_check),
		cmocka_unit_test(test_dummy_hash),
		cmocka_unit_test(test_verify_threads),
		cmocka_unit_test(test_scratch_hugepages),
		cmocka_unit_test(test_scram_rfc7677_vector),
		cmocka_unit_test(test_scram_generate),
		cmocka_unit_test(test_saslprep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
