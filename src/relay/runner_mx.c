/* runner_mx.c: where mail for a domain goes (runner_private.h).
 *
 * RFC 5321 5.1: the MX records in order of preference, lowest first, the
 * order among equal preferences random; no MX record (NODATA) means the
 * domain itself is the one host (the implicit MX); a domain that does not
 * exist cannot take mail. RFC 7505 3: one MX record "0 ." is a null MX:
 * the domain accepts no mail at all, and mail to it fails at once (4.1:
 * 556 5.1.10). Each host's addresses are its AAAA and its A records (both
 * families, IPv6 first); lookups run on src/dns, never blocking. */
#include "relay/runner_private.h"
#include "dns/dns.h"
#include "lib/mem.h"
#include "lib/log.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

uint32_t runner_random(void *ctx)
{
	(void)ctx;
	uint32_t v = 0;
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)time(NULL) * 2654435761u;
	return v;
}

void runner_mx_order(struct runner_mx *mx, unsigned count,
		     uint32_t (*rnd)(void *ctx), void *ctx)
{
	/* insertion sort: at most RUNNER_MX_MAX entries */
	for (unsigned i = 1; i < count; i++) {
		struct runner_mx cur = mx[i];
		unsigned j = i;
		for (; j > 0 && mx[j - 1].pref > cur.pref; j--)
			mx[j] = mx[j - 1];
		mx[j] = cur;
	}
	/* Fisher-Yates within each run of one preference */
	for (unsigned start = 0; start < count;) {
		unsigned end = start + 1;
		while (end < count && mx[end].pref == mx[start].pref)
			end++;
		for (unsigned i = end - 1; i > start; i--) {
			unsigned k = start + rnd(ctx) % (i - start + 1);
			struct runner_mx t = mx[i];
			mx[i] = mx[k];
			mx[k] = t;
		}
		start = end;
	}
}

enum runner_mx_status runner_mx_from_rdata(const uint8_t *const *data,
					   const size_t *len, unsigned n,
					   struct runner_mx *hosts, unsigned *count_r,
					   uint32_t (*rnd)(void *ctx), void *ctx)
{
	unsigned count = 0, roots = 0;
	for (unsigned i = 0; i < n; i++) {
		struct runner_mx mx;
		if (dns_rdata_mx(data[i], len[i], &mx.pref, mx.host) < 0)
			continue;
		if (strcmp(mx.host, ".") == 0 || mx.host[0] == '\0') {
			roots++;
			continue;
		}
		if (count < RUNNER_MX_MAX)
			hosts[count++] = mx;
	}
	*count_r = count;
	/* RFC 7505 3: a null MX with other MX records is a mistake; the
	 * others are used (and "." dropped) */
	if (count == 0 && roots > 0)
		return RUNNER_MX_NULL;
	if (count == 0)
		return RUNNER_MX_TEMPFAIL;
	runner_mx_order(hosts, count, rnd, ctx);
	return RUNNER_MX_OK;
}

struct runner_mx_lookup {
	char name[DNS_NAME_MAX + 1];
	struct dns_lookup *l[2];
	runner_mx_callback_t *mx_cb;
	runner_addr_callback_t *addr_cb;
	void *ctx;
	unsigned pending;
	char addrs[RUNNER_ADDRS_MAX][64];
	unsigned addr_count, v6_count;
	unsigned insecure; /* address answers not DNSSEC-validated */
	const char *why;
};

void runner_mx_lookup_cancel(struct runner_mx_lookup **lp)
{
	struct runner_mx_lookup *l = *lp;
	if (l == NULL)
		return;
	for (unsigned i = 0; i < 2; i++)
		dns_lookup_cancel(&l->l[i]);
	free(l);
	*lp = NULL;
}

static const char *dns_why(const struct dns_answer *a)
{
	switch (a->result) {
	case DNS_RESULT_NXDOMAIN: return "domain does not exist";
	case DNS_RESULT_NODATA: return "no records";
	case DNS_RESULT_TIMEOUT: return "DNS timeout";
	default: return a->error != NULL ? a->error : "DNS failure";
	}
}

static void mx_on_answer(struct dns_answer *a, void *ctx)
{
	struct runner_mx_lookup *l = ctx;
	struct runner_mx hosts[RUNNER_MX_MAX];
	unsigned count = 0;
	enum runner_mx_status st;
	const char *why = dns_why(a);
	l->l[0] = NULL;
	if (a->result == DNS_RESULT_DATA) {
		st = runner_mx_from_rdata(a->data, a->len, a->count, hosts, &count,
					  runner_random, NULL);
		if (st == RUNNER_MX_NULL)
			why = "null MX (RFC 7505)";
		else if (st == RUNNER_MX_TEMPFAIL)
			why = "no usable MX record";
	} else if (a->result == DNS_RESULT_NODATA) {
		/* RFC 5321 5.1: the implicit MX, preference 0 */
		st = RUNNER_MX_OK;
		hosts[0].pref = 0;
		(void)snprintf(hosts[0].host, sizeof(hosts[0].host), "%s", l->name);
		count = 1;
	} else if (a->result == DNS_RESULT_NXDOMAIN) {
		st = RUNNER_MX_NXDOMAIN;
	} else {
		st = RUNNER_MX_TEMPFAIL;
	}
	for (unsigned i = 0; i < count; i++)
		hosts[i].secure = a->security == DNS_SECURE;
	why = t_printf("%s", why);
	dns_answer_free(&a);
	runner_mx_callback_t *cb = l->mx_cb;
	void *cctx = l->ctx;
	free(l);
	cb(st, why, hosts, count, cctx);
}

struct runner_mx_lookup *runner_mx_resolve(struct dns_resolver *dns, const char *domain,
					   runner_mx_callback_t *cb, void *ctx)
{
	struct runner_mx_lookup *l = xcalloc(1, sizeof(*l));
	const char *error;
	(void)snprintf(l->name, sizeof(l->name), "%s", domain);
	l->mx_cb = cb;
	l->ctx = ctx;
	l->l[0] = dns_lookup(dns, domain, DNS_MX, RUNNER_DNS_TIMEOUT_MS, mx_on_answer, l,
			     &error);
	if (l->l[0] == NULL) {
		log_warn("event=relay_dns_failed domain=%s error=%s", log_str(domain),
			 log_str(error));
		free(l);
		return NULL;
	}
	return l;
}

static void addr_on_answer(struct dns_answer *a, void *ctx, unsigned which)
{
	struct runner_mx_lookup *l = ctx;
	int af = which == 0 ? AF_INET6 : AF_INET;
	size_t need = which == 0 ? 16 : 4;
	l->l[which] = NULL;
	/* RFC 7672 2.2.2: a validated denial (NODATA) counts as secure */
	if (a->security != DNS_SECURE ||
	    (a->result != DNS_RESULT_DATA && a->result != DNS_RESULT_NODATA))
		l->insecure++;
	if (a->result == DNS_RESULT_DATA) {
		for (unsigned i = 0; i < a->count && l->addr_count < RUNNER_ADDRS_MAX; i++) {
			if (a->len[i] != need)
				continue;
			/* IPv6 first: AAAA answers go to the front */
			unsigned at = which == 0 ? l->v6_count++ : l->addr_count;
			if (which == 0)
				memmove(l->addrs[at + 1], l->addrs[at],
					(l->addr_count - at) * sizeof(l->addrs[0]));
			if (inet_ntop(af, a->data[i], l->addrs[at], sizeof(l->addrs[0])) != NULL)
				l->addr_count++;
		}
	} else if (a->result != DNS_RESULT_NODATA || l->why == NULL) {
		l->why = dns_why(a);
	}
	dns_answer_free(&a);
	if (--l->pending > 0)
		return;
	const char *why = l->addr_count > 0 ? NULL :
		t_printf("no address for %s: %s", l->name, l->why ? l->why : "no records");
	runner_addr_callback_t *cb = l->addr_cb;
	void *cctx = l->ctx;
	char (*addrs)[64] = xcalloc(RUNNER_ADDRS_MAX, sizeof(addrs[0]));
	unsigned count = l->addr_count;
	bool secure = l->insecure == 0;
	memcpy(addrs, l->addrs, sizeof(l->addrs));
	free(l);
	cb(addrs, count, secure, why, cctx);
	free(addrs);
}

static void addr_on_aaaa(struct dns_answer *a, void *ctx) { addr_on_answer(a, ctx, 0); }
static void addr_on_a(struct dns_answer *a, void *ctx) { addr_on_answer(a, ctx, 1); }

struct runner_mx_lookup *runner_addr_resolve(struct dns_resolver *dns, const char *host,
					     runner_addr_callback_t *cb, void *ctx)
{
	struct runner_mx_lookup *l = xcalloc(1, sizeof(*l));
	const char *error = NULL;
	(void)snprintf(l->name, sizeof(l->name), "%s", host);
	l->addr_cb = cb;
	l->ctx = ctx;
	l->pending = 2;
	l->l[0] = dns_lookup(dns, host, DNS_AAAA, RUNNER_DNS_TIMEOUT_MS, addr_on_aaaa, l,
			     &error);
	l->l[1] = dns_lookup(dns, host, DNS_A, RUNNER_DNS_TIMEOUT_MS, addr_on_a, l, &error);
	if (l->l[0] == NULL || l->l[1] == NULL) {
		log_warn("event=relay_dns_failed host=%s error=%s", log_str(host),
			 log_str(error));
		runner_mx_lookup_cancel(&l);
		return NULL;
	}
	return l;
}
