/* dns_resolver.c: libunbound on the event loop. See dns.h.
 *
 * libunbound runs in threaded async mode (ub_ctx_async): queries are
 * resolved on its thread, and ub_fd() becomes readable when answers wait;
 * the loop then calls ub_process(), which runs our per-lookup callback on
 * the loop thread. Pending lookups sit in a list so destroy can cancel
 * them all; each has a timeout on the loop for its deadline. */
#include "dns/dns.h"
#include "lib/ioloop.h"
#include "lib/mem.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <unbound.h>

struct dns_lookup {
	struct dns_lookup *prev, *next;
	struct dns_resolver *resolver;
	int id;
	struct timeout *timeout;
	char *name;
	dns_callback_t *cb;
	void *ctx;
};

struct dns_resolver {
	struct ioloop *loop;
	struct ub_ctx *ub;
	struct io *io;
	char *trust_anchor; /* NULL: answers are not validated */
	char *forwarder;    /* "ADDR@PORT", NULL: resolv.conf */
	struct dns_lookup *lookups;
	bool processing;     /* inside ub_process(): callbacks are running */
	bool destroy_pending; /* destroyed by one of them: free after it */
};

const char *dns_security_name(enum dns_security security)
{
	return security == DNS_SECURE ? "secure" :
		security == DNS_BOGUS ? "bogus" : "insecure";
}

int dns_forwarder_parse(const char *spec, char *out, size_t size)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *port = NULL, *end = spec + strlen(spec);
	unsigned char bin[16];
	size_t alen;

	if (spec[0] == '[') { /* [ADDR6]:PORT or [ADDR6] */
		const char *close = strchr(spec, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			return -1;
		alen = (size_t)(close - spec - 1);
		spec++;
		port = close[1] == ':' ? close + 2 : NULL;
	} else if (strchr(spec, '@') != NULL) { /* libunbound's ADDR@PORT */
		port = strchr(spec, '@') + 1;
		alen = (size_t)(port - 1 - spec);
	} else if (strchr(spec, ':') != NULL && strchr(spec, ':') == strrchr(spec, ':')) {
		port = strchr(spec, ':') + 1; /* ADDR:PORT (one colon: IPv4) */
		alen = (size_t)(port - 1 - spec);
	} else {
		alen = (size_t)(end - spec); /* a bare IPv4 or IPv6 address */
	}
	if (alen == 0 || alen >= sizeof(addr))
		return -1;
	memcpy(addr, spec, alen);
	addr[alen] = '\0';
	if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)
		return -1;
	unsigned long p = 53;
	if (port != NULL) {
		char *stop;
		if (port[0] < '0' || port[0] > '9')
			return -1;
		p = strtoul(port, &stop, 10);
		if (*stop != '\0' || p == 0 || p > 65535)
			return -1;
	}
	int n = snprintf(out, size, "%s@%lu", addr, p);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static void dns_resolver_free(struct dns_resolver *r)
{
	io_remove(&r->io);
	ub_ctx_delete(r->ub);
	free(r->forwarder);
	free(r->trust_anchor);
	free(r);
}

static void dns_resolver_input(void *ctx)
{
	struct dns_resolver *r = ctx;
	/* runs the callbacks of every answer that is ready; one of them may
	 * destroy the resolver, which must outlive ub_process() */
	r->processing = true;
	(void)ub_process(r->ub);
	r->processing = false;
	if (r->destroy_pending)
		dns_resolver_free(r);
}

static int dns_resolver_setup(struct dns_resolver *r, const struct dns_settings *set,
			      const char **error_r)
{
	const char *ta = set->trust_anchor, *what = "async mode";
	int err;

	/* answers come back through ub_fd() from a thread, not a fork */
	if ((err = ub_ctx_async(r->ub, 1)) != 0)
		goto fail;
	/* the resolver we are told to use may be on loopback (a local
	 * unbound, systemd-resolved, a test server) */
	what = "do-not-query-localhost";
	if ((err = ub_ctx_set_option(r->ub, "do-not-query-localhost:", "no")) != 0)
		goto fail;
	if (set->resolver != NULL && set->resolver[0] != '\0') {
		char fwd[INET6_ADDRSTRLEN + 8];
		if (dns_forwarder_parse(set->resolver, fwd, sizeof(fwd)) < 0) {
			*error_r = t_printf("resolver \"%s\" is not ADDR, ADDR:PORT, "
					    "ADDR@PORT or [ADDR6]:PORT", set->resolver);
			return -1;
		}
		r->forwarder = xstrdup(fwd);
		what = r->forwarder;
		if ((err = ub_ctx_set_fwd(r->ub, fwd)) != 0)
			goto fail;
	} else {
		what = "/etc/resolv.conf";
		if ((err = ub_ctx_resolvconf(r->ub, NULL)) != 0)
			goto fail;
		/* /etc/hosts is a bonus: a system without one still resolves */
		(void)ub_ctx_hosts(r->ub, NULL);
	}
	if (ta == NULL || strcmp(ta, DNS_TRUST_ANCHOR_DEFAULT) == 0)
		ta = access(DNS_TRUST_ANCHOR_DEFAULT, R_OK) == 0 ?
			DNS_TRUST_ANCHOR_DEFAULT : "";
	if (ta[0] != '\0' && strcmp(ta, "none") != 0) {
		if (access(ta, R_OK) != 0) {
			*error_r = t_printf("trust anchor %s cannot be read", ta);
			return -1;
		}
		what = ta;
		/* RFC 4035 5: validation starts from this anchor */
		if ((err = ub_ctx_add_ta_file(r->ub, ta)) != 0)
			goto fail;
		r->trust_anchor = xstrdup(ta);
	}
	return 0;
fail:
	*error_r = t_printf("resolver setup (%s): %s", what, ub_strerror(err));
	return -1;
}

int dns_resolver_create(struct ioloop *loop, const struct dns_settings *set,
			struct dns_resolver **resolver_r, const char **error_r)
{
	struct dns_resolver *r = xcalloc(1, sizeof(*r));

	*resolver_r = NULL;
	r->loop = loop;
	r->ub = ub_ctx_create();
	if (r->ub == NULL) {
		*error_r = "cannot create the resolver";
		free(r);
		return -1;
	}
	if (dns_resolver_setup(r, set, error_r) < 0) {
		dns_resolver_free(r);
		return -1;
	}
	r->io = io_add(loop, ub_fd(r->ub), IO_READ, dns_resolver_input, r);
	*resolver_r = r;
	return 0;
}

static void dns_lookup_unlink(struct dns_lookup *q)
{
	struct dns_resolver *r = q->resolver;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		r->lookups = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	timeout_remove(&q->timeout);
	free(q->name);
	free(q);
}

void dns_lookup_cancel(struct dns_lookup **lookup)
{
	struct dns_lookup *q = *lookup;
	if (q == NULL)
		return;
	*lookup = NULL;
	(void)ub_cancel(q->resolver->ub, q->id);
	dns_lookup_unlink(q);
}

void dns_resolver_destroy(struct dns_resolver **resolver)
{
	struct dns_resolver *r = *resolver;
	if (r == NULL)
		return;
	*resolver = NULL;
	while (r->lookups != NULL) {
		struct dns_lookup *q = r->lookups;
		dns_lookup_cancel(&q);
	}
	if (r->processing)
		r->destroy_pending = true;
	else
		dns_resolver_free(r);
}

const char *dns_resolver_trust_anchor(const struct dns_resolver *resolver)
{
	return resolver->trust_anchor;
}

const char *dns_resolver_forwarder(const struct dns_resolver *resolver)
{
	return resolver->forwarder;
}

void dns_answer_free(struct dns_answer **answer)
{
	struct dns_answer *a = *answer;
	if (a == NULL)
		return;
	*answer = NULL;
	if (a->ub != NULL)
		ub_resolve_free(a->ub);
	free(a->lens);
	free((char *)a->error);
	free(a);
}

static struct dns_answer *dns_answer_error(enum dns_result result, int rcode,
					   const char *error)
{
	struct dns_answer *a = xcalloc(1, sizeof(*a));
	a->result = result;
	a->rcode = rcode;
	a->error = xstrdup(error);
	return a;
}

/* From libunbound's result to ours; takes res. */
static struct dns_answer *dns_answer_from(const char *name, int err,
					  struct ub_result *res)
{
	struct dns_answer *a;

	if (err != 0) {
		if (res != NULL)
			ub_resolve_free(res);
		return dns_answer_error(DNS_RESULT_FAIL, -1,
					t_printf("lookup of %s failed: %s", name,
						 ub_strerror(err)));
	}
	if (res->bogus) {
		/* RFC 4035 5.5: a bogus answer is not given out */
		a = dns_answer_error(DNS_RESULT_FAIL, res->rcode,
				     t_printf("lookup of %s: DNSSEC validation "
					      "failed (bogus): %s", name,
					      res->why_bogus != NULL ? res->why_bogus :
					      "no reason given"));
		a->security = DNS_BOGUS;
		ub_resolve_free(res);
		return a;
	}
	/* RFC 1035 4.1.1: 2 SERVFAIL, 5 REFUSED and the like are failures;
	 * NXDOMAIN (3) and NOERROR without data are answers */
	if (res->rcode != 0 && res->rcode != 3) {
		a = dns_answer_error(DNS_RESULT_FAIL, res->rcode,
				     t_printf("lookup of %s failed: rcode %d%s", name,
					      res->rcode, res->rcode == 2 ?
					      " (SERVFAIL)" : res->rcode == 5 ?
					      " (REFUSED)" : ""));
		ub_resolve_free(res);
		return a;
	}
	a = xcalloc(1, sizeof(*a));
	a->rcode = res->rcode;
	a->security = res->secure ? DNS_SECURE : DNS_INSECURE;
	if (!res->havedata) {
		a->result = res->nxdomain ? DNS_RESULT_NXDOMAIN : DNS_RESULT_NODATA;
		ub_resolve_free(res);
		return a;
	}
	a->result = DNS_RESULT_DATA;
	a->ub = res;
	while (res->data[a->count] != NULL)
		a->count++;
	a->lens = xcalloc(a->count + 1, sizeof(size_t));
	for (unsigned i = 0; i < a->count; i++)
		a->lens[i] = res->len[i] > 0 ? (size_t)res->len[i] : 0;
	a->data = (const uint8_t **)res->data;
	a->len = a->lens;
	return a;
}

static void dns_lookup_done(void *arg, int err, struct ub_result *res)
{
	struct dns_lookup *q = arg;
	struct dns_answer *a = dns_answer_from(q->name, err, res);
	dns_callback_t *cb = q->cb;
	void *ctx = q->ctx;

	dns_lookup_unlink(q);
	cb(a, ctx);
}

static void dns_lookup_timeout(void *arg)
{
	struct dns_lookup *q = arg;
	dns_callback_t *cb = q->cb;
	void *ctx = q->ctx;
	struct dns_answer *a = dns_answer_error(DNS_RESULT_TIMEOUT, -1,
						t_printf("lookup of %s timed out",
							 q->name));

	(void)ub_cancel(q->resolver->ub, q->id);
	dns_lookup_unlink(q);
	cb(a, ctx);
}

struct dns_lookup *dns_lookup(struct dns_resolver *resolver, const char *name,
			      enum dns_rrtype rrtype, unsigned timeout_ms,
			      dns_callback_t *cb, void *ctx, const char **error_r)
{
	struct dns_lookup *q = xcalloc(1, sizeof(*q));

	q->resolver = resolver;
	q->name = xstrdup(name);
	q->cb = cb;
	q->ctx = ctx;
	int err = ub_resolve_async(resolver->ub, name, (int)rrtype, 1 /* IN */, q,
				   dns_lookup_done, &q->id);
	if (err != 0) {
		*error_r = t_printf("lookup of %s failed: %s", name, ub_strerror(err));
		free(q->name);
		free(q);
		return NULL;
	}
	q->next = resolver->lookups;
	if (q->next != NULL)
		q->next->prev = q;
	resolver->lookups = q;
	q->timeout = timeout_add(resolver->loop, timeout_ms, dns_lookup_timeout, q);
	return q;
}
