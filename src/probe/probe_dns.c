/* probe_dns.c: the --dns checks' lookups (dns/dns.h on a loop of the
 * probe's own, one question at a time), the resolver check that comes
 * first, and the order of the checks. See probe_dns.h. */
#include "probe/probe_dns_private.h"
#include "probe/probe_io.h"
#include "lib/ioloop.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void probe_dns_verdict(struct probe_dns_run *run, const char *check,
		       const char *subject, enum probe_verdict verdict,
		       const char *fix, const char *fmt, ...)
{
	va_list ap;
	if (run->count == PROBE_DNS_CHECKS_MAX)
		return;
	struct probe_dns_check *c = &run->checks[run->count++];
	c->check = check;
	c->subject = pool_strdup(run->pool, subject);
	c->verdict = verdict;
	c->fix = fix != NULL ? pool_strdup(run->pool, fix) : NULL;
	va_start(ap, fmt);
	c->detail = pool_vprintf(run->pool, fmt, ap);
	va_end(ap);
}

void probe_dns_lookup_failed(struct probe_dns_run *run, const char *check,
			     const char *subject, const char *error)
{
	/* the resolver answered for the root (probe_dns_check_resolver), so
	 * a failure here is the zone's */
	probe_dns_verdict(run, check, subject, PROBE_V_FAIL,
			  "the resolver works, so the zone is at fault: check that "
			  "its name servers answer and that its delegation (NS and "
			  "DS records at the parent) is right", "%s", error);
}

struct probe_dns_wait {
	struct ioloop *loop;
	struct dns_answer *answer;
};

static void probe_dns_answered(struct dns_answer *answer, void *ctx)
{
	struct probe_dns_wait *w = ctx;
	w->answer = answer;
	ioloop_stop(w->loop);
}

/* One lookup, waited for: the answer (never NULL), or NULL with *error_r. */
static struct dns_answer *probe_dns_wait(struct probe_dns_run *run, const char *name,
					 enum dns_rrtype rrtype, const char **error_r)
{
	struct probe_dns_wait w = { run->loop, NULL };

	if (dns_lookup(run->resolver, name, rrtype, run->set->timeout_ms,
		       probe_dns_answered, &w, error_r) == NULL) {
		*error_r = pool_strdup(run->pool, *error_r);
		return NULL;
	}
	/* the lookup's deadline always ends the loop */
	ioloop_run(run->loop);
	return w.answer;
}

int probe_dns_query(struct probe_dns_run *run, const char *name,
		    enum dns_rrtype rrtype, struct dns_answer **answer_r,
		    const char **error_r)
{
	struct dns_answer *a = probe_dns_wait(run, name, rrtype, error_r);

	*answer_r = NULL;
	if (a == NULL)
		return -1;
	switch (a->result) {
	case DNS_RESULT_DATA:
		*answer_r = a;
		return 1;
	case DNS_RESULT_NODATA:
	case DNS_RESULT_NXDOMAIN:
		*answer_r = a;
		return 0;
	case DNS_RESULT_FAIL:
	case DNS_RESULT_TIMEOUT:
		break;
	}
	*error_r = pool_strdup(run->pool, a->error);
	dns_answer_free(&a);
	return -1;
}

int probe_dns_txt(struct probe_dns_run *run, const char *name, const char *prefix,
		  char **records, unsigned max, const char **error_r)
{
	struct dns_answer *res;
	unsigned n = 0;
	size_t plen = strlen(prefix);

	int r = probe_dns_query(run, name, DNS_TXT, &res, error_r);
	if (r <= 0) {
		dns_answer_free(&res);
		return r;
	}
	for (unsigned i = 0; i < res->count && n < max; i++) {
		str_t txt = STR_INIT;
		if (dns_rdata_txt(res->data[i], res->len[i], &txt) == 0 &&
		    slice_iprefix(str_c(&txt), txt.len, prefix) &&
		    (txt.len == plen || txt.data[plen] == ' ' || txt.data[plen] == ';'))
			records[n++] = probe_text_safe(run->pool, str_c(&txt), txt.len, 4096);
		str_free(&txt);
	}
	dns_answer_free(&res);
	return (int)n;
}

int probe_dns_addrs(struct probe_dns_run *run, const char *host, char **addrs,
		    unsigned max, const char **error_r)
{
	static const enum dns_rrtype types[] = { DNS_A, DNS_AAAA };
	unsigned n = 0;

	for (unsigned t = 0; t < 2; t++) {
		struct dns_answer *res;
		int r = probe_dns_query(run, host, types[t], &res, error_r);
		if (r < 0)
			return -1;
		for (unsigned i = 0; r > 0 && i < res->count && n < max; i++) {
			char text[INET6_ADDRSTRLEN];
			size_t want = types[t] == DNS_A ? 4 : 16;
			if (res->len[i] != want ||
			    inet_ntop(types[t] == DNS_A ? AF_INET : AF_INET6, res->data[i],
				      text, sizeof(text)) == NULL)
				continue;
			addrs[n++] = pool_strdup(run->pool, text);
		}
		dns_answer_free(&res);
	}
	return (int)n;
}

/* The DNSSEC verdict once the resolver answered for the root. */
static void probe_dns_check_dnssec(struct probe_dns_run *run, const char *who,
				   const struct dns_answer *root)
{
	const char *anchor = dns_resolver_trust_anchor(run->resolver);

	if (anchor == NULL)
		probe_dns_verdict(run, "dnssec", who, PROBE_V_WARN,
				  "install dns-root-data (or give --trust-anchor FILE) "
				  "so that answers are validated",
				  "answers are not DNSSEC-validated (no trust anchor): "
				  "an NXDOMAIN or a missing record is the resolver's "
				  "word only and cannot be trusted");
	else if (root->security == DNS_SECURE)
		probe_dns_verdict(run, "dnssec", who, PROBE_V_OK, NULL,
				  "answers are DNSSEC-validated (trust anchor %s)",
				  anchor);
	else
		probe_dns_verdict(run, "dnssec", who, PROBE_V_WARN,
				  "use the root's trust anchor (dns-root-data) to "
				  "validate every zone",
				  "the trust anchor %s does not cover the root zone: "
				  "answers outside its zone are not validated", anchor);
}

/* Whether the resolver answers at all, before any record of the domain:
 * a dead local resolver is one cause, said once, not a failure of every
 * record. With a trust anchor, the root's answer also shows whether
 * DNSSEC validation works through this resolver. 0 to go on, -1 to stop. */
static int probe_dns_check_resolver(struct probe_dns_run *run)
{
	const char *who = run->set->resolver != NULL ? run->set->resolver :
		"from /etc/resolv.conf", *error = NULL;
	struct dns_answer *a = probe_dns_wait(run, ".", DNS_NS, &error);

	if (a == NULL) {
		probe_dns_verdict(run, "resolver", who, PROBE_V_FAIL, NULL, "%s", error);
		return -1;
	}
	int ret = -1;
	if (a->result == DNS_RESULT_TIMEOUT) {
		probe_dns_verdict(run, "resolver", who, PROBE_V_FAIL,
				  run->set->resolver != NULL ?
				  "check that a DNS server runs at that address" :
				  "start the local resolver (unbound, systemd-resolved, "
				  "dnsmasq) or fix the nameserver lines of "
				  "/etc/resolv.conf, or give --resolver ADDR",
				  "the resolver does not answer (nothing for the root "
				  "zone within %u ms), so no record of the domain can "
				  "be checked", run->set->timeout_ms);
	} else if (a->security == DNS_BOGUS) {
		probe_dns_verdict(run, "dnssec", who, PROBE_V_FAIL,
				  "use a resolver that passes DNSSEC records on, or "
				  "check the trust anchor (--trust-anchor none skips "
				  "validation)",
				  "DNSSEC validation of the root zone fails through "
				  "this resolver, so every answer would be bogus: %s",
				  a->error);
	} else if (a->result == DNS_RESULT_FAIL) {
		probe_dns_verdict(run, "resolver", who, PROBE_V_FAIL,
				  "check the resolver's own upstream servers and "
				  "whether it serves this host",
				  "the resolver answers but cannot resolve the root "
				  "zone: %s", a->error);
	} else {
		probe_dns_verdict(run, "resolver", who, PROBE_V_OK, NULL, "answers");
		probe_dns_check_dnssec(run, who, a);
		ret = 0;
	}
	dns_answer_free(&a);
	return ret;
}

int probe_dns_main(const struct probe_dns_settings *set, bool json, bool color)
{
	struct probe_dns_run *run = xcalloc(1, sizeof(*run));
	struct dns_settings dset = { set->resolver, set->trust_anchor };
	const char *error;
	int ret = 0;

	run->set = set;
	run->pool = pool_create(8192);
	run->loop = ioloop_create();
	if (dns_resolver_create(run->loop, &dset, &run->resolver, &error) < 0) {
		fprintf(stderr, "postel probe: %s\n", error);
		ret = 2;
	} else {
		if (probe_dns_check_resolver(run) == 0) {
			probe_dns_check_mx(run);
			probe_dns_check_fcrdns(run);
			probe_dns_check_spf(run);
			probe_dns_check_dmarc(run);
			probe_dns_check_dkim(run);
			probe_dns_check_mta_sts(run);
			probe_dns_check_tlsa(run);
		}
		if (json)
			probe_dns_report_json(stdout, run);
		else
			probe_dns_report_text(stdout, run, color);
		for (unsigned i = 0; i < run->count; i++) {
			if (run->checks[i].verdict == PROBE_V_FAIL)
				ret = 1;
		}
	}
	dns_resolver_destroy(&run->resolver);
	ioloop_destroy(&run->loop);
	pool_destroy(&run->pool);
	free(run);
	return ret;
}
