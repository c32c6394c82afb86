/* probe_mta_sts.c: MTA-STS (RFC 8461): the _mta-sts TXT record, then the
 * policy fetched over HTTPS from mta-sts.DOMAIN, whose certificate must
 * verify and match (3.3), whose reply must be 200 without redirects, and
 * whose mx lines must cover every MX host. --mta-sts-host HOST:PORT says
 * where to connect instead of mta-sts.DOMAIN:443 (the name checked and
 * sent stays mta-sts.DOMAIN). The reply is checked by the relay's own
 * mta_sts_http_body(), so probe and runner agree on what a policy server
 * must send. See probe_dns_private.h. */
#include "probe/probe_dns_private.h"
#include "probe/probe_io.h"
#include "probe/probe_tls.h"
#include "relay/mta_sts.h"
#include "relay/mta_sts_fetch.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>

/* RFC 8461 3.2: a policy is at most 64 KiB; headers get room beside it. */
#define PROBE_STS_REPLY_MAX (MTA_STS_POLICY_MAX + 16 * 1024)

static int probe_sts_address(struct probe_dns_run *run, const char *host,
			     struct sockaddr_storage *ss, socklen_t *len_r,
			     const char **error_r)
{
	const char *spec = run->set->mta_sts_host, *node, *service = "443";
	char *addrs[1];

	if (spec != NULL) {
		const char *colon = strrchr(spec, ':');
		if (colon == NULL) {
			node = spec;
		} else {
			node = pool_strndup(run->pool, spec, (size_t)(colon - spec));
			service = colon + 1;
		}
		if (node[0] == '[' && node[strlen(node) - 1] == ']')
			node = pool_strndup(run->pool, node + 1, strlen(node) - 2);
	} else {
		int n = probe_dns_addrs(run, host, addrs, 1, error_r);
		if (n <= 0) {
			if (n == 0)
				*error_r = pool_printf(run->pool, "%s has no address", host);
			return -1;
		}
		node = addrs[0];
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int err = getaddrinfo(node, service, &hints, &res);
	if (err != 0) {
		*error_r = pool_printf(run->pool, "%s: %s", node, gai_strerror(err));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len_r = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Fetch the policy body over HTTPS. 0, or -1 with *error_r. */
static int probe_sts_fetch(struct probe_dns_run *run, const char *host,
			   str_t *body, const char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t ss_len;
	struct probe_io io = { .fd = -1 };
	enum probe_connect_error kind;
	bool had_input;
	int ret = -1;

	if (probe_sts_address(run, host, &ss, &ss_len, error_r) < 0)
		return -1;
	void *ctx = probe_tls_ctx_create(run->set->cafile, error_r);
	if (ctx == NULL)
		return -1;
	struct probe_port tmp = { .pool = run->pool };
	str_t reply = STR_INIT;
	if (probe_io_connect(&io, (struct sockaddr *)&ss, ss_len,
			     probe_now_ms() + run->set->timeout_ms, &kind, error_r) < 0 ||
	    probe_io_starttls(&io, ctx, host, &had_input, error_r) < 0)
		goto out;
	probe_tls_inspect(&tmp, io.ssl, host);
	if (!tmp.cert.present || !tmp.cert.chain_ok || !tmp.cert.name_ok ||
	    tmp.cert.days_left < 0) {
		*error_r = pool_printf(run->pool, "the certificate of %s is not valid (%s): senders "
				    "ignore the policy", host,
				    !tmp.cert.present ? "none" : !tmp.cert.name_ok ?
				    "wrong name" : tmp.cert.days_left < 0 ? "expired" :
				    tmp.cert.verify_error);
		goto out;
	}
	/* HTTP/1.0: no chunked encoding, the body ends at EOF */
	const char *req = pool_printf(run->pool, "GET /.well-known/mta-sts.txt HTTP/1.0\r\n"
				   "Host: %s\r\nUser-Agent: postel-probe\r\n"
				   "Connection: close\r\n\r\n", host);
	if (probe_io_write(&io, req, strlen(req), error_r) < 0 ||
	    probe_io_read_all(&io, PROBE_STS_REPLY_MAX, &reply, error_r) < 0)
		goto out;
	/* the relay's parser (RFC 8461 3.3): 200 only, no redirects,
	 * text/plain, the body within 64 KiB */
	const char *policy;
	size_t policy_len;
	const char *why = mta_sts_http_body(str_c(&reply), reply.len, &policy, &policy_len);
	if (why != NULL) {
		*error_r = pool_printf(run->pool, "the policy server: %s", why);
		goto out;
	}
	str_append(body, policy, policy_len);
	ret = 0;
out:
	str_free(&reply);
	probe_io_close(&io);
	probe_tls_ctx_destroy(&ctx);
	return ret;
}

static void probe_sts_policy(struct probe_dns_run *run, const char *domain)
{
	const char *host = pool_printf(run->pool, "mta-sts.%s", domain), *error;
	const char *url = pool_printf(run->pool, "https://%s/.well-known/mta-sts.txt", host);
	struct dns_sts_policy policy;
	str_t body = STR_INIT;

	if (probe_sts_fetch(run, host, &body, &error) < 0) {
		probe_dns_verdict(run, "mta-sts-policy", url, PROBE_V_FAIL,
				  pool_printf(run->pool, "serve the policy at %s with a valid "
					   "certificate for %s", url, host),
				  "%s", error);
		str_free(&body);
		return;
	}
	int r = dns_sts_policy_parse(run->pool, str_c(&body), body.len, &policy, &error);
	str_free(&body);
	if (r < 0) {
		probe_dns_verdict(run, "mta-sts-policy", url, PROBE_V_FAIL,
				  "write the policy as RFC 8461 3.2 says: version, mode, "
				  "mx and max_age lines", "%s", error);
		return;
	}
	str_t mx = STR_INIT;
	for (unsigned i = 0; i < policy.mx_count; i++)
		str_printf(&mx, "%s%s", i > 0 ? " " : "", policy.mx[i]);
	for (unsigned i = 0; i < run->mx_count && strcmp(policy.mode, "none") != 0; i++) {
		bool covered = false;
		for (unsigned m = 0; m < policy.mx_count && !covered; m++)
			covered = dns_sts_mx_match(policy.mx[m], run->mx[i].host);
		if (!covered) {
			probe_dns_verdict(run, "mta-sts-policy", url, PROBE_V_FAIL,
					  pool_printf(run->pool, "add \"mx: %s\" to the policy",
						   run->mx[i].host),
					  "MX %s is not in the policy's mx lines (%s): "
					  "senders that enforce MTA-STS will not deliver "
					  "to it", run->mx[i].host, str_c(&mx));
			str_free(&mx);
			return;
		}
	}
	enum probe_verdict v = strcmp(policy.mode, "enforce") == 0 ? PROBE_V_OK :
		strcmp(policy.mode, "testing") == 0 ? PROBE_V_WARN : PROBE_V_INFO;
	probe_dns_verdict(run, "mta-sts-policy", url, v,
			  v == PROBE_V_WARN ? "switch to \"mode: enforce\" once TLS "
			  "reports (TLSRPT) show no failures" : NULL,
			  "mode %s, max_age %ld, mx %s", policy.mode, policy.max_age,
			  str_c(&mx));
	str_free(&mx);
}

void probe_dns_check_mta_sts(struct probe_dns_run *run)
{
	const char *domain = run->set->domain;
	const char *name = pool_printf(run->pool, "_mta-sts.%s", domain), *error;
	char *records[4];

	int n = probe_dns_txt(run, name, "v=STSv1", records, 4, &error);
	if (n < 0) {
		probe_dns_lookup_failed(run, "mta-sts", name, error);
		return;
	}
	if (n == 0) {
		probe_dns_verdict(run, "mta-sts", name, PROBE_V_INFO, NULL,
				  "no MTA-STS record (optional: it makes senders "
				  "require TLS to your MX)");
		return;
	}
	struct dns_tags tags = { 0 };
	const char *id = NULL;
	if (n == 1 && dns_tags_parse(run->pool, records[0], strlen(records[0]),
				       &tags, &error) == 0)
		id = dns_tags_get(&tags, "id");
	/* RFC 8461 3.1: id is 1 to 32 letters and digits */
	size_t id_len = id != NULL ? strlen(id) : 0;
	if (id == NULL || id_len == 0 || id_len > 32 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	    != id_len) {
		const char *fix = "publish exactly one \"v=STSv1; id=<1-32 letters "
			"or digits>\" record";
		if (n > 1)
			probe_dns_verdict(run, "mta-sts", name, PROBE_V_FAIL, fix,
					  "%d records", n);
		else
			probe_dns_verdict(run, "mta-sts", name, PROBE_V_FAIL, fix,
					  "\"%s\": no valid id=", records[0]);
		return;
	}
	probe_dns_verdict(run, "mta-sts", name, PROBE_V_OK, NULL, "id=%s", id);
	probe_sts_policy(run, domain);
}
