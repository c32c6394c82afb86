/* runner_dane.c: the TLSA lookup for each MX host an attempt tries and
 * the TLS it makes the connection use (runner_dane.h, RFC 7672). */
#include "relay/runner_dane.h"
#include "dns/dns.h"
#include "dns/dns_parse.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "relay/dane.h"
#include "relay/runner_private.h"
#include "relay/smtp_client.h"

#include <stdio.h>
#include <string.h>

enum runner_dane_state {
	RUNNER_DANE_IDLE,     /* no host yet */
	RUNNER_DANE_INSECURE, /* no lookup: an answer on the way was not secure */
	RUNNER_DANE_LOOKUP,   /* TLSA lookup in flight */
	RUNNER_DANE_DECIDED,  /* status holds the TLSA answer's meaning */
};

struct runner_dane {
	struct dns_resolver *dns;
	char queue_id[48];
	const char *host;
	enum runner_dane_state state;
	enum dane_status status;
	struct dane_tlsa_set *set;
	struct dns_lookup *lookup;
	runner_dane_callback_t *cb;
	void *ctx;
	const char *outcome; /* the last session's, for the log; NULL: none yet */
};

struct runner_dane *runner_dane_create(struct dns_resolver *dns, const char *queue_id)
{
	struct runner_dane *d = xcalloc(1, sizeof(*d));
	d->dns = dns;
	(void)snprintf(d->queue_id, sizeof(d->queue_id), "%s", queue_id);
	return d;
}

static void runner_dane_reset(struct runner_dane *d)
{
	dns_lookup_cancel(&d->lookup);
	dane_tlsa_set_free(&d->set);
	d->state = RUNNER_DANE_IDLE;
	d->status = DANE_NONE;
	d->outcome = NULL;
}

void runner_dane_free(struct runner_dane **dp)
{
	struct runner_dane *d = *dp;
	if (d == NULL)
		return;
	runner_dane_reset(d);
	free(d);
	*dp = NULL;
}

static void runner_dane_on_tlsa(struct dns_answer *a, void *ctx)
{
	struct runner_dane *d = ctx;
	d->lookup = NULL;
	d->status = dane_from_answer(a, &d->set);
	d->state = RUNNER_DANE_DECIDED;
	log_info("event=relay_dane queue_id=%s mx=%s tlsa=%s security=%s records=%u "
		 "usable=%u dane=%s", d->queue_id, log_str(d->host),
		 a->result == DNS_RESULT_DATA ? "yes" : a->result == DNS_RESULT_NODATA ||
		 a->result == DNS_RESULT_NXDOMAIN ? "no" : "error",
		 dns_security_name(a->security),
		 a->result == DNS_RESULT_DATA ? a->count : 0, dane_tlsa_set_count(d->set),
		 runner_dane_name(d));
	dns_answer_free(&a);
	d->cb(d->ctx);
}

void runner_dane_host(struct runner_dane *d, const char *host, bool mx_secure,
		      bool addr_secure, runner_dane_callback_t *cb, void *ctx)
{
	runner_dane_reset(d);
	d->host = host;
	d->cb = cb;
	d->ctx = ctx;
	/* RFC 7672 2.2.1, 2.2.2: TLSA only for a host reached through
	 * validated MX and address answers */
	if (!mx_secure || !addr_secure) {
		d->state = RUNNER_DANE_INSECURE;
		cb(ctx);
		return;
	}
	char name[DNS_NAME_MAX + 16];
	const char *error = NULL;
	/* RFC 7672 2.2.3: the TLSA base domain is the MX host name, port 25 */
	if (snprintf(name, sizeof(name), "_25._tcp.%s", host) >= (int)sizeof(name)) {
		d->state = RUNNER_DANE_DECIDED;
		d->status = DANE_DEFER;
		cb(ctx);
		return;
	}
	d->state = RUNNER_DANE_LOOKUP;
	d->lookup = dns_lookup(d->dns, name, DNS_TLSA, RUNNER_DNS_TIMEOUT_MS,
			       runner_dane_on_tlsa, d, &error);
	if (d->lookup == NULL) {
		log_warn("event=relay_dane queue_id=%s mx=%s dane=tempfail error=%s",
			 d->queue_id, log_str(host), log_str(error));
		d->state = RUNNER_DANE_DECIDED;
		d->status = DANE_DEFER;
		cb(ctx);
	}
}

bool runner_dane_skip_host(const struct runner_dane *d)
{
	return d->state == RUNNER_DANE_DECIDED && d->status == DANE_DEFER;
}

void runner_dane_dest(struct runner_dane *d, struct smtp_client_dest *dest)
{
	if (d->state != RUNNER_DANE_DECIDED || dest->tls_mode == SMTP_CLIENT_TLS_NONE)
		return;
	if (d->status == DANE_USABLE)
		dane_client_dest(d->set, dest); /* RFC 7672 2.2: over any other policy */
	else if (d->status == DANE_UNUSABLE &&
		 dest->tls_mode == SMTP_CLIENT_TLS_OPPORTUNISTIC)
		dane_client_dest_encrypt(dest);
}

void runner_dane_result(struct runner_dane *d, const struct smtp_client_result *res)
{
	if (d->state != RUNNER_DANE_DECIDED || d->status != DANE_USABLE)
		return;
	if (res->tls) {
		const char *o = dane_outcome(d->status, res->peer);
		d->outcome = strcmp(o, "authenticated") == 0 ? "verified" : "failed";
	} else if (res->final.local && strncmp(res->final.enhanced, "4.7.", 4) == 0) {
		/* no STARTTLS (4.7.10) or no authenticated handshake (4.7.5);
		 * a host that did not answer at all leaves the outcome */
		d->outcome = "failed";
	}
}

bool runner_dane_governs(const struct runner_dane *d)
{
	return d != NULL && d->state != RUNNER_DANE_IDLE && d->state != RUNNER_DANE_INSECURE &&
	       !(d->state == RUNNER_DANE_DECIDED && d->status == DANE_NONE);
}

const char *runner_dane_name(const struct runner_dane *d)
{
	if (d == NULL)
		return "-";
	switch (d->state) {
	case RUNNER_DANE_IDLE:
		return "-";
	case RUNNER_DANE_INSECURE:
		return "insecure";
	case RUNNER_DANE_LOOKUP:
		return "pending";
	case RUNNER_DANE_DECIDED:
		break;
	}
	switch (d->status) {
	case DANE_NONE: return "none";
	case DANE_USABLE: return d->outcome != NULL ? d->outcome : "usable";
	case DANE_UNUSABLE: return "unusable";
	case DANE_DEFER: return "tempfail";
	}
	return "?";
}
