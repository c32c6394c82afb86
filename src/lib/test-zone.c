/* test-zone.c: lib/zone.h's size classes, reuse, spans given back, a
 * full range, two threads at once; lib/sqlite_mem.h serving a real
 * SQLite database (blocks above the zone's classes included) and giving
 * everything back when the handle closes (skipped under ASan, where it
 * is off). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "lib/sanitize.h"
#include "lib/sqlite_mem.h"
#include "lib/tls_mem.h"
#include "lib/zone.h"

static void test_classes(void **state)
{
	(void)state;
	struct zone *z = zone_create("t", (size_t)64 << 20, ZONE_MAX);
	size_t last = 0;
	for (size_t size = 0; size <= ZONE_MAX; size += size < 2048 ? 1 : 97) {
		unsigned char *p = zone_alloc(z, size);
		assert_non_null(p);
		assert_true(zone_owns(z, p));
		assert_int_equal((uintptr_t)p % 16, 0);
		size_t have = zone_block_size(z, p);
		assert_true(have >= size && have >= 16);
		assert_int_equal(zone_roundup(z, size), have);
		/* classes grow with the request; waste at most a quarter above 1 KiB */
		assert_true(have >= last);
		assert_true(size <= 1024 ? have - size < 16 + (size == 0) * 16 : have - size <= size / 4);
		last = have;
		memset(p, 0x5a, have);
		zone_free(z, p);
	}
	assert_null(zone_alloc(z, ZONE_MAX + 1));
	assert_int_equal(zone_roundup(z, ZONE_MAX + 1), 0);
	struct zone *small = zone_create("t", (size_t)64 << 20, 1024);
	assert_null(zone_alloc(small, 1025));
	assert_non_null(zone_alloc(small, 1024));
	int local;
	assert_false(zone_owns(z, &local));
	struct zone_stats st;
	zone_get_stats(z, &st);
	assert_int_equal(st.blocks, 0);
	assert_int_equal(st.bytes, 0);
	zone_destroy(&z);
	zone_destroy(&small);
	assert_null(z);
	zone_destroy(&z);
}

/* pages of [p, p + len) that are resident */
static size_t resident_pages(void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = len / page, r = 0;
	unsigned char *vec = malloc(n);
	assert_int_equal(mincore(p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

static void test_spans_given_back(void **state)
{
	(void)state;
	struct zone *z = zone_create("t", (size_t)64 << 20, ZONE_MAX);
	enum { N = 2000 };
	static unsigned char *ps[N];
	for (int i = 0; i < N; i++) {
		ps[i] = zone_alloc(z, 200); /* 208: 315 a span, 7 spans */
		memset(ps[i], i & 0xff, 200);
	}
	struct zone_stats st;
	zone_get_stats(z, &st);
	assert_int_equal(st.blocks, N);
	assert_int_equal(st.spans_used, (N + 314) / 315);
	unsigned char *first_span = (unsigned char *)((uintptr_t)ps[0] & ~(uintptr_t)(ZONE_SPAN - 1));
	assert_true(resident_pages(first_span, ZONE_SPAN) > 0);
	/* a freed block is the next one handed out */
	zone_free(z, ps[7]);
	assert_ptr_equal(zone_alloc(z, 193), ps[7]);
	for (int i = 0; i < N; i++) {
		for (int k = 8; k < 200; k++) /* word 0 may hold a free link */
			assert_int_equal(ps[i][k], i & 0xff);
		zone_free(z, ps[i]);
	}
	zone_get_stats(z, &st);
	assert_int_equal(st.blocks, 0);
	/* one span stays the class's (the last with room), the rest went
	 * back with their pages */
	enum { SPANS = (N + 314) / 315 };
	assert_int_equal(st.spans_used, 1);
	assert_int_equal(st.released, SPANS - 1);
	size_t gone = 0;
	for (int i = 0; i < N; i += 315) {
		unsigned char *span = (unsigned char *)((uintptr_t)ps[i] & ~(uintptr_t)(ZONE_SPAN - 1));
		gone += resident_pages(span, ZONE_SPAN) == 0;
	}
	assert_int_equal(gone, SPANS - 1);
	/* a block of a size allocated and freed in turn reuses the kept
	 * span: no span given back each time */
	for (int i = 0; i < 100; i++)
		zone_free(z, zone_alloc(z, 9000));
	struct zone_stats again;
	zone_get_stats(z, &again);
	assert_int_equal(again.released, st.released);
	assert_int_equal(again.spans_used, 2);
	/* zone_trim() gives back the kept ones' pages too */
	zone_trim(z);
	zone_get_stats(z, &again);
	assert_int_equal(again.spans_used, 0);
	assert_int_equal(again.released, st.released + 2);
	gone = 0;
	for (int i = 0; i < N; i += 315) {
		unsigned char *span = (unsigned char *)((uintptr_t)ps[i] & ~(uintptr_t)(ZONE_SPAN - 1));
		gone += resident_pages(span, ZONE_SPAN) == 0;
	}
	assert_int_equal(gone, SPANS);
	/* given-back spans are used again, for any class */
	unsigned char *big = zone_alloc(z, 9000);
	assert_true(zone_owns(z, big));
	zone_free(z, big);
	zone_destroy(&z);
}

static void test_range_full(void **state)
{
	(void)state;
	struct zone *z = zone_create("t", 2 * ZONE_SPAN, ZONE_MAX);
	void *a[8], *b;
	for (int i = 0; i < 4; i++)
		assert_non_null(a[i] = zone_alloc(z, 16384)); /* a span holds 4 */
	for (int i = 4; i < 8; i++)
		assert_non_null(a[i] = zone_alloc(z, 12000)); /* class 12288: 5 */
	assert_non_null(b = zone_alloc(z, 12288));
	assert_null(zone_alloc(z, 16)); /* no span left for a new class */
	assert_null(zone_alloc(z, 16384));
	for (int i = 0; i < 4; i++)
		zone_free(z, a[i]);
	/* the 16 KiB span emptied but is its class's only room: kept */
	assert_non_null(a[0] = zone_alloc(z, 16000));
	zone_free(z, a[0]);
	zone_free(z, b);
	for (int i = 4; i < 8; i++)
		zone_free(z, a[i]);
	struct zone_stats st;
	zone_get_stats(z, &st);
	assert_int_equal(st.blocks, 0);
	assert_int_equal(st.spans_used, 2);
	zone_destroy(&z);
}

struct churn {
	struct zone *z;
	unsigned seed;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;
	enum { SLOTS = 512 };
	unsigned char *held[SLOTS] = { 0 };
	size_t sizes[SLOTS] = { 0 };
	for (int round = 0; round < 50000; round++) {
		unsigned r = (unsigned)rand_r(&c->seed);
		unsigned slot = r % SLOTS;
		if (held[slot] != NULL) {
			for (size_t k = 8; k < sizes[slot]; k += 61)
				if (held[slot][k] != (unsigned char)slot)
					return "corrupt";
			zone_free(c->z, held[slot]);
			held[slot] = NULL;
		} else {
			sizes[slot] = 16 + (r >> 9) % 3000;
			held[slot] = zone_alloc(c->z, sizes[slot]);
			if (held[slot] == NULL)
				return "null";
			memset(held[slot], (int)slot, sizes[slot]);
		}
	}
	for (unsigned slot = 0; slot < SLOTS; slot++)
		if (held[slot] != NULL)
			zone_free(c->z, held[slot]);
	return NULL;
}

static void test_two_threads(void **state)
{
	(void)state;
	struct zone *z = zone_create("t", (size_t)256 << 20, ZONE_MAX);
	struct churn c[2] = { { z, 1 }, { z, 2 } };
	pthread_t t[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, churn_main, &c[i]), 0);
	for (int i = 0; i < 2; i++) {
		void *res;
		pthread_join(t[i], &res);
		assert_null(res);
	}
	struct zone_stats st;
	zone_get_stats(z, &st);
	assert_int_equal(st.blocks, 0);
	zone_destroy(&z);
}

static void test_sqlite_in_zone(void **state)
{
	(void)state;
	if (postel_sanitized)
		skip();
	assert_true(sqlite_mem_enabled());
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	struct zone_stats st;
	sqlite_mem_get_stats(&st);
	assert_true(st.blocks > 0);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *ins;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &ins, NULL),
			 SQLITE_OK);
	static unsigned char blob[100000];
	for (int i = 0; i < 2000; i++) {
		int len = i % 100 == 0 ? 40000 + i : 10 + (i * 37) % 900;
		memset(blob, i & 0xff, (size_t)len);
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_blob(ins, 2, blob, len, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	sqlite3_stmt *sel;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT k, v FROM t ORDER BY k", -1, &sel, NULL),
			 SQLITE_OK);
	int rows = 0;
	while (sqlite3_step(sel) == SQLITE_ROW) {
		int k = sqlite3_column_int(sel, 0);
		const unsigned char *v = sqlite3_column_blob(sel, 1);
		int len = sqlite3_column_bytes(sel, 1);
		assert_int_equal(len, k % 100 == 0 ? 40000 + k : 10 + (k * 37) % 900);
		assert_int_equal(v[len - 1], k & 0xff);
		rows++;
	}
	assert_int_equal(rows, 2000);
	sqlite3_finalize(sel);
	sqlite_mem_get_stats(&st);
	assert_true(st.bytes > 100 * 1024);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
	sqlite_mem_get_stats(&st);
	/* what stays is SQLite's process-wide state, not the handle's */
	assert_true(st.bytes < 16 * 1024);
	assert_true(st.released > 0);
}

/* SQLite's blocks above the zone's classes: their own mapping, grown
 * and shrunk in place (mremap) or moved into the zone, bytes kept */
static void test_sqlite_big_blocks(void **state)
{
	(void)state;
	if (postel_sanitized)
		skip();
	struct zone_stats before, st;
	sqlite_mem_get_stats(&before);
	unsigned char *p = sqlite3_malloc(20000);
	assert_non_null(p);
	assert_int_equal(sqlite3_msize(p), 20000);
	sqlite_mem_get_stats(&st);
	assert_int_equal(st.blocks, before.blocks); /* not the zone's */
	for (int i = 0; i < 20000; i++)
		p[i] = (unsigned char)(i * 7);
	static const int sizes[] = { 20100, 40000, 150000, 30000, 10000, 17000, 60000 };
	int have = 20000;
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		p = sqlite3_realloc(p, sizes[k]);
		assert_non_null(p);
		int keep = have < sizes[k] ? have : sizes[k];
		for (int i = 0; i < keep; i += 13)
			assert_int_equal(p[i], (unsigned char)(i * 7));
		for (int i = keep; i < sizes[k]; i++)
			p[i] = (unsigned char)(i * 7);
		/* a zone block counts its class, an own mapping its request */
		assert_true(sqlite3_msize(p) >= (sqlite3_uint64)sizes[k]);
		if (sizes[k] > ZONE_MAX) /* SQLite asks xRoundup's size: 8s */
			assert_int_equal(sqlite3_msize(p), (sizes[k] + 7) & ~7);
		have = sizes[k];
	}
	sqlite3_free(p);
	sqlite_mem_get_stats(&st);
	assert_int_equal(st.blocks, before.blocks);
}

/* sqlite_mem's methods, asked for before SQLite initialised (main) */
static sqlite3_mem_methods sqlite_methods;

struct hammer {
	volatile bool stop;
	sqlite3_mem_methods mem; /* sqlite_mem's, called directly: SQLite's
				  * own mutex has no fork handler */
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	while (!h->stop) {
		void *a = h->mem.xMalloc(100), *b = h->mem.xMalloc(3000);
		void *c = OPENSSL_malloc(100);
		h->mem.xFree(a);
		h->mem.xFree(b);
		OPENSSL_free(c);
	}
	return NULL;
}

/* a fork while another thread allocates: the child can allocate (the
 * atfork handlers of sqlite_mem and tls_mem keep their zones' locks from
 * being inherited held) */
static void test_fork_while_allocating(void **state)
{
	(void)state;
	if (postel_sanitized)
		skip();
	struct hammer h = { .stop = false };
	h.mem = sqlite_methods;
	void *probe = OPENSSL_malloc(100);
	assert_true(tls_mem_small_owns(probe));
	OPENSSL_free(probe);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, hammer_main, &h), 0);
	for (int i = 0; i < 40; i++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			void *p = h.mem.xMalloc(100), *q = OPENSSL_malloc(100);
			h.mem.xFree(p);
			OPENSSL_free(q);
			_exit(p != NULL && q != NULL ? 0 : 1);
		}
		int status = -1;
		for (int w = 0; w < 500 && waitpid(pid, &status, WNOHANG) == 0; w++)
			usleep(10000);
		if (!WIFEXITED(status)) {
			fprintf(stderr, "fork %d: status %d\n", i, status);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	h.stop = true;
	pthread_join(t, NULL);
}

int main(void)
{
	/* as main does: before anything calls SQLite or OpenSSL */
	assert_int_equal(sqlite_mem_init(), 0);
	assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &sqlite_methods), SQLITE_OK);
	assert_int_equal(tls_mem_init(), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_spans_given_back),
		cmocka_unit_test(test_range_full),
		cmocka_unit_test(test_two_threads),
		cmocka_unit_test(test_sqlite_in_zone),
		cmocka_unit_test(test_sqlite_big_blocks),
		cmocka_unit_test(test_fork_while_allocating),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
