/* probe_dns.c: the resolver (libunbound) and the order of the --dns
 * checks. See probe_dns.h. */
#include "probe/probe_dns_private.h"
#include "probe/probe_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>

#include <unbound.h>

void probe_dns_verdict(struct probe_dns_run *run, const char *check,
		       const char *subject, enum probe_verdict verdict,
		       const char *fix, const char *fmt, ...)
{
	va_list ap;
	if (run->count == PROBE_DNS_CHECKS_MAX)
		return;
	struct probe_dns_check *c = &run->checks[run->count++];
	c->check = check;
	c->subject = pool_strdup(run->pool, subject);
	c->verdict = verdict;
	c->fix = fix != NULL ? pool_strdup(run->pool, fix) : NULL;
	va_start(ap, fmt);
	c->detail = pool_vprintf(run->pool, fmt, ap);
	va_end(ap);
}

void probe_dns_lookup_failed(struct probe_dns_run *run, const char *check,
			     const char *subject, const char *error)
{
	probe_dns_verdict(run, check, subject, PROBE_V_FAIL,
			  "check that the zone's name servers answer", "%s", error);
}

struct probe_dns_pending {
	bool done;
	int err;
	struct ub_result *result;
};

static void probe_dns_callback(void *arg, int err, struct ub_result *result)
{
	struct probe_dns_pending *q = arg;
	q->done = true;
	q->err = err;
	q->result = result;
}

int probe_dns_query(struct probe_dns_run *run, const char *name, int rrtype,
		    struct ub_result **res_r, bool *nxdomain_r, const char **error_r)
{
	struct probe_dns_pending q = { false, 0, NULL };
	uint64_t deadline = probe_now_ms() + run->set->timeout_ms;
	int id;

	*res_r = NULL;
	*nxdomain_r = false;
	int err = ub_resolve_async(run->ub, name, rrtype, 1 /* IN */, &q,
				   probe_dns_callback, &id);
	if (err != 0) {
		*error_r = t_printf("lookup of %s failed: %s", name, ub_strerror(err));
		return -1;
	}
	while (!q.done) {
		uint64_t now = probe_now_ms();
		if (now >= deadline) {
			ub_cancel(run->ub, id);
			*error_r = t_printf("lookup of %s timed out", name);
			return -1;
		}
		struct pollfd pfd = { .fd = ub_fd(run->ub), .events = POLLIN };
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR) {
			ub_cancel(run->ub, id);
			*error_r = t_printf("poll: %s", strerror(errno));
			return -1;
		}
		ub_process(run->ub);
	}
	if (q.err != 0) {
		*error_r = t_printf("lookup of %s failed: %s", name, ub_strerror(q.err));
		return -1;
	}
	struct ub_result *res = q.result;
	/* RFC 1035 4.1.1: 2 SERVFAIL, 5 REFUSED and the like are errors;
	 * NXDOMAIN (3) and NOERROR without data are answers */
	if (res->rcode != 0 && res->rcode != 3) {
		*error_r = t_printf("lookup of %s failed: rcode %d%s", name, res->rcode,
				    res->rcode == 2 ? " (SERVFAIL)" : "");
		ub_resolve_free(res);
		return -1;
	}
	if (!res->havedata) {
		*nxdomain_r = res->nxdomain != 0;
		ub_resolve_free(res);
		return 0;
	}
	*res_r = res;
	return 1;
}

void probe_dns_free(struct ub_result *res)
{
	if (res != NULL)
		ub_resolve_free(res);
}

int probe_dns_txt(struct probe_dns_run *run, const char *name, const char *prefix,
		  char **records, unsigned max, const char **error_r)
{
	struct ub_result *res;
	bool nx;
	unsigned n = 0;
	size_t plen = strlen(prefix);

	int r = probe_dns_query(run, name, 16 /* TXT */, &res, &nx, error_r);
	if (r <= 0)
		return r;
	for (int i = 0; res->data[i] != NULL && n < max; i++) {
		str_t txt = STR_INIT;
		if (probe_rdata_txt((const uint8_t *)res->data[i], (size_t)res->len[i],
				    &txt) == 0 &&
		    slice_iprefix(str_c(&txt), txt.len, prefix) &&
		    (txt.len == plen || txt.data[plen] == ' ' || txt.data[plen] == ';'))
			records[n++] = probe_text_safe(run->pool, str_c(&txt), txt.len, 4096);
		str_free(&txt);
	}
	probe_dns_free(res);
	return (int)n;
}

int probe_dns_addrs(struct probe_dns_run *run, const char *host, char **addrs,
		    unsigned max, const char **error_r)
{
	static const int types[] = { 1 /* A */, 28 /* AAAA */ };
	unsigned n = 0;

	for (unsigned t = 0; t < 2; t++) {
		struct ub_result *res;
		bool nx;
		int r = probe_dns_query(run, host, types[t], &res, &nx, error_r);
		if (r < 0)
			return -1;
		for (int i = 0; r > 0 && res->data[i] != NULL && n < max; i++) {
			char text[INET6_ADDRSTRLEN];
			size_t want = types[t] == 1 ? 4 : 16;
			if ((size_t)res->len[i] != want ||
			    inet_ntop(types[t] == 1 ? AF_INET : AF_INET6, res->data[i],
				      text, sizeof(text)) == NULL)
				continue;
			addrs[n++] = pool_strdup(run->pool, text);
		}
		probe_dns_free(res);
	}
	return (int)n;
}

static int probe_dns_setup(struct probe_dns_run *run, const char **error_r)
{
	const struct probe_dns_settings *set = run->set;
	int err;

	run->ub = ub_ctx_create();
	if (run->ub == NULL) {
		*error_r = "cannot create the resolver";
		return -1;
	}
	/* answers come back through ub_fd() from a thread, not a fork */
	if ((err = ub_ctx_async(run->ub, 1)) != 0)
		goto fail;
	if (set->resolver != NULL) {
		if ((err = ub_ctx_set_fwd(run->ub, set->resolver)) != 0 ||
		    (err = ub_ctx_set_option(run->ub, "do-not-query-localhost:", "no")) != 0)
			goto fail;
	} else if ((err = ub_ctx_resolvconf(run->ub, NULL)) != 0) {
		goto fail;
	}
	return 0;
fail:
	*error_r = t_printf("resolver %s: %s", set->resolver != NULL ? set->resolver :
			    "from /etc/resolv.conf", ub_strerror(err));
	return -1;
}

int probe_dns_main(const struct probe_dns_settings *set, bool json, bool color)
{
	struct probe_dns_run *run = xcalloc(1, sizeof(*run));
	const char *error;
	int ret = 0;

	run->set = set;
	run->pool = pool_create(8192);
	if (probe_dns_setup(run, &error) < 0) {
		fprintf(stderr, "postel probe: %s\n", error);
		ret = 2;
	} else {
		probe_dns_check_mx(run);
		probe_dns_check_fcrdns(run);
		probe_dns_check_spf(run);
		probe_dns_check_dmarc(run);
		probe_dns_check_dkim(run);
		probe_dns_check_mta_sts(run);
		probe_dns_check_tlsa(run);
		if (json)
			probe_dns_report_json(stdout, run);
		else
			probe_dns_report_text(stdout, run, color);
		for (unsigned i = 0; i < run->count; i++) {
			if (run->checks[i].verdict == PROBE_V_FAIL)
				ret = 1;
		}
	}
	if (run->ub != NULL)
		ub_ctx_delete(run->ub);
	pool_destroy(&run->pool);
	free(run);
	return ret;
}
