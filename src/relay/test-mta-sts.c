/* test-mta-sts.c: MTA-STS (RFC 8461): the TXT id, the policy and the MX
 * check (enforce refuses an MX outside the mx patterns and makes a
 * matching one verify, testing only reports), freshness by max_age and
 * id, the durable per-domain cache (a damaged file is removed), the HTTP
 * reply checks (no redirects, text/plain, 64 KiB) and the HTTPS fetch on
 * the loop against a loopback TLS server with a test CA: the right name
 * fetches the policy, another name fails verification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/ssl.h>

#include "dns/dns.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/tls.h"
#include "relay/mta_sts.h"
#include "relay/mta_sts_fetch.h"

#define POLICY "version: STSv1\r\nmode: enforce\r\nmx: mail.example.test\r\n" \
	"mx: *.backup.example.test\r\nmax_age: 86400\r\n"

static void test_txt_id(void **state)
{
	(void)state;
	char id[MTA_STS_ID_MAX + 1];
	const char *error = NULL;
	const char *txt = "v=STSv1; id=20261206T0500;";
	assert_int_equal(mta_sts_txt_id(txt, strlen(txt), id, &error), 0);
	assert_string_equal(id, "20261206T0500");
	static const char *const bad[] = {
		"v=STSv2; id=1;", "id=1; v=STSv1;", "v=STSv1;",
		"v=STSv1; id=123456789012345678901234567890123;", "v=STSv1; id=a-b;",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(mta_sts_txt_id(bad[i], strlen(bad[i]), id, &error), -1);
}

static void test_txt_answer(void **state)
{
	(void)state;
	/* TXT rdata: one character-string each */
	static const uint8_t sts[] = "\x13v=STSv1; id=abc123;";
	static const uint8_t spf[] = "\x0ev=spf1 -all xx";
	static const uint8_t sts2[] = "\x12v=STSv1; id=other;";
	const uint8_t *data[] = { spf, sts, sts2 };
	const size_t len[] = { sizeof(spf) - 1, sizeof(sts) - 1, sizeof(sts2) - 1 };
	struct dns_answer a = { .result = DNS_RESULT_DATA, .count = 2, .data = data,
				.len = len };
	char id[MTA_STS_ID_MAX + 1];
	const char *error = NULL;
	assert_int_equal(mta_sts_txt_answer(&a, id, &error), 1);
	assert_string_equal(id, "abc123");
	a.count = 3; /* RFC 8461 3.1: two records, no policy */
	assert_int_equal(mta_sts_txt_answer(&a, id, &error), 0);
	a.count = 1;
	assert_int_equal(mta_sts_txt_answer(&a, id, &error), 0);
	a.result = DNS_RESULT_NXDOMAIN;
	assert_int_equal(mta_sts_txt_answer(&a, id, &error), 0);
	a.result = DNS_RESULT_TIMEOUT;
	assert_int_equal(mta_sts_txt_answer(&a, id, &error), -1);
}

static void test_policy_check(void **state)
{
	(void)state;
	struct mta_sts_policy *p = NULL;
	const char *error = NULL;
	assert_int_equal(mta_sts_policy_parse(POLICY, strlen(POLICY), "abc", 1000,
					      &p, &error), 0);
	assert_int_equal(p->mode, MTA_STS_MODE_ENFORCE);
	assert_int_equal(p->max_age, 86400);
	assert_int_equal(mta_sts_check(p, "mail.example.test."), MTA_STS_VERIFY);
	assert_int_equal(mta_sts_check(p, "MX1.Backup.example.test"), MTA_STS_VERIFY);
	/* RFC 8461 4.1: the wildcard covers one label only */
	assert_int_equal(mta_sts_check(p, "a.b.backup.example.test"), MTA_STS_REFUSE);
	assert_int_equal(mta_sts_check(p, "mx.attacker.test"), MTA_STS_REFUSE);
	/* RFC 8461 5.1: fresh while unexpired and the id is the same */
	assert_true(mta_sts_policy_fresh(p, "abc", 2000));
	assert_true(mta_sts_policy_fresh(p, NULL, 2000));
	assert_false(mta_sts_policy_fresh(p, "abd", 2000));
	assert_false(mta_sts_policy_fresh(p, "abc", 1000 + 86400));
	mta_sts_policy_free(&p);
	assert_null(p);

	const char *testing = "version: STSv1\nmode: testing\nmx: mail.example.test\n"
		"max_age: 600\n";
	assert_int_equal(mta_sts_policy_parse(testing, strlen(testing), "t", 0, &p,
					      &error), 0);
	assert_int_equal(mta_sts_check(p, "mx.attacker.test"), MTA_STS_TESTING_MISMATCH);
	assert_int_equal(mta_sts_check(p, "mail.example.test"), MTA_STS_TESTING_OK);
	mta_sts_policy_free(&p);
	const char *none = "version: STSv1\nmode: none\nmax_age: 600\n";
	assert_int_equal(mta_sts_policy_parse(none, strlen(none), "n", 0, &p, &error), 0);
	assert_int_equal(mta_sts_check(p, "anything.test"), MTA_STS_NO_POLICY);
	mta_sts_policy_free(&p);
	assert_int_equal(mta_sts_check(NULL, "anything.test"), MTA_STS_NO_POLICY);
	const char *bad = "version: STSv1\nmode: enforce\nmax_age: 600\n"; /* no mx */
	assert_int_equal(mta_sts_policy_parse(bad, strlen(bad), "b", 0, &p, &error), -1);
	assert_null(p);
}

static void test_cache(void **state)
{
	(void)state;
	char dir[64], sub[96], path[160];
	snprintf(dir, sizeof(dir), "/tmp/test-mta-sts.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/mta-sts", dir);
	struct mta_sts_policy *p = NULL, *q = NULL;
	const char *error = NULL;
	assert_int_equal(mta_sts_cache_load(sub, "example.test", &q, &error), 0);
	assert_int_equal(mta_sts_policy_parse(POLICY, strlen(POLICY), "id7", 1234, &p,
					      &error), 0);
	assert_int_equal(mta_sts_cache_store(sub, "Example.TEST.", p, &error), 0);
	assert_int_equal(mta_sts_cache_load(sub, "example.test", &q, &error), 1);
	assert_string_equal(q->id, "id7");
	assert_int_equal(q->fetched, 1234);
	assert_int_equal(q->mx_count, 2);
	assert_int_equal(mta_sts_check(q, "mail.example.test"), MTA_STS_VERIFY);
	mta_sts_policy_free(&q);
	/* a damaged file is removed, not trusted */
	snprintf(path, sizeof(path), "%s/example.test", sub);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("postel-mta-sts 1\nid=x\nfetched=1\n\nversion: STSv9\n", fp);
	fclose(fp);
	assert_int_equal(mta_sts_cache_load(sub, "example.test", &q, &error), -1);
	assert_int_equal(access(path, F_OK), -1);
	/* names that are not domains never become paths */
	assert_int_equal(mta_sts_cache_store(sub, "../etc", p, &error), -1);
	assert_int_equal(mta_sts_cache_store(sub, "a..b", p, &error), -1);
	mta_sts_policy_free(&p);
	rmdir(sub);
	rmdir(dir);
}

static void test_http_reply(void **state)
{
	(void)state;
	const char *body;
	size_t len;
	const char *ok = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: 5\r\n\r\nhello-and-more";
	assert_null(mta_sts_http_body(ok, strlen(ok), &body, &len));
	assert_int_equal(len, 5);
	assert_memory_equal(body, "hello", 5);
	const char *redirect = "HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n"
		"Content-Type: text/plain\r\n\r\n";
	assert_non_null(strstr(mta_sts_http_body(redirect, strlen(redirect), &body, &len),
			       "redirect"));
	const char *html = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\nx";
	assert_non_null(mta_sts_http_body(html, strlen(html), &body, &len));
	const char *chunked = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
	assert_non_null(mta_sts_http_body(chunked, strlen(chunked), &body, &len));
	const char *cut = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
		"Content-Length: 50\r\n\r\nshort";
	assert_non_null(mta_sts_http_body(cut, strlen(cut), &body, &len));
}

/* ---- one HTTPS reply from a thread ---- */
struct https_server {
	int lfd;
	unsigned port;
	SSL_CTX *ctx;
	pthread_t thread;
	char request[1024];
};

static void *https_serve(void *arg)
{
	struct https_server *s = arg;
	int fd = accept(s->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL *ssl = SSL_new(s->ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1) {
		size_t got = 0;
		for (unsigned i = 0; i < 64 && got < sizeof(s->request) - 1; i++) {
			int n = SSL_read(ssl, s->request + got,
					 (int)(sizeof(s->request) - 1 - got));
			if (n <= 0)
				break;
			got += (size_t)n;
			s->request[got] = '\0';
			if (strstr(s->request, "\r\n\r\n") != NULL)
				break;
		}
		char reply[512];
		int n = snprintf(reply, sizeof(reply), "HTTP/1.1 200 OK\r\n"
				 "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n%s", strlen(POLICY), POLICY);
		if (got > 0)
			(void)SSL_write(ssl, reply, n);
		(void)SSL_shutdown(ssl);
	}
	SSL_free(ssl);
	close(fd);
	return NULL;
}

static void https_start(struct https_server *s, SSL_CTX *ctx)
{
	memset(s, 0, sizeof(*s));
	s->ctx = ctx;
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&sin, sl), 0);
	assert_int_equal(listen(s->lfd, 4), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&sin, &sl), 0);
	s->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&s->thread, NULL, https_serve, s), 0);
}

static void https_stop(struct https_server *s)
{
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

struct fetch_run {
	struct ioloop *loop;
	char body[1024];
	char error[160];
	bool called;
};

static void on_fetched(void *ctx, const char *body, size_t len, const char *error)
{
	struct fetch_run *r = ctx;
	r->called = true;
	if (error != NULL)
		snprintf(r->error, sizeof(r->error), "%s", error);
	else
		snprintf(r->body, sizeof(r->body), "%.*s", (int)len, body);
	ioloop_stop(r->loop);
}

static void fetch_once(const char *domain, const char *ca, unsigned port,
		       struct fetch_run *r)
{
	memset(r, 0, sizeof(*r));
	r->loop = ioloop_create();
	const char *error = NULL;
	struct conn_tls_client *tls = conn_tls_client_create(ca, 0, &error);
	assert_non_null(tls);
	struct mta_sts_fetch *f = mta_sts_fetch_start(r->loop, domain, "127.0.0.1", port,
						      tls, 5000, on_fetched, r, &error);
	assert_non_null(f);
	ioloop_run(r->loop);
	assert_true(r->called);
	mta_sts_fetch_free(&f);
	conn_tls_client_destroy(&tls);
	ioloop_destroy(&r->loop);
}

static void test_https_fetch(void **state)
{
	(void)state;
	char dir[64], ca[128], path[160];
	snprintf(dir, sizeof(dir), "/tmp/test-mta-sts.XXXXXX");
	assert_non_null(mkdtemp(dir));
	const char *error = NULL;
	/* a test certificate for mta-sts.example.test, its own CA */
	struct tls_ctx *server = tls_ctx_create("", "", dir, "mta-sts.example.test", &error);
	assert_non_null(server);
	snprintf(ca, sizeof(ca), "%s/tls/selfsigned.crt", dir);

	struct https_server s;
	struct fetch_run r;
	https_start(&s, tls_ctx_ssl_ctx(server));
	fetch_once("example.test", ca, s.port, &r);
	https_stop(&s);
	assert_string_equal(r.error, "");
	assert_string_equal(r.body, POLICY);
	assert_non_null(strstr(s.request, "GET /.well-known/mta-sts.txt HTTP/1.1\r\n"));
	assert_non_null(strstr(s.request, "\r\nHost: mta-sts.example.test\r\n"));

	/* the same server for another domain: the name does not verify */
	https_start(&s, tls_ctx_ssl_ctx(server));
	fetch_once("other.test", ca, s.port, &r);
	https_stop(&s);
	assert_non_null(strstr(r.error, "tls_verify"));
	assert_string_equal(r.body, "");
	assert_string_equal(s.request, "");

	tls_ctx_destroy(&server);
	snprintf(path, sizeof(path), "%s/tls/selfsigned.crt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls/selfsigned.key", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/tls", dir);
	rmdir(path);
	rmdir(dir);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	log_init("test-mta-sts", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt_id),
		cmocka_unit_test(test_txt_answer),
		cmocka_unit_test(test_policy_check),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_http_reply),
		cmocka_unit_test(test_https_fetch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
