/* probe_port.c: one port's probe, step by step. See probe.h and
 * probe_session.h.
 *
 * The verdict: a port fails when it cannot be reached, does not greet,
 * cannot do TLS (or, on a port for clients, does not offer it), shows a
 * certificate that is expired, unverified or for another name, or refuses
 * the login asked for. Port 25 without STARTTLS, plaintext login offered
 * before TLS, and a certificate expiring within PROBE_CERT_WARN_DAYS are
 * warnings. */
#include "probe/probe_session.h"
#include "probe/probe_reply.h"
#include "probe/probe_tls.h"
#include "lib/base64.h"
#include "dns/dns_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

const struct probe_service probe_services[PROBE_SERVICE_COUNT] = {
	{ "smtp", 25, PROBE_PROTO_SMTP, false,
	  "mail from other servers", "submission" },
	{ "submission", 587, PROBE_PROTO_SMTP, false,
	  "sending mail from a mail client", "submissions" },
	{ "submissions", 465, PROBE_PROTO_SMTP, true,
	  "sending mail from a mail client", "submission" },
	{ "pop3", 110, PROBE_PROTO_POP3, false,
	  "downloading mail (POP3)", "pop3s" },
	{ "pop3s", 995, PROBE_PROTO_POP3, true,
	  "downloading mail (POP3)", "pop3" },
	{ "imap", 143, PROBE_PROTO_IMAP, false,
	  "reading mail (IMAP)", "imaps" },
	{ "imaps", 993, PROBE_PROTO_IMAP, true,
	  "reading mail (IMAP)", "imap" },
};

const struct probe_service *probe_service_find(const char *name)
{
	for (unsigned i = 0; i < PROBE_SERVICE_COUNT; i++) {
		if (strcmp(probe_services[i].name, name) == 0)
			return &probe_services[i];
	}
	return NULL;
}

char *probe_text_safe(pool_t *pool, const char *s, size_t len, size_t max)
{
	return dns_text_safe(pool, s, len, max);
}

const char *probe_quote(const char *line, size_t len)
{
	return t_printf("\"%s\"", probe_text_safe(pool_temp(), line, len, 300));
}

void probe_sasl_plain(const struct probe_session *s, const char *prefix, str_t *out)
{
	str_t raw = STR_INIT;

	str_appendc(&raw, '\0');
	str_appendz(&raw, s->set->user);
	str_appendc(&raw, '\0');
	str_appendz(&raw, s->set->password);
	str_appendz(out, prefix);
	base64_encode(raw.data, raw.len, out);
	str_free_secure(&raw);
}

void probe_note(struct probe_port *p, const char *fmt, ...)
{
	va_list ap;
	if (p->note_count == PROBE_NOTES_MAX)
		return;
	va_start(ap, fmt);
	p->notes[p->note_count++] = pool_vprintf(p->pool, fmt, ap);
	va_end(ap);
}

void probe_fail(struct probe_port *p, enum probe_stage stage, const char *fmt, ...)
{
	va_list ap;
	if (p->status == PROBE_FAIL)
		return;
	p->status = PROBE_FAIL;
	p->failed_stage = stage;
	va_start(ap, fmt);
	p->error = pool_vprintf(p->pool, fmt, ap);
	va_end(ap);
}

static const struct probe_dialogue *probe_dialogue_of(enum probe_proto proto)
{
	switch (proto) {
	case PROBE_PROTO_SMTP:
		return &probe_smtp_dialogue;
	case PROBE_PROTO_POP3:
		return &probe_pop3_dialogue;
	case PROBE_PROTO_IMAP:
		break;
	}
	return &probe_imap_dialogue;
}

/* "[127.0.0.1]" or "[IPv6:::1]" (RFC 5321 4.1.3) for EHLO. */
static void probe_local_literal(struct probe_session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN] = "127.0.0.1";

	if (getsockname(s->io.fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  ip, sizeof(ip));
		else
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr,
				  ip, sizeof(ip));
	}
	snprintf(s->ehlo_name, sizeof(s->ehlo_name),
		 ss.ss_family == AF_INET6 ? "[IPv6:%s]" : "[%s]", ip);
}

static int probe_connect(struct probe_session *s, uint64_t deadline)
{
	const struct probe_settings *set = s->set;
	struct probe_port *p = s->p;
	struct sockaddr_storage addr = set->addr;
	const char *error;

	if (!set->addr_ok) {
		p->connect_error = PROBE_CONN_NAME;
		probe_fail(p, PROBE_STAGE_CONNECT, "%s", set->addr_error);
		return -1;
	}
	if (addr.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)p->port);
	else
		((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)p->port);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (probe_io_connect(&s->io, (struct sockaddr *)&addr, set->addr_len,
			     deadline, &p->connect_error, &error) < 0) {
		if (p->connect_error == PROBE_CONN_TIMEOUT)
			error = t_printf("no answer within %u ms", set->timeout_ms);
		probe_fail(p, PROBE_STAGE_CONNECT, "connect: %s", error);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->connect_ms = (double)(t1.tv_sec - t0.tv_sec) * 1000.0 +
		(double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	probe_local_literal(s);
	return 0;
}

static int probe_tls(struct probe_session *s)
{
	struct probe_port *p = s->p;
	const char *error;
	bool had_input;

	if (probe_io_starttls(&s->io, s->set->ssl_ctx, s->set->servername,
			      &had_input, &error) < 0) {
		probe_fail(p, PROBE_STAGE_TLS, "TLS handshake failed: %s", error);
		return -1;
	}
	if (had_input) {
		p->tls_data_after_starttls = true;
		probe_note(p, "the server sent data after its STARTTLS go-ahead "
			   "(a sign of the STARTTLS injection flaw, CVE-2011-0411)");
	}
	probe_tls_inspect(p, s->io.ssl, s->set->servername);
	return 0;
}

/* Certificate verdicts: failures and warnings. On port 25 every
 * certificate problem is a warning: sending servers use opportunistic
 * TLS (RFC 7435 1.3, RFC 3207 4.1) and deliver over it all the same; only
 * those that check with DANE (RFC 7672) or MTA-STS (RFC 8461) would not. */
static void probe_cert_verdict(struct probe_port *p, const char *name)
{
	const struct probe_cert *c = &p->cert;
	const char *problem = NULL;

	if (!c->present)
		problem = "the server sent no certificate";
	else if (c->days_left < 0)
		problem = t_printf("certificate expired %ld days ago (%s)", -c->days_left,
				   c->not_after != NULL ? c->not_after : "?");
	else if (!c->name_ok)
		problem = t_printf("certificate is not valid for %s (subject %s)", name,
				   c->subject);
	else if (!c->chain_ok)
		problem = t_printf("certificate not trusted: %s", c->verify_error);
	p->cert_valid = problem == NULL;
	if (problem == NULL) {
		if (c->days_left < PROBE_CERT_WARN_DAYS)
			probe_note(p, "certificate expires in %ld days", c->days_left);
	} else if (strcmp(p->service->name, "smtp") == 0) {
		probe_note(p, "%s: sending servers use opportunistic TLS (RFC 7435) "
			   "and deliver anyway; those that check with DANE or "
			   "MTA-STS would not", problem);
	} else {
		probe_fail(p, PROBE_STAGE_CERT, "%s", problem);
	}
}

static void probe_caps_step(struct probe_session *s, const struct probe_dialogue *d,
			    bool after_tls)
{
	struct probe_port *p = s->p;
	const char *error;
	int r = after_tls ?
		d->capabilities(s, &p->caps_after, &p->mechs_after,
				&p->plaintext_login_after, &error) :
		d->capabilities(s, &p->caps_before, &p->mechs_before,
				&p->plaintext_login_before, &error);
	if (r < 0)
		probe_fail(p, PROBE_STAGE_CAPS, "capabilities: %s", error);
}

static void probe_login_step(struct probe_session *s, const struct probe_dialogue *d)
{
	struct probe_port *p = s->p;
	bool tls = p->tls_done;
	const struct probe_caps *mechs = tls ? &p->mechs_after : &p->mechs_before;
	bool plain = tls ? p->plaintext_login_after : p->plaintext_login_before;
	const char *reply, *error;

	if (!tls && !s->set->login_plaintext) {
		p->login = PROBE_LOGIN_SKIPPED;
		p->login_detail = "not tried without TLS (a password is never sent "
			"in plaintext unless --login-plaintext is given)";
		return;
	}
	if (tls && !p->cert_valid) {
		p->login = PROBE_LOGIN_SKIPPED;
		p->login_detail = "not tried: the certificate is not valid, so the "
			"password could reach an impostor";
		return;
	}
	if (mechs->count == 0 && !plain) {
		p->login = PROBE_LOGIN_SKIPPED;
		p->login_detail = "no authentication offered";
		return;
	}
	if (d->login(s, mechs, plain, &reply, &error) < 0) {
		p->login = PROBE_LOGIN_FAILED;
		p->login_detail = pool_strdup(p->pool, error);
		probe_fail(p, PROBE_STAGE_LOGIN, "login as %s failed: %s",
			   s->set->user, error);
		return;
	}
	p->login = PROBE_LOGIN_OK;
	p->login_detail = pool_strdup(p->pool, reply);
}

static void probe_port_dialogue(struct probe_session *s, uint64_t deadline)
{
	struct probe_port *p = s->p;
	const struct probe_service *svc = p->service;
	const struct probe_dialogue *d = probe_dialogue_of(svc->proto);
	const char *error;

	if (probe_connect(s, deadline) < 0)
		return;
	if (svc->implicit_tls) {
		p->tls_offered = true;
		if (probe_tls(s) < 0)
			return;
	}
	if (d->greeting(s, &error) < 0) {
		probe_fail(p, PROBE_STAGE_GREETING, "%s", error);
		return;
	}
	probe_caps_step(s, d, svc->implicit_tls);
	if (p->status == PROBE_FAIL)
		return;
	if (!svc->implicit_tls) {
		if (p->mechs_before.count > 0 || p->plaintext_login_before)
			probe_note(p, "plaintext authentication is offered before TLS: "
				   "a client may send its password unencrypted");
		p->tls_offered = probe_caps_has(&p->caps_before, d->starttls_cap);
		if (!p->tls_offered) {
			if (svc->port == 25 && strcmp(svc->name, "smtp") == 0)
				probe_note(p, "STARTTLS not offered: mail from other servers "
					   "travels unencrypted");
			else
				probe_fail(p, PROBE_STAGE_TLS, "%s not offered: passwords "
					   "and mail would travel unencrypted",
					   d->starttls_cap);
		} else if (d->starttls(s, &error) < 0) {
			probe_fail(p, PROBE_STAGE_TLS, "%s", error);
		} else if (probe_tls(s) == 0) {
			probe_caps_step(s, d, true);
		}
	}
	if (p->tls_done) {
		probe_cert_verdict(p, s->set->servername);
		if (strcmp(svc->name, "smtp") != 0 && p->mechs_after.count == 0 &&
		    !p->plaintext_login_after)
			probe_note(p, "no authentication offered after TLS: "
				   "clients cannot log in");
	}
	if (p->failed_stage == PROBE_STAGE_CAPS || p->failed_stage == PROBE_STAGE_TLS)
		return;
	if (s->set->user != NULL)
		probe_login_step(s, d);
	d->quit(s);
}

void probe_port_run(const struct probe_settings *set, struct probe_port *p)
{
	struct probe_session s = { .p = p, .set = set };

	s.io.fd = -1;
	probe_port_dialogue(&s, probe_now_ms() + set->timeout_ms);
	probe_io_close(&s.io);
	if (p->status == PROBE_OK && p->note_count > 0)
		p->status = PROBE_WARN;
	pool_clear(pool_temp());
}
