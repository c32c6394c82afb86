/* test-store-eol.c: wire form <-> Maildir line endings (store_eol.h):
 * exact round trips, every chunk split, lone CRs kept, wire size of a
 * file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_eol.h"

/* Convert in with every split into two chunks; all must give expect. */
static void assert_to_lf(const char *in, const char *expect)
{
	size_t len = strlen(in);
	char out[256];
	for (size_t split = 0; split <= len; split++) {
		struct store_eol_state st = { 0 };
		size_t n = store_eol_to_lf(&st, in, split, out);
		n += store_eol_to_lf(&st, in + split, len - split, out + n);
		n += store_eol_to_lf_finish(&st, out + n);
		assert_int_equal(n, strlen(expect));
		assert_memory_equal(out, expect, n);
	}
}

static void assert_to_crlf(const char *in, const char *expect)
{
	size_t len = strlen(in);
	char out[256];
	for (size_t split = 0; split <= len; split++) {
		struct store_eol_state st = { 0 };
		size_t n = store_eol_to_crlf(&st, in, split, out);
		n += store_eol_to_crlf(&st, in + split, len - split, out + n);
		assert_int_equal(n, strlen(expect));
		assert_memory_equal(out, expect, n);
	}
}

static void test_to_lf(void **state)
{
	(void)state;
	assert_to_lf("", "");
	assert_to_lf("a\r\nb\r\n", "a\nb\n");
	assert_to_lf("\r\n\r\n", "\n\n");
	assert_to_lf("a\rb", "a\rb");          /* lone CR kept */
	assert_to_lf("a\r", "a\r");            /* and at the very end */
	assert_to_lf("a\r\r\nb", "a\r\nb");     /* CR then CRLF */
	assert_to_lf("a\nb", "a\nb");          /* bare LF kept */
}

static void test_to_crlf(void **state)
{
	(void)state;
	assert_to_crlf("", "");
	assert_to_crlf("a\nb\n", "a\r\nb\r\n");
	assert_to_crlf("\n\n", "\r\n\r\n");
	assert_to_crlf("a\r\nb", "a\r\nb");     /* CRLF already */
	assert_to_crlf("a\rb", "a\rb");
}

/* wire -> stored -> wire is the identity for SMTP's input (no bare CR/LF) */
static void test_round_trip(void **state)
{
	(void)state;
	const char *wire = "Subject: x\r\n\r\nline\r\n.dot\r\n\r\nend\r\n";
	char lf[128], back[256];
	struct store_eol_state a = { 0 }, b = { 0 };
	size_t n = store_eol_to_lf(&a, wire, strlen(wire), lf);
	n += store_eol_to_lf_finish(&a, lf + n);
	assert_null(memchr(lf, '\r', n));
	size_t m = store_eol_to_crlf(&b, lf, n, back);
	assert_int_equal(m, strlen(wire));
	assert_memory_equal(back, wire, m);
}

static void test_wire_size(void **state)
{
	(void)state;
	char path[] = "/tmp/test-store-eol.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	uint64_t size;
	assert_int_equal(store_eol_wire_size(fd, &size), 0);
	assert_int_equal(size, 0);
	/* 3 bare LFs, one CRLF, spread over more than one read buffer */
	char *big = malloc(40000);
	assert_non_null(big);
	memset(big, 'x', 40000);
	big[0] = '\n';
	big[16383] = '\r';
	big[16384] = '\n';
	big[20000] = '\n';
	big[39999] = '\n';
	assert_int_equal(write(fd, big, 40000), 40000);
	assert_int_equal(store_eol_wire_size(fd, &size), 0);
	assert_int_equal(size, 40003);
	free(big);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_to_lf),
		cmocka_unit_test(test_to_crlf),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_wire_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
