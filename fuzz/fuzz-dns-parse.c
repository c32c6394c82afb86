/* fuzz-dns-parse.c: libFuzzer target for dns/dns_parse.h, the parsers of
 * what DNS and an MTA-STS policy host (both untrusted) hand to Postel.
 *
 * Every line of the input goes to the SPF and tag-list parsers, the whole
 * input to the record-data and MTA-STS policy parsers. Invariants, checked
 * with abort(): what they return is printable ASCII, bounded, and inside
 * their limits; a parsed name ends inside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_printable(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len > max)
		abort();
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
	}
}

static void check_dns_line(pool_t *pool, const char *line, size_t len)
{
	struct dns_spf spf;
	struct dns_tags tags;
	const char *error = NULL;

	if (dns_spf_parse(pool, line, len, &spf, &error) == 0) {
		if (spf.include_count > DNS_SPF_TERMS_MAX ||
		    spf.lookups > DNS_SPF_TERMS_MAX + 1)
			abort();
		for (unsigned i = 0; i < spf.include_count; i++)
			check_printable(spf.includes[i], 255 * 4 + 3);
	} else {
		check_printable(error, 4096);
	}
	if (dns_tags_parse(pool, line, len, &tags, &error) == 0) {
		if (tags.count > DNS_TAGS_MAX)
			abort();
		for (unsigned i = 0; i < tags.count; i++) {
			check_printable(tags.tag[i], 60 * 4 + 3);
			check_printable(tags.value[i], 2048 * 4 + 3);
		}
	}
}

static void check_dns_whole(pool_t *pool, const uint8_t *data, size_t size)
{
	char host[DNS_NAME_MAX + 1];
	unsigned pref;
	size_t off = 0;
	str_t txt = STR_INIT;
	struct dns_sts_policy pol;
	const char *error = NULL;

	if (dns_rdata_mx(data, size, &pref, host) == 0)
		check_printable(host, DNS_NAME_MAX);
	if (dns_rdata_name(data, size, &off, host) == 0 && (off > size || off == 0))
		abort();
	if (dns_rdata_txt(data, size, &txt) == 0 && txt.len >= size + (size == 0))
		abort();
	str_free(&txt);
	if (dns_sts_policy_parse(pool, (const char *)data, size, &pol, &error) == 0) {
		if (pol.mx_count > DNS_STS_MX_MAX || pol.max_age < 0)
			abort();
		for (unsigned i = 0; i < pol.mx_count; i++) {
			check_printable(pol.mx[i], 255 * 4 + 3);
			(void)dns_sts_mx_match(pol.mx[i], "mx.example.org");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pool_t *pool = pool_create(4096);
	const char *buf = (const char *)data;
	size_t left = size;

	/* one line at a time, bounded by the input */
	while (left > 0) {
		const char *nl = memchr(buf, '\n', left);
		size_t len = nl != NULL ? (size_t)(nl - buf) : left;
		check_dns_line(pool, buf, len);
		buf += len + (nl != NULL);
		left -= len + (nl != NULL);
	}
	check_dns_whole(pool, data, size);
	pool_destroy(&pool);
	return 0;
}
