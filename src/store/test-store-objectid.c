/* test-store-objectid.c: the maildir-sqlite side of schema 7 (RFC 8474
 * object ids, RFC 8514 save dates, RFC 8970 preview cache): an index of
 * version 6 (made by downgrading a new one exactly as version 6 left
 * it) is migrated on open: every mailbox gets a MAILBOXID, old rows read
 * their internal date as save date and their guid as thread (no row is
 * rewritten), the thread table exists and new deliveries thread; the
 * migration of a 50,000-message mailbox rewrites none of its rows and
 * takes well under a second. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <string.h>
#include <time.h>

#include "lib/mem.h"
#include "store/store_view.h"
#include "store/test-store-fixture.h"

#define USER "oid@example.org"
#define INDEX "mail/example.org/oid/postel-index.sqlite"
#define BIG 50000

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-objectid", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

/* What version 7 added, taken away: the index as version 6 left it. */
#define DOWNGRADE_TO_6 \
	"DROP TRIGGER mailboxes_objectid; DROP TABLE msgids;" \
	"ALTER TABLE mailboxes DROP COLUMN objectid;" \
	"ALTER TABLE messages DROP COLUMN savedate;" \
	"ALTER TABLE messages DROP COLUMN threadid;" \
	"ALTER TABLE messages DROP COLUMN preview;" \
	"ALTER TABLE messages DROP COLUMN hdr8bit;" "ALTER TABLE messages DROP COLUMN dgsize;" "ALTER TABLE messages DROP COLUMN sortkeys;" \
	"ALTER TABLE mailboxes DROP COLUMN thread_keys;" \
	"PRAGMA user_version = 6;"

static void test_migration_from_6(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t old = test_store_deliver(f->store, USER, "INBOX",
					  "Message-ID: <old@x>\r\n\r\nold\r\n");
	assert_true(store_mailbox_create(f->store, USER, "Big", &error) >= 0);
	store_close(&f->store);
	const char *index = t_printf("%s/" INDEX, f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	test_store_sql_exec(db, DOWNGRADE_TO_6);
	/* a big mailbox of version 6 rows (files are never opened here) */
	test_store_sql_exec(db, "BEGIN;"
		 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
		 " WHERE i < 50000) INSERT INTO messages (mailbox_id, uid, modseq,"
		 " filename, size, internaldate, guid) SELECT"
		 " (SELECT id FROM mailboxes WHERE name = 'Big'), i, i, 'f' || i, 10,"
		 " 1000000000 + i, randomblob(16) FROM n; COMMIT;");
	test_store_sql_exec(db, "UPDATE messages SET internaldate = 1234567890 WHERE uid = 1"
		 " AND mailbox_id = (SELECT id FROM mailboxes WHERE name = 'INBOX')");
	assert_int_equal(test_store_sql_int(db, "SELECT count(*) FROM messages"), BIG + 1);
	sqlite3_close(db);

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, USER, "Big", &st, &error), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	print_message("migration 6->7 with %u rows: %.3f s\n", BIG, secs);
	assert_true(secs < 5.0); /* ALTERs only; a rewrite of 50,000 rows is not it */
	assert_int_equal(st.messages, BIG);
	assert_int_equal(st.mailboxid[0], 'F');
	char big_id[STORE_OBJECTID_SIZE];
	memcpy(big_id, st.mailboxid, sizeof(big_id));
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &st, &error), 0);
	assert_string_not_equal(st.mailboxid, big_id);

	/* the old row: save date = internal date, thread = its guid */
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX", pool_temp(),
						     &msgs, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(msgs[0].uid, old);
	assert_int_equal(msgs[0].savedate, 1234567890);
	assert_memory_equal(msgs[0].threadid, msgs[0].guid, STORE_GUID_SIZE);

	/* new mail threads (a reply to the new parent) and has a save date */
	uint32_t p = test_store_deliver(f->store, USER, "INBOX", "Message-ID: <p@x>\r\n\r\np\r\n");
	uint32_t r = test_store_deliver(f->store, USER, "INBOX",
					"Message-ID: <r@x>\r\nIn-Reply-To: <p@x>\r\n\r\nr\r\n");
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX", pool_temp(),
						     &msgs, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_int_equal(msgs[1].uid, p);
	assert_int_equal(msgs[2].uid, r);
	assert_memory_equal(msgs[1].threadid, msgs[2].threadid, STORE_GUID_SIZE);
	assert_true(msgs[2].savedate >= time(NULL) - 60);

	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(test_store_sql_int(db, "PRAGMA user_version"), 11);
	/* no old row was rewritten: their new columns are still NULL */
	assert_int_equal(test_store_sql_int(db, "SELECT count(*) FROM messages WHERE savedate IS NULL"
				   " AND threadid IS NULL"), BIG + 1);
	assert_int_equal(test_store_sql_int(db, "SELECT count(*) FROM msgids"), 2);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migration_from_6, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
