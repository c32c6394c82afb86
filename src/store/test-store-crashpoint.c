/* test-store-crashpoint.c: the maildir-sqlite backend killed at exact
 * points of an expunge and a RENAME (test-suite-crash-ops.c kills at
 * random moments; this one hits each window every run). Linked with
 * -Wl,--wrap for store_index_commit and fileio_rename_noreplace: a child
 * that sets crash_at_commit (or crash_at_rename = N) _exit()s right
 * before the commit (or before the Nth folder rename), which is what a
 * SIGKILL there leaves. A fresh handle must then see:
 * - expunge: the messages gone, no row left without its file (lost), the
 *   rest untouched, no message back under a new UID (store.h);
 * - RENAME of a parent (RFC 9051 6.3.6: children follow): exactly the new
 *   names, each with its UIDVALIDITY, UIDs and flags (store.h: atomic). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "store/backend-suite/suite.h"
#include "store/fileio.h"
#include "store/store_index.h"

static bool crash_at_commit;
static unsigned crash_at_rename;

int __real_store_index_commit(struct store_index *idx, const char **error_r);
int __wrap_store_index_commit(struct store_index *idx, const char **error_r);
int __wrap_store_index_commit(struct store_index *idx, const char **error_r)
{
	if (crash_at_commit)
		_exit(0);
	return __real_store_index_commit(idx, error_r);
}

int __real_fileio_rename_noreplace(const char *from, const char *to);
int __wrap_fileio_rename_noreplace(const char *from, const char *to);
int __wrap_fileio_rename_noreplace(const char *from, const char *to)
{
	if (crash_at_rename > 0 && --crash_at_rename == 0)
		_exit(0);
	return __real_fileio_rename_noreplace(from, to);
}

/* Open the user first (its sync commits), then arm the crash point. */
static void child_arm(struct store *store, bool at_commit, unsigned at_rename)
{
	struct store_mailbox_status st;
	const char *error;
	if (store_mailbox_status(store, SUITE_USER, "INBOX", &st, &error) < 0)
		_exit(2);
	crash_at_commit = at_commit;
	crash_at_rename = at_rename;
}

static int child_expunge(struct store *store, void *arg)
{
	const uint32_t *uids = arg;
	const char *error;
	unsigned gone;
	child_arm(store, true, 0);
	(void)store_mailbox_expunge(store, SUITE_USER, "E", uids, 3, &gone, &error);
	return 1; /* the crash point was not reached */
}

static void test_crash_before_expunge_commit(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "E", &error), 0);
	uint32_t uids[4];
	for (unsigned i = 0; i < 4; i++)
		uids[i] = suite_deliver(s->store, "E", "Subject: e\r\n\r\nbody\r\n",
					i == 3 ? STORE_FLAG_SEEN : 0, 0);
	suite_in_child(s, child_expunge, uids);
	suite_reopen(s);
	struct store_view *v = suite_view(s->store, "E");
	struct store_message_info *msgs;
	unsigned n;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &n, &error), 0);
	for (unsigned k = 0; k < n; k++)
		assert_false(msgs[k].lost);
	assert_int_equal(n, 1);
	assert_int_equal(msgs[0].uid, uids[3]);
	store_view_close(&v);
	suite_check_status(s, "E");
	uint32_t uid;
	assert_int_equal(suite_try_deliver(s->store, "E", "Subject: after\r\n\r\n",
					   0, &uid), 0);
	assert_true(uid > uids[3]);
}

static int child_rename(struct store *store, void *arg)
{
	const unsigned *at_rename = arg;
	const char *error;
	child_arm(store, *at_rename == 0, *at_rename);
	(void)store_mailbox_rename(store, SUITE_USER, "B", "N", &error);
	return 1;
}

static void rename_crash(struct suite *s, unsigned at_rename)
{
	const char *error = NULL;
	const char *names[2] = { "B", "B/C" }, *renamed[2] = { "N", "N/C" };
	uint32_t uidvalidity[2];
	for (unsigned m = 0; m < 2; m++) {
		assert_int_equal(store_mailbox_create(s->store, SUITE_USER, names[m],
						      &error), 0);
		for (unsigned i = 0; i < 2; i++)
			suite_deliver(s->store, names[m], "Subject: r\r\n\r\n",
				      i == 1 ? STORE_FLAG_FLAGGED : 0, 0);
		struct store_view *v = suite_view(s->store, names[m]);
		uidvalidity[m] = store_view_uidvalidity(v);
		store_view_close(&v);
	}
	suite_in_child(s, child_rename, &at_rename);
	suite_reopen(s);
	for (unsigned m = 0; m < 2; m++) {
		/* the rename finished on reopen: one name each, the new one */
		assert_false(suite_mailbox_listed(s, names[m]));
		assert_true(suite_mailbox_listed(s, renamed[m]));
		struct store_view *v = suite_view(s->store, renamed[m]);
		assert_int_equal(store_view_uidvalidity(v), uidvalidity[m]);
		struct store_message_info *msgs;
		unsigned n;
		assert_int_equal(store_view_list(v, s->pool, &msgs, &n, &error), 0);
		assert_int_equal(n, 2);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(msgs[i].uid, i + 1);
			assert_false(msgs[i].lost);
			assert_int_equal(msgs[i].sysflags & STORE_FLAG_FLAGGED,
					 i == 1 ? STORE_FLAG_FLAGGED : 0);
		}
		store_view_close(&v);
		suite_check_status(s, renamed[m]);
	}
}

static void test_crash_before_rename_commit(void **state)
{
	rename_crash(*state, 0);
}

/* the parent's folder moved, the child's not yet */
static void test_crash_between_folder_renames(void **state)
{
	rename_crash(*state, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_crash_before_expunge_commit),
		SUITE_TEST(test_crash_before_rename_commit),
		SUITE_TEST(test_crash_between_folder_renames),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
