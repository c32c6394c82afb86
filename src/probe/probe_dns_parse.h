/* probe_dns_parse.h: parsers for what --dns reads from DNS and HTTPS:
 * record data in wire format (RFC 1035 3.3), SPF records (RFC 7208),
 * DMARC (RFC 7489 6.3), DKIM keys (RFC 6376 3.6.1), MTA-STS TXT records
 * and policies (RFC 8461 3.1, 3.2).
 *
 * All input is untrusted: every parser is bounded (names 255 bytes, at
 * most PROBE_TAGS_MAX tags, PROBE_SPF_TERMS_MAX SPF terms, PROBE_STS_MX_MAX
 * policy mx lines), never reads outside its input, and reports a problem
 * as a plain-words string (escaped with probe_text_safe) rather than
 * failing silently. Strings come from the pool given. Fuzzed in
 * fuzz/fuzz-probe-reply.c. */
#ifndef POSTEL_PROBE_DNS_PARSE_H
#define POSTEL_PROBE_DNS_PARSE_H

#include "lib/str.h"
#include "probe/probe.h"

#include <stdint.h>

#define PROBE_DNS_NAME_MAX 255

/* A domain name at rdata[*off] (no compression: RFC 3597 forbids it in
 * rdata of new types, and unbound hands rdata uncompressed) as dotted
 * text without the final dot, lower-cased, "." for the root. 0, or -1. */
int probe_rdata_name(const uint8_t *rdata, size_t len, size_t *off,
		     char out[PROBE_DNS_NAME_MAX + 1]);
/* The character-strings of a TXT record, concatenated (RFC 7208 3.3). */
int probe_rdata_txt(const uint8_t *rdata, size_t len, str_t *out);
int probe_rdata_mx(const uint8_t *rdata, size_t len, unsigned *pref_r,
		   char host[PROBE_DNS_NAME_MAX + 1]);

/* "tag=value; tag=value" (RFC 6376 3.2, used by DMARC and MTA-STS). */
#define PROBE_TAGS_MAX 32
struct probe_tags {
	unsigned count;
	char *tag[PROBE_TAGS_MAX];
	char *value[PROBE_TAGS_MAX];
};
/* 0, or -1 with *error_r. Tags are case-sensitive as in the RFCs. */
int probe_tags_parse(pool_t *pool, const char *text, size_t len,
		     struct probe_tags *tags, const char **error_r);
const char *probe_tags_get(const struct probe_tags *tags, const char *tag);

/* SPF (RFC 7208). */
#define PROBE_SPF_TERMS_MAX 64
struct probe_spf {
	unsigned lookups;      /* include a mx ptr exists redirect (4.6.4) */
	unsigned include_count;
	char *includes[PROBE_SPF_TERMS_MAX]; /* include: targets */
	char *redirect;        /* redirect= target, or NULL */
	char all;              /* qualifier of "all" ('+', '-', '~', '?'), 0 */
	bool has_ptr;          /* "ptr" is discouraged (5.5) */
};
/* 0, or -1 with *error_r naming the bad term. */
int probe_spf_parse(pool_t *pool, const char *record, size_t len,
		    struct probe_spf *spf, const char **error_r);

/* MTA-STS policy (RFC 8461 3.2). */
#define PROBE_STS_MX_MAX 16
struct probe_sts_policy {
	char *version, *mode;
	long max_age;          /* -1 when missing */
	unsigned mx_count;
	char *mx[PROBE_STS_MX_MAX];
};
int probe_sts_policy_parse(pool_t *pool, const char *body, size_t len,
			   struct probe_sts_policy *policy, const char **error_r);
/* RFC 8461 4.1: "*.example.com" matches one leftmost label. */
bool probe_sts_mx_match(const char *pattern, const char *host);

#endif
