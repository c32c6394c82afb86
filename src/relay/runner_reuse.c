/* runner_reuse.c: idle SMTP connections kept for the next message to the
 * same destination domain (runner_private.h; issue 10 item 1).
 *
 * When an attempt ends with result->reusable (the server answered the
 * message and the session is idle), runner_attempt.c parks the client
 * here instead of QUIT. The next attempt to that domain takes it before
 * any DNS lookup and sends with smtp_client_send() (RSET first, RFC 5321
 * 4.1.1.5), so a burst to one domain goes over a few connections instead
 * of one per message. A parked connection holds no concurrency slot; at
 * most relay_max_per_domain wait per domain and relay_max_connections in
 * all. Each is closed politely (QUIT) after RUNNER_REUSE_IDLE_MS without
 * use, after RUNNER_REUSE_MAX_MSGS messages, or when the runner drains.
 * A connection the server closed while parked is found by
 * smtp_client_send() failing; the attempt then starts afresh. */
#include "relay/runner_private.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

struct runner_reuse {
	struct runner_reuse *next;
	struct runner *r;
	struct smtp_client *client;
	struct timeout *idle_to;
	unsigned uses;              /* messages sent on it so far */
	char domain[DNS_NAME_MAX + 1];
	char host[DNS_NAME_MAX + 1];
	char ip[64];
};

static void reuse_unlink(struct runner_reuse *p)
{
	for (struct runner_reuse **pp = &p->r->reuse; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	timeout_remove(&p->idle_to);
}

static void reuse_on_idle(void *ctx)
{
	struct runner_reuse *p = ctx;
	log_debug("event=relay_reuse_idle_close domain=%s mx=%s ip=%s uses=%u",
		  log_str(p->domain), log_str(p->host), p->ip, p->uses);
	reuse_unlink(p);
	smtp_client_quit(&p->client);
	free(p);
}

static unsigned reuse_count(const struct runner *r, const char *domain)
{
	unsigned n = 0;
	for (const struct runner_reuse *p = r->reuse; p != NULL; p = p->next) {
		if (domain == NULL || strcasecmp(p->domain, domain) == 0)
			n++;
	}
	return n;
}

void runner_reuse_put(struct runner *r, const char *domain, struct smtp_client **cp,
		      const char *host, const char *ip, unsigned uses)
{
	struct smtp_client *c = *cp;
	*cp = NULL;
	if (r->draining || uses >= RUNNER_REUSE_MAX_MSGS ||
	    reuse_count(r, domain) >= r->slots.max_per_domain ||
	    reuse_count(r, NULL) >= r->slots.max_total) {
		smtp_client_quit(&c);
		return;
	}
	struct runner_reuse *p = xcalloc(1, sizeof(*p));
	p->r = r;
	p->client = c;
	p->uses = uses;
	(void)snprintf(p->domain, sizeof(p->domain), "%s", domain);
	(void)snprintf(p->host, sizeof(p->host), "%s", host != NULL ? host : "");
	(void)snprintf(p->ip, sizeof(p->ip), "%s", ip != NULL ? ip : "");
	p->idle_to = timeout_add(r->loop, RUNNER_REUSE_IDLE_MS, reuse_on_idle, p);
	/* newest first: the most recently used connection is the likeliest
	 * to be still open */
	p->next = r->reuse;
	r->reuse = p;
}

struct smtp_client *runner_reuse_take(struct runner *r, const char *domain,
				      char *host_r, size_t host_size,
				      char *ip_r, size_t ip_size, unsigned *uses_r)
{
	for (struct runner_reuse *p = r->reuse; p != NULL; p = p->next) {
		if (strcasecmp(p->domain, domain) != 0)
			continue;
		reuse_unlink(p);
		struct smtp_client *c = p->client;
		(void)snprintf(host_r, host_size, "%s", p->host);
		(void)snprintf(ip_r, ip_size, "%s", p->ip);
		*uses_r = p->uses;
		free(p);
		return c;
	}
	return NULL;
}

void runner_reuse_close_all(struct runner *r, bool polite)
{
	while (r->reuse != NULL) {
		struct runner_reuse *p = r->reuse;
		reuse_unlink(p);
		if (polite)
			smtp_client_quit(&p->client);
		else
			smtp_client_destroy(&p->client);
		free(p);
	}
}
