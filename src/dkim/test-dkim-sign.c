/* test-dkim-sign.c: unit tests for dkim_sign.h, dkim_field.h and
 * dkim_key.h: the RFC 8463 Appendix A ed25519-sha256 example (its key,
 * body hash and signature reproduced byte for byte), rsa-sha256 signatures
 * checked with OpenSSL's verifier over the same canonical data, the h=
 * list (From oversigned, repeated fields, the last instance first), 78
 * column folding, the From: domain rules, DNS TXT records split at 255
 * octets and keys loaded from a data directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dkim/dkim_sign.h"
#include "dkim/dkim_field.h"
#include "lib/base64.h"
#include "lib/mem.h"
#include "test-dkim-keys.h"

/* RFC 8463 Appendix A.1 and A.3 */
static const char rfc8463_seed[] = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
static const char rfc8463_pub[] = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rfc8463_msg[] =
	"From: Joe SixPack <joe@football.example.com>\r\n"
	"To: Suzie Q <suzie@shopping.example.net>\r\n"
	"Subject: Is dinner ready?\r\n"
	"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
	"Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n"
	"\r\n"
	"Hi.\r\n"
	"\r\n"
	"We lost the game.  Are you hungry yet?\r\n"
	"\r\n"
	"Joe.\r\n";
static const char rfc8463_sig_field[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n"
	" d=football.example.com; i=@football.example.com;\r\n"
	" q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n"
	" subject : date : message-id : from : subject : date;\r\n"
	" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n"
	" b=";
static const char rfc8463_b[] =
	"/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";

static struct dkim_sign *sign_message(const char *msg, size_t piece)
{
	struct dkim_sign *ds = dkim_sign_begin();
	size_t len = strlen(msg);
	for (size_t off = 0; off < len; off += piece)
		dkim_sign_feed(ds, msg + off, len - off < piece ? len - off : piece);
	return ds;
}

static void rfc8463_key(struct dkim_key *key)
{
	str_t seed = STR_INIT;
	assert_int_equal(base64_decode(rfc8463_seed, strlen(rfc8463_seed), &seed), 0);
	memset(key, 0, sizeof(*key));
	key->type = DKIM_KEY_ED25519;
	key->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
						 (const unsigned char *)seed.data, seed.len);
	assert_non_null(key->pkey);
	snprintf(key->domain, sizeof(key->domain), "%s", "football.example.com");
	snprintf(key->selector, sizeof(key->selector), "%s", "brisbane");
	str_free(&seed);
}

static void test_rfc8463_example(void **state)
{
	(void)state;
	struct dkim_key key;
	rfc8463_key(&key);
	str_t rec = STR_INIT, bh = STR_INIT, data = STR_INIT, b = STR_INIT;
	const char *error;
	assert_int_equal(dkim_key_dns_record(&key, &rec, &error), 0);
	assert_string_equal(str_c(&rec), t_printf("v=DKIM1; k=ed25519; p=%s", rfc8463_pub));
	static const char *const names[] = { "from", "to", "subject", "date", "message-id",
		"from", "subject", "date" };
	for (size_t piece = 1; piece <= 64; piece *= 4) {
		struct dkim_sign *ds = sign_message(rfc8463_msg, piece);
		str_clear(&bh);
		str_clear(&data);
		str_clear(&b);
		base64_encode(dkim_sign_body_hash(ds), 32, &bh);
		assert_string_equal(str_c(&bh), "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
		dkim_sign_header_data(ds, names, 8, rfc8463_sig_field,
				      strlen(rfc8463_sig_field), &data);
		assert_int_equal(dkim_sign_data(&key, data.data, data.len, &b, &error), 0);
		/* Ed25519 is deterministic: the RFC's own signature */
		assert_string_equal(str_c(&b), rfc8463_b);
		const char *domain = NULL;
		assert_int_equal(dkim_sign_from_domain(ds, &domain, &error), 0);
		assert_string_equal(domain, "football.example.com");
		dkim_sign_free(&ds);
	}
	str_free(&rec);
	str_free(&bh);
	str_free(&data);
	str_free(&b);
	dkim_key_clear(&key);
}

/* The tag's value in a DKIM-Signature field, unfolded, without spaces. */
static char *tag_value(const char *field, const char *tag)
{
	str_t flat = STR_INIT;
	for (const char *p = field; *p != '\0'; p++) {
		if (*p != '\r' && *p != '\n' && *p != ' ' && *p != '\t')
			str_appendc(&flat, *p);
	}
	const char *want = t_printf(";%s=", tag);
	const char *at = strstr(str_c(&flat), want);
	char *ret = NULL;
	if (at != NULL) {
		at += strlen(want);
		ret = xstrndup(at, strcspn(at, ";"));
	}
	str_free(&flat);
	return ret;
}

static void check_folded(const char *field)
{
	const char *line = field;
	for (const char *p; (p = strstr(line, "\r\n")) != NULL; line = p + 2) {
		assert_true(p - line <= DKIM_FIELD_WIDTH);
		assert_true(line == field || line[0] == ' '); /* continuation */
	}
	assert_string_equal(line, "");
}

static const char test_msg[] =
	"Received: from x by y; Sun, 6 Dec 2026 07:00:00 +0000\r\n"
	"From: Alice <alice@Example.COM>\r\n"
	"To: bob@remote.example\r\n"
	"Subject: one\r\n"
	"Subject:  two\r\n"
	"X-Other: not signed\r\n"
	"\r\n"
	"body line  one\r\n\r\n\r\n";

static void test_rsa_field_and_verify(void **state)
{
	(void)state;
	struct dkim_key key;
	const char *error;
	memset(&key, 0, sizeof(key));
	assert_int_equal(dkim_key_generate(DKIM_KEY_RSA, &key, &error), 0);
	assert_int_equal(EVP_PKEY_get_bits(key.pkey), 2048);
	snprintf(key.domain, sizeof(key.domain), "%s", "example.com");
	snprintf(key.selector, sizeof(key.selector), "%s", "rsa-20261206");
	struct dkim_sign *ds = sign_message(test_msg, 7);
	const char *domain;
	assert_int_equal(dkim_sign_from_domain(ds, &domain, &error), 0);
	assert_string_equal(domain, "example.com");
	str_t field = STR_INIT;
	assert_int_equal(dkim_sign_field(ds, &key, 1765000000, &field, &error), 0);
	check_folded(str_c(&field));
	assert_true(strncmp(field.data, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
			    53) == 0);
	char *h = tag_value(field.data, "h"), *t = tag_value(field.data, "t");
	char *b = tag_value(field.data, "b"), *s = tag_value(field.data, "s");
	/* From once more than present; both Subjects; nothing unsigned */
	assert_string_equal(h, "from:from:subject:subject:to");
	assert_string_equal(t, "1765000000");
	assert_string_equal(s, "rsa-20261206");
	assert_null(strstr(field.data, "l="));
	/* verify: the signed data is the fields, then the field with b= empty */
	const char *bpos = strstr(field.data, " b=");
	assert_non_null(bpos);
	static const char *const names[] = { "from", "from", "subject", "subject", "to" };
	str_t data = STR_INIT, sig = STR_INIT;
	dkim_sign_header_data(ds, names, 5, field.data, (size_t)(bpos + 3 - field.data), &data);
	/* the last Subject first (RFC 6376 5.4.2), the missing From as nothing */
	assert_non_null(strstr(str_c(&data), "from:Alice <alice@Example.COM>\r\n"
			       "subject:two\r\nsubject:one\r\nto:bob@remote.example\r\n"
			       "dkim-signature:v=1;"));
	assert_int_equal(base64_decode(b, strlen(b), &sig), 0);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key.pkey), 1);
	assert_int_equal(EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len,
					  (const unsigned char *)data.data, data.len), 1);
	/* and a changed header no longer verifies */
	data.data[5] ^= 1;
	assert_int_not_equal(EVP_DigestVerify(md, (const unsigned char *)sig.data, sig.len,
					      (const unsigned char *)data.data, data.len), 1);
	EVP_MD_CTX_free(md);
	free(h);
	free(t);
	free(b);
	free(s);
	str_free(&data);
	str_free(&sig);
	str_free(&field);
	dkim_sign_free(&ds);
	dkim_key_clear(&key);
}

static void check_from(const char *msg, const char *want_domain)
{
	struct dkim_sign *ds = sign_message(msg, 3);
	const char *domain = NULL, *error = NULL;
	int r = dkim_sign_from_domain(ds, &domain, &error);
	if (want_domain == NULL) {
		assert_int_equal(r, -1);
		assert_non_null(error);
	} else {
		assert_int_equal(r, 0);
		assert_string_equal(domain, want_domain);
	}
	dkim_sign_free(&ds);
}

static void test_from_domain(void **state)
{
	(void)state;
	check_from("From: a@b.example\r\n\r\nx", "b.example");
	check_from("from :\r\n \"A, B\" <a@Sub.B.Example>\r\n\r\n", "sub.b.example");
	check_from("To: a@b.example\r\n\r\n", NULL);                  /* none */
	check_from("From: a@b.example\r\nFrom: c@d.example\r\n\r\n", NULL);
	check_from("From: a@b.example, c@d.example\r\n\r\n", NULL);
	check_from("From: a@../../etc\r\n\r\n", NULL);                /* no path */
	check_from("From: a@[127.0.0.1]\r\n\r\n", NULL);
	check_from("From: a\r\n\r\n", NULL);
	check_from("\r\nFrom: a@b.example\r\n", NULL);     /* that is body */
	check_from("From: a@b.example", "b.example");      /* no body at all */
	/* a header section over the limit is not signed */
	str_t big = STR_INIT;
	str_appendz(&big, "From: a@b.example\r\n");
	while (big.len <= DKIM_HEADER_MAX)
		str_appendz(&big, "X-Pad: 0123456789012345678901234567890123456789\r\n");
	str_appendz(&big, "\r\nbody\r\n");
	check_from(str_c(&big), NULL);
	str_free(&big);
}

static void test_txt_strings(void **state)
{
	(void)state;
	char rec[600];
	memset(rec, 'A', sizeof(rec));
	str_t out = STR_INIT;
	dkim_txt_strings(rec, sizeof(rec), &out);
	assert_int_equal(out.len, 600 + 3 * 2 + 2);
	assert_true(out.data[0] == '"' && out.data[256] == '"' && out.data[257] == ' ' &&
		    out.data[258] == '"');
	str_clear(&out);
	dkim_txt_strings("v=DKIM1", 7, &out);
	assert_string_equal(str_c(&out), "\"v=DKIM1\"");
	str_free(&out);
}

static void test_keys_load(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-dkim-XXXXXX";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(mkdir(t_printf("%s/dkim", dir), 0750), 0);
	assert_int_equal(mkdir(t_printf("%s/dkim/example.com", dir), 0750), 0);
	struct dkim_key keys[DKIM_KEYS_MAX];
	unsigned count = 9;
	const char *error;
	/* no directory: no keys, no error */
	assert_int_equal(dkim_keys_load(dir, "other.example", keys, DKIM_KEYS_MAX, &count,
					&error), 0);
	assert_int_equal(count, 0);
	assert_int_equal(dkim_keys_load(dir, "../..", keys, DKIM_KEYS_MAX, &count, &error), 0);
	assert_int_equal(count, 0);
	static const enum dkim_key_type types[] = { DKIM_KEY_ED25519, DKIM_KEY_RSA };
	static const char *const sel[] = { "b-ed", "a-rsa" };
	for (unsigned i = 0; i < 2; i++)
		test_dkim_write_key(t_printf("%s/dkim/example.com/%s.key", dir, sel[i]), types[i]);
	assert_int_equal(dkim_keys_load(dir, "example.com", keys, DKIM_KEYS_MAX, &count,
					&error), 0);
	assert_int_equal(count, 2);
	assert_string_equal(keys[0].selector, "a-rsa"); /* name order */
	assert_int_equal(keys[0].type, DKIM_KEY_RSA);
	assert_string_equal(keys[1].selector, "b-ed");
	assert_int_equal(keys[1].type, DKIM_KEY_ED25519);
	assert_string_equal(keys[1].domain, "example.com");
	for (unsigned i = 0; i < count; i++)
		dkim_key_clear(&keys[i]);
	/* more keys than DKIM_KEYS_MAX: the first ones by name sign */
	for (unsigned i = 0; i < DKIM_KEYS_MAX + 2; i++)
		test_dkim_write_key(t_printf("%s/dkim/example.com/z%u.key", dir, 9 - i),
				    DKIM_KEY_ED25519);
	assert_int_equal(dkim_keys_load(dir, "example.com", keys, DKIM_KEYS_MAX, &count,
					&error), 0);
	assert_int_equal(count, DKIM_KEYS_MAX);
	assert_string_equal(keys[0].selector, "a-rsa");
	assert_string_equal(keys[1].selector, "b-ed");
	assert_string_equal(keys[2].selector, "z4");
	assert_string_equal(keys[3].selector, "z5");
	for (unsigned i = 0; i < count; i++)
		dkim_key_clear(&keys[i]);
	/* a broken key is an error */
	FILE *f = fopen(t_printf("%s/dkim/example.com/c.key", dir), "w");
	assert_non_null(f);
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(dkim_keys_load(dir, "example.com", keys, DKIM_KEYS_MAX, &count,
					&error), -1);
	assert_int_equal(count, 0);
	assert_non_null(strstr(error, "c.key"));
	assert_int_equal(system(t_printf("rm -rf %s", dir)), 0);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(dkim_domain_valid("example.com"));
	assert_false(dkim_domain_valid("Example.com"));
	assert_false(dkim_domain_valid(".example.com"));
	assert_false(dkim_domain_valid("example..com"));
	assert_false(dkim_domain_valid("example.com."));
	assert_false(dkim_domain_valid("a/b"));
	assert_false(dkim_domain_valid(""));
	assert_true(dkim_selector_valid("rsa-20261206"));
	assert_true(dkim_selector_valid("s1.2026"));
	assert_false(dkim_selector_valid("../x"));
	assert_false(dkim_selector_valid("a/b"));
	assert_false(dkim_selector_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8463_example),
		cmocka_unit_test(test_rsa_field_and_verify),
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_txt_strings),
		cmocka_unit_test(test_keys_load),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
