/* test-dns-resolver.c: unit tests for dns.h. libunbound forwards to a
 * small DNS server on 127.0.0.1 whose UDP socket is served by the SAME
 * ioloop as the resolver: every answer therefore also proves that a lookup
 * never blocks the loop. The server answers a.example A with 192.0.2.1,
 * nx.example with NXDOMAIN, fail.example with SERVFAIL, and never answers
 * silent.example; anything else (the root's DNSKEY when a trust anchor is
 * loaded) gets NOERROR without records. (Not .test: unbound answers that
 * special-use domain itself, RFC 6761 6.2.) Every run of the loop is bounded
 * by a guard timer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/dns.h"
#include "lib/ioloop.h"
#include "lib/mem.h"

struct fake_dns {
	int fd;
	unsigned port;
	struct io *io;
	unsigned queries;
};

/* The qname of a query as dotted lower-case text, its end in *end_r. */
static int fake_qname(const uint8_t *q, size_t len, char *out, size_t size,
		      size_t *end_r)
{
	size_t pos = 12, n = 0;
	while (pos < len && q[pos] != 0) {
		size_t l = q[pos++];
		if (l > 63 || pos + l > len || n + l + 2 > size)
			return -1;
		if (n > 0)
			out[n++] = '.';
		for (size_t i = 0; i < l; i++)
			out[n++] = (char)(q[pos + i] | 0x20);
		pos += l;
	}
	if (pos + 5 > len)
		return -1;
	out[n] = '\0';
	*end_r = pos + 5; /* the root label, QTYPE, QCLASS */
	return 0;
}

static void fake_dns_input(void *ctx)
{
	struct fake_dns *f = ctx;
	uint8_t q[512], r[600];
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	char name[256];
	size_t end;

	ssize_t len = recvfrom(f->fd, q, sizeof(q), 0, (struct sockaddr *)&from, &flen);
	if (len < 12 || fake_qname(q, (size_t)len, name, sizeof(name), &end) < 0)
		return;
	f->queries++;
	if (strcmp(name, "silent.example") == 0)
		return;
	unsigned qtype = (unsigned)q[end - 4] << 8 | q[end - 3];
	memcpy(r, q, end);
	r[2] = 0x80 | (q[2] & 0x01); /* QR, RD copied */
	r[3] = 0x80;                   /* RA, rcode 0 */
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0; /* AN NS AR counts */
	size_t n = end;
	if (strcmp(name, "nx.example") == 0) {
		r[3] |= 3;
	} else if (strcmp(name, "fail.example") == 0) {
		r[3] |= 2;
	} else if (strcmp(name, "a.example") == 0 && qtype == DNS_A) {
		static const uint8_t rr[] = { 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60,
					      0, 4, 192, 0, 2, 1 };
		memcpy(r + n, rr, sizeof(rr));
		n += sizeof(rr);
		r[7] = 1;
	}
	(void)sendto(f->fd, r, n, 0, (struct sockaddr *)&from, flen);
}

static void fake_dns_start(struct fake_dns *f, struct ioloop *loop)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sin, &slen), 0);
	f->port = ntohs(sin.sin_port);
	f->io = io_add(loop, f->fd, IO_READ, fake_dns_input, f);
	f->queries = 0;
}

static void fake_dns_stop(struct fake_dns *f)
{
	io_remove(&f->io);
	close(f->fd);
}

struct env {
	struct ioloop *loop;
	struct fake_dns dns;
	struct dns_resolver *resolver;
	struct dns_answer *answer;
	unsigned calls;
	bool guard_fired;
};

static void on_answer(struct dns_answer *answer, void *ctx)
{
	struct env *e = ctx;
	e->calls++;
	dns_answer_free(&e->answer);
	e->answer = answer;
	ioloop_stop(e->loop);
}

static void on_guard(void *ctx)
{
	struct env *e = ctx;
	e->guard_fired = true;
	ioloop_stop(e->loop);
}

/* Runs the loop until a callback stops it, at most ms. */
static void run_loop(struct env *e, unsigned ms)
{
	struct timeout *guard = timeout_add(e->loop, ms, on_guard, e);
	e->guard_fired = false;
	ioloop_run(e->loop);
	timeout_remove(&guard);
}

static void env_open(struct env *e, const char *trust_anchor)
{
	char fwd[64];
	const char *error = NULL;

	memset(e, 0, sizeof(*e));
	e->loop = ioloop_create();
	fake_dns_start(&e->dns, e->loop);
	/* the ADDR:PORT form of the dns_resolver key */
	snprintf(fwd, sizeof(fwd), "127.0.0.1:%u", e->dns.port);
	struct dns_settings set = { fwd, trust_anchor };
	assert_int_equal(dns_resolver_create(e->loop, &set, &e->resolver, &error), 0);
}

static void env_close(struct env *e)
{
	dns_answer_free(&e->answer);
	dns_resolver_destroy(&e->resolver);
	assert_null(e->resolver);
	fake_dns_stop(&e->dns);
	ioloop_destroy(&e->loop);
}

static void lookup(struct env *e, const char *name, enum dns_rrtype type,
		   unsigned timeout_ms)
{
	const char *error = NULL;
	e->calls = 0;
	assert_non_null(dns_lookup(e->resolver, name, type, timeout_ms, on_answer, e,
				   &error));
	run_loop(e, 10000);
	assert_false(e->guard_fired);
	assert_int_equal(e->calls, 1);
}

static void test_forwarder_parse(void **state)
{
	static const struct { const char *in, *out; } good[] = {
		{ "127.0.0.1", "127.0.0.1@53" }, { "127.0.0.1@5353", "127.0.0.1@5353" },
		{ "127.0.0.1:5353", "127.0.0.1@5353" }, { "::1", "::1@53" },
		{ "[::1]:5353", "::1@5353" }, { "[::1]", "::1@53" },
		{ "::1@5353", "::1@5353" },
	};
	static const char *const bad[] = {
		"", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536",
		"127.0.0.1:53x", "[::1", "[::1]x", "1.2.3.4@-1", ":53", "[]:53",
	};
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(dns_forwarder_parse(good[i].in, out, sizeof(out)), 0);
		assert_string_equal(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dns_forwarder_parse(bad[i], out, sizeof(out)), -1);
	assert_int_equal(dns_forwarder_parse("127.0.0.1", out, 8), -1);
}

static void test_answers_on_the_loop(void **state)
{
	struct env e;

	(void)state;
	env_open(&e, "none");
	assert_null(dns_resolver_trust_anchor(e.resolver));
	assert_string_equal(dns_resolver_forwarder(e.resolver),
			    t_printf("127.0.0.1@%u", e.dns.port));
	lookup(&e, "a.example", DNS_A, 3000);
	assert_int_equal(e.answer->result, DNS_RESULT_DATA);
	/* no trust anchor: nothing is validated */
	assert_int_equal(e.answer->security, DNS_INSECURE);
	assert_int_equal(e.answer->count, 1);
	assert_int_equal(e.answer->len[0], 4);
	assert_memory_equal(e.answer->data[0], "\xc0\x00\x02\x01", 4);
	assert_true(e.dns.queries >= 1);

	lookup(&e, "a.example", DNS_TXT, 3000);
	assert_int_equal(e.answer->result, DNS_RESULT_NODATA);
	assert_int_equal(e.answer->count, 0);
	lookup(&e, "nx.example", DNS_MX, 3000);
	assert_int_equal(e.answer->result, DNS_RESULT_NXDOMAIN);
	assert_int_equal(e.answer->rcode, 3);
	lookup(&e, "fail.example", DNS_MX, 5000);
	assert_true(e.answer->result == DNS_RESULT_FAIL ||
		    e.answer->result == DNS_RESULT_TIMEOUT);
	assert_non_null(strstr(e.answer->error, "fail.example"));
	env_close(&e);
}

static void test_timeout_and_cancel(void **state)
{
	struct env e;
	const char *error = NULL;

	(void)state;
	env_open(&e, "");
	lookup(&e, "silent.example", DNS_A, 300);
	assert_int_equal(e.answer->result, DNS_RESULT_TIMEOUT);
	assert_string_equal(e.answer->error, "lookup of silent.example timed out");

	/* a cancelled lookup never calls back, even when its answer comes */
	e.calls = 0;
	struct dns_lookup *q = dns_lookup(e.resolver, "a.example", DNS_A, 3000, on_answer,
					  &e, &error);
	assert_non_null(q);
	dns_lookup_cancel(&q);
	assert_null(q);
	run_loop(&e, 500);
	assert_true(e.guard_fired);
	assert_int_equal(e.calls, 0);

	/* destroying the resolver with lookups pending: no callback, no leak */
	assert_non_null(dns_lookup(e.resolver, "silent.example", DNS_A, 3000, on_answer,
				   &e, &error));
	assert_non_null(dns_lookup(e.resolver, "a.example", DNS_AAAA, 3000, on_answer,
				   &e, &error));
	env_close(&e);
	assert_int_equal(e.calls, 0);
}

static void on_answer_destroy(struct dns_answer *answer, void *ctx)
{
	struct env *e = ctx;
	on_answer(answer, ctx);
	dns_resolver_destroy(&e->resolver);
}

static void test_destroy_inside_callback(void **state)
{
	struct env e;
	const char *error = NULL;

	(void)state;
	env_open(&e, "none");
	/* the first answer's callback destroys the resolver while libunbound
	 * is still handing out answers: the other lookup never calls back */
	assert_non_null(dns_lookup(e.resolver, "silent.example", DNS_A, 3000,
				   on_answer, &e, &error));
	assert_non_null(dns_lookup(e.resolver, "a.example", DNS_A, 3000,
				   on_answer_destroy, &e, &error));
	run_loop(&e, 5000);
	assert_false(e.guard_fired);
	assert_null(e.resolver);
	assert_int_equal(e.calls, 1);
	assert_int_equal(e.answer->result, DNS_RESULT_DATA);
	run_loop(&e, 300);
	assert_int_equal(e.calls, 1);
	env_close(&e);
}

static void test_bogus_with_trust_anchor(void **state)
{
	char path[] = "/tmp/test-dns-anchor-XXXXXX";
	struct env e;

	(void)state;
	/* a DS for the root that nothing the fake server says can match:
	 * validation must fail, and the answer is withheld as bogus */
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	static const char ds[] = ". IN DS 20326 8 2 "
		"E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
	assert_int_equal(write(fd, ds, sizeof(ds) - 1), (ssize_t)sizeof(ds) - 1);
	close(fd);
	env_open(&e, path);
	assert_string_equal(dns_resolver_trust_anchor(e.resolver), path);
	lookup(&e, "a.example", DNS_A, 5000);
	assert_int_equal(e.answer->result, DNS_RESULT_FAIL);
	assert_int_equal(e.answer->security, DNS_BOGUS);
	assert_non_null(strstr(e.answer->error, "DNSSEC validation failed"));
	env_close(&e);
	unlink(path);
}

static void test_setup_errors(void **state)
{
	struct ioloop *loop = ioloop_create();
	struct dns_resolver *r = NULL;
	const char *error = NULL;
	struct dns_settings bad_addr = { "resolver.example", "none" };
	struct dns_settings bad_anchor = { "127.0.0.1", "/nonexistent/root.key" };

	(void)state;
	assert_int_equal(dns_resolver_create(loop, &bad_addr, &r, &error), -1);
	assert_null(r);
	assert_non_null(strstr(error, "resolver.example"));
	assert_int_equal(dns_resolver_create(loop, &bad_anchor, &r, &error), -1);
	assert_non_null(strstr(error, "/nonexistent/root.key"));
	ioloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forwarder_parse),
		cmocka_unit_test(test_answers_on_the_loop),
		cmocka_unit_test(test_timeout_and_cancel),
		cmocka_unit_test(test_destroy_inside_callback),
		cmocka_unit_test(test_bogus_with_trust_anchor),
		cmocka_unit_test(test_setup_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
