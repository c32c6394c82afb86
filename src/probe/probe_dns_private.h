/* probe_dns_private.h: what the --dns checks share (private to
 * src/probe/). One struct probe_dns_run holds the resolver, the pool and
 * the list of verdicts; each check file adds verdicts with
 * probe_dns_verdict(). */
#ifndef POSTEL_PROBE_DNS_PRIVATE_H
#define POSTEL_PROBE_DNS_PRIVATE_H

#include "probe/probe_dns.h"
#include "dns/dns.h"
#include "dns/dns_parse.h"

#include <stdio.h>

struct ioloop;

enum probe_verdict { PROBE_V_OK, PROBE_V_INFO, PROBE_V_WARN, PROBE_V_FAIL };

struct probe_dns_check {
	const char *check;    /* "mx", "spf", ... */
	char *subject;        /* the name or address checked */
	enum probe_verdict verdict;
	char *detail;
	char *fix;            /* one line, NULL when ok */
};

#define PROBE_DNS_CHECKS_MAX 64
#define PROBE_DNS_MX_MAX 8
#define PROBE_DNS_ADDRS_MAX 8

struct probe_dns_mx {
	unsigned pref;
	char *host;
	unsigned addr_count;
	char *addrs[PROBE_DNS_ADDRS_MAX];
};

struct probe_dns_run {
	const struct probe_dns_settings *set;
	pool_t *pool;
	struct ioloop *loop;        /* the probe's own, run while it waits */
	struct dns_resolver *resolver;
	unsigned count;
	struct probe_dns_check checks[PROBE_DNS_CHECKS_MAX];
	unsigned mx_count;
	struct probe_dns_mx mx[PROBE_DNS_MX_MAX];
};

/* Add a verdict; detail and fix are printf formats (fix may be NULL). */
void probe_dns_verdict(struct probe_dns_run *run, const char *check,
		       const char *subject, enum probe_verdict verdict,
		       const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* The verdict for a lookup that failed (timeout, SERVFAIL, ...): the
 * zone's fault, as the resolver answered for the root first. */
void probe_dns_lookup_failed(struct probe_dns_run *run, const char *check,
			     const char *subject, const char *error);

/* One lookup by the deadline: 1 with records in *answer_r, 0 when the
 * name or the data does not exist (*answer_r says which, and its DNSSEC
 * status), -1 with *error_r. Free *answer_r with dns_answer_free(). The
 * wait runs the run's loop, which clears the temp pool: callers keep
 * what must survive a lookup in run->pool. */
int probe_dns_query(struct probe_dns_run *run, const char *name,
		    enum dns_rrtype rrtype, struct dns_answer **answer_r,
		    const char **error_r);
/* The TXT records at name that start with prefix (case-insensitive, then
 * a space, ';' or the end), escaped-safe copies in the run's pool.
 * Returns how many (at most max), or -1 with *error_r. */
int probe_dns_txt(struct probe_dns_run *run, const char *name, const char *prefix,
		  char **records, unsigned max, const char **error_r);
/* The A and AAAA addresses of host as text (at most max). -1 on error. */
int probe_dns_addrs(struct probe_dns_run *run, const char *host, char **addrs,
		    unsigned max, const char **error_r);

void probe_dns_check_mx(struct probe_dns_run *run);      /* probe_dns_mx.c */
void probe_dns_check_fcrdns(struct probe_dns_run *run);  /* probe_dns_mx.c */
void probe_dns_check_tlsa(struct probe_dns_run *run);    /* probe_dns_mx.c */
void probe_dns_check_spf(struct probe_dns_run *run);     /* probe_dns_auth.c */
void probe_dns_check_dmarc(struct probe_dns_run *run);   /* probe_dns_auth.c */
void probe_dns_check_dkim(struct probe_dns_run *run);    /* probe_dns_auth.c */
void probe_dns_check_mta_sts(struct probe_dns_run *run); /* probe_mta_sts.c */

void probe_dns_report_text(FILE *out, const struct probe_dns_run *run, bool color);
void probe_dns_report_json(FILE *out, const struct probe_dns_run *run);

#endif
