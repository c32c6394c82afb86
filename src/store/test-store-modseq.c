/* test-store-modseq.c: schema 8, one MODSEQ per index transaction (RFC
 * 7162 3.1.1, store_index_modseq.c) on the maildir-sqlite backend:
 * - a STORE over N messages gives them all one MODSEQ and raises
 *   HIGHESTMODSEQ by one; the next STORE gets a higher one; CHANGEDSINCE
 *   the old HIGHESTMODSEQ finds all N;
 * - an EXPUNGE of N messages logs them under one MODSEQ, HIGHESTMODSEQ + 1;
 * - inside one transaction a message changed twice, and a change after
 *   HIGHESTMODSEQ was raised by someone else, stay above every committed
 *   value; a rolled-back transaction's value is taken again, not skipped
 *   past by the next;
 * - the expunge log's trim keeps a shared MODSEQ whole (at least
 *   max_count entries stay);
 * - an index of version 7 migrates to 8 keeping every MODSEQ, and its
 *   next expunge of several messages raises HIGHESTMODSEQ by one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/store_index_private.h" /* index_txn_modseq() */
#include "store/store_view.h"
#include "store/test-store-path.h"
#include "store/test-store-fixture.h"

#define USER "ms@example.org"
#define INDEX "mail/example.org/ms/postel-index.sqlite"
#define N 20

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-modseq", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

static void deliver_n(struct test_store_fixture *f, uint32_t *uids, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		uids[i] = test_store_deliver(f->store, USER, "INBOX",
					     "Subject: m\r\n\r\nm\r\n");
}

static uint64_t highest(struct test_store_fixture *f)
{
	const char *error;
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &st, &error), 0);
	return st.highestmodseq;
}

static int64_t sql_int(struct test_store_fixture *f, const char *sql)
{
	sqlite3 *db;
	assert_int_equal(sqlite3_open(t_printf("%s/" INDEX, f->dir), &db), SQLITE_OK);
	int64_t v = test_store_sql_int(db, sql);
	sqlite3_close(db);
	return v;
}

/* The user's index handle and INBOX's row id. */
static struct store_index *inbox_index(struct test_store_fixture *f, int64_t *id_r)
{
	const char *name, *error;
	struct store_address addr;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	assert_int_equal(store_target_parse(USER, "INBOX", &addr, &name, &error), 0);
	assert_int_equal(maildir_mailbox_get((struct maildir_store *)f->store, &addr,
					     name, false, &user, &mb, &error), 0);
	*id_r = mb.id;
	return user->index;
}

static void test_store_one_modseq(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uids[N];
	deliver_n(f, uids, N);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	uint64_t before = highest(f);
	struct store_flags_update up = { .op = STORE_FLAGS_ADD,
					 .sysflags = STORE_FLAG_FLAGGED };
	struct store_view_flag_change *r;
	unsigned count;
	assert_int_equal(store_view_set_flags_result(f->view, uids, N, &up, pool_temp(),
						     &r, &count, &error), 0);
	assert_int_equal(count, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(r[i].modseq, before + 1);
	assert_int_equal(highest(f), before + 1);
	assert_int_equal(sql_int(f, "SELECT count(DISTINCT modseq) FROM messages"
				 " WHERE (sysflags & 4) != 0"), 1);
	/* CHANGEDSINCE the old HIGHESTMODSEQ: every one of them */
	struct store_view_flag_change *rows;
	uint32_t *gone;
	unsigned row_count, gone_count;
	bool complete;
	assert_int_equal(store_view_changes_since(f->view, before, pool_temp(), &rows,
						  &row_count, &gone, &gone_count,
						  &complete, &error), 0);
	assert_int_equal(row_count, N);
	assert_true(complete);
	/* the next STORE (another transaction) goes above */
	up.sysflags = STORE_FLAG_SEEN;
	assert_int_equal(store_view_set_flags_result(f->view, uids, 2, &up, pool_temp(),
						     &r, &count, &error), 0);
	assert_int_equal(r[0].modseq, before + 2);
	assert_int_equal(r[1].modseq, before + 2);
	assert_int_equal(highest(f), before + 2);
}

static void test_expunge_one_modseq(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uids[N];
	deliver_n(f, uids, N);
	uint64_t before = highest(f);
	unsigned n;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", uids, N / 2, &n,
					       &error), 0);
	assert_int_equal(n, N / 2);
	assert_int_equal(highest(f), before + 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM expunges"), N / 2);
	assert_int_equal(sql_int(f, "SELECT min(modseq) FROM expunges"), before + 1);
	assert_int_equal(sql_int(f, "SELECT max(modseq) FROM expunges"), before + 1);
	/* and the trim keeps that MODSEQ whole: 3 asked, all N / 2 stay */
	int64_t id;
	struct store_index *idx = inbox_index(f, &id);
	uint64_t horizon;
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_expunges_trim(idx, id, time(NULL) + 10, 0,
						   3, &horizon, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM expunges"), N / 2);
	assert_int_equal(horizon, 0);
	/* a later expunge: the older MODSEQ may go now, the newest stays */
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", &uids[N - 1], 1,
					       &n, &error), 0);
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_expunges_trim(idx, id, time(NULL) + 10, 0,
						   1, &horizon, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM expunges"), 1);
	assert_int_equal(horizon, before + 1);
}

/* The rule itself, on one transaction of the index handle. */
static void test_txn_rule(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uids[2];
	deliver_n(f, uids, 2);
	uint64_t h = highest(f);
	int64_t id;
	struct store_index *idx = inbox_index(f, &id);
	uint64_t m1, m2, m3;
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_message_set_flags(idx, id, uids[0], "\\Seen",
						       STORE_FLAG_SEEN, &m1, &error), 0);
	/* changed twice: still this transaction's value, above h */
	assert_int_equal(store_index_message_set_flags(idx, id, uids[0], "",
						       0, &m2, &error), 0);
	assert_int_equal(m1, h + 1);
	assert_int_equal(m2, h + 1);
	/* someone raises HIGHESTMODSEQ inside the transaction (an import's
	 * floor): the next change goes above it, never below */
	assert_int_equal(sqlite3_exec(idx->db, t_printf("UPDATE mailboxes SET"
		" highestmodseq = %llu WHERE id = %lld", (unsigned long long)h + 50,
		(long long)id), NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_index_message_set_flags(idx, id, uids[1], "\\Seen",
						       STORE_FLAG_SEEN, &m3, &error), 0);
	assert_int_equal(m3, h + 51);
	store_index_rollback(idx);
	assert_int_equal(highest(f), h);
	/* after the rollback h + 1 is free again and the next transaction
	 * takes it; after its commit the one after that goes above */
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_message_set_flags(idx, id, uids[0], "\\Seen",
						       STORE_FLAG_SEEN, &m1, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(m1, h + 1);
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_message_set_flags(idx, id, uids[1], "\\Seen",
						       STORE_FLAG_SEEN, &m2, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(m2, h + 2);
	assert_int_equal(highest(f), h + 2);
	/* the function never answers below highestmodseq + 1 for a value
	 * this transaction did not give */
	assert_int_equal(index_txn_modseq(idx, 999, 7), 8);
	assert_int_equal(index_txn_modseq(idx, 999, 8), 8);
	assert_int_equal(index_txn_modseq(idx, 999, 9), 10);
}

/* What version 8 changed, taken back: the expunge trigger of version 7. */
#define DOWNGRADE_TO_7 \
	"ALTER TABLE messages DROP COLUMN hdr8bit;" "ALTER TABLE messages DROP COLUMN dgsize;" "ALTER TABLE messages DROP COLUMN sortkeys;" \
	"ALTER TABLE mailboxes DROP COLUMN thread_keys;" \
	"DROP TRIGGER messages_del;" \
	"CREATE TRIGGER messages_del AFTER DELETE ON messages BEGIN" \
	" UPDATE mailboxes SET n_messages = n_messages - 1," \
	"  n_size = n_size - old.size," \
	"  n_unseen = n_unseen - ((old.sysflags & 1) = 0)," \
	"  n_deleted = n_deleted - ((old.sysflags & 8) != 0)," \
	"  highestmodseq = highestmodseq + 1" \
	"  WHERE id = old.mailbox_id;" \
	" INSERT OR REPLACE INTO expunges (mailbox_id, uid, modseq, expunged_at)" \
	"  SELECT old.mailbox_id, old.uid, highestmodseq," \
	"  CAST(strftime('%s', 'now') AS INTEGER) FROM mailboxes" \
	"  WHERE id = old.mailbox_id; END;" \
	"PRAGMA user_version = 7;"

static void test_migration_from_7(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uids[N];
	deliver_n(f, uids, N);
	store_close(&f->store);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(t_printf("%s/" INDEX, f->dir), &db), SQLITE_OK);
	test_store_sql_exec(db, DOWNGRADE_TO_7);
	/* version 7 MODSEQs: one per row, as the old code gave them */
	test_store_sql_exec(db, "UPDATE messages SET modseq = 1000 + uid;"
			    "UPDATE mailboxes SET highestmodseq = 1000 + uidnext - 1"
			    " WHERE name = 'INBOX'");
	int64_t sum = test_store_sql_int(db, "SELECT sum(modseq) FROM messages");
	sqlite3_close(db);

	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	uint64_t h = highest(f);
	assert_int_equal(h, 1000 + uids[N - 1]);
	assert_int_equal(sql_int(f, "PRAGMA user_version"), 11);
	assert_int_equal(sql_int(f, "SELECT sum(modseq) FROM messages"), sum);
	unsigned n;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", uids, 5, &n,
					       &error), 0);
	assert_int_equal(n, 5);
	assert_int_equal(highest(f), h + 1);
	assert_int_equal(sql_int(f, t_printf("SELECT count(*) FROM expunges"
					     " WHERE modseq = %llu",
					     (unsigned long long)h + 1)), 5);
}

int main(void)
{
	log_init("test-store-modseq", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_one_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_one_modseq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_7, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
