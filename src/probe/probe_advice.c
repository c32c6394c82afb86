/* probe_advice.c: from a failing port to the likely cause and the port
 * to try instead. See probe_report.h. */
#include "probe/probe_report.h"

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
		return t_printf("The certificate does not name %s: connect with a "
				"name it lists, or get a certificate that includes %s.",
				set->servername, set->servername);
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
