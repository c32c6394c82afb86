/* mta_sts_fetch.c: RFC 8461 3.3: the policy from
 * https://mta-sts.DOMAIN/.well-known/mta-sts.txt: one HTTP/1.1 GET over
 * conn_connect() with implicit TLS and strict verification of the name
 * mta-sts.DOMAIN (SNI too), "Connection: close", no redirects (3xx is a
 * failure), 200 with text/plain only, the body at most 64 KiB (the whole
 * reply at most 80 KiB), everything within timeout_ms. The callback runs
 * once with the body or an error, never from inside the caller's start
 * call; mta_sts_fetch_free() before it cancels it. */
#include "relay/mta_sts_fetch.h"
#include "relay/mta_sts.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MTA_STS_REPLY_MAX (MTA_STS_POLICY_MAX + 16 * 1024)

struct mta_sts_fetch {
	struct conn *conn;
	struct timeout *deadline;
	char *host;
	str_t reply;
	const char *error;       /* set once the reply is refused early */
	mta_sts_fetch_callback_t *cb;
	void *ctx;
};

static void mta_sts_fetch_finish(struct mta_sts_fetch *f, const char *error)
{
	timeout_remove(&f->deadline);
	conn_destroy(&f->conn);
	const char *body = NULL;
	size_t len = 0;
	if (error == NULL)
		error = mta_sts_http_body(str_c(&f->reply), f->reply.len, &body, &len);
	log_info("event=mta_sts_fetch host=%s result=%s%s%s", log_str(f->host),
		 error == NULL ? "ok" : "failed", error == NULL ? "" : " error=",
		 error == NULL ? "" : log_value(error, strlen(error)));
	f->cb(f->ctx, body, len, error); /* may free f */
}

static void mta_sts_fetch_ready(void *ctx)
{
	struct mta_sts_fetch *f = ctx;
	conn_printf(f->conn, "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: %s\r\n"
		    "User-Agent: postel\r\nAccept: text/plain\r\n"
		    "Connection: close\r\n\r\n", f->host);
}

static void mta_sts_fetch_event(void *ctx, enum conn_event ev)
{
	struct mta_sts_fetch *f = ctx;
	const char *data;
	size_t n;
	switch (ev) {
	case CONN_EV_INPUT:
		n = conn_input_peek(f->conn, &data);
		if (f->reply.len + n > MTA_STS_REPLY_MAX) {
			f->error = "the policy is over 64 KiB";
			conn_close_after_output(f->conn);
		} else {
			str_append(&f->reply, data, n);
		}
		conn_input_consume(f->conn, n);
		return;
	case CONN_EV_TIMEOUT:
		f->error = "timeout";
		conn_close_after_output(f->conn);
		return;
	case CONN_EV_CLOSED:
		break;
	}
	const char *reason = conn_close_reason(f->conn);
	const char *error = f->error;
	/* the server closes after the reply ("Connection: close") */
	if (error == NULL && strcmp(reason, "eof") != 0 && f->reply.len == 0)
		error = t_printf("connection %s", reason);
	mta_sts_fetch_finish(f, error);
}

static void mta_sts_fetch_timeout(void *ctx)
{
	struct mta_sts_fetch *f = ctx;
	mta_sts_fetch_finish(f, "timeout");
}

struct mta_sts_fetch *
mta_sts_fetch_start(struct ioloop *loop, const char *domain, const char *ip,
		    unsigned port, struct conn_tls_client *tls, unsigned timeout_ms,
		    mta_sts_fetch_callback_t *cb, void *ctx, const char **error_r)
{
	char d[256];
	if (!mta_sts_domain_ok(domain, d, sizeof(d))) {
		*error_r = "bad domain name";
		return NULL;
	}
	struct mta_sts_fetch *f = xcalloc(1, sizeof(*f));
	str_t host = STR_INIT;
	str_printf(&host, "mta-sts.%s", d);
	f->host = xstrdup(str_c(&host));
	str_free(&host);
	f->cb = cb;
	f->ctx = ctx;
	struct conn_client_settings cs = {
		.conn = { .max_input = 16 * 1024, .max_output = 4096,
			  .idle_timeout_ms = timeout_ms, .handshake_timeout_ms = timeout_ms },
		.connect_timeout_ms = timeout_ms,
		.ready = mta_sts_fetch_ready,
	};
	/* RFC 8461 3.3: the certificate must verify for mta-sts.DOMAIN */
	struct conn_tls_client_params tp = { .ctx = tls, .sni = f->host,
					     .verify = CONN_TLS_VERIFY_STRICT };
	f->conn = conn_connect(loop, ip, port, &cs, &tp, mta_sts_fetch_event, f,
			       error_r);
	if (f->conn == NULL) {
		free(f->host);
		free(f);
		return NULL;
	}
	f->deadline = timeout_add(loop, timeout_ms, mta_sts_fetch_timeout, f);
	return f;
}

void mta_sts_fetch_free(struct mta_sts_fetch **fp)
{
	struct mta_sts_fetch *f = *fp;
	if (f == NULL)
		return;
	timeout_remove(&f->deadline);
	conn_destroy(&f->conn);
	str_free(&f->reply);
	free(f->host);
	free(f);
	*fp = NULL;
}

/* A header's value (case-insensitive name) in the header block, or NULL. */
static const char *http_header(const char *head, size_t len, const char *name,
			       size_t *vlen_r)
{
	size_t nl = strlen(name);
	for (const char *p = head; p < head + len;) {
		const char *eol = memchr(p, '\n', (size_t)(head + len - p));
		if (eol == NULL)
			eol = head + len;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *e = eol;
			while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
				e--;
			*vlen_r = (size_t)(e - v);
			return v;
		}
		p = eol + 1;
	}
	return NULL;
}

const char *mta_sts_http_body(const char *reply, size_t len, const char **body_r,
			      size_t *body_len_r)
{
	const char *sep = len > 0 ? strstr(reply, "\r\n\r\n") : NULL;
	if (len < 12 || strncmp(reply, "HTTP/1.", 7) != 0 || sep == NULL)
		return "not an HTTP reply";
	if (reply[8] != ' ' || reply[9] == '3')
		return reply[9] == '3' ? "redirects are not followed (RFC 8461 3.3)" :
			"not an HTTP reply";
	if (strncmp(reply + 9, "200", 3) != 0)
		return t_printf("HTTP status %.3s", reply + 9);
	size_t head_len = (size_t)(sep - reply) + 2, vlen = 0;
	const char *ct = http_header(reply, head_len, "Content-Type", &vlen);
	if (ct == NULL || vlen < 10 || strncasecmp(ct, "text/plain", 10) != 0 ||
	    (vlen > 10 && ct[10] != ';' && ct[10] != ' '))
		return "the policy is not text/plain (RFC 8461 3.2)";
	if (http_header(reply, head_len, "Transfer-Encoding", &vlen) != NULL)
		return "chunked transfer encoding is not supported";
	const char *body = sep + 4;
	size_t blen = len - (size_t)(body - reply);
	const char *cl = http_header(reply, head_len, "Content-Length", &vlen);
	if (cl != NULL) {
		char *end;
		unsigned long long want = strtoull(t_printf("%.*s", (int)vlen, cl), &end, 10);
		if (*end != '\0' || want > blen)
			return "the policy is cut short";
		blen = (size_t)want;
	}
	if (blen > MTA_STS_POLICY_MAX)
		return "the policy is over 64 KiB";
	*body_r = body;
	*body_len_r = blen;
	return NULL;
}
