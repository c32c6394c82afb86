/* dns.h: DNS lookups on the event loop, through libunbound, for probe
 * --dns today and the queue runner later.
 *
 * A dns_resolver belongs to one ioloop (ioloop.h): libunbound resolves on
 * its own thread and signals answers on a descriptor (ub_fd) that is
 * watched by the loop, so a lookup never blocks the loop and every
 * callback runs on the loop thread. Each lookup has its own deadline; when
 * it passes, the lookup is cancelled and its callback gets
 * DNS_RESULT_TIMEOUT. The callback is called exactly once per lookup,
 * unless the lookup is cancelled (dns_lookup_cancel) or the resolver is
 * destroyed first; then never.
 *
 * Every answer carries its DNSSEC status (RFC 4035 4.3): secure (validated
 * from the trust anchor: what DANE, RFC 7672 2.2, needs), insecure (the
 * zone is not signed, or no trust anchor is loaded, so nothing is
 * validated) or bogus (signatures missing or wrong: the answer is withheld
 * and the result is DNS_RESULT_FAIL).
 *
 * Settings: resolver "ADDR", "ADDR@PORT", "ADDR:PORT" or "[ADDR6]:PORT"
 * forwards every query there (loopback allowed), NULL or "" reads
 * /etc/resolv.conf and /etc/hosts. trust_anchor names a file of DS or
 * DNSKEY records in zone-file form (as Debian's dns-root-data ships
 * them) and turns validation on; NULL or DNS_TRUST_ANCHOR_DEFAULT means
 * that file when it exists (else no validation), "" or "none" means no
 * validation. The config keys dns_resolver and dns_trust_anchor give
 * these settings. */
#ifndef POSTEL_DNS_H
#define POSTEL_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ioloop;
struct dns_resolver;
struct dns_lookup;

#define DNS_TRUST_ANCHOR_DEFAULT "/usr/share/dns/root.key"

/* RFC 1035 3.2.2, RFC 3596, RFC 6698 */
enum dns_rrtype {
	DNS_A = 1, DNS_NS = 2, DNS_PTR = 12, DNS_MX = 15, DNS_TXT = 16,
	DNS_AAAA = 28, DNS_DNSKEY = 48, DNS_TLSA = 52,
};

enum dns_result {
	DNS_RESULT_DATA,     /* records in data[] */
	DNS_RESULT_NODATA,   /* the name exists, no record of the type */
	DNS_RESULT_NXDOMAIN, /* the name does not exist (rcode 3) */
	DNS_RESULT_FAIL,     /* SERVFAIL, REFUSED, bogus, or a resolver error */
	DNS_RESULT_TIMEOUT,  /* no answer by the deadline */
};

enum dns_security { DNS_INSECURE, DNS_SECURE, DNS_BOGUS };

struct dns_answer {
	enum dns_result result;
	enum dns_security security;
	int rcode;            /* RFC 1035 4.1.1, -1 when none came */
	unsigned count;       /* records in data[] (DNS_RESULT_DATA only) */
	const uint8_t **data; /* rdata in wire form, uncompressed */
	const size_t *len;
	const char *error;    /* plain words when not DATA/NODATA/NXDOMAIN */
	/* private */
	struct ub_result *ub;
	size_t *lens;
};

struct dns_settings {
	const char *resolver;
	const char *trust_anchor;
};

/* The answer belongs to the callback: free it with dns_answer_free(). */
typedef void dns_callback_t(struct dns_answer *answer, void *ctx);

/* 0, or -1 with *error_r (a bad address, an unreadable trust anchor). */
int dns_resolver_create(struct ioloop *loop, const struct dns_settings *set,
			struct dns_resolver **resolver_r, const char **error_r);
/* Cancels every pending lookup (no callbacks) and frees the resolver;
 * allowed from inside a lookup's callback. */
void dns_resolver_destroy(struct dns_resolver **resolver);
/* The trust anchor file answers are validated from, or NULL when none was
 * loaded (then every answer is insecure: nothing is validated). */
const char *dns_resolver_trust_anchor(const struct dns_resolver *resolver);
/* The forwarder as libunbound takes it ("ADDR@PORT"), or NULL. */
const char *dns_resolver_forwarder(const struct dns_resolver *resolver);

/* Looks up name/rrtype (class IN). Returns the lookup, or NULL after
 * calling nothing, with *error_r, when it could not even be started. */
struct dns_lookup *dns_lookup(struct dns_resolver *resolver, const char *name,
			      enum dns_rrtype rrtype, unsigned timeout_ms,
			      dns_callback_t *cb, void *ctx, const char **error_r);
/* The callback will not be called; *lookup is set to NULL. */
void dns_lookup_cancel(struct dns_lookup **lookup);

void dns_answer_free(struct dns_answer **answer);
const char *dns_security_name(enum dns_security security);

/* "ADDR", "ADDR@PORT", "ADDR:PORT", "[ADDR6]:PORT" to libunbound's
 * "ADDR@PORT" in out. 0, or -1 when it is not an IP address and port. */
int dns_forwarder_parse(const char *spec, char *out, size_t size);

#endif
