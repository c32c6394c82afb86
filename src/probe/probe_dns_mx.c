/* probe_dns_mx.c: the MX records of the domain, the addresses of each MX
 * host, forward-confirmed reverse DNS of each address, and TLSA records
 * (RFC 7672) of each MX host. See probe_dns_private.h. */
#include "probe/probe_dns_private.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int probe_mx_cmp(const void *a, const void *b)
{
	const struct probe_dns_mx *x = a, *y = b;
	return x->pref < y->pref ? -1 : x->pref > y->pref;
}

static void probe_dns_mx_hosts(struct probe_dns_run *run)
{
	for (unsigned i = 0; i < run->mx_count; i++) {
		struct probe_dns_mx *mx = &run->mx[i];
		const char *error;
		unsigned char bin[16];

		if (inet_pton(AF_INET, mx->host, bin) == 1) {
			probe_dns_verdict(run, "mx-host", mx->host, PROBE_V_FAIL,
					  "point the MX at a host name whose A record "
					  "holds the address",
					  "an MX must name a host, not an address "
					  "(RFC 5321 5.1)");
			continue;
		}
		int n = probe_dns_addrs(run, mx->host, mx->addrs, PROBE_DNS_ADDRS_MAX,
					&error);
		if (n < 0) {
			probe_dns_lookup_failed(run, "mx-host", mx->host, error);
			continue;
		}
		mx->addr_count = (unsigned)n;
		if (n == 0) {
			probe_dns_verdict(run, "mx-host", mx->host, PROBE_V_FAIL,
					  pool_printf(run->pool, "add an A (or AAAA) record for %s, or "
						   "point the MX at a host that has one",
						   mx->host),
					  "has no A or AAAA record: mail cannot be "
					  "delivered to it");
			continue;
		}
		str_t list = STR_INIT;
		for (unsigned a = 0; a < mx->addr_count; a++)
			str_printf(&list, "%s%s", a > 0 ? ", " : "", mx->addrs[a]);
		probe_dns_verdict(run, "mx-host", mx->host, PROBE_V_OK, NULL, "%s",
				  str_c(&list));
		str_free(&list);
	}
}

void probe_dns_check_mx(struct probe_dns_run *run)
{
	const char *domain = run->set->domain, *error;
	struct dns_answer *res;

	int r = probe_dns_query(run, domain, DNS_MX, &res, &error);
	if (r < 0) {
		probe_dns_lookup_failed(run, "mx", domain, error);
		return;
	}
	if (r == 0) {
		bool nx = res->result == DNS_RESULT_NXDOMAIN;
		/* RFC 4035 3.1.3: only a validated denial proves the name is
		 * absent; otherwise it is the resolver's word */
		const char *trust = res->security == DNS_SECURE ? ", DNSSEC-validated" :
			", not DNSSEC-validated: a resolver that is wrong or lies "
			"would say the same";
		dns_answer_free(&res);
		probe_dns_verdict(run, "mx", domain, PROBE_V_FAIL,
				  nx ? "register the domain, or fix its delegation" :
				  pool_printf(run->pool, "add an MX record, e.g. \"%s. MX 10 mail.%s.\"",
					   domain, domain),
				  nx ? "the domain does not exist (NXDOMAIN%s)" :
				  "no MX record: senders fall back to the domain's "
				  "address (RFC 5321 5.1), if it has one", nx ? trust : "");
		return;
	}
	for (unsigned i = 0; i < res->count && run->mx_count < PROBE_DNS_MX_MAX; i++) {
		char host[DNS_NAME_MAX + 1];
		unsigned pref;
		if (dns_rdata_mx(res->data[i], res->len[i], &pref, host) < 0)
			continue;
		run->mx[run->mx_count].pref = pref;
		run->mx[run->mx_count].host = pool_strdup(run->pool, host);
		run->mx_count++;
	}
	dns_answer_free(&res);
	qsort(run->mx, run->mx_count, sizeof(run->mx[0]), probe_mx_cmp);
	if (run->mx_count == 0) {
		probe_dns_verdict(run, "mx", domain, PROBE_V_FAIL,
				  "publish MX records that name host names",
				  "MX records could not be read");
		return;
	}
	if (run->mx_count == 1 && strcmp(run->mx[0].host, ".") == 0) {
		probe_dns_verdict(run, "mx", domain, PROBE_V_INFO, NULL,
				  "null MX: this domain accepts no mail (RFC 7505)");
		run->mx_count = 0;
		return;
	}
	str_t list = STR_INIT;
	for (unsigned i = 0; i < run->mx_count; i++)
		str_printf(&list, "%s%u %s", i > 0 ? ", " : "", run->mx[i].pref,
			   run->mx[i].host);
	probe_dns_verdict(run, "mx", domain, PROBE_V_OK, NULL, "%s", str_c(&list));
	str_free(&list);
	probe_dns_mx_hosts(run);
}

/* "4.3.2.1.in-addr.arpa" or the ip6.arpa nibbles (RFC 3596 2.5). */
static const char *probe_reverse_name(pool_t *pool, const char *addr)
{
	unsigned char b[16];
	str_t s = STR_INIT;

	if (inet_pton(AF_INET, addr, b) == 1) {
		str_printf(&s, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
	} else if (inet_pton(AF_INET6, addr, b) == 1) {
		for (int i = 15; i >= 0; i--)
			str_printf(&s, "%x.%x.", b[i] & 15, b[i] >> 4);
		str_appendz(&s, "ip6.arpa");
	}
	const char *name = pool_strndup(pool, str_c(&s), s.len);
	str_free(&s);
	return name;
}

static void probe_dns_fcrdns_addr(struct probe_dns_run *run, const char *mxhost,
				  const char *addr)
{
	struct dns_answer *res;
	const char *error;
	char ptr[DNS_NAME_MAX + 1] = "";
	const char *fix = pool_printf(run->pool, "ask whoever runs %s (the hosting provider) to set "
				   "its PTR record to %s", addr, mxhost);

	int r = probe_dns_query(run, probe_reverse_name(run->pool, addr), DNS_PTR, &res,
				&error);
	if (r <= 0) {
		dns_answer_free(&res);
		probe_dns_verdict(run, "fcrdns", addr, PROBE_V_FAIL, fix, "%s",
				  r < 0 ? error : "no PTR record: many receivers "
				  "refuse mail from addresses without one");
		return;
	}
	size_t off = 0;
	int ok = dns_rdata_name(res->data[0], res->len[0], &off, ptr);
	dns_answer_free(&res);
	if (ok < 0) {
		probe_dns_verdict(run, "fcrdns", addr, PROBE_V_FAIL, fix,
				  "the PTR record could not be read");
		return;
	}
	char *back[PROBE_DNS_ADDRS_MAX];
	int n = probe_dns_addrs(run, ptr, back, PROBE_DNS_ADDRS_MAX, &error);
	for (int i = 0; i < n; i++) {
		if (strcmp(back[i], addr) == 0) {
			probe_dns_verdict(run, "fcrdns", addr, PROBE_V_OK, NULL,
					  "%s -> %s -> %s", addr, ptr, addr);
			return;
		}
	}
	probe_dns_verdict(run, "fcrdns", addr, PROBE_V_FAIL,
			  pool_printf(run->pool, "make %s resolve to %s, or set the PTR to a name "
				   "that does (such as %s)", ptr, addr, mxhost),
			  "PTR is %s, which does not resolve back to %s", ptr, addr);
}

void probe_dns_check_fcrdns(struct probe_dns_run *run)
{
	for (unsigned i = 0; i < run->mx_count; i++) {
		for (unsigned a = 0; a < run->mx[i].addr_count; a++)
			probe_dns_fcrdns_addr(run, run->mx[i].host, run->mx[i].addrs[a]);
	}
}

/* RFC 6698 2.1: usage 0-3, selector 0-1, matching type 0-2 with the
 * digest length of SHA-256 (32) or SHA-512 (64). */
static bool probe_tlsa_valid(const unsigned char *d, size_t len)
{
	if (len < 4 || d[0] > 3 || d[1] > 1 || d[2] > 2)
		return false;
	return d[2] == 0 || len - 3 == (d[2] == 1 ? 32u : 64u);
}

void probe_dns_check_tlsa(struct probe_dns_run *run)
{
	for (unsigned i = 0; i < run->mx_count; i++) {
		const char *name = pool_printf(run->pool, "_25._tcp.%s", run->mx[i].host), *error;
		struct dns_answer *res;
		int r = probe_dns_query(run, name, DNS_TLSA, &res, &error);
		if (r < 0) {
			probe_dns_lookup_failed(run, "tlsa", name, error);
			continue;
		}
		if (r == 0) {
			dns_answer_free(&res);
			probe_dns_verdict(run, "tlsa", name, PROBE_V_INFO, NULL,
					  "no TLSA records (DANE is optional and needs a "
					  "DNSSEC-signed zone)");
			continue;
		}
		int count = 0, bad = 0;
		for (unsigned k = 0; k < res->count; k++, count++)
			bad += !probe_tlsa_valid(res->data[k], res->len[k]);
		/* RFC 7672 2.2: DANE needs TLSA records that validate */
		bool secure = res->security == DNS_SECURE;
		dns_answer_free(&res);
		if (bad > 0)
			probe_dns_verdict(run, "tlsa", name, PROBE_V_FAIL,
					  "publish \"3 1 1 <SHA-256 of the server's public "
					  "key>\" records",
					  "%d of %d TLSA records are malformed (RFC 6698 2.1)",
					  bad, count);
		else
			probe_dns_verdict(run, "tlsa", name, PROBE_V_OK, NULL,
					  "%d TLSA record%s%s", count, count == 1 ? "" : "s",
					  secure ? ", DNSSEC-validated" :
					  " (not DNSSEC-validated by this probe)");
	}
}
