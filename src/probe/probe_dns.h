/* probe_dns.h: "postel probe --dns DOMAIN", the DNS a mail domain needs:
 * MX and the hosts it names, forward-confirmed reverse DNS of each MX
 * address, SPF (syntax, the 10-lookup limit), DMARC, DKIM for --selector,
 * MTA-STS (TXT record and HTTPS policy), TLSA. Each check gets a verdict
 * and, when it is not ok, a one-line fix.
 *
 * DNS goes through dns/dns.h (libunbound): the system's resolv.conf, or
 * --resolver ADDR[@PORT] (loopback allowed). The resolver is checked first
 * (one verdict when it is dead, instead of one per record), then whether
 * answers are DNSSEC-validated (--trust-anchor). Every query and the policy fetch are
 * bounded by the timeout. Everything read from DNS or HTTPS is untrusted
 * and escaped before it is printed. */
#ifndef POSTEL_PROBE_DNS_H
#define POSTEL_PROBE_DNS_H

#include <stdbool.h>

struct probe_dns_settings {
	const char *domain;
	const char *selector;     /* --selector, or NULL */
	const char *resolver;     /* --resolver ADDR[@PORT], or NULL */
	const char *trust_anchor; /* --trust-anchor FILE|none, or NULL (dns.h) */
	const char *mta_sts_host; /* --mta-sts-host HOST:PORT to connect to */
	const char *cafile;       /* CA store for the MTA-STS policy host */
	unsigned timeout_ms;
};

/* Runs every check and prints the report. The exit status: 0 when no
 * check fails, 1 otherwise (2 when the resolver cannot be set up). */
int probe_dns_main(const struct probe_dns_settings *set, bool json, bool color);

#endif
