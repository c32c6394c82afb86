/* test-tls-mem.c: OpenSSL's record-sized blocks come from tls_mem's pool
 * (issue 9 item 15): big requests land in the pool's region, small ones
 * and grown ones in the heap, a block keeps its bytes across realloc, the
 * free slots kept resident are bounded, and a real handshake plus one
 * record each way on the server context (SSL_MODE_RELEASE_BUFFERS) takes
 * its buffers from the pool and its SSL holds none of them once idle. Skipped
 * under ASan, where the pool is off. */
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

static void test_big_in_pool_small_in_heap(void **state)
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
	/* small grown big stays where it was: free() tells them apart */
	unsigned char *grown = OPENSSL_realloc(small, TLS_MEM_BIG_MIN + 10);
	assert_non_null(grown);
	assert_false(tls_mem_owns(grown));
	OPENSSL_free(grown);
	OPENSSL_free(huge);
	assert_null(OPENSSL_realloc(OPENSSL_malloc(TLS_MEM_BIG_MIN), 0));
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

static void test_handshake_buffers_from_pool(void **state)
{
	(void)state;
	if (!pool_on)
		skip();
	char dir[] = "/tmp/test-tls-mem.XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *error = NULL;
	struct tls_ctx *tls = tls_ctx_create(NULL, NULL, dir, "mem.example", &error);
	assert_non_null(tls);
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_mode(cctx, SSL_MODE_RELEASE_BUFFERS);
	int fds[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
	struct tls_mem_stats before, after;
	tls_mem_get_stats(&before);
	SSL *srv = SSL_new(tls_ctx_ssl_ctx(tls));
	SSL *cli = SSL_new(cctx);
	SSL_set_fd(srv, fds[0]);
	SSL_set_fd(cli, fds[1]);
	SSL_set_accept_state(srv);
	SSL_set_connect_state(cli);
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
	/* init_buf, read and write buffers of each side */
	assert_true(after.served - before.served >= 6);
	assert_int_equal(after.fallback, before.fallback);
	/* idle: the server side holds no record-sized block (the client's
	 * read path may keep its buffer: not ours to judge) */
	SSL_free(cli);
	tls_mem_get_stats(&after);
	assert_int_equal(after.slots_used, before.slots_used);
	SSL_free(srv);
	SSL_CTX_free(cctx);
	tls_ctx_destroy(&tls);
	close(fds[0]);
	close(fds[1]);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	/* first OpenSSL call of the process, as in postel's main */
	if (tls_mem_init(&pool_on) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_big_in_pool_small_in_heap),
		cmocka_unit_test(test_free_slots_bounded),
		cmocka_unit_test(test_handshake_buffers_from_pool),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
