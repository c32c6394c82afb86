/* test-tls-mem.c: OpenSSL's record-sized blocks come from tls_mem's pool
 * (issue 9 item 15): big requests land in the pool's region, small ones
 * and grown ones in the heap, a block keeps its bytes across realloc, the
 * free slots kept resident are bounded, and a real handshake plus one
 * record each way on the server context (SSL_MODE_RELEASE_BUFFERS) takes
 * its buffers from the pool and its SSL holds none of them once idle,
 * while its small blocks (up to TLS_MEM_SMALL_MAX) come from the zone
 * (skipped under ASan, where the pool is off). The server's ALPN answer
 * comes from tls_alpn_expect(), with no ex_data on the SSL. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "lib/tls.h"
#include "lib/tls_mem.h"

/* tls_mem.c's TLS_MEM_KEEP */
#define KEEP 32

static bool pool_on;

static void test_big_in_pool(void **state)
{
	(void)state;
	if (!pool_on)
		skip();
	unsigned char *small = OPENSSL_malloc(200);
	unsigned char *big = OPENSSL_malloc(TLS_MEM_BIG_MIN + 300);
	assert_non_null(small);
	assert_non_null(big);
	assert_false(tls_mem_owns(small));
	assert_true(tls_mem_owns(big));
	memset(big, 0xa5, TLS_MEM_BIG_MIN + 300);
	/* within the slot: the same block */
	assert_ptr_equal(OPENSSL_realloc(big, TLS_MEM_BIG_MIN + 4000), big);
	/* beyond it: the heap, bytes kept */
	unsigned char *huge = OPENSSL_realloc(big, 256 * 1024);
	assert_non_null(huge);
	assert_false(tls_mem_owns(huge));
	for (size_t i = 0; i < TLS_MEM_BIG_MIN + 300; i++)
		assert_int_equal(huge[i], 0xa5);
	/* a small block grown record-sized moves to the pool, bytes kept */
	memset(small, 0x3c, 200);
	unsigned char *grown = OPENSSL_realloc(small, TLS_MEM_BIG_MIN + 10);
	assert_non_null(grown);
	assert_true(tls_mem_owns(grown));
	for (size_t i = 0; i < 200; i++)
		assert_int_equal(grown[i], 0x3c);
	OPENSSL_free(grown);
	/* a heap block grown stays in the heap: free() tells them apart */
	unsigned char *mid = OPENSSL_malloc(5000);
	assert_false(tls_mem_owns(mid) || tls_mem_small_owns(mid));
	mid = OPENSSL_realloc(mid, TLS_MEM_BIG_MIN + 10);
	assert_false(tls_mem_owns(mid));
	OPENSSL_free(mid);
	OPENSSL_free(huge);
	assert_null(OPENSSL_realloc(OPENSSL_malloc(TLS_MEM_BIG_MIN), 0));
}

/* blocks up to TLS_MEM_SMALL_MAX come from the small zone; realloc keeps
 * a block in place within its class and moves it (bytes kept) beyond */
static void test_small_in_zone(void **state)
{
	(void)state;
	if (!pool_on)
		skip();
	struct tls_mem_stats before, during, after;
	tls_mem_get_stats(&before);
	unsigned char *a = OPENSSL_malloc(100), *b = OPENSSL_malloc(TLS_MEM_SMALL_MAX);
	unsigned char *c = OPENSSL_malloc(TLS_MEM_SMALL_MAX + 1);
	assert_true(tls_mem_small_owns(a) && tls_mem_small_owns(b));
	assert_false(tls_mem_small_owns(c) || tls_mem_owns(c));
	tls_mem_get_stats(&during);
	assert_int_equal(during.small_blocks, before.small_blocks + 2);
	memset(a, 0x77, 100);
	assert_ptr_equal(OPENSSL_realloc(a, 112), a); /* same 112-byte class */
	unsigned char *moved = OPENSSL_realloc(a, 600);
	assert_true(tls_mem_small_owns(moved) && moved != a);
	unsigned char *out = OPENSSL_realloc(moved, 3000);
	assert_false(tls_mem_small_owns(out) || tls_mem_owns(out));
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(out[i], 0x77);
	OPENSSL_free(out);
	OPENSSL_free(b);
	OPENSSL_free(c);
	OPENSSL_free(NULL);
	tls_mem_get_stats(&after);
	assert_int_equal(after.small_blocks, before.small_blocks);
}

static void test_free_slots_bounded(void **state)
{
	(void)state;
	if (!pool_on)
		skip();
	struct tls_mem_stats before, held, after;
	tls_mem_get_stats(&before);
	enum { N = 2 * KEEP + 8 };
	void *p[N];
	for (unsigned i = 0; i < N; i++) {
		p[i] = OPENSSL_malloc(TLS_MEM_BIG_MIN);
		assert_true(tls_mem_owns(p[i]));
		memset(p[i], 1, TLS_MEM_BIG_MIN);
	}
	tls_mem_get_stats(&held);
	assert_int_equal(held.slots_used, before.slots_used + N);
	assert_int_equal(held.slots_hot, 0);
	for (unsigned i = 0; i < N; i++)
		OPENSSL_free(p[i]);
	tls_mem_get_stats(&after);
	assert_int_equal(after.slots_used, before.slots_used);
	assert_int_equal(after.slots_hot, KEEP);
	/* a slot given back and taken again reads as zeroes, not old bytes */
	for (unsigned i = 0; i < N; i++) {
		p[i] = OPENSSL_malloc(TLS_MEM_BIG_MIN);
		assert_true(tls_mem_owns(p[i]));
	}
	unsigned zero = 0;
	for (unsigned i = 0; i < N; i++) {
		zero += ((unsigned char *)p[i])[100] == 0;
		OPENSSL_free(p[i]);
	}
	assert_int_equal(zero, N - KEEP);
}

/* tls_mem_trim() gives back the pages of the slots kept resident: they
 * stay usable and read as zeroes afterwards */
static void test_trim_gives_back_hot_slots(void **state)
{
	(void)state;
	if (!pool_on)
		skip();
	void *p[KEEP];
	for (unsigned i = 0; i < KEEP; i++) {
		p[i] = OPENSSL_malloc(TLS_MEM_BIG_MIN);
		memset(p[i], 1, TLS_MEM_BIG_MIN);
	}
	for (unsigned i = 0; i < KEEP; i++)
		OPENSSL_free(p[i]);
	struct tls_mem_stats st;
	tls_mem_get_stats(&st);
	assert_int_equal(st.slots_hot, KEEP);
	tls_mem_trim();
	tls_mem_get_stats(&st);
	assert_int_equal(st.slots_hot, 0);
	unsigned zero = 0;
	for (unsigned i = 0; i < KEEP; i++) {
		p[i] = OPENSSL_malloc(TLS_MEM_BIG_MIN);
		assert_true(tls_mem_owns(p[i]));
		zero += ((unsigned char *)p[i])[100] == 0;
	}
	for (unsigned i = 0; i < KEEP; i++)
		OPENSSL_free(p[i]);
	assert_int_equal(zero, KEEP);
}

/* steps both sides until both are done; bounded */
static void pump(SSL *srv, SSL *cli)
{
	int s = 0, c = 0;
	for (unsigned i = 0; i < 200 && (s != 1 || c != 1); i++) {
		if (c != 1)
			c = SSL_do_handshake(cli);
		if (s != 1)
			s = SSL_do_handshake(srv);
	}
	assert_int_equal(s, 1);
	assert_int_equal(c, 1);
}

struct pair {
	char dir[32];
	struct tls_ctx *tls;
	SSL_CTX *cctx;
	SSL *srv, *cli;
	int fds[2];
};

static void pair_open(struct pair *pr, const char *client_alpn)
{
	snprintf(pr->dir, sizeof(pr->dir), "/tmp/test-tls-mem.XXXXXX");
	assert_non_null(mkdtemp(pr->dir));
	const char *error = NULL;
	pr->tls = tls_ctx_create(NULL, NULL, pr->dir, "mem.example", &error);
	assert_non_null(pr->tls);
	pr->cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_mode(pr->cctx, SSL_MODE_RELEASE_BUFFERS);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pr->fds), 0);
	pr->srv = SSL_new(tls_ctx_ssl_ctx(pr->tls));
	pr->cli = SSL_new(pr->cctx);
	if (client_alpn != NULL) {
		unsigned char wire[16];
		size_t n = strlen(client_alpn);
		wire[0] = (unsigned char)n;
		memcpy(wire + 1, client_alpn, n);
		assert_int_equal(SSL_set_alpn_protos(pr->cli, wire, (unsigned)n + 1), 0);
	}
	SSL_set_fd(pr->srv, pr->fds[0]);
	SSL_set_fd(pr->cli, pr->fds[1]);
	SSL_set_accept_state(pr->srv);
	SSL_set_connect_state(pr->cli);
}

static void pair_close(struct pair *pr)
{
	SSL_free(pr->srv);
	SSL_free(pr->cli);
	SSL_CTX_free(pr->cctx);
	tls_ctx_destroy(&pr->tls);
	close(pr->fds[0]);
	close(pr->fds[1]);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pr->dir);
	assert_int_equal(system(cmd), 0);
}

static void test_handshake_buffers_from_pool(void **state)
{
	(void)state;
	if (!pool_on)
		skip();
	struct tls_mem_stats before, after;
	tls_mem_get_stats(&before);
	struct pair pr;
	pair_open(&pr, NULL);
	SSL *srv = pr.srv, *cli = pr.cli;
	pump(srv, cli);
	char buf[64];
	assert_int_equal(SSL_write(cli, "a NOOP\r\n", 8), 8);
	assert_int_equal(SSL_read(srv, buf, sizeof(buf)), 8);
	assert_int_equal(SSL_write(srv, "a OK\r\n", 6), 6);
	/* the session tickets and the reply */
	int n = 0;
	for (unsigned i = 0; i < 10 && n <= 0; i++)
		n = SSL_read(cli, buf, sizeof(buf));
	assert_int_equal(n, 6);
	tls_mem_get_stats(&after);
	/* the two connections' contexts, keys and locks: small blocks */
	assert_true(after.small_blocks >= before.small_blocks + 40);
	/* init_buf, read and write buffers of each side */
	assert_true(after.served - before.served >= 6);
	assert_int_equal(after.fallback, before.fallback);
	/* idle: the server side holds no record-sized block (the client's
	 * read path may keep its buffer: not ours to judge) */
	SSL_free(cli);
	pr.cli = NULL;
	tls_mem_get_stats(&after);
	assert_int_equal(after.slots_used, before.slots_used);
	pair_close(&pr);
}

/* steps both sides with the server's wanted protocol set, as
 * conn_tls_handshake does; 1 both done, -1 the server refused */
static int pump_alpn(SSL *srv, SSL *cli, const char *want)
{
	int s = 0, c = 0;
	for (unsigned i = 0; i < 200 && (s != 1 || c != 1); i++) {
		if (c != 1)
			c = SSL_do_handshake(cli);
		tls_alpn_expect(want);
		s = s == 1 ? 1 : SSL_do_handshake(srv);
		tls_alpn_expect(NULL);
		if (s <= 0 && SSL_get_error(srv, s) == SSL_ERROR_SSL)
			return -1;
	}
	return s == 1 && c == 1 ? 1 : 0;
}

static void test_alpn_without_ex_data(void **state)
{
	(void)state;
	struct pair pr;
	pair_open(&pr, "imap");
	assert_int_equal(pump_alpn(pr.srv, pr.cli, "imap"), 1);
	const unsigned char *sel = NULL;
	unsigned len = 0;
	SSL_get0_alpn_selected(pr.srv, &sel, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(sel, "imap", 4);
	/* nothing kept on the SSL for it */
	assert_null(SSL_get_app_data(pr.srv));
	pair_close(&pr);
	/* ALPACA: a client offering another protocol is refused */
	pair_open(&pr, "pop3");
	assert_int_equal(pump_alpn(pr.srv, pr.cli, "imap"), -1);
	pair_close(&pr);
}

int main(void)
{
	/* first OpenSSL call of the process, as in postel's main */
	if (tls_mem_init() < 0)
		return 1;
	pool_on = tls_mem_enabled();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_in_pool),
		cmocka_unit_test(test_small_in_zone),
		cmocka_unit_test(test_free_slots_bounded),
		cmocka_unit_test(test_trim_gives_back_hot_slots),
		cmocka_unit_test(test_handshake_buffers_from_pool),
		cmocka_unit_test(test_alpn_without_ex_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
