/* probe_advice.c: from a failing port to the likely cause and the port
 * to try instead; a cause shared by several ports is said once. See
 * probe_report.h. */
#include "probe/probe_report.h"
#include "lib/str.h"

#include <string.h>

const char *probe_status_name(enum probe_status status)
{
	switch (status) {
	case PROBE_OK:
		return "ok";
	case PROBE_WARN:
		return "warning";
	case PROBE_FAIL:
		break;
	}
	return "FAIL";
}

const char *probe_login_name(enum probe_login_state state)
{
	switch (state) {
	case PROBE_LOGIN_OK:
		return "ok";
	case PROBE_LOGIN_FAILED:
		return "failed";
	case PROBE_LOGIN_SKIPPED:
		return "skipped";
	case PROBE_LOGIN_NOT_TRIED:
		break;
	}
	return "not tried";
}

int probe_exit_status(const struct probe_run *run)
{
	for (unsigned i = 0; i < run->count; i++) {
		if (run->ports[i].status == PROBE_FAIL)
			return 1;
	}
	return 0;
}

static const char *probe_connect_cause(const struct probe_port *p,
				       const struct probe_settings *set)
{
	switch (p->connect_error) {
	case PROBE_CONN_REFUSED:
		return t_printf("Nothing accepts connections on port %u: the "
				"service is not running or not enabled on this port, "
				"or a firewall rejects it.", p->port);
	case PROBE_CONN_TIMEOUT:
		return t_printf("Connections to port %u go unanswered: a firewall "
				"drops them%s, or the host is down.", p->port,
				p->port == 25 ? " (many ISPs block port 25 for "
				"their customers)" : "");
	case PROBE_CONN_UNREACHABLE:
		return "There is no route to the host: check the network and "
			"the address.";
	case PROBE_CONN_NAME:
		if (set->addr_timeout)
			return t_printf("Looking up %s got no answer within the timeout: "
					"the DNS resolver (/etc/resolv.conf) is unreachable "
					"or too slow; check the network, or probe an IP "
					"address.", set->host);
		return t_printf("The name %s does not resolve: check its spelling "
				"and its A/AAAA records in DNS.", set->host);
	case PROBE_CONN_OTHER:
	case PROBE_CONN_NONE:
		break;
	}
	return "The connection failed; see the error above.";
}

/* "mx.example.org, 192.0.2.1" or a note that there are none. */
static const char *probe_cert_names_text(const struct probe_cert *c)
{
	str_t s = STR_INIT;

	for (unsigned i = 0; i < c->name_count; i++)
		str_printf(&s, "%s%s", i > 0 ? ", " : "", c->names[i]);
	if (c->names_truncated)
		str_appendz(&s, ", ...");
	const char *text = c->name_count > 0 ? t_strndup(str_c(&s), s.len) :
		t_printf("no names (no subjectAltName; subject %s)", c->subject);
	str_free(&s);
	return text;
}

static const char *probe_cert_cause(const struct probe_port *p,
				    const struct probe_settings *set)
{
	const struct probe_cert *c = &p->cert;

	if (!c->present)
		return "The server sent no certificate: configure one.";
	if (c->days_left < 0)
		return "The certificate has expired: renew it (for example "
			"\"certbot renew\") and reload the server.";
	if (!c->name_ok)
		return t_printf("The certificate does not name %s; it names %s. "
				"Connect with one of those names, or get a "
				"certificate that includes %s.", set->servername,
				probe_cert_names_text(c), set->servername);
	return "The certificate is not signed by a trusted authority "
		"(self-signed, or an intermediate is missing): install the full "
		"chain of a certificate from a public CA such as Let's Encrypt.";
}

static const char *probe_cause(const struct probe_port *p,
			       const struct probe_settings *set)
{
	switch (p->failed_stage) {
	case PROBE_STAGE_CONNECT:
		return probe_connect_cause(p, set);
	case PROBE_STAGE_GREETING:
		if (p->greeting != NULL)
			return "The server answered but refuses clients now; "
				"its greeting says why.";
		return p->service->implicit_tls ?
			"The TLS connection opened but no greeting followed: the "
			"server may be overloaded or speak another protocol here." :
			"The server accepted the connection but never greeted: it may "
			"expect implicit TLS on this port, be overloaded, or another "
			"program (or a middlebox) holds the port.";
	case PROBE_STAGE_TLS:
		if (!p->tls_offered)
			return "Enable STARTTLS for this port on the server.";
		return p->service->implicit_tls ?
			"The TLS handshake failed: the server may speak plaintext "
			"(STARTTLS) on this port instead of implicit TLS, or accept "
			"only TLS versions or ciphers this client refuses." :
			"STARTTLS failed: check the server's TLS certificate and key "
			"configuration.";
	case PROBE_STAGE_CERT:
		return probe_cert_cause(p, set);
	case PROBE_STAGE_CAPS:
		return "The server broke off while listing its capabilities.";
	case PROBE_STAGE_LOGIN:
		return "Check the user name and the password; the server's reply "
			"is quoted above.";
	case PROBE_STAGE_NONE:
		break;
	}
	return "See the error above.";
}

static const struct probe_port *probe_run_find(const struct probe_run *run,
					       const char *service)
{
	for (unsigned i = 0; i < run->count; i++) {
		if (strcmp(run->ports[i].service->name, service) == 0)
			return &run->ports[i];
	}
	return NULL;
}

/* "submissions (port 465) works: use it instead." and the like. */
static const char *probe_alternate(const struct probe_run *run, const char *name)
{
	const struct probe_port *alt = probe_run_find(run, name);
	const struct probe_service *svc = probe_service_find(name);

	if (alt == NULL)
		return t_printf("try %s (port %u) instead (not probed).",
				name, svc->port);
	if (alt->status != PROBE_FAIL)
		return t_printf("use %s (port %u) instead: it works.", name, alt->port);
	return t_printf("the alternative, %s (port %u), fails too.", name, alt->port);
}

const char *probe_advice(const struct probe_run *run, unsigned i)
{
	const struct probe_port *p = &run->ports[i];
	const struct probe_service *svc = p->service;

	if (p->status != PROBE_FAIL)
		return NULL;
	const char *cause = probe_cause(p, run->set);
	/* a refused password is refused on every port: no other to try */
	if (p->failed_stage == PROBE_STAGE_LOGIN)
		return cause;
	if (strcmp(svc->name, "smtp") == 0) {
		/* port 25 is for servers; clients send on 587/465 */
		return t_printf("%s Port 25 is for mail between servers; to send "
				"from a mail client use submission (587) or "
				"submissions (465): %s", cause,
				probe_alternate(run, "submission"));
	}
	return t_printf("%s For %s, %s", cause, svc->job,
			probe_alternate(run, svc->alternate));
}

const char *probe_advice_shared(const struct probe_run *run, unsigned i, bool in[])
{
	const struct probe_port *p = &run->ports[i];
	unsigned members = 0;

	memset(in, 0, run->count * sizeof(in[0]));
	if (p->status != PROBE_FAIL)
		return NULL;
	const char *cause = probe_cause(p, run->set);
	for (unsigned j = 0; j < run->count; j++) {
		if (run->ports[j].status != PROBE_FAIL ||
		    strcmp(probe_cause(&run->ports[j], run->set), cause) != 0)
			continue;
		if (j < i)
			return NULL; /* said with an earlier port */
		in[j] = true;
		members++;
	}
	if (members == 1)
		return probe_advice(run, i);
	/* one cause, said once; then only the alternatives that work */
	str_t s = STR_INIT;
	str_appendz(&s, cause);
	for (unsigned j = 0; j < run->count; j++) {
		const struct probe_port *m = &run->ports[j];
		const char *alt = strcmp(m->service->name, "smtp") == 0 ? "submission" :
			m->service->alternate;
		const struct probe_port *a = probe_run_find(run, alt);
		if (!in[j] || m->failed_stage == PROBE_STAGE_LOGIN || a == NULL ||
		    a->status == PROBE_FAIL)
			continue;
		str_printf(&s, " For %s, use %s (port %u) instead: it works.",
			   m->service->job, alt, a->port);
	}
	const char *text = t_strndup(str_c(&s), s.len);
	str_free(&s);
	return text;
}

const char *probe_advice_overall(const struct probe_run *run)
{
	for (unsigned i = 0; i < run->count; i++) {
		if (run->ports[i].failed_stage != PROBE_STAGE_CONNECT)
			return NULL;
	}
	if (run->count < 2 || !run->set->addr_ok)
		return NULL;
	return t_printf("No probed port of %s accepts connections: check that "
			"%s is the mail server's name, that the server runs, and "
			"whether a firewall between here and there blocks the "
			"ports.", run->set->host, run->set->host);
}
