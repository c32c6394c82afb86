/* test-sqlite-mem.c: lib/sqlite_mem.h with a zone of two spans, which
 * fills at once: SQLite's further small blocks come from malloc behind
 * a header, and everything still works (a database built, read back,
 * closed; blocks grown and shrunk between the three homes). Skipped
 * under ASan, where sqlite_mem is off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/sanitize.h"
#include "lib/sqlite_mem.h"
#include "lib/zone.h"

static void test_full_zone_falls_back(void **state)
{
	(void)state;
	if (postel_sanitized)
		skip();
	sqlite3 *db;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT);"
				      "CREATE INDEX tv ON t (v)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *ins;
	assert_int_equal(sqlite3_prepare_v2(db, "INSERT INTO t VALUES (?, ?)", -1, &ins, NULL),
			 SQLITE_OK);
	char text[600];
	for (int i = 0; i < 3000; i++) {
		int len = 1 + (i * 31) % 590;
		memset(text, 'a' + i % 26, (size_t)len);
		sqlite3_bind_int(ins, 1, i);
		sqlite3_bind_text(ins, 2, text, len, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(ins), SQLITE_DONE);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	struct zone_stats st;
	sqlite_mem_get_stats(&st);
	assert_int_equal(st.spans_used, 2); /* the range is full */
	sqlite3_stmt *sel;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*), sum(length(v)) FROM t", -1,
					    &sel, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(sel), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(sel, 0), 3000);
	long sum = 0;
	for (int i = 0; i < 3000; i++)
		sum += 1 + (i * 31) % 590;
	assert_int_equal(sqlite3_column_int64(sel, 1), sum);
	sqlite3_finalize(sel);
	/* a block moved between the homes keeps its bytes: zone or malloc
	 * (small), own mapping (big) */
	unsigned char *p = sqlite3_malloc(40);
	for (int i = 0; i < 40; i++)
		p[i] = (unsigned char)i;
	static const int sizes[] = { 700, 30000, 90000, 500, 20 };
	int have = 40;
	for (unsigned k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		p = sqlite3_realloc(p, sizes[k]);
		assert_non_null(p);
		int keep = have < sizes[k] ? have : sizes[k];
		for (int i = 0; i < keep; i++)
			assert_int_equal(p[i], (unsigned char)i);
		for (int i = keep; i < sizes[k]; i++)
			p[i] = (unsigned char)i;
		assert_true(sqlite3_msize(p) >= (sqlite3_uint64)sizes[k]);
		have = sizes[k];
	}
	sqlite3_free(p);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

int main(void)
{
	assert_int_equal(sqlite_mem_init_reserve(2 * ZONE_SPAN), 0);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_zone_falls_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
