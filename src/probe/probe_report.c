/* probe_report.c: probe's text output: details per port, the summary
 * table, advice. See probe_report.h. */
#include "probe/probe_report.h"
#include "lib/str.h"

#include <string.h>

#define COLOR_RED "\033[31m"
#define COLOR_GREEN "\033[32m"
#define COLOR_YELLOW "\033[33m"
#define COLOR_BOLD "\033[1m"
#define COLOR_OFF "\033[0m"

static const char *probe_color_of(enum probe_status status)
{
	return status == PROBE_OK ? COLOR_GREEN :
		status == PROBE_WARN ? COLOR_YELLOW : COLOR_RED;
}

/* The status word padded to width, colored when asked (the escape codes
 * must not count in the padding). */
static void probe_print_status(FILE *out, enum probe_status status, int width,
			       bool color)
{
	const char *name = probe_status_name(status);
	int pad = width - (int)strlen(name);
	fprintf(out, "%s%s%s%*s", color ? probe_color_of(status) : "", name,
		color ? COLOR_OFF : "", pad > 0 ? pad : 0, "");
}

static void probe_print_caps(FILE *out, const char *label,
			     const struct probe_caps *caps)
{
	fprintf(out, "  %-13s ", label);
	if (caps->count == 0)
		fputs("(none)", out);
	for (unsigned i = 0; i < caps->count; i++)
		fprintf(out, "%s%s", i > 0 ? ", " : "", caps->items[i]);
	fprintf(out, "%s\n", caps->truncated ? ", ..." : "");
}

static void probe_print_greeting(FILE *out, const char *greeting)
{
	const char *label = "greeting";
	while (greeting != NULL) {
		const char *nl = strchr(greeting, '\n');
		size_t len = nl != NULL ? (size_t)(nl - greeting) : strlen(greeting);
		fprintf(out, "  %-13s %s\n", label,
			probe_text_safe(pool_temp(), greeting, len, 300));
		label = "";
		greeting = nl != NULL ? nl + 1 : NULL;
	}
}

static void probe_print_cert(FILE *out, const struct probe_cert *c, const char *name)
{
	if (!c->present) {
		fprintf(out, "  %-13s none sent\n", "certificate");
		return;
	}
	fprintf(out, "  %-13s %s\n", "certificate", c->subject);
	fprintf(out, "  %-13s %s\n", "  issuer", c->issuer);
	if (c->days_left < 0)
		fprintf(out, "  %-13s %s (EXPIRED %ld days ago)\n", "  expires",
			c->not_after != NULL ? c->not_after : "?", -c->days_left);
	else
		fprintf(out, "  %-13s %s (in %ld days)\n", "  expires",
			c->not_after != NULL ? c->not_after : "?", c->days_left);
	if (c->chain_ok)
		fprintf(out, "  %-13s verified\n", "  chain");
	else
		fprintf(out, "  %-13s NOT verified: %s\n", "  chain", c->verify_error);
	fprintf(out, "  %-13s %s %s\n", "  name", c->name_ok ? "matches" :
		"does NOT match", name);
	if (c->name_count > 0) {
		fprintf(out, "  %-13s ", "  names");
		for (unsigned i = 0; i < c->name_count; i++)
			fprintf(out, "%s%s", i > 0 ? ", " : "", c->names[i]);
		fprintf(out, "%s\n", c->names_truncated ? ", ..." : "");
	}
}

static void probe_print_port(FILE *out, const struct probe_run *run,
			     const struct probe_port *p, bool color)
{
	fprintf(out, "%s%s (port %u)%s: ", color ? COLOR_BOLD : "", p->service->name,
		p->port, color ? COLOR_OFF : "");
	probe_print_status(out, p->status, 0, color);
	fputc('\n', out);
	if (p->connect_error == PROBE_CONN_NONE)
		fprintf(out, "  %-13s in %.1f ms to %s\n", "connected", p->connect_ms,
			run->set->addr_text);
	if (p->greeting != NULL)
		probe_print_greeting(out, p->greeting);
	if (!p->service->implicit_tls && p->greeting != NULL) {
		probe_print_caps(out, "capabilities", &p->caps_before);
		probe_print_caps(out, "auth", &p->mechs_before);
	}
	if (p->tls_done) {
		fprintf(out, "  %-13s %s %s, %s\n", "TLS",
			p->service->implicit_tls ? "implicit" : "STARTTLS",
			p->tls_version, p->tls_cipher);
		probe_print_cert(out, &p->cert, run->set->servername);
		probe_print_caps(out, p->service->implicit_tls ? "capabilities" :
				 "after TLS", &p->caps_after);
		probe_print_caps(out, "auth", &p->mechs_after);
	}
	if (p->login != PROBE_LOGIN_NOT_TRIED)
		fprintf(out, "  %-13s %s: %s\n", "login", probe_login_name(p->login),
			p->login_detail);
	for (unsigned i = 0; i < p->note_count; i++)
		fprintf(out, "  %-13s %s\n", "warning", p->notes[i]);
	if (p->error != NULL)
		fprintf(out, "  %-13s %s\n", "error", p->error);
	fputc('\n', out);
}

static const char *probe_tls_cell(const struct probe_port *p)
{
	if (p->tls_done)
		return t_printf("%s %s", p->service->implicit_tls ? "implicit" :
				"STARTTLS", p->tls_version);
	if (p->failed_stage == PROBE_STAGE_TLS)
		return p->tls_offered ? "failed" : "not offered";
	return "-";
}

static const char *probe_cert_cell(const struct probe_port *p)
{
	const struct probe_cert *c = &p->cert;
	if (!p->tls_done)
		return "-";
	if (!c->present)
		return "none";
	if (c->days_left < 0)
		return "EXPIRED";
	if (!c->name_ok)
		return "wrong name";
	if (!c->chain_ok)
		return "untrusted";
	return t_printf("ok, %ld days", c->days_left);
}

static const char *probe_auth_cell(const struct probe_port *p)
{
	const struct probe_caps *m = p->tls_done ? &p->mechs_after : &p->mechs_before;
	bool plain = p->tls_done ? p->plaintext_login_after : p->plaintext_login_before;
	str_t s = STR_INIT;

	for (unsigned i = 0; i < m->count; i++)
		str_printf(&s, "%s%s", i > 0 ? " " : "", m->items[i]);
	if (plain)
		str_printf(&s, "%s%s", s.len > 0 ? " " : "",
			   p->service->proto == PROBE_PROTO_POP3 ? "USER/PASS" :
			   "IMAP-LOGIN");
	const char *cell = s.len > 0 ? t_strndup(s.data, s.len) : "-";
	str_free(&s);
	return cell;
}

static void probe_print_table(FILE *out, const struct probe_run *run, bool color)
{
	bool login = run->set->user != NULL;

	fprintf(out, "%-12s %-6s %-8s %-8s %-17s %-16s %s%s\n", "SERVICE", "PORT",
		"RESULT", "CONNECT", "TLS", "CERTIFICATE", login ? "LOGIN    " : "",
		"AUTH");
	for (unsigned i = 0; i < run->count; i++) {
		const struct probe_port *p = &run->ports[i];
		fprintf(out, "%-12s %-6u ", p->service->name, p->port);
		probe_print_status(out, p->status, 9, color);
		const char *connect = p->connect_error == PROBE_CONN_NONE ?
			t_printf("%.1f ms", p->connect_ms) :
			p->connect_error == PROBE_CONN_REFUSED ? "refused" :
			p->connect_error == PROBE_CONN_TIMEOUT ? "timeout" :
			p->connect_error == PROBE_CONN_NAME ? "no name" :
			p->connect_error == PROBE_CONN_UNREACHABLE ? "no route" : "error";
		fprintf(out, "%-8s %-17s %-16s ", connect, probe_tls_cell(p),
			probe_cert_cell(p));
		if (login)
			fprintf(out, "%-9s", probe_login_name(p->login));
		fprintf(out, "%s\n", probe_auth_cell(p));
	}
}

void probe_report_text(FILE *out, const struct probe_run *run, bool color)
{
	const struct probe_settings *set = run->set;
	unsigned failed = 0;

	fprintf(out, "postel probe %s (%s), certificate name %s, timeout %.1f s\n",
		set->host, set->addr_ok ? set->addr_text : "does not resolve",
		set->servername, set->timeout_ms / 1000.0);
	if (set->user != NULL)
		fprintf(out, "login test as %s, %s\n", set->user, set->login_plaintext ?
			"also without TLS (--login-plaintext)" :
			"only over TLS with a valid certificate");
	fputc('\n', out);
	for (unsigned i = 0; i < run->count; i++)
		probe_print_port(out, run, &run->ports[i], color);
	probe_print_table(out, run, color);
	for (unsigned i = 0; i < run->count; i++) {
		bool in[PROBE_SERVICE_COUNT];
		const char *advice = probe_advice_shared(run, i, in);
		if (advice == NULL)
			continue;
		if (failed == 0)
			fputs("\nAdvice:\n", out);
		str_t names = STR_INIT, ports = STR_INIT;
		unsigned members = 0;
		for (unsigned j = 0; j < run->count; j++) {
			if (!in[j])
				continue;
			str_printf(&names, "%s%s", members > 0 ? ", " : "",
				   run->ports[j].service->name);
			str_printf(&ports, "%s%u", members > 0 ? ", " : "", run->ports[j].port);
			members++;
		}
		failed += members;
		fprintf(out, "- %s (port%s %s): %s\n", str_c(&names), members > 1 ? "s" : "",
			str_c(&ports), advice);
		str_free(&names);
		str_free(&ports);
	}
	const char *overall = probe_advice_overall(run);
	if (overall != NULL)
		fprintf(out, "- %s\n", overall);
	if (failed == 0)
		fprintf(out, "\nAll %u probed services work.\n", run->count);
	else
		fprintf(out, "\n%u of %u probed services fail.\n", failed, run->count);
}
