/* test-store-select.c: the maildir-sqlite side of what SELECT reads
 * (store_view_select_info(), schema version 6): the migration from
 * version 5 builds the unseen index and the keyword triggers and fills
 * the keyword list from the flags old code stored (APPEND and COPY did
 * not record keywords); the first-unseen probe and a view's map use
 * indexes (query plans), so SELECT of a large mailbox reads no row of
 * it, nor does EXPUNGE's list of \Deleted messages; a 50,000-message
 * mailbox is selected without a read of its rows. A write of a cache
 * (the MIME structure) commits without fsync (store_index_begin_cache). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "store/store_index_private.h"
#include "store/store_view.h"
#include "store/test-store-fixture.h"

#define USER "sel@example.org"
#define INDEX "mail/example.org/sel/postel-index.sqlite"

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-select", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

/* the query plan of sql, one line */
static const char *plan(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	str_t out = STR_INIT;
	assert_int_equal(sqlite3_prepare_v2(db, t_printf("EXPLAIN QUERY PLAN %s", sql), -1,
					    &stmt, NULL), SQLITE_OK);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const char *d = (const char *)sqlite3_column_text(stmt, 3);
		str_printf(&out, "%s;", d != NULL ? d : "");
	}
	sqlite3_finalize(stmt);
	const char *ret = t_printf("%s", str_c(&out));
	str_free(&out);
	return ret;
}

static void test_migration_from_5(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	for (unsigned i = 0; i < 3; i++)
		(void)test_store_deliver(f->store, USER, "INBOX", "Subject: m\r\n\r\nm\r\n");
	store_close(&f->store);
	/* the index as version 5 left it: no unseen index, no triggers,
	 * keywords of APPENDed messages not in the list */
	const char *index = t_printf("%s/" INDEX, f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	test_store_sql_exec(db, "DROP TRIGGER messages_kw_ins; DROP TRIGGER messages_kw_upd;"
		 "DROP INDEX messages_unseen; DROP INDEX messages_deleted;"
		 "DELETE FROM keywords;"
		 "UPDATE messages SET flags = '\\Seen Old $Work', sysflags = 1 WHERE uid = 1;"
		 "UPDATE messages SET flags = 'Other \\Flagged', sysflags = 4 WHERE uid = 2;"
		 /* and without what version 7 added */
		 "DROP TRIGGER mailboxes_objectid; DROP TABLE msgids;"
		 "ALTER TABLE mailboxes DROP COLUMN objectid;"
		 "ALTER TABLE messages DROP COLUMN savedate;"
		 "ALTER TABLE messages DROP COLUMN threadid;"
		 "ALTER TABLE messages DROP COLUMN preview;"
		 "ALTER TABLE messages DROP COLUMN hdr8bit;" "ALTER TABLE messages DROP COLUMN dgsize;" "ALTER TABLE messages DROP COLUMN sortkeys;"
		 "ALTER TABLE mailboxes DROP COLUMN thread_keys;"
		 "PRAGMA user_version = 5;");
	assert_int_equal(test_store_sql_int(db, "SELECT count(*) FROM keywords"), 0);
	sqlite3_close(db);

	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	struct store_view_select_info info;
	assert_int_equal(store_view_select_info(f->view, 10, pool_temp(), &info, &error), 0);
	assert_int_equal(info.first_unseen_seq, 2);
	assert_int_equal(info.keyword_count, 3);
	assert_string_equal(info.keywords[0], "$Work");
	assert_string_equal(info.keywords[1], "Old");
	assert_string_equal(info.keywords[2], "Other");
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(test_store_sql_int(db, "PRAGMA user_version"), 11);
	assert_int_equal(test_store_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE"
				   " name IN ('messages_unseen', 'messages_deleted',"
				   " 'messages_kw_ins', 'messages_kw_upd')"), 4);
	sqlite3_close(db);
}

static void test_query_plans(void **state)
{
	struct test_store_fixture *f = *state;
	(void)test_store_deliver(f->store, USER, "INBOX", "Subject: m\r\n\r\nm\r\n");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(t_printf("%s/" INDEX, f->dir), &db), SQLITE_OK);
	const char *p = plan(db, INDEX_SQL_FIRST_UNSEEN);
	assert_non_null(strstr(p, "USING INDEX messages_unseen (mailbox_id=? AND uid>? AND uid<?)"));
	p = plan(db, INDEX_SQL_DELETED);
	assert_non_null(strstr(p, "USING INDEX messages_deleted (mailbox_id=? AND uid<?)"));
	p = plan(db, INDEX_SQL_VIEW_UIDS);
	assert_non_null(strstr(p, "USING COVERING INDEX"));
	assert_null(strstr(p, "SCAN"));
	sqlite3_close(db);
}

static int64_t synchronous(struct store_index *idx)
{
	return test_store_sql_int(idx->db, "PRAGMA synchronous");
}

/* a cache write (the MIME structure) commits without fsync, and only it */
static void test_cache_transaction(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	struct store_index *idx;
	bool rebuilt;
	uint32_t min_uv;
	assert_int_equal(store_index_open(t_printf("%s/cache.sqlite", f->dir), &idx, &rebuilt,
					  &min_uv, &error), 0);
	assert_int_equal(synchronous(idx), 2); /* FULL */
	assert_int_equal(store_index_begin_cache(idx, &error), 1);
	assert_int_equal(synchronous(idx), 1); /* NORMAL */
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(synchronous(idx), 2);
	assert_int_equal(store_index_begin_cache(idx, &error), 1);
	store_index_rollback(idx);
	assert_int_equal(synchronous(idx), 2);
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(synchronous(idx), 2);
	assert_int_equal(store_index_commit(idx, &error), 0);
	store_index_close(&idx);
}

#define BIG 50000

/* 50,000 rows inserted straight into the index (as a rebuild would):
 * SELECT's calls must not step through them. The trigger keeps the
 * counters; the file names are never opened. */
static void test_big_mailbox(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	(void)test_store_deliver(f->store, USER, "INBOX", "Subject: m\r\n\r\nm\r\n");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(t_printf("%s/" INDEX, f->dir), &db), SQLITE_OK);
	test_store_sql_exec(db, t_printf("BEGIN; WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1"
			  " FROM n WHERE i < %d) INSERT INTO messages (mailbox_id, uid, modseq,"
			  " flags, filename, size, internaldate, sysflags) SELECT m.id, i, i,"
			  " CASE WHEN i = %d THEN 'Late' ELSE '\\Seen' END, 'f' || i, 10, 0,"
			  " CASE WHEN i = %d THEN 0 ELSE 1 END FROM n, mailboxes m"
			  " WHERE m.name = 'INBOX';"
			  "UPDATE messages SET flags = '\\Seen', sysflags = 1 WHERE uid = 1;"
			  "UPDATE mailboxes SET uidnext = %d, highestmodseq = %d"
			  " WHERE name = 'INBOX'; COMMIT;", BIG, BIG - 7, BIG - 7, BIG + 1,
			  BIG + 1));
	sqlite3_close(db);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	assert_int_equal(store_view_count(f->view), BIG);
	struct store_view_select_info info;
	assert_int_equal(store_view_select_info(f->view, 10, pool_temp(), &info, &error), 0);
	assert_int_equal(info.first_unseen_seq, BIG - 7);
	assert_int_equal(info.keyword_count, 1);
	assert_string_equal(info.keywords[0], "Late");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migration_from_5, setup, teardown),
		cmocka_unit_test_setup_teardown(test_query_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_transaction, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
