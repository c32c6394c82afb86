/* test-store-snapshot.c: the maildir backend's reads that look their
 * mailbox up and then read its rows do both inside one read transaction
 * (maildir_mailbox_get_read(), store_maildir.h): STATUS, opening a
 * message, a view's sync, a batch of FETCH rows and the structure cache
 * read each run BEGIN, the lookup, their statements, COMMIT; a view's
 * sync no longer looks the mailbox up twice; inside a transaction that
 * is already open they open none of their own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "store/store_index_private.h"
#include "store/store_maildir.h"
#include "store/test-store-fixture.h"

#define USER "snap@example.org"
#define LOOKUP_PART "FROM mailboxes WHERE name"

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-snapshot", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

struct trace {
	str_t sql; /* each statement run, one per line */
	unsigned lookups;
};

static int trace_cb(unsigned type, void *ctx, void *p, void *x)
{
	struct trace *t = ctx;
	(void)p;
	if (type == SQLITE_TRACE_STMT) {
		const char *sql = x;
		if (strncmp(sql, "--", 2) == 0) /* a trigger's program */
			return 0;
		str_printf(&t->sql, "%s\n", sql);
		if (strstr(sql, LOOKUP_PART) != NULL)
			t->lookups++;
	}
	return 0;
}

static struct store_index *inbox_index(struct test_store_fixture *f,
				       struct store_address *addr)
{
	const char *name, *error;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	assert_int_equal(store_target_parse(USER, "INBOX", addr, &name, &error), 0);
	assert_int_equal(maildir_mailbox_get((struct maildir_store *)f->store, addr, name,
					     false, &user, &mb, &error), 0);
	return user->index;
}

/* the statements one call ran: BEGIN, the lookup once, ..., COMMIT */
static void assert_one_snapshot(struct trace *t)
{
	const char *s = str_c(&t->sql);
	assert_true(strncmp(s, "BEGIN\n", 6) == 0);
	assert_int_equal(t->lookups, 1);
	size_t len = strlen(s);
	assert_true(len > 7 && strcmp(s + len - 7, "COMMIT\n") == 0);
	str_clear(&t->sql);
	t->lookups = 0;
}

static void test_reads_share_a_snapshot(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uid = test_store_deliver(f->store, USER, "INBOX",
					  "Subject: s\r\n\r\nbody\r\n");
	struct store_address addr;
	struct store_index *idx = inbox_index(f, &addr);
	struct trace t = { STR_INIT, 0 };
	sqlite3_trace_v2(idx->db, SQLITE_TRACE_STMT, trace_cb, &t);

	struct store_mailbox_status st;
	assert_int_equal(maildir_mailbox_status(f->store, &addr, "INBOX", &st, &error), 0);
	assert_int_equal(st.messages, 1);
	assert_one_snapshot(&t);
	assert_true(sqlite3_get_autocommit(idx->db));

	struct store_message_reader *r = maildir_message_open(f->store, &addr, "INBOX",
							      uid, &error);
	assert_non_null(r);
	store_message_close(&r);
	assert_one_snapshot(&t);
	assert_true(sqlite3_get_autocommit(idx->db));

	pool_t *pool = pool_create(4096);
	struct store_view_delta delta;
	assert_int_equal(maildir_view_read(f->store, &addr, "INBOX", 0, pool, &delta,
					   &error), 0);
	assert_int_equal(delta.row_count, 1);
	assert_one_snapshot(&t); /* was: the lookup outside and again inside */
	assert_true(sqlite3_get_autocommit(idx->db));

	/* an expunged UID: nothing left open */
	assert_null(maildir_message_open(f->store, &addr, "INBOX", uid + 7, &error));
	assert_true(sqlite3_get_autocommit(idx->db));

	/* inside a transaction already open: none of its own */
	assert_int_equal(store_index_read_begin(idx, &error), 0);
	str_clear(&t.sql);
	assert_int_equal(maildir_mailbox_status(f->store, &addr, "INBOX", &st, &error), 0);
	assert_null(strstr(str_c(&t.sql), "BEGIN"));
	assert_false(sqlite3_get_autocommit(idx->db));
	store_index_read_end(idx);

	sqlite3_trace_v2(idx->db, 0, NULL, NULL);
	pool_destroy(&pool);
	str_free(&t.sql);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_reads_share_a_snapshot, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
