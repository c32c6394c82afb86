/* dns_parse.h: parsers for what the DNS users (probe --dns, later the
 * queue runner) read from DNS and HTTPS:
 * record data in wire format (RFC 1035 3.3), SPF records (RFC 7208),
 * DMARC (RFC 7489 6.3), DKIM keys (RFC 6376 3.6.1), MTA-STS TXT records
 * and policies (RFC 8461 3.1, 3.2).
 *
 * All input is untrusted: every parser is bounded (names 255 bytes, at
 * most DNS_TAGS_MAX tags, DNS_SPF_TERMS_MAX SPF terms, DNS_STS_MX_MAX
 * policy mx lines), never reads outside its input, and reports a problem
 * as a plain-words string (escaped with dns_text_safe) rather than
 * failing silently. Strings come from the pool given. Fuzzed in
 * fuzz/fuzz-dns-parse.c. */
#ifndef POSTEL_DNS_PARSE_H
#define POSTEL_DNS_PARSE_H

#include "lib/mem.h"
#include "lib/str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_NAME_MAX 255

/* Untrusted text made safe for a terminal or a log: printable ASCII kept,
 * '\\' doubled, every other byte as \xNN, cut at max bytes of input with
 * "...". From pool. */
char *dns_text_safe(pool_t *pool, const char *s, size_t len, size_t max);

/* A domain name at rdata[*off] (no compression: RFC 3597 forbids it in
 * rdata of new types, and unbound hands rdata uncompressed) as dotted
 * text without the final dot, lower-cased, "." for the root. 0, or -1. */
int dns_rdata_name(const uint8_t *rdata, size_t len, size_t *off,
		   char out[DNS_NAME_MAX + 1]);
/* The character-strings of a TXT record, concatenated (RFC 7208 3.3). */
int dns_rdata_txt(const uint8_t *rdata, size_t len, str_t *out);
int dns_rdata_mx(const uint8_t *rdata, size_t len, unsigned *pref_r,
		 char host[DNS_NAME_MAX + 1]);

/* "tag=value; tag=value" (RFC 6376 3.2, used by DMARC and MTA-STS). */
#define DNS_TAGS_MAX 32
struct dns_tags {
	unsigned count;
	char *tag[DNS_TAGS_MAX];
	char *value[DNS_TAGS_MAX];
};
/* 0, or -1 with *error_r. Tags are case-sensitive as in the RFCs. */
int dns_tags_parse(pool_t *pool, const char *text, size_t len,
		   struct dns_tags *tags, const char **error_r);
const char *dns_tags_get(const struct dns_tags *tags, const char *tag);

/* SPF (RFC 7208). */
#define DNS_SPF_TERMS_MAX 64
struct dns_spf {
	unsigned lookups;      /* include a mx ptr exists redirect (4.6.4) */
	unsigned include_count;
	char *includes[DNS_SPF_TERMS_MAX]; /* include: targets */
	char *redirect;        /* redirect= target, or NULL */
	char all;              /* qualifier of "all" ('+', '-', '~', '?'), 0 */
	bool has_ptr;          /* "ptr" is discouraged (5.5) */
};
/* 0, or -1 with *error_r naming the bad term. */
int dns_spf_parse(pool_t *pool, const char *record, size_t len,
		  struct dns_spf *spf, const char **error_r);

/* MTA-STS policy (RFC 8461 3.2). */
#define DNS_STS_MX_MAX 16
struct dns_sts_policy {
	char *version, *mode;
	long max_age;          /* -1 when missing */
	unsigned mx_count;
	char *mx[DNS_STS_MX_MAX];
};
int dns_sts_policy_parse(pool_t *pool, const char *body, size_t len,
			 struct dns_sts_policy *policy, const char **error_r);
/* RFC 8461 4.1: "*.example.com" matches one leftmost label. */
bool dns_sts_mx_match(const char *pattern, const char *host);

#endif
