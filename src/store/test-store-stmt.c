/* test-store-stmt.c: the per-index cache of prepared statements
 * (store_index_stmt.c). A statement without an enum slot (here LIST's
 * mailbox list) is prepared once and kept, not parsed again on every
 * call; a nested use of the same text gets a statement of its own; a
 * statement handed out is never replaced; the cache keeps at most
 * INDEX_SQL_CACHE_MAX texts; a released statement is reset, its
 * bindings cleared. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/store_index_private.h"

#define LIST_SQL_PART "FROM mailboxes ORDER BY id"

struct fixture {
	char dir[64];
	struct store_index *idx;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-store-stmt.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	bool rebuilt;
	uint32_t uidvalidity;
	const char *error;
	assert_int_equal(store_index_open(t_printf("%s/index.sqlite", f->dir), &f->idx,
					  &rebuilt, &uidvalidity, &error), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_index_close(&f->idx);
	unlink(t_printf("%s/index.sqlite", f->dir));
	unlink(t_printf("%s/index.sqlite-wal", f->dir));
	unlink(t_printf("%s/index.sqlite-shm", f->dir));
	unlink(t_printf("%s/index.sqlite.lock", f->dir));
	rmdir(f->dir);
	free(f);
	return 0;
}

/* statements alive on the connection whose text contains part */
static unsigned alive(struct store_index *idx, const char *part, unsigned *all_r)
{
	unsigned n = 0, all = 0;
	for (sqlite3_stmt *s = sqlite3_next_stmt(idx->db, NULL); s != NULL;
	     s = sqlite3_next_stmt(idx->db, s)) {
		all++;
		if (strstr(sqlite3_sql(s), part) != NULL)
			n++;
	}
	if (all_r != NULL)
		*all_r = all;
	return n;
}

static void test_kept_not_reparsed(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_index_mailbox *mbs;
	unsigned count, all_before = 0, all_after = 0;
	pool_t *pool = pool_create(1024);
	assert_int_equal(store_index_mailbox_list(f->idx, pool, &mbs, &count, &error), 0);
	assert_int_equal(alive(f->idx, LIST_SQL_PART, &all_before), 1);
	sqlite3_stmt *first = NULL;
	for (sqlite3_stmt *s = sqlite3_next_stmt(f->idx->db, NULL); s != NULL;
	     s = sqlite3_next_stmt(f->idx->db, s))
		if (strstr(sqlite3_sql(s), LIST_SQL_PART) != NULL)
			first = s;
	for (unsigned i = 0; i < 10; i++) {
		assert_int_equal(store_index_mailbox_list(f->idx, pool, &mbs, &count,
							  &error), 0);
		assert_int_equal(count, 0); /* a fresh index: no mailbox yet */
	}
	/* the same statement, reset: no read transaction left open */
	assert_int_equal(alive(f->idx, LIST_SQL_PART, &all_after), 1);
	assert_int_equal(all_after, all_before);
	assert_false(sqlite3_stmt_busy(first));
	assert_true(sqlite3_get_autocommit(f->idx->db));
	pool_destroy(&pool);
}

static void test_nested_and_bound(void **state)
{
	struct fixture *f = *state;
	sqlite3_stmt *a, *b;
	assert_int_equal(index_prepare_sql(f->idx, "SELECT ?1 + 0", &a), SQLITE_OK);
	assert_int_equal(index_prepare_sql(f->idx, "SELECT ?1 + 0", &b), SQLITE_OK);
	assert_ptr_not_equal(a, b); /* the first is out: a second of its own */
	assert_int_equal(alive(f->idx, "SELECT ?1 + 0", NULL), 2);
	sqlite3_bind_int(a, 1, 7);
	sqlite3_bind_int(b, 1, 9);
	assert_int_equal(sqlite3_step(a), SQLITE_ROW);
	assert_int_equal(sqlite3_step(b), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(a, 0), 7);
	assert_int_equal(sqlite3_column_int(b, 0), 9);
	index_stmt_release(f->idx, b);
	assert_int_equal(alive(f->idx, "SELECT ?1 + 0", NULL), 1); /* b finalized */
	/* many other texts meanwhile: a, still out, is not replaced */
	for (unsigned i = 0; i < 3 * INDEX_SQL_CACHE_MAX; i++) {
		sqlite3_stmt *s;
		assert_int_equal(index_prepare_sql(f->idx, t_printf("SELECT %u", i), &s),
				 SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		index_stmt_release(f->idx, s);
	}
	assert_int_equal(sqlite3_column_int(a, 0), 7);
	assert_int_equal(sqlite3_step(a), SQLITE_DONE);
	index_stmt_release(f->idx, a);
	unsigned all;
	(void)alive(f->idx, "", &all);
	assert_true(all <= INDEX_STMT_COUNT + INDEX_SQL_CACHE_MAX);
	assert_int_equal(alive(f->idx, "SELECT ?1 + 0", NULL), 1);
	/* given out again: reset, no binding left from before */
	sqlite3_stmt *c;
	assert_int_equal(index_prepare_sql(f->idx, "SELECT ?1 + 0", &c), SQLITE_OK);
	assert_ptr_equal(c, a);
	assert_false(sqlite3_stmt_busy(c));
	assert_int_equal(sqlite3_step(c), SQLITE_ROW);
	assert_int_equal(sqlite3_column_type(c, 0), SQLITE_NULL);
	index_stmt_release(f->idx, c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kept_not_reparsed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nested_and_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
