/* probe_dns_report.c: the --dns report: one table row per check, then
 * the fixes; or one JSON document. All strings were escaped when stored
 * (probe_text_safe) or are escaped by probe_json_str. */
#include "probe/probe_dns_private.h"
#include "probe/probe_report.h"

#include <string.h>

static const char *probe_verdict_name(enum probe_verdict v)
{
	switch (v) {
	case PROBE_V_OK:
		return "ok";
	case PROBE_V_INFO:
		return "info";
	case PROBE_V_WARN:
		return "warning";
	case PROBE_V_FAIL:
		break;
	}
	return "FAIL";
}

static const char *probe_verdict_color(enum probe_verdict v)
{
	return v == PROBE_V_OK ? "\033[32m" : v == PROBE_V_FAIL ? "\033[31m" :
		v == PROBE_V_WARN ? "\033[33m" : "";
}

void probe_dns_report_text(FILE *out, const struct probe_dns_run *run, bool color)
{
	unsigned failed = 0, fixes = 0;

	fprintf(out, "postel probe --dns %s (resolver %s)\n\n", run->set->domain,
		run->set->resolver != NULL ? run->set->resolver : "from /etc/resolv.conf");
	fprintf(out, "%-15s %-34s %-8s %s\n", "CHECK", "SUBJECT", "RESULT", "DETAIL");
	for (unsigned i = 0; i < run->count; i++) {
		const struct probe_dns_check *c = &run->checks[i];
		const char *name = probe_verdict_name(c->verdict);
		int pad = 8 - (int)strlen(name);
		fprintf(out, "%-15s %-34s %s%s%s%*s %s\n", c->check, c->subject,
			color ? probe_verdict_color(c->verdict) : "", name,
			color ? "\033[0m" : "", pad > 0 ? pad : 0, "", c->detail);
		failed += c->verdict == PROBE_V_FAIL;
	}
	for (unsigned i = 0; i < run->count; i++) {
		const struct probe_dns_check *c = &run->checks[i];
		if (c->fix == NULL)
			continue;
		if (fixes++ == 0)
			fputs("\nFixes:\n", out);
		fprintf(out, "- %s %s: %s\n", c->check, c->subject, c->fix);
	}
	if (failed == 0)
		fprintf(out, "\nNo check fails for %s.\n", run->set->domain);
	else
		fprintf(out, "\n%u of %u checks fail for %s.\n", failed, run->count,
			run->set->domain);
}

void probe_dns_report_json(FILE *out, const struct probe_dns_run *run)
{
	bool first = true;
	unsigned failed = 0;

	fputc('{', out);
	probe_json_kv_str(out, "domain", run->set->domain, &first);
	probe_json_kv_str(out, "resolver", run->set->resolver, &first);
	probe_json_kv_str(out, "selector", run->set->selector, &first);
	probe_json_key(out, "checks", &first);
	fputc('[', out);
	for (unsigned i = 0; i < run->count; i++) {
		const struct probe_dns_check *c = &run->checks[i];
		bool cfirst = true;
		fputs(i > 0 ? ",{" : "{", out);
		probe_json_kv_str(out, "check", c->check, &cfirst);
		probe_json_kv_str(out, "subject", c->subject, &cfirst);
		probe_json_kv_str(out, "result", c->verdict == PROBE_V_FAIL ? "fail" :
				  probe_verdict_name(c->verdict), &cfirst);
		probe_json_kv_str(out, "detail", c->detail, &cfirst);
		probe_json_kv_str(out, "fix", c->fix, &cfirst);
		fputc('}', out);
		failed += c->verdict == PROBE_V_FAIL;
	}
	fputc(']', out);
	probe_json_key(out, "failed", &first);
	fprintf(out, "%u", failed);
	probe_json_key(out, "exit_status", &first);
	fprintf(out, "%d", failed > 0 ? 1 : 0);
	fputs("}\n", out);
}
