/* test-dns-parse.c: unit tests for dns/dns_parse.h: record data
 * in wire format, tag lists, SPF, MTA-STS policies and mx patterns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dns/dns_parse.h"

static void test_rdata(void **state)
{
	static const uint8_t mx[] = { 0, 10, 2, 'm', 'X', 4, 'g', 'o', 'o', 'd', 0 };
	static const uint8_t root_mx[] = { 0, 0, 0 };
	static const uint8_t bad_len[] = { 0, 10, 9, 'm', 'x', 0 };
	static const uint8_t bad_char[] = { 0, 10, 2, 'm', '\033', 0 };
	static const uint8_t compressed[] = { 0, 10, 0xc0, 12 };
	static const uint8_t txt[] = { 3, 'a', 'b', 'c', 0, 2, 'd', 'e' };
	static const uint8_t txt_bad[] = { 5, 'a', 'b' };
	char host[DNS_NAME_MAX + 1];
	unsigned pref;
	str_t s = STR_INIT;

	(void)state;
	assert_int_equal(dns_rdata_mx(mx, sizeof(mx), &pref, host), 0);
	assert_int_equal(pref, 10);
	assert_string_equal(host, "mx.good");
	assert_int_equal(dns_rdata_mx(root_mx, sizeof(root_mx), &pref, host), 0);
	assert_string_equal(host, ".");
	assert_int_equal(dns_rdata_mx(bad_len, sizeof(bad_len), &pref, host), -1);
	assert_int_equal(dns_rdata_mx(bad_char, sizeof(bad_char), &pref, host), -1);
	assert_int_equal(dns_rdata_mx(compressed, sizeof(compressed), &pref, host), -1);
	assert_int_equal(dns_rdata_mx(mx, 5, &pref, host), -1);
	assert_int_equal(dns_rdata_txt(txt, sizeof(txt), &s), 0);
	assert_string_equal(str_c(&s), "abcde");
	str_clear(&s);
	assert_int_equal(dns_rdata_txt(txt_bad, sizeof(txt_bad), &s), -1);
	str_free(&s);
}

static void test_tags(void **state)
{
	pool_t *pool = pool_create(1024);
	struct dns_tags tags;
	const char *error = NULL;
	static const char rec[] = " v=DMARC1 ;p = reject; rua=mailto:a@b;; ";

	(void)state;
	assert_int_equal(dns_tags_parse(pool, rec, strlen(rec), &tags, &error), 0);
	assert_int_equal(tags.count, 3);
	assert_string_equal(tags.tag[0], "v");
	assert_string_equal(tags.value[0], "DMARC1");
	assert_string_equal(dns_tags_get(&tags, "p"), "reject");
	assert_string_equal(dns_tags_get(&tags, "rua"), "mailto:a@b");
	assert_null(dns_tags_get(&tags, "sp"));
	assert_int_equal(dns_tags_parse(pool, "v=1; junk", 9, &tags, &error), -1);
	assert_string_equal(error, "\"junk\" is not tag=value");
	assert_int_equal(dns_tags_parse(pool, "=x", 2, &tags, &error), -1);
	pool_destroy(&pool);
}

static void test_spf(void **state)
{
	pool_t *pool = pool_create(1024);
	struct dns_spf spf;
	const char *error = NULL;
#define SPF(s) dns_spf_parse(pool, s, strlen(s), &spf, &error)

	(void)state;
	assert_int_equal(SPF("v=spf1 mx a:x.example/24 include:_spf.example "
			     "ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{i}.x ptr "
			     "exp=explain.example ~all"), 0);
	assert_int_equal(spf.lookups, 5);
	assert_int_equal(spf.include_count, 1);
	assert_string_equal(spf.includes[0], "_spf.example");
	assert_int_equal(spf.all, '~');
	assert_true(spf.has_ptr);
	assert_int_equal(SPF("v=spf1 redirect=_spf.example"), 0);
	assert_string_equal(spf.redirect, "_spf.example");
	assert_int_equal(spf.lookups, 1);
	assert_int_equal(spf.all, 0);
	assert_int_equal(SPF("v=spf1"), 0);
	assert_int_equal(SPF("v=spf1 -ALL"), 0);
	assert_int_equal(spf.all, '-');

	assert_int_equal(SPF("v=spf10 -all"), -1);
	assert_int_equal(SPF("spf1 -all"), -1);
	assert_int_equal(SPF("v=spf1 ipv4:1.2.3.4 -all"), -1);
	assert_string_equal(error, "unknown mechanism \"ipv4:1.2.3.4\"");
	assert_int_equal(SPF("v=spf1 ip4:1.2.3 -all"), -1);
	assert_int_equal(SPF("v=spf1 ip6:1.2.3.4 -all"), -1);
	assert_int_equal(SPF("v=spf1 include -all"), -1);
	assert_int_equal(SPF("v=spf1 include: -all"), -1);
	assert_int_equal(SPF("v=spf1 allx"), -1);
	assert_int_equal(SPF("v=spf1 redirect=a redirect=b"), -1);
	assert_int_equal(SPF("v=spf1 \033[31m"), -1);
	/* the escape reaches the message escaped */
	assert_non_null(strstr(error, "\\x1b[31m"));
#undef SPF
	pool_destroy(&pool);
}

static void test_sts_policy(void **state)
{
	pool_t *pool = pool_create(1024);
	struct dns_sts_policy pol;
	const char *error = NULL;
	static const char good[] = "version: STSv1\r\nmode: enforce\r\nmx: mx.example\r\n"
		"mx: *.example.net\r\nmax_age: 86400\r\nextension: x\r\n";
	static const char no_mx[] = "version: STSv1\nmode: enforce\nmax_age: 5\n";
	static const char none[] = "version: STSv1\nmode: none\nmax_age: 5";
	static const char old[] = "version: STSv2\nmode: enforce\nmx: a\nmax_age: 5\n";
	static const char age[] = "version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999\n";
	static const char junk[] = "<html>";

	(void)state;
	assert_int_equal(dns_sts_policy_parse(pool, good, strlen(good), &pol, &error), 0);
	assert_string_equal(pol.mode, "enforce");
	assert_int_equal(pol.mx_count, 2);
	assert_int_equal(pol.max_age, 86400);
	assert_int_equal(dns_sts_policy_parse(pool, no_mx, strlen(no_mx), &pol, &error), -1);
	assert_string_equal(error, "no mx line");
	assert_int_equal(dns_sts_policy_parse(pool, none, strlen(none), &pol, &error), 0);
	assert_int_equal(dns_sts_policy_parse(pool, old, strlen(old), &pol, &error), -1);
	assert_int_equal(dns_sts_policy_parse(pool, age, strlen(age), &pol, &error), -1);
	assert_int_equal(dns_sts_policy_parse(pool, junk, strlen(junk), &pol, &error), -1);

	assert_true(dns_sts_mx_match("mx.example", "MX.example"));
	assert_true(dns_sts_mx_match("*.example.net", "a.example.net"));
	assert_false(dns_sts_mx_match("*.example.net", "a.b.example.net"));
	assert_false(dns_sts_mx_match("*.example.net", "example.net"));
	assert_false(dns_sts_mx_match("mx.example", "mx.example.org"));
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdata),
		cmocka_unit_test(test_tags),
		cmocka_unit_test(test_spf),
		cmocka_unit_test(test_sts_policy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
