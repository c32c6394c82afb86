/* runner_mtasts.c: MTA-STS (RFC 8461) for the queue runner: the policy of
 * a destination domain (TXT id, memory and disk cache, HTTPS fetch) and
 * what it asks of each MX host. See runner_mtasts.h.
 *
 * One sts_domain per domain looked at, at most RUNNER_STS_DOMAINS_MAX in
 * memory (an idle one is dropped for a new one; its disk copy stays).
 * While its TXT lookup, address lookup or fetch is in flight, further
 * attempts to the domain wait on it instead of starting their own. */
#include "relay/runner_mtasts.h"
#include "relay/runner_private.h"
#include "relay/mta_sts.h"
#include "relay/mta_sts_fetch.h"
#include "dns/dns.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNNER_STS_DOMAINS_MAX 512
/* RFC 8461 3.3: "a reasonable timeout"; the whole fetch, connect to body */
#define RUNNER_STS_FETCH_MS 60000
#define RUNNER_STS_TLS_CACHE 64

struct runner_mtasts {
	struct runner *r;
	struct conn_tls_client *tls;   /* relay_ca_file or the system store */
	char *dir;                     /* DATA/queue/mta-sts */
	struct sts_domain *domains;
	unsigned domain_count;
};

struct sts_domain {
	struct sts_domain *next;
	struct runner_mtasts *m;
	char name[DNS_NAME_MAX + 1];
	struct mta_sts_policy *policy; /* the cached one, or NULL */
	char txt_id[MTA_STS_ID_MAX + 1];
	struct dns_lookup *txt;
	struct runner_mx_lookup *addr;
	struct mta_sts_fetch *fetch;
	char (*addrs)[64];             /* of mta-sts.DOMAIN, tried in turn */
	unsigned addr_count, addr_at;
	uint64_t fetch_deadline;       /* ioloop ms, for all the addresses */
	struct runner_mtasts_get *waiters, *finishing;
	bool busy;                     /* answering its waiters */
};

struct runner_mtasts_get {
	struct runner_mtasts_get *next;
	struct sts_domain *d;
	struct runner_sts *out;
	runner_mtasts_callback_t *cb;
	void *ctx;
};

struct runner_mtasts *runner_mtasts_create(struct runner *r, const char **error_r)
{
	const char *ca = r->config->relay_ca_file;
	struct conn_tls_client *tls =
		conn_tls_client_create(ca != NULL && ca[0] != '\0' ? ca : NULL,
				       RUNNER_STS_TLS_CACHE, error_r);
	if (tls == NULL)
		return NULL;
	struct runner_mtasts *m = xcalloc(1, sizeof(*m));
	m->r = r;
	m->tls = tls;
	m->dir = xstrdup(t_printf("%s/queue/mta-sts", r->config->data_dir));
	return m;
}

static bool sts_domain_idle(const struct sts_domain *d)
{
	return d->txt == NULL && d->addr == NULL && d->fetch == NULL &&
		d->waiters == NULL && d->finishing == NULL && !d->busy;
}

static void sts_domain_free(struct sts_domain *d)
{
	dns_lookup_cancel(&d->txt);
	runner_mx_lookup_cancel(&d->addr);
	mta_sts_fetch_free(&d->fetch);
	mta_sts_policy_free(&d->policy);
	free(d->addrs);
	struct runner_mtasts_get *lists[2] = { d->waiters, d->finishing };
	for (unsigned i = 0; i < 2; i++) {
		while (lists[i] != NULL) {
			struct runner_mtasts_get *g = lists[i];
			lists[i] = g->next;
			free(g);
		}
	}
	free(d);
}

void runner_mtasts_destroy(struct runner_mtasts **mp)
{
	struct runner_mtasts *m = *mp;
	if (m == NULL)
		return;
	while (m->domains != NULL) {
		struct sts_domain *d = m->domains;
		m->domains = d->next;
		sts_domain_free(d);
	}
	conn_tls_client_destroy(&m->tls);
	free(m->dir);
	free(m);
	*mp = NULL;
}

/* A copy of p the attempt owns (the cache may replace p meanwhile). */
static struct mta_sts_policy *sts_policy_copy(const struct mta_sts_policy *p)
{
	struct mta_sts_policy *copy = NULL;
	const char *error;
	if (p != NULL && mta_sts_policy_parse(p->body, p->body_len, p->id, p->fetched,
					      &copy, &error) < 0)
		copy = NULL; /* it parsed once: cannot happen */
	return copy;
}

/* Every waiter gets the cached policy (usable: unexpired), or none. */
static void sts_finish(struct sts_domain *d, bool failed)
{
	time_t now = time(NULL);
	if (d->policy != NULL && mta_sts_policy_expired(d->policy, now))
		mta_sts_policy_free(&d->policy);
	/* a callback may start a new lookup for this domain: it waits on
	 * d->waiters, apart from those answered here */
	d->finishing = d->waiters;
	d->waiters = NULL;
	d->busy = true;
	struct runner_mtasts_get *g;
	while ((g = d->finishing) != NULL) {
		d->finishing = g->next;
		g->out->policy = sts_policy_copy(d->policy);
		g->out->failed = failed && d->policy == NULL;
		runner_mtasts_callback_t *cb = g->cb;
		void *ctx = g->ctx;
		free(g);
		cb(ctx);
	}
	d->busy = false;
}

/* RFC 8461 5.1: a failed fetch keeps an unexpired cached policy; without
 * one, delivery goes on as if the domain had no MTA-STS. */
static void sts_fetch_failed(struct sts_domain *d, const char *why)
{
	free(d->addrs);
	d->addrs = NULL;
	log_warn("event=mta_sts_policy_failed domain=%s id=%s cached=%s error=%s",
		 log_value(d->name, strlen(d->name)), d->txt_id, d->policy != NULL ? "yes" : "no",
		 log_str(why));
	sts_finish(d, true);
}

static void sts_fetch_next(struct sts_domain *d, const char *error);

static void sts_on_fetch(void *ctx, const char *body, size_t len, const char *error)
{
	struct sts_domain *d = ctx;
	struct mta_sts_policy *p = NULL;
	if (error == NULL &&
	    mta_sts_policy_parse(body, len, d->txt_id, time(NULL), &p, &error) < 0)
		p = NULL;
	mta_sts_fetch_free(&d->fetch); /* body is gone */
	if (p == NULL) {
		sts_fetch_next(d, error); /* mta_sts_fetch.c logged why */
		return;
	}
	free(d->addrs);
	d->addrs = NULL;
	mta_sts_policy_free(&d->policy);
	d->policy = p;
	log_info("event=mta_sts_policy domain=%s id=%s mode=%s max_age=%ld mx_count=%u "
		 "source=fetched", log_value(d->name, strlen(d->name)), p->id, mta_sts_mode_name(p->mode),
		 p->max_age, p->mx_count);
	if (mta_sts_cache_store(d->m->dir, d->name, p, &error) < 0)
		log_warn("event=mta_sts_cache_failed domain=%s error=%s", log_value(d->name, strlen(d->name)),
			 log_str(error));
	sts_finish(d, false);
}

/* RFC 8461 3.3: https://mta-sts.DOMAIN/, checked against that name; the
 * next address after a failure (IPv6 first, as runner_addr_resolve gives
 * them), all within one RUNNER_STS_FETCH_MS */
static void sts_fetch_next(struct sts_domain *d, const char *error)
{
	struct runner_mtasts *m = d->m;
	while (d->fetch == NULL && d->addr_at < d->addr_count) {
		uint64_t now = ioloop_now_ms(m->r->loop);
		if (now >= d->fetch_deadline)
			break;
		d->fetch = mta_sts_fetch_start(m->r->loop, d->name, d->addrs[d->addr_at++],
					       m->r->config->mta_sts_port, m->tls,
					       (unsigned)(d->fetch_deadline - now),
					       sts_on_fetch, d, &error);
	}
	if (d->fetch == NULL)
		sts_fetch_failed(d, error);
}

static void sts_on_addrs(char (*addrs)[64], unsigned count, bool secure, const char *why,
			 void *ctx)
{
	struct sts_domain *d = ctx;
	d->addr = NULL;
	d->addrs = xcalloc(RUNNER_ADDRS_MAX, sizeof(d->addrs[0]));
	memcpy(d->addrs, addrs, RUNNER_ADDRS_MAX * sizeof(addrs[0]));
	d->addr_count = count;
	d->addr_at = 0;
	d->fetch_deadline = ioloop_now_ms(d->m->r->loop) + RUNNER_STS_FETCH_MS;
	sts_fetch_next(d, why);
}

static void sts_on_txt(struct dns_answer *answer, void *ctx)
{
	struct sts_domain *d = ctx;
	char id[MTA_STS_ID_MAX + 1];
	const char *error;
	d->txt = NULL;
	int r = mta_sts_txt_answer(answer, id, &error);
	dns_answer_free(&answer);
	time_t now = time(NULL);
	if (r <= 0) {
		/* no record, or the lookup failed: a cached policy stays in
		 * force until max_age (RFC 8461 5.1, 8.3: removing MTA-STS
		 * waits for the policies cached to expire) */
		log_debug("event=mta_sts_txt domain=%s result=%s cached=%s",
			  log_value(d->name, strlen(d->name)), log_str(error), d->policy != NULL ? "yes" : "no");
		sts_finish(d, false);
		return;
	}
	(void)snprintf(d->txt_id, sizeof(d->txt_id), "%s", id);
	if (d->policy != NULL && mta_sts_policy_fresh(d->policy, id, now)) {
		sts_finish(d, false);
		return;
	}
	str_t host = STR_INIT;
	str_printf(&host, "mta-sts.%s", d->name);
	d->addr = runner_addr_resolve(d->m->r->dns, str_c(&host), sts_on_addrs, d);
	str_free(&host);
	if (d->addr == NULL)
		sts_fetch_failed(d, "DNS lookup could not start");
}

static struct sts_domain *sts_domain_get(struct runner_mtasts *m, const char *name)
{
	for (struct sts_domain *d = m->domains; d != NULL; d = d->next) {
		if (strcmp(d->name, name) == 0)
			return d;
	}
	if (m->domain_count >= RUNNER_STS_DOMAINS_MAX) {
		/* drop the oldest idle one (the list is newest first) */
		struct sts_domain **drop = NULL;
		for (struct sts_domain **p = &m->domains; *p != NULL; p = &(*p)->next) {
			if (sts_domain_idle(*p))
				drop = p;
		}
		if (drop != NULL) {
			struct sts_domain *d = *drop;
			*drop = d->next;
			sts_domain_free(d);
			m->domain_count--;
		}
	}
	struct sts_domain *d = xcalloc(1, sizeof(*d));
	d->m = m;
	(void)snprintf(d->name, sizeof(d->name), "%s", name);
	const char *error;
	/* the disk copy: a restart keeps what was fetched (RFC 8461 5.1) */
	if (mta_sts_cache_load(m->dir, name, &d->policy, &error) > 0)
		log_debug("event=mta_sts_policy domain=%s id=%s mode=%s source=disk",
			  log_value(name, strlen(name)), d->policy->id, mta_sts_mode_name(d->policy->mode));
	d->next = m->domains;
	m->domains = d;
	m->domain_count++;
	return d;
}

struct runner_mtasts_get *runner_mtasts_get(struct runner_mtasts *m, const char *domain,
					    struct runner_sts *out,
					    runner_mtasts_callback_t *cb, void *ctx)
{
	char name[DNS_NAME_MAX + 1];
	memset(out, 0, sizeof(*out));
	/* an address literal or an odd name has no MTA-STS */
	if (!mta_sts_domain_ok(domain, name, sizeof(name)))
		return NULL;
	struct runner_mtasts_get *g = xcalloc(1, sizeof(*g));
	g->out = out;
	g->cb = cb;
	g->ctx = ctx;
	struct sts_domain *d = sts_domain_get(m, name);
	g->d = d;
	struct runner_mtasts_get **p = &d->waiters;
	while (*p != NULL)
		p = &(*p)->next;
	*p = g;
	if (d->txt != NULL || d->addr != NULL || d->fetch != NULL)
		return g; /* answered with the lookup in flight */
	str_t qname = STR_INIT;
	str_printf(&qname, "_mta-sts.%s", name);
	const char *error;
	d->txt = dns_lookup(m->r->dns, str_c(&qname), DNS_TXT, RUNNER_DNS_TIMEOUT_MS,
			    sts_on_txt, d, &error);
	str_free(&qname);
	if (d->txt == NULL) {
		/* no policy; the caller goes on at once */
		log_warn("event=mta_sts_txt domain=%s error=%s", log_value(name, strlen(name)),
			 log_str(error));
		*p = NULL;
		free(g);
		return NULL;
	}
	return g;
}

void runner_mtasts_get_cancel(struct runner_mtasts_get **gp)
{
	struct runner_mtasts_get *g = *gp;
	if (g == NULL)
		return;
	struct sts_domain *d = g->d;
	struct runner_mtasts_get **lists[2] = { &d->waiters, &d->finishing };
	for (unsigned i = 0; i < 2; i++) {
		for (struct runner_mtasts_get **p = lists[i]; *p != NULL; p = &(*p)->next) {
			if (*p == g) {
				*p = g->next;
				free(g);
				*gp = NULL;
				return;
			}
		}
	}
	*gp = NULL;
}

void runner_sts_clear(struct runner_sts *s)
{
	mta_sts_policy_free(&s->policy);
	s->failed = false;
	s->refused = 0;
}

bool runner_sts_host_allowed(struct runner_sts *s, const char *queue_id,
			     const char *host, bool dane)
{
	enum mta_sts_verdict v = mta_sts_check(s->policy, host);
	if (v != MTA_STS_REFUSE && v != MTA_STS_TESTING_MISMATCH)
		return true;
	bool refuse = v == MTA_STS_REFUSE && !dane;
	/* RFC 8461 4.1: the MX host must match an mx pattern; testing only
	 * reports (TLSRPT is not sent: the line is the report) */
	log_info("event=mta_sts_mismatch queue_id=%s mx=%s mode=%s id=%s action=%s",
		 queue_id, log_str(host), mta_sts_mode_name(s->policy->mode), s->policy->id,
		 refuse ? "skip" : dane ? "dane" : "deliver");
	if (refuse)
		s->refused++;
	return !refuse;
}

void runner_sts_dest(const struct runner_sts *s, struct runner_mtasts *m, bool dane,
		     struct smtp_client_dest *dest)
{
	/* RFC 8461 2: DANE's verdict stands; MTA-STS does not override it */
	if (dane || s->policy == NULL || s->policy->mode != MTA_STS_MODE_ENFORCE)
		return;
	/* RFC 8461 4.2: STARTTLS, a certificate chaining to a trusted root
	 * and valid for the MX host name; else the host is not used */
	dest->tls_mode = SMTP_CLIENT_TLS_REQUIRED;
	dest->tls = m->tls;
}

const char *runner_sts_refused_text(const struct runner_sts *s, unsigned host_count)
{
	if (s->refused == 0)
		return NULL;
	return t_printf("MTA-STS policy %s (enforce): %u of %u MX hosts match no mx "
			"pattern (RFC 8461 4.1)%s", s->policy->id, s->refused, host_count,
			s->refused < host_count ? ", no other answered" : "");
}

bool runner_sts_governs(const struct runner_sts *s)
{
	return s->failed || (s->policy != NULL && s->policy->mode != MTA_STS_MODE_NONE);
}

const char *runner_sts_label(const struct runner_sts *s, bool tls)
{
	if (s->policy == NULL || s->policy->mode == MTA_STS_MODE_NONE)
		return s->failed ? "failed" : "none";
	if (s->policy->mode == MTA_STS_MODE_TESTING)
		return "testing";
	return tls ? "enforce" : "failed";
}
