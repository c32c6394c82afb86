/* test-store-stmt.c: the index's one statement cache (index_prepare(),
 * a slot per statement, store_index_private.h). Every statement the
 * index functions run lives in a slot of idx->stmts (none is prepared
 * beside the cache), is prepared once and kept (running the same
 * functions again parses nothing), and is handed back reset: no read
 * transaction left open, no binding left from the previous user. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/store_index_private.h"

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

static bool in_a_slot(struct store_index *idx, sqlite3_stmt *stmt)
{
	for (unsigned i = 0; i < INDEX_STMT_COUNT; i++)
		if (idx->stmts[i] == stmt)
			return true;
	return false;
}

/* Every statement alive on the connection is a slot's, none is left
 * stepping; their number. */
static unsigned check_alive(struct store_index *idx)
{
	unsigned all = 0;
	for (sqlite3_stmt *s = sqlite3_next_stmt(idx->db, NULL); s != NULL;
	     s = sqlite3_next_stmt(idx->db, s)) {
		all++;
		if (!in_a_slot(idx, s))
			fail_msg("statement outside the cache: %s", sqlite3_sql(s));
		assert_false(sqlite3_stmt_busy(s));
	}
	return all;
}

/* Mailbox management, delivery, rescans, FETCH batches, EXPUNGE with
 * its horizon, \Recent, LIST and LSUB: one of each on a new mailbox. */
static void workload(struct store_index *idx, const char *name)
{
	const char *error;
	pool_t *pool = pool_create(4096);
	struct store_index_mailbox mb, *mbs;
	unsigned count;
	assert_int_equal(store_index_mailbox_add(idx, name, 7, &error), 0);
	assert_int_equal(store_index_mailbox_lookup(idx, name, &mb, &error), 1);
	assert_int_equal(store_index_mailbox_list(idx, pool, &mbs, &count, &error), 0);
	assert_int_equal(store_index_begin(idx, &error), 0);
	uint32_t uids[3];
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(store_index_message_add(idx, mb.id, t_printf("m%u", i),
							 100, time(NULL), "",
							 &uids[i], &error), 0);
	uint32_t first;
	assert_int_equal(store_index_claim_recent(idx, mb.id, uids[2] + 1, &first,
						  &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(store_index_message_exists(idx, mb.id, "m1", &error), 1);
	struct store_index_message *msgs;
	assert_int_equal(store_index_message_list(idx, mb.id, pool, &msgs, &count,
						  &error), 0);
	assert_int_equal(count, 3);
	assert_int_equal(store_index_messages_get(idx, mb.id, uids, 3, pool, &msgs,
						  &count, &error), 0);
	assert_int_equal(count, 3);
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_messages_remove(idx, mb.id, uids, 1, &error), 0);
	uint64_t horizon;
	/* max_age 0, max_count 0: everything may go, every query runs */
	assert_int_equal(store_index_expunges_trim(idx, mb.id, time(NULL) + 10, 0, 0,
						   &horizon, &error), 0);
	assert_true(horizon > 0);
	assert_int_equal(store_index_expunges_trim(idx, mb.id, time(NULL) + 10, 0, 1,
						   &horizon, &error), 0);
	assert_int_equal(store_index_subscribe(idx, name, true, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	const char **names;
	assert_int_equal(store_index_subscriptions(idx, pool, &names, &count, &error), 0);
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_subscribe(idx, name, false, &error), 0);
	const char *renamed = t_printf("%s-renamed", name);
	assert_int_equal(store_index_mailbox_rename(idx, name, renamed, &error), 0);
	assert_int_equal(store_index_mailbox_remove(idx, mb.id, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	pool_destroy(&pool);
}

static void test_one_cache_prepared_once(void **state)
{
	struct fixture *f = *state;
	workload(f->idx, "INBOX");
	unsigned after_first = check_alive(f->idx);
	assert_true(after_first > 20);
	sqlite3_stmt *before[INDEX_STMT_COUNT];
	memcpy(before, f->idx->stmts, sizeof(before));
	workload(f->idx, "Other");
	/* nothing parsed again: the same statements, no new one */
	assert_int_equal(check_alive(f->idx), after_first);
	assert_memory_equal(before, f->idx->stmts, sizeof(before));
	assert_true(sqlite3_get_autocommit(f->idx->db));
}

static void test_handed_back_reset_unbound(void **state)
{
	struct fixture *f = *state;
	const char *sql = "SELECT 1 FROM messages WHERE mailbox_id = ?1 AND filename = ?2";
	sqlite3_stmt *a, *b;
	assert_int_equal(index_prepare(f->idx, INDEX_STMT_MESSAGE_EXISTS, sql, &a),
			 SQLITE_OK);
	sqlite3_bind_int64(a, 1, 42);
	sqlite3_bind_text(a, 2, "somefile", -1, SQLITE_STATIC);
	char *bound = sqlite3_expanded_sql(a);
	assert_non_null(strstr(bound, "42"));
	sqlite3_free(bound);
	assert_int_equal(sqlite3_step(a), SQLITE_DONE);
	index_stmt_done(a);
	assert_int_equal(index_prepare(f->idx, INDEX_STMT_MESSAGE_EXISTS, sql, &b),
			 SQLITE_OK);
	assert_ptr_equal(a, b);
	assert_false(sqlite3_stmt_busy(b));
	char *unbound = sqlite3_expanded_sql(b);
	assert_null(strstr(unbound, "42"));
	assert_null(strstr(unbound, "somefile"));
	sqlite3_free(unbound);
	index_stmt_done(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_one_cache_prepared_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_handed_back_reset_unbound, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
