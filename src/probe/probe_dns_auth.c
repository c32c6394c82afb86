/* probe_dns_auth.c: the records that let receivers authenticate the
 * domain's mail: SPF (RFC 7208), DMARC (RFC 7489) and a DKIM key
 * (RFC 6376). See probe_dns_private.h. */
#include "probe/probe_dns_private.h"
#include "lib/base64.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* RFC 7208 4.6.4: at most 10 terms that cause DNS lookups, counted over
 * the whole tree of include: and redirect=. */
#define PROBE_SPF_LOOKUP_LIMIT 10

#define PROBE_TXT_MAX 8

/* Adds the lookups of the SPF record of domain (and what it includes) to
 * *total. 0, or -1 with *error_r (a permerror). */
static int probe_spf_count(struct probe_dns_run *run, const char *domain,
			   unsigned depth, unsigned *total, const char **error_r)
{
	char *records[PROBE_TXT_MAX];
	struct dns_spf spf;

	if (*total > PROBE_SPF_LOOKUP_LIMIT || depth > PROBE_SPF_LOOKUP_LIMIT)
		return 0; /* over the limit already: no need to look further */
	int n = probe_dns_txt(run, domain, "v=spf1", records, PROBE_TXT_MAX, error_r);
	if (n < 0)
		return -1;
	if (n != 1) {
		*error_r = pool_printf(run->pool, "%s has %s SPF record", domain, n == 0 ? "no" :
				    "more than one");
		return -1;
	}
	if (dns_spf_parse(run->pool, records[0], strlen(records[0]), &spf, error_r) < 0) {
		*error_r = pool_printf(run->pool, "the SPF record of %s: %s", domain, *error_r);
		return -1;
	}
	*total += spf.lookups;
	for (unsigned i = 0; i < spf.include_count; i++) {
		if (probe_spf_count(run, spf.includes[i], depth + 1, total, error_r) < 0)
			return -1;
	}
	if (spf.redirect != NULL && spf.all == 0)
		return probe_spf_count(run, spf.redirect, depth + 1, total, error_r);
	return 0;
}

void probe_dns_check_spf(struct probe_dns_run *run)
{
	const char *domain = run->set->domain, *error;
	const char *fix_add = pool_printf(run->pool, "add \"%s. TXT \\\"v=spf1 mx -all\\\"\" (the MX "
				       "hosts may send, nobody else)", domain);
	char *records[PROBE_TXT_MAX];
	struct dns_spf spf;
	unsigned total = 0;

	int n = probe_dns_txt(run, domain, "v=spf1", records, PROBE_TXT_MAX, &error);
	if (n < 0) {
		probe_dns_lookup_failed(run, "spf", domain, error);
		return;
	}
	if (n == 0) {
		probe_dns_verdict(run, "spf", domain, PROBE_V_FAIL, fix_add,
				  "no SPF record: receivers cannot tell who may send "
				  "as %s", domain);
		return;
	}
	if (n > 1) {
		probe_dns_verdict(run, "spf", domain, PROBE_V_FAIL,
				  "merge them into one record",
				  "%d SPF records: receivers treat that as permerror "
				  "(RFC 7208 4.5)", n);
		return;
	}
	if (dns_spf_parse(run->pool, records[0], strlen(records[0]), &spf, &error) < 0) {
		probe_dns_verdict(run, "spf", domain, PROBE_V_FAIL,
				  "correct the record's syntax (RFC 7208 4.6, 5)",
				  "\"%s\": %s", records[0], error);
		return;
	}
	if (probe_spf_count(run, domain, 0, &total, &error) < 0) {
		probe_dns_verdict(run, "spf", domain, PROBE_V_FAIL,
				  "fix or remove the include: that fails",
				  "permerror: %s", error);
		return;
	}
	if (total > PROBE_SPF_LOOKUP_LIMIT) {
		probe_dns_verdict(run, "spf", domain, PROBE_V_FAIL,
				  "replace include: chains by ip4:/ip6: ranges, or drop "
				  "unused ones",
				  "more than %d DNS lookups (at least %u): receivers "
				  "return permerror (RFC 7208 4.6.4)",
				  PROBE_SPF_LOOKUP_LIMIT, total);
		return;
	}
	if (spf.all == '+') {
		probe_dns_verdict(run, "spf", domain, PROBE_V_FAIL,
				  "end the record with -all or ~all",
				  "\"+all\" lets anyone send as %s", domain);
		return;
	}
	if (spf.all == 0 && spf.redirect == NULL) {
		probe_dns_verdict(run, "spf", domain, PROBE_V_WARN,
				  "end the record with -all (or ~all)",
				  "\"%s\": no \"all\" at the end, so other senders get "
				  "neutral", records[0]);
		return;
	}
	probe_dns_verdict(run, "spf", domain, spf.has_ptr ? PROBE_V_WARN : PROBE_V_OK,
			  spf.has_ptr ? "replace \"ptr\" by ip4:/ip6: or a" : NULL,
			  "\"%s\", %u of %d DNS lookups%s", records[0], total,
			  PROBE_SPF_LOOKUP_LIMIT,
			  spf.has_ptr ? "; \"ptr\" is slow and discouraged (RFC 7208 5.5)" : "");
}

/* A record of "tag=value" pairs at name, whose first tag must be v=want.
 * 1 with tags, 0 with a verdict already given. */
static int probe_dns_tag_record(struct probe_dns_run *run, const char *check,
				const char *name, const char *prefix, const char *want,
				const char *fix_missing, struct dns_tags *tags)
{
	char *records[PROBE_TXT_MAX];
	const char *error;

	int n = probe_dns_txt(run, name, prefix, records, PROBE_TXT_MAX, &error);
	if (n < 0) {
		probe_dns_lookup_failed(run, check, name, error);
		return 0;
	}
	if (n == 0) {
		probe_dns_verdict(run, check, name, PROBE_V_FAIL, fix_missing,
				  "no record");
		return 0;
	}
	if (n > 1) {
		probe_dns_verdict(run, check, name, PROBE_V_FAIL,
				  "keep exactly one record", "%d records: receivers "
				  "ignore them all", n);
		return 0;
	}
	if (dns_tags_parse(run->pool, records[0], strlen(records[0]), tags, &error) < 0) {
		probe_dns_verdict(run, check, name, PROBE_V_FAIL,
				  "use tag=value pairs separated by ';'",
				  "\"%s\": %s", records[0], error);
		return 0;
	}
	if (tags->count == 0 || strcmp(tags->tag[0], "v") != 0 ||
	    strcmp(tags->value[0], want) != 0) {
		probe_dns_verdict(run, check, name, PROBE_V_FAIL,
				  pool_printf(run->pool, "start the record with v=%s;", want),
				  "\"%s\" does not start with v=%s", records[0], want);
		return 0;
	}
	return 1;
}

void probe_dns_check_dmarc(struct probe_dns_run *run)
{
	const char *domain = run->set->domain;
	const char *name = pool_printf(run->pool, "_dmarc.%s", domain);
	struct dns_tags tags = { 0 };

	if (probe_dns_tag_record(run, "dmarc", name, "v=DMARC1", "DMARC1",
				 pool_printf(run->pool, "add \"%s. TXT \\\"v=DMARC1; p=quarantine; "
					  "rua=mailto:dmarc@%s\\\"\"", name, domain),
				 &tags) == 0)
		return;
	const char *p = dns_tags_get(&tags, "p");
	/* RFC 7489 6.3: p is required and comes right after v */
	if (p == NULL || (strcmp(p, "none") != 0 && strcmp(p, "quarantine") != 0 &&
			  strcmp(p, "reject") != 0)) {
		probe_dns_verdict(run, "dmarc", name, PROBE_V_FAIL,
				  "set p=none, p=quarantine or p=reject",
				  "no valid p= policy (RFC 7489 6.3)");
		return;
	}
	const char *rua = dns_tags_get(&tags, "rua");
	if (strcmp(p, "none") == 0)
		probe_dns_verdict(run, "dmarc", name, PROBE_V_WARN,
				  "move to p=quarantine, then p=reject, once the reports "
				  "show only your own mail",
				  "p=none only monitors: spoofed mail is still delivered");
	else
		probe_dns_verdict(run, "dmarc", name, PROBE_V_OK, NULL, "p=%s%s%s", p,
				  rua != NULL ? ", reports to " : "", rua != NULL ? rua : "");
}

void probe_dns_check_dkim(struct probe_dns_run *run)
{
	const char *domain = run->set->domain, *sel = run->set->selector;
	struct dns_tags tags = { 0 };

	if (sel == NULL) {
		probe_dns_verdict(run, "dkim", domain, PROBE_V_INFO, NULL,
				  "not checked: give the signer's selector with --selector");
		return;
	}
	const char *name = pool_printf(run->pool, "%s._domainkey.%s", sel, domain);
	const char *fix = pool_printf(run->pool, "publish the public key of your signer at %s "
				   "(e.g. from \"opendkim-genkey -s %s -d %s\")",
				   name, sel, domain);
	if (probe_dns_tag_record(run, "dkim", name, "v=DKIM1", "DKIM1", fix, &tags) == 0)
		return;
	const char *k = dns_tags_get(&tags, "k"), *p = dns_tags_get(&tags, "p");
	if (p == NULL || p[0] == '\0') {
		probe_dns_verdict(run, "dkim", name, PROBE_V_FAIL, fix,
				  p == NULL ? "no p= key" :
				  "the key is revoked (empty p=, RFC 6376 3.6.1)");
		return;
	}
	str_t b64 = STR_INIT, der = STR_INIT;
	for (const char *c = p; *c != '\0'; c++) {
		if (*c != ' ' && *c != '\t')
			str_appendc(&b64, *c);
	}
	int bits = -1;
	if (base64_decode(str_c(&b64), b64.len, &der) == 0) {
		const unsigned char *d = (const unsigned char *)str_c(&der);
		EVP_PKEY *key = k == NULL || strcmp(k, "rsa") == 0 ?
			d2i_PUBKEY(NULL, &d, (long)der.len) : NULL;
		bits = key != NULL ? EVP_PKEY_get_bits(key) :
			(k != NULL && strcmp(k, "ed25519") == 0 && der.len == 32) ? 256 : -1;
		EVP_PKEY_free(key);
	}
	str_free(&b64);
	str_free(&der);
	if (bits < 0)
		probe_dns_verdict(run, "dkim", name, PROBE_V_FAIL, fix,
				  "p= is not a valid %s public key", k != NULL ? k : "rsa");
	else if (bits < 1024)
		probe_dns_verdict(run, "dkim", name, PROBE_V_FAIL,
				  "publish a 2048-bit RSA key", "%d-bit key: receivers "
				  "ignore keys under 1024 bits (RFC 8301)", bits);
	else
		probe_dns_verdict(run, "dkim", name, bits < 2048 && (k == NULL ||
				  strcmp(k, "rsa") == 0) ? PROBE_V_WARN : PROBE_V_OK,
				  bits < 2048 ? "publish a 2048-bit RSA key" : NULL,
				  "%s key, %d bits", k != NULL ? k : "rsa", bits);
}
