/* probe_json.c: probe's --json output, one JSON document (RFC 8259).
 * See probe_report.h. Strings are escaped here: '"' and '\' with a
 * backslash, every byte outside printable ASCII as \u00XX, so the
 * document is ASCII and valid whatever a server sent. */
#include "probe/probe_report.h"

#include <string.h>

void probe_json_str(FILE *out, const char *s)
{
	if (s == NULL) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

void probe_json_key(FILE *out, const char *key, bool *first)
{
	if (!*first)
		fputc(',', out);
	*first = false;
	probe_json_str(out, key);
	fputc(':', out);
}

void probe_json_kv_str(FILE *out, const char *key, const char *value, bool *first)
{
	probe_json_key(out, key, first);
	probe_json_str(out, value);
}

static void json_kv_bool(FILE *out, const char *key, bool value, bool *first)
{
	probe_json_key(out, key, first);
	fputs(value ? "true" : "false", out);
}

/* key: [strings] */
static void json_strings(FILE *out, const char *key, char *const *items,
			 unsigned count, bool *first)
{
	probe_json_key(out, key, first);
	fputc('[', out);
	for (unsigned i = 0; i < count; i++) {
		if (i > 0)
			fputc(',', out);
		probe_json_str(out, items[i]);
	}
	fputc(']', out);
}

static void json_caps(FILE *out, const char *key, const struct probe_caps *caps,
		      bool *first)
{
	json_strings(out, key, caps->items, caps->count, first);
}

static const char *probe_stage_name(enum probe_stage stage)
{
	static const char *const names[] = {
		[PROBE_STAGE_NONE] = NULL, [PROBE_STAGE_CONNECT] = "connect",
		[PROBE_STAGE_GREETING] = "greeting", [PROBE_STAGE_TLS] = "tls",
		[PROBE_STAGE_CERT] = "certificate", [PROBE_STAGE_CAPS] = "capabilities",
		[PROBE_STAGE_LOGIN] = "login",
	};
	return names[stage];
}

static const char *probe_connect_name(enum probe_connect_error e)
{
	static const char *const names[] = {
		[PROBE_CONN_NONE] = "ok", [PROBE_CONN_REFUSED] = "refused",
		[PROBE_CONN_TIMEOUT] = "timeout", [PROBE_CONN_UNREACHABLE] = "unreachable",
		[PROBE_CONN_NAME] = "name not found", [PROBE_CONN_OTHER] = "error",
	};
	return names[e];
}

static void json_cert(FILE *out, const struct probe_cert *c)
{
	bool first = true;
	if (!c->present) {
		fputs("null", out);
		return;
	}
	fputc('{', out);
	probe_json_kv_str(out, "subject", c->subject, &first);
	probe_json_kv_str(out, "issuer", c->issuer, &first);
	probe_json_kv_str(out, "not_after", c->not_after, &first);
	probe_json_key(out, "days_left", &first);
	fprintf(out, "%ld", c->days_left);
	json_kv_bool(out, "chain_verified", c->chain_ok, &first);
	probe_json_kv_str(out, "verify_error", c->verify_error, &first);
	json_kv_bool(out, "name_matches", c->name_ok, &first);
	json_strings(out, "names", c->names, c->name_count, &first);
	fputc('}', out);
}

static void json_port(FILE *out, const struct probe_run *run, unsigned i)
{
	const struct probe_port *p = &run->ports[i];
	bool first = true;

	fputc('{', out);
	probe_json_kv_str(out, "service", p->service->name, &first);
	probe_json_key(out, "port", &first);
	fprintf(out, "%u", p->port);
	probe_json_kv_str(out, "status", p->status == PROBE_OK ? "ok" :
		    p->status == PROBE_WARN ? "warning" : "fail", &first);
	probe_json_kv_str(out, "failed_stage", probe_stage_name(p->failed_stage), &first);
	probe_json_kv_str(out, "error", p->error, &first);
	probe_json_kv_str(out, "connect", probe_connect_name(p->connect_error), &first);
	probe_json_key(out, "connect_ms", &first);
	if (p->connect_error == PROBE_CONN_NONE)
		fprintf(out, "%.1f", p->connect_ms);
	else
		fputs("null", out);
	probe_json_kv_str(out, "greeting", p->greeting, &first);
	json_caps(out, "capabilities_before_tls", &p->caps_before, &first);
	json_caps(out, "mechanisms_before_tls", &p->mechs_before, &first);
	json_kv_bool(out, "plaintext_login_before_tls", p->plaintext_login_before, &first);
	probe_json_key(out, "tls", &first);
	if (!p->tls_done) {
		fputs("null", out);
	} else {
		bool tfirst = true;
		fputc('{', out);
		probe_json_kv_str(out, "mode", p->service->implicit_tls ? "implicit" :
			    "starttls", &tfirst);
		probe_json_kv_str(out, "version", p->tls_version, &tfirst);
		probe_json_kv_str(out, "cipher", p->tls_cipher, &tfirst);
		probe_json_key(out, "certificate", &tfirst);
		json_cert(out, &p->cert);
		fputc('}', out);
	}
	json_kv_bool(out, "tls_offered", p->tls_offered, &first);
	json_caps(out, "capabilities_after_tls", &p->caps_after, &first);
	json_caps(out, "mechanisms_after_tls", &p->mechs_after, &first);
	json_kv_bool(out, "plaintext_login_after_tls", p->plaintext_login_after, &first);
	probe_json_key(out, "login", &first);
	if (p->login == PROBE_LOGIN_NOT_TRIED) {
		fputs("null", out);
	} else {
		bool lfirst = true;
		fputc('{', out);
		probe_json_kv_str(out, "result", probe_login_name(p->login), &lfirst);
		probe_json_kv_str(out, "detail", p->login_detail, &lfirst);
		fputc('}', out);
	}
	json_strings(out, "warnings", p->notes, p->note_count, &first);
	probe_json_kv_str(out, "advice", probe_advice(run, i), &first);
	fputc('}', out);
}

void probe_report_json(FILE *out, const struct probe_run *run)
{
	const struct probe_settings *set = run->set;
	bool first = true;
	unsigned failed = 0;

	fputc('{', out);
	probe_json_kv_str(out, "host", set->host, &first);
	probe_json_kv_str(out, "address", set->addr_ok ? set->addr_text : NULL, &first);
	probe_json_kv_str(out, "servername", set->servername, &first);
	probe_json_key(out, "timeout_ms", &first);
	fprintf(out, "%u", set->timeout_ms);
	probe_json_key(out, "ports", &first);
	fputc('[', out);
	for (unsigned i = 0; i < run->count; i++) {
		if (i > 0)
			fputc(',', out);
		json_port(out, run, i);
		failed += run->ports[i].status == PROBE_FAIL;
	}
	fputc(']', out);
	probe_json_kv_str(out, "advice", probe_advice_overall(run), &first);
	/* each cause once, with the services it stops */
	probe_json_key(out, "causes", &first);
	fputc('[', out);
	bool cfirst = true;
	for (unsigned i = 0; i < run->count; i++) {
		bool in[PROBE_SERVICE_COUNT], sfirst = true, kfirst = true;
		const char *advice = probe_advice_shared(run, i, in);
		if (advice == NULL)
			continue;
		fputs(cfirst ? "{" : ",{", out);
		cfirst = false;
		probe_json_key(out, "services", &kfirst);
		fputc('[', out);
		for (unsigned j = 0; j < run->count; j++) {
			if (!in[j])
				continue;
			if (!sfirst)
				fputc(',', out);
			sfirst = false;
			probe_json_str(out, run->ports[j].service->name);
		}
		fputc(']', out);
		probe_json_kv_str(out, "advice", advice, &kfirst);
		fputc('}', out);
	}
	fputc(']', out);
	probe_json_key(out, "failed", &first);
	fprintf(out, "%u", failed);
	probe_json_key(out, "exit_status", &first);
	fprintf(out, "%d", probe_exit_status(run));
	fputs("}\n", out);
}
