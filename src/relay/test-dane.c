/* test-dane.c: DANE (RFC 7672): TLSA answers to a policy (secure and
 * usable, usages 0/1 ignored, insecure or absent means none, bogus or
 * failed defers), then the relay client against the fake server with a
 * self-signed certificate the CA store does not know and a name that
 * does not match: a matching DANE-EE(3) record authenticates and the mail
 * goes out, a wrong one fails the handshake before a byte of mail
 * (4.7.5 tls_verify: the runner defers), and no DANE session is cached;
 * records that are all unusable still make STARTTLS mandatory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "dns/dns.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/tls.h"
#include "relay/dane.h"
#include "relay/smtp_client.h"
#include "relay/test-smtp-harness.h"

static struct dns_answer answer(enum dns_result res, enum dns_security sec,
				const uint8_t **data, const size_t *len, unsigned n)
{
	struct dns_answer a = { .result = res, .security = sec, .count = n,
				.data = data, .len = len };
	return a;
}

static void test_answer_to_policy(void **state)
{
	(void)state;
	static const uint8_t ee[35] = { 3, 1, 1, 0xaa };   /* 32-octet digest */
	static const uint8_t pkix[35] = { 1, 1, 1, 0xbb }; /* PKIX-EE: ignored */
	static const uint8_t bad[10] = { 3, 1, 1, 0xcc };  /* digest too short */
	const uint8_t *both[] = { pkix, ee, bad };
	const size_t both_len[] = { 35, 35, 10 };
	struct dane_tlsa_set *set = NULL;

	struct dns_answer a = answer(DNS_RESULT_DATA, DNS_SECURE, both, both_len, 3);
	assert_int_equal(dane_from_answer(&a, &set), DANE_USABLE);
	assert_int_equal(dane_tlsa_set_count(set), 1);
	dane_tlsa_set_free(&set);
	assert_null(set);
	/* RFC 7672 3.1.3: usages 0 and 1 alone are not usable */
	a = answer(DNS_RESULT_DATA, DNS_SECURE, both, both_len, 1);
	assert_int_equal(dane_from_answer(&a, &set), DANE_UNUSABLE);
	assert_null(set);
	/* RFC 7672 2.2: records from an unsigned zone are not DANE */
	a = answer(DNS_RESULT_DATA, DNS_INSECURE, both, both_len, 3);
	assert_int_equal(dane_from_answer(&a, &set), DANE_NONE);
	a = answer(DNS_RESULT_NODATA, DNS_SECURE, NULL, NULL, 0);
	assert_int_equal(dane_from_answer(&a, &set), DANE_NONE);
	a = answer(DNS_RESULT_NXDOMAIN, DNS_SECURE, NULL, NULL, 0);
	assert_int_equal(dane_from_answer(&a, &set), DANE_NONE);
	/* bogus or no answer: never a downgrade */
	a = answer(DNS_RESULT_FAIL, DNS_BOGUS, NULL, NULL, 0);
	assert_int_equal(dane_from_answer(&a, &set), DANE_DEFER);
	a = answer(DNS_RESULT_TIMEOUT, DNS_INSECURE, NULL, NULL, 0);
	assert_int_equal(dane_from_answer(&a, &set), DANE_DEFER);
	assert_string_equal(dane_status_name(DANE_DEFER), "defer");
	assert_string_equal(dane_outcome(DANE_NONE, NULL), "none");
	assert_string_equal(dane_outcome(DANE_USABLE, NULL), "failed");
}

/* A "3 1 1" record (DANE-EE, SPKI, SHA-256) for the fixture's certificate;
 * wrong flips one bit. */
static void ee_record(struct tls_fixture *t, uint8_t rec[35], bool wrong)
{
	X509 *cert = SSL_CTX_get0_certificate(tls_ctx_ssl_ctx(t->server));
	assert_non_null(cert);
	unsigned char *der = NULL;
	int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	assert_true(len > 0);
	unsigned mdlen = 0;
	rec[0] = 3; rec[1] = 1; rec[2] = 1;
	assert_int_equal(EVP_Digest(der, (size_t)len, rec + 3, &mdlen, EVP_sha256(),
				    NULL), 1);
	assert_int_equal(mdlen, 32);
	OPENSSL_free(der);
	if (wrong)
		rec[10] ^= 1;
}

/* One message to a fake server offering ehlo, under "mx.other.test" (a
 * name the certificate does not carry); set NULL: DANE_UNUSABLE (encrypt
 * only), else DANE with set. */
static void run_fake(struct tls_fixture *t, struct conn_tls_client *sys,
		     const char *ehlo, struct dane_tlsa_set *set, struct run *r,
		     struct fake_smtp *f)
{
	struct msg_fixture m;
	msg_init(&m, "dane body\n", 100, one_rcpt, 1);
	struct smtp_client_settings set_c = test_settings();
	*f = (struct fake_smtp){ .ehlo = ehlo, .ssl_ctx = tls_ctx_ssl_ctx(t->server) };
	fake_smtp_start(f);
	*r = (struct run){ .after = AFTER_DESTROY };
	struct smtp_client_dest dest = { .tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC,
					 .tls = sys, .host = "mx.other.test" };
	if (set != NULL)
		dane_client_dest(set, &dest);
	else
		dane_client_dest_encrypt(&dest);
	assert_int_equal(dest.tls_mode, set != NULL ? SMTP_CLIENT_TLS_REQUIRED :
			 SMTP_CLIENT_TLS_ENCRYPT);
	run_client(r, f, &set_c, &dest, &m.msg);
}

static void run_dane(struct tls_fixture *t, struct conn_tls_client *sys,
		     bool wrong, struct run *r, struct fake_smtp *f)
{
	uint8_t rec[35];
	ee_record(t, rec, wrong);
	const uint8_t *data[] = { rec };
	const size_t len[] = { sizeof(rec) };
	struct dns_answer a = answer(DNS_RESULT_DATA, DNS_SECURE, data, len, 1);
	struct dane_tlsa_set *set = NULL;
	assert_int_equal(dane_from_answer(&a, &set), DANE_USABLE);
	/* DANE-EE ignores names */
	run_fake(t, sys, EHLO_TLS, set, r, f);
	dane_tlsa_set_free(&set);
}

static void test_dane_ee_authenticates_or_defers(void **state)
{
	(void)state;
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	/* the system CA store does not know the self-signed certificate */
	struct conn_tls_client *sys = conn_tls_client_create(NULL, 4, &error);
	assert_non_null(sys);

	struct run r;
	struct fake_smtp f;
	run_dane(&t, sys, false, &r, &f);
	assert_int_equal(r.codes[0], 250);
	assert_true(r.tls);
	assert_true(r.verified);
	assert_true(r.dane);
	assert_false(r.resumed);
	assert_memory_equal(f.data.data, "dane body\r\n.\r\n", f.data.len);
	fake_smtp_free(&f);
	/* DANE sessions stay out of the cache (a later PKIX-only connection
	 * must not resume what DANE alone verified) */
	assert_int_equal(conn_tls_client_cached(sys), 0);

	run_dane(&t, sys, true, &r, &f);
	assert_int_equal(r.codes[0], 451);
	assert_string_equal(r.enh[0], "4.7.5");
	assert_non_null(strstr(r.texts[0], "tls_verify"));
	assert_false(r.dane);
	assert_null(strstr(str_c(&f.transcript), "MAIL"));
	assert_int_equal(f.data.len, 0);
	fake_smtp_free(&f);

	conn_tls_client_destroy(&sys);
	tls_fixture_free(&t);
}

/* RFC 7672 2.2: TLSA records, none usable: STARTTLS mandatory, any
 * certificate; a server without STARTTLS gets nothing. */
static void test_unusable_means_encrypt(void **state)
{
	(void)state;
	struct tls_fixture t;
	tls_fixture_init(&t);
	const char *error = NULL;
	struct conn_tls_client *sys = conn_tls_client_create(NULL, 4, &error);
	assert_non_null(sys);
	for (unsigned i = 0; i < 2; i++) {
		struct run r;
		struct fake_smtp f;
		run_fake(&t, sys, i == 0 ? EHLO_TLS : "250-fake\r\n250 PIPELINING\r\n",
			 NULL, &r, &f);
		if (i == 0) {
			assert_int_equal(r.codes[0], 250);
			assert_true(r.tls);
			assert_false(r.verified);
		} else {
			assert_int_equal(r.codes[0] / 100, 4);
			assert_null(strstr(str_c(&f.transcript), "MAIL"));
		}
		fake_smtp_free(&f);
	}
	conn_tls_client_destroy(&sys);
	tls_fixture_free(&t);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("test-dane", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answer_to_policy),
		cmocka_unit_test(test_dane_ee_authenticates_or_defers),
		cmocka_unit_test(test_unusable_means_encrypt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
