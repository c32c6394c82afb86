/* runner_attempt.c: one delivery attempt to one destination domain,
 * carrying all of an entry's recipients there (runner_private.h).
 *
 * It waits for a slot (relay_max_connections, relay_max_per_domain),
 * resolves the MX hosts (runner_mx.c), then for each host in order its
 * addresses, and sends through smtp_client to the first address that
 * answers (RFC 5321 5.1: a connection failure or a local 4xx moves on to
 * the next address and then the next MX). The replies go to the entry
 * (runner_entry_results), one key=value line per attempt. A null MX
 * (RFC 7505 4.1) fails every recipient with 556 5.1.10 at once; a domain
 * that does not exist fails with 550 5.1.2 (RFC 3463 3.2); a DNS failure
 * defers with 451 4.4.3. The domain's MTA-STS policy (runner_mtasts.h)
 * comes before the MX lookup: enforce skips hosts outside it and requires
 * verified TLS; all hosts skipped defers with 451 4.7.5. */
#include "relay/runner_private.h"
#include "relay/runner_mtasts.h"
#include "relay/runner_dane.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/log.h"
#include "lib/str.h"
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RUNNER_LOG_RCPTS_MAX 20

struct runner_attempt {
	struct runner *r;
	struct runner_entry *e;
	struct runner_attempt *next;  /* the waiting list */
	char domain[DNS_NAME_MAX + 1];
	unsigned *idx;
	unsigned count;
	bool slot;
	struct runner_mx_lookup *lookup;
	struct runner_mx hosts[RUNNER_MX_MAX];
	unsigned host_count, host_at;
	char (*addrs)[64];
	unsigned addr_count, addr_at;
	struct smtp_client *client;
	struct smtp_client_rcpt *rcpts;
	struct smtp_client_message msg;
	int fd;
	const char *last_host;
	struct runner_sts sts;          /* MTA-STS, runner_mtasts.h */
	struct runner_mtasts_get *sts_get;
	struct runner_dane *dane;     /* runner_dane.c: the host's DANE policy */
	bool reused;          /* a at a parked connection (runner_reuse.c) */
	unsigned uses;        /* messages the connection carried before */
};

/* Where DANE (relay/dane.h) and MTA-STS (runner_mtasts.h) decide the TLS
 * a destination needs, before connecting; else opportunistic STARTTLS
 * (RFC 7435), any certificate encrypts. DANE hook: pass dane=true to
 * runner_sts_* for a host DANE governs (RFC 8461 2). */
static void attempt_policy(const struct runner_attempt *a, struct smtp_client_dest *dest)
{
	dest->tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC;
	runner_sts_dest(&a->sts, a->r->mtasts, false, dest);
}

static void attempt_free(struct runner_attempt *a)
{
	runner_mx_lookup_cancel(&a->lookup);
	runner_mtasts_get_cancel(&a->sts_get);
	runner_sts_clear(&a->sts);
	if (a->client != NULL)
		smtp_client_destroy(&a->client);
	runner_dane_free(&a->dane);
	if (a->slot)
		runner_slot_release(&a->r->slots, a->domain);
	free(a->addrs);
	free(a->rcpts);
	free(a->idx);
	free(a);
}

/* "code enhanced text" for the log: a server's text starts with its
 * enhanced code (RFC 3463), a reply made here may not; the code once */
static const char *attempt_reply_text(const struct smtp_client_reply *r)
{
	const char *text = r->text != NULL ? r->text : "";
	size_t elen = strlen(r->enhanced);
	if (elen == 0 || (strncmp(text, r->enhanced, elen) == 0 &&
			  (text[elen] == ' ' || text[elen] == '\0')))
		return t_printf("%u %s", r->code, text);
	return t_printf("%u %s %s", r->code, r->enhanced, text);
}

static void attempt_log(const struct runner_attempt *a, const char *ip, bool tls,
			const struct smtp_client_reply *replies)
{
	str_t rc = STR_INIT, codes = STR_INIT;
	/* one line per attempt, bounded: the first recipients, then a count */
	for (unsigned i = 0; i < a->count && i < RUNNER_LOG_RCPTS_MAX; i++) {
		const struct queue_recipient *q =
			&runner_entry_info(a->e)->env.recipients[a->idx[i]];
		str_printf(&rc, "%s%.*s", i ? "," : "", (int)q->address.len, q->address.data);
		str_printf(&codes, "%s%u", i ? "," : "", replies[i].code);
	}
	if (a->count > RUNNER_LOG_RCPTS_MAX)
		str_printf(&codes, ",+%u more", a->count - RUNNER_LOG_RCPTS_MAX);
	const struct smtp_client_reply *first = &replies[0];
	log_info("event=relay_attempt queue_id=%s domain=%s rcpt=%s mx=%s ip=%s tls=%s "
		 "mta_sts=%s dane=%s codes=%s reply=%s", runner_entry_id(a->e), log_str(a->domain),
		 log_value(rc.data, rc.len), log_str(a->last_host), ip != NULL ? ip : "-",
		 tls ? "yes" : "no", runner_sts_label(&a->sts, tls), runner_dane_name(a->dane),
		 str_c(&codes),
		 log_str(attempt_reply_text(first)));
	str_free(&rc);
	str_free(&codes);
}

static void attempt_done(struct runner_attempt *a, const struct smtp_client_reply *replies,
			 const char *ip, bool tls)
{
	struct runner *r = a->r;
	attempt_log(a, ip, tls, replies);
	runner_entry_results(a->e, a->idx, a->count, replies, a->last_host);
	attempt_free(a);
	runner_attempts_kick(r);
}

/* Every recipient gets the same reply, made here. */
static void attempt_done_all(struct runner_attempt *a, unsigned code, const char *status,
			     const char *text)
{
	struct smtp_client_reply *rep = xcalloc(a->count, sizeof(*rep));
	for (unsigned i = 0; i < a->count; i++) {
		rep[i].code = code;
		(void)snprintf(rep[i].enhanced, sizeof(rep[i].enhanced), "%s", status);
		rep[i].text = text;
		rep[i].local = true;
	}
	attempt_done(a, rep, NULL, false);
	free(rep);
}

static void attempt_next_host(struct runner_attempt *a);

static bool result_is_connection_failure(const struct smtp_client_result *res)
{
	for (unsigned i = 0; i < res->rcpt_count; i++) {
		if (!res->rcpt[i].local || res->rcpt[i].code / 100 != 4)
			return false;
	}
	return res->final.local && res->final.code / 100 == 4;
}

static void attempt_next_addr(struct runner_attempt *a);
static void attempt_resolve(struct runner_attempt *a);

static void attempt_on_result(void *ctx, const struct smtp_client_result *res)
{
	struct runner_attempt *a = ctx;
	const char *ip = a->addrs[a->addr_at - 1];
	runner_dane_result(a->dane, res);
	if (a->reused && result_is_connection_failure(res)) {
		/* the parked connection went stale: afresh, from DNS */
		smtp_client_destroy(&a->client);
		attempt_resolve(a);
		return;
	}
	if (result_is_connection_failure(res) &&
	    (a->addr_at < a->addr_count || a->host_at < a->host_count)) {
		log_info("event=relay_try_next queue_id=%s mx=%s ip=%s dane=%s reply=%s",
			 runner_entry_id(a->e), log_str(a->last_host), ip,
			 runner_dane_name(a->dane), log_str(res->final.text));
		smtp_client_destroy(&a->client);
		attempt_next_addr(a);
		return;
	}
	struct smtp_client_reply *rep = xcalloc(a->count, sizeof(*rep));
	for (unsigned i = 0; i < a->count && i < res->rcpt_count; i++)
		rep[i] = res->rcpt[i];
	if (a->r->smarthost != NULL)
		runner_smarthost_replies(a->r->smarthost, runner_entry_id(a->e), res,
					 rep, a->count);
	char ipbuf[64];
	(void)snprintf(ipbuf, sizeof(ipbuf), "%s", ip);
	bool tls = res->tls;
	/* the replies' text lives in the client until it goes */
	struct smtp_client *c = a->client;
	a->client = NULL;
	/* parked before attempt_done() kicks the next attempt to the domain;
	 * an RSET there frees the reply texts only after the replies are
	 * recorded (runner_entry_results copies them) */
	/* only where no TLSA record nor MTA-STS policy governed the host
	 * (opportunistic TLS): a message on a parked connection logs no
	 * policy of its own (dane=- mta_sts=none) */
	if (res->reusable && !runner_sts_governs(&a->sts) && !runner_dane_governs(a->dane))
		runner_reuse_put(a->r, a->domain, &c, a->last_host, ipbuf, a->uses + 1);
	attempt_done(a, rep, ipbuf, tls);
	free(rep);
	smtp_client_destroy(&c);
}

static void attempt_next_addr(struct runner_attempt *a)
{
	if (a->addr_at >= a->addr_count) {
		attempt_next_host(a);
		return;
	}
	const char *ip = a->addrs[a->addr_at++];
	struct smtp_client_dest dest = {
		.host = a->last_host, .ip = ip, .port = a->r->config->relay_port,
		.tls = a->r->tls,
	};
	if (a->r->smarthost != NULL) {
		runner_smarthost_dest(a->r->smarthost, ip, &dest);
	} else {
		attempt_policy(a, &dest);
		runner_dane_dest(a->dane, &dest); /* usable TLSA: DANE decides (RFC 8461 2) */
	}
	const char *error;
	if (lseek(a->fd, 0, SEEK_SET) < 0) {
		attempt_done_all(a, 451, "4.3.0", "cannot read the queued message");
		return;
	}
	a->client = smtp_client_start(a->r->loop, &a->r->client_set, &dest, &a->msg,
				      attempt_on_result, a, &error);
	if (a->client == NULL) {
		log_warn("event=relay_connect_failed queue_id=%s mx=%s ip=%s error=%s",
			 runner_entry_id(a->e), log_str(a->last_host), ip, log_str(error));
		attempt_next_addr(a);
	}
}

static void attempt_on_dane(void *ctx)
{
	struct runner_attempt *a = ctx;
	if (runner_dane_skip_host(a->dane))
		attempt_next_host(a); /* RFC 7672 2.2: no downgrade, next MX */
	else
		attempt_next_addr(a);
}

static void attempt_on_addrs(char (*addrs)[64], unsigned count, bool secure,
			     const char *why, void *ctx)
{
	struct runner_attempt *a = ctx;
	a->lookup = NULL;
	if (count == 0)
		log_info("event=relay_no_address queue_id=%s mx=%s reason=%s",
			 runner_entry_id(a->e), log_str(a->last_host), log_str(why));
	memcpy(a->addrs, addrs, RUNNER_ADDRS_MAX * sizeof(addrs[0]));
	a->addr_count = count;
	a->addr_at = 0;
	if (count == 0)
		attempt_next_addr(a);
	else
		runner_dane_host(a->dane, a->last_host, a->hosts[a->host_at - 1].secure,
				 secure, attempt_on_dane, a);
}

static void attempt_next_host(struct runner_attempt *a)
{
	const char *sts_text = runner_sts_refused_text(&a->sts, a->host_count);
	if (a->host_at >= a->host_count) {
		if (sts_text != NULL)
			attempt_done_all(a, 451, "4.7.5", sts_text);
		else if (runner_dane_skip_host(a->dane))
			attempt_done_all(a, 451, "4.7.5", "TLSA lookup failed (DANE, RFC 7672 2.2)");
		else
			attempt_done_all(a, 451, "4.4.1", a->r->smarthost != NULL ?
					 "the relayhost could not be reached" : "no MX host answered");
		return;
	}
	a->last_host = a->hosts[a->host_at++].host;
	if (a->r->smarthost != NULL &&
	    (a->addr_count = runner_smarthost_literal(a->r->smarthost, a->addrs)) > 0) {
		a->addr_at = 0; /* [192.0.2.1]: no lookup */
		attempt_next_addr(a);
		return;
	}
	if (a->r->smarthost == NULL &&
	    !runner_sts_host_allowed(&a->sts, runner_entry_id(a->e), a->last_host, false)) {
		attempt_next_host(a); /* RFC 8461 4.1; at most RUNNER_MX_MAX deep */
		return;
	}
	a->lookup = runner_addr_resolve(a->r->dns, a->last_host, attempt_on_addrs, a);
	if (a->lookup == NULL)
		attempt_next_host(a);
}

static void attempt_on_mx(enum runner_mx_status status, const char *why,
			  const struct runner_mx *hosts, unsigned count, void *ctx)
{
	struct runner_attempt *a = ctx;
	a->lookup = NULL;
	switch (status) {
	case RUNNER_MX_NULL:
		attempt_done_all(a, 556, "5.1.10", "recipient domain accepts no mail "
				 "(null MX, RFC 7505)");
		return;
	case RUNNER_MX_NXDOMAIN:
		attempt_done_all(a, 550, "5.1.2", t_printf("%s: %s", a->domain, why));
		return;
	case RUNNER_MX_TEMPFAIL:
		attempt_done_all(a, 451, "4.4.3", t_printf("%s: %s", a->domain, why));
		return;
	case RUNNER_MX_OK:
		break;
	}
	memcpy(a->hosts, hosts, count * sizeof(hosts[0]));
	a->host_count = count;
	attempt_next_host(a);
}

static void attempt_on_sts(void *ctx)
{
	struct runner_attempt *a = ctx;
	a->sts_get = NULL;
	a->lookup = runner_mx_resolve(a->r->dns, a->domain, attempt_on_mx, a);
	if (a->lookup == NULL)
		attempt_done_all(a, 451, "4.4.3", "DNS lookup could not start");
}

/* MTA-STS first (RFC 8461 5.1: the policy decides which MX hosts count) */
static void attempt_resolve(struct runner_attempt *a)
{
	a->reused = false;
	a->uses = 0;
	a->host_count = a->host_at = a->addr_count = a->addr_at = 0;
	if (a->r->smarthost != NULL) { /* relayhost: no MX lookup, no policy */
		runner_smarthost_host(a->r->smarthost, &a->hosts[0]);
		a->host_count = 1;
		attempt_next_host(a);
		return;
	}
	a->sts_get = runner_mtasts_get(a->r->mtasts, a->domain, &a->sts, attempt_on_sts, a);
	if (a->sts_get == NULL)
		attempt_on_sts(a);
}

/* A parked connection to the domain carries the message (RSET first). */
static bool attempt_reuse(struct runner_attempt *a)
{
	struct smtp_client *c;
	while ((c = runner_reuse_take(a->r, a->domain, a->hosts[0].host,
				      sizeof(a->hosts[0].host), a->addrs[0],
				      sizeof(a->addrs[0]), &a->uses)) != NULL) {
		if (lseek(a->fd, 0, SEEK_SET) < 0 ||
		    smtp_client_send(c, &a->msg, attempt_on_result, a) < 0) {
			smtp_client_destroy(&c);
			continue;
		}
		a->client = c;
		a->reused = true;
		a->last_host = a->hosts[0].host;
		a->host_count = a->host_at = a->addr_count = a->addr_at = 1;
		log_debug("event=relay_reuse queue_id=%s domain=%s mx=%s ip=%s uses=%u",
			  runner_entry_id(a->e), log_str(a->domain), log_str(a->last_host),
			  a->addrs[0], a->uses);
		return true;
	}
	return false;
}

static void attempt_begin(struct runner_attempt *a)
{
	if (!attempt_reuse(a))
		attempt_resolve(a);
}

static const char *notify_text(unsigned notify)
{
	if (notify == 0)
		return NULL;
	if (notify & QUEUE_NOTIFY_NEVER)
		return "NEVER";
	str_t s = STR_INIT;
	if (notify & QUEUE_NOTIFY_SUCCESS)
		str_appendz(&s, "SUCCESS,");
	if (notify & QUEUE_NOTIFY_FAILURE)
		str_appendz(&s, "FAILURE,");
	if (notify & QUEUE_NOTIFY_DELAY)
		str_appendz(&s, "DELAY,");
	const char *ret = t_strndup(s.data, s.len > 0 ? s.len - 1 : 0);
	str_free(&s);
	return ret;
}

void runner_attempt_start(struct runner *r, struct runner_entry *e, const char *domain,
			  const unsigned *idx, unsigned count)
{
	struct runner_attempt *a = xcalloc(1, sizeof(*a));
	struct queue_entry_info *info = runner_entry_info(e);
	const struct queue_envelope *env = &info->env;
	a->r = r;
	a->e = e;
	(void)snprintf(a->domain, sizeof(a->domain), "%s", domain);
	a->idx = xcalloc(count, sizeof(*a->idx));
	memcpy(a->idx, idx, count * sizeof(*idx));
	a->count = count;
	a->addrs = xcalloc(RUNNER_ADDRS_MAX, sizeof(a->addrs[0]));
	a->fd = runner_entry_message_fd(e);
	a->dane = runner_dane_create(r->dns, runner_entry_id(e));
	a->rcpts = xcalloc(count, sizeof(*a->rcpts));
	for (unsigned i = 0; i < count; i++) {
		const struct queue_recipient *q = &env->recipients[idx[i]];
		a->rcpts[i].address = q->address.data;
		/* copied into the entry's pool: valid as long as the entry */
		const char *n = notify_text(q->notify);
		a->rcpts[i].notify = n != NULL ? runner_entry_strdup(e, n) : NULL;
		a->rcpts[i].orcpt = q->orcpt.data;
	}
	a->msg = (struct smtp_client_message){
		.id = runner_entry_id(e), .mail_from = env->sender.data,
		.ret = env->dsn_ret == QUEUE_DSN_RET_FULL ? "FULL" :
			env->dsn_ret == QUEUE_DSN_RET_HDRS ? "HDRS" : NULL,
		.envid = env->envid.data, .rcpts = a->rcpts, .rcpt_count = count,
		.source = { .read = smtp_client_read_fd, .ctx = &a->fd, .size = info->size,
			    .eightbit = env->body != QUEUE_BODY_7BIT,
			    .smtputf8 = env->smtputf8 },
	};
	if (runner_slot_take(&r->slots, a->domain)) {
		a->slot = true;
		attempt_begin(a);
		return;
	}
	/* to the end of the waiting list */
	struct runner_attempt **p = &r->waiting;
	while (*p != NULL)
		p = &(*p)->next;
	*p = a;
}

void runner_attempts_kick(struct runner *r)
{
	struct runner_attempt **p = &r->waiting;
	while (!r->draining && *p != NULL && r->slots.total < r->slots.max_total) {
		struct runner_attempt *a = *p;
		if (!runner_slot_take(&r->slots, a->domain)) {
			p = &a->next;
			continue;
		}
		*p = a->next;
		a->slot = true;
		attempt_begin(a);
	}
}

void runner_attempts_abandon_waiting(struct runner *r)
{
	while (r->waiting != NULL) {
		struct runner_attempt *a = r->waiting;
		r->waiting = a->next;
		attempt_done_all(a, 451, "4.3.2", "queue runner stopping");
	}
}
