/* test-store-crashpoint.c: the maildir-sqlite backend killed at exact
 * points of an expunge, a COPY or MOVE and a RENAME (test-suite-crash-ops.c
 * kills at random moments; this one hits each window every run). Linked
 * with -Wl,--wrap for store_index_commit and fileio_rename_noreplace: a
 * child that sets crash_commit (or crash_at_rename = N) _exit()s right
 * before or after the commit (or before the Nth folder rename), which is
 * what a SIGKILL there leaves. A fresh handle must then see:
 * - expunge: the messages gone, no row left without its file (lost), the
 *   rest untouched, no message back under a new UID (store.h);
 * - RENAME of a parent (RFC 9051 6.3.6: children follow): exactly the new
 *   names, each with its UIDVALIDITY, UIDs and flags (store.h: atomic);
 * - COPY/MOVE (store_view.h: one commit): all or nothing, and no file
 *   left that a later scan would take for mail: after the commit a
 *   move's sources, before it the copies' links (checked by discarding
 *   the index, whose rebuild scans every file);
 * - no intent file left once the work is done (store_maildir_intent.c).
 * test-store-intent.c (linked in) holds the intents' failure paths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store/backend-suite/suite.h"
#include "store/fileio.h"
#include "store/store_index.h"
#include "store/store_maildir.h"
#include "store/test-store-intent.h"

#define CRASH_BEFORE_COMMIT 1u
#define CRASH_AFTER_COMMIT 2u
unsigned crash_commit;
static unsigned crash_at_rename;

int __real_store_index_commit(struct store_index *idx, const char **error_r);
int __wrap_store_index_commit(struct store_index *idx, const char **error_r);
int __wrap_store_index_commit(struct store_index *idx, const char **error_r)
{
	if (crash_commit == CRASH_BEFORE_COMMIT)
		_exit(0);
	if (crash_commit == FAIL_COMMIT) {
		*error_r = "commit failed (test)";
		return -1;
	}
	int ret = __real_store_index_commit(idx, error_r);
	if (crash_commit == CRASH_AFTER_COMMIT)
		_exit(0);
	return ret;
}

int __real_fileio_rename_noreplace(const char *from, const char *to);
int __wrap_fileio_rename_noreplace(const char *from, const char *to);
int __wrap_fileio_rename_noreplace(const char *from, const char *to)
{
	if (crash_at_rename > 0 && --crash_at_rename == 0)
		_exit(0);
	return __real_fileio_rename_noreplace(from, to);
}

/* unlink() of a path containing fail_unlink fails with EACCES; the last
 * intent unlinked (a finished operation's) is kept in last_intent. */
const char *fail_unlink;
char last_intent[512];
int __real_unlink(const char *path);
int __wrap_unlink(const char *path);
int __wrap_unlink(const char *path)
{
	if (fail_unlink != NULL && strstr(path, fail_unlink) != NULL) {
		errno = EACCES;
		return -1;
	}
	if (strstr(path, "/postel-") != NULL)
		snprintf(last_intent, sizeof(last_intent), "%s", path);
	return __real_unlink(path);
}

/* Open the user first (its sync commits), then arm the crash point. */
static void child_arm(struct store *store, unsigned at_commit, unsigned at_rename)
{
	struct store_mailbox_status st;
	const char *error;
	if (store_mailbox_status(store, SUITE_USER, "INBOX", &st, &error) < 0)
		_exit(2);
	crash_commit = at_commit;
	crash_at_rename = at_rename;
}

/* The intent files (store_maildir_intent.c, and the old per-folder
 * postel-expunge) in the user directory and its folders. */
unsigned intents_left(struct suite *s)
{
	const char *user_dir = pool_printf(s->pool, "%s/mail/example.org/suite",
					   (const char *)s->fx->priv);
	unsigned found = 0;
	DIR *dir = opendir(user_dir);
	assert_non_null(dir);
	for (struct dirent *de; (de = readdir(dir)) != NULL;) {
		if (strncmp(de->d_name, "postel-expunge", 14) == 0 ||
		    strncmp(de->d_name, "postel-copy", 11) == 0 ||
		    strncmp(de->d_name, "postel-rename", 13) == 0)
			found++;
		if (de->d_name[0] == '.' && de->d_name[1] != '.' &&
		    de->d_name[1] != '\0' &&
		    access(pool_printf(s->pool, "%s/%s/postel-expunge", user_dir,
				       de->d_name), F_OK) == 0)
			found++;
	}
	closedir(dir);
	return found;
}

static int child_expunge(struct store *store, void *arg)
{
	const uint32_t *uids = arg;
	const char *error;
	unsigned gone;
	child_arm(store, CRASH_BEFORE_COMMIT, 0);
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
	assert_int_equal(intents_left(s), 0);
}

static int child_rename(struct store *store, void *arg)
{
	const unsigned *at_rename = arg;
	const char *error;
	child_arm(store, *at_rename == 0 ? CRASH_BEFORE_COMMIT : 0, *at_rename);
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

/* Messages of mailbox, none lost, STATUS agreeing with a walk. */
unsigned mailbox_count(struct suite *s, const char *mailbox)
{
	const char *error = NULL;
	struct store_view *v = suite_view(s->store, mailbox);
	struct store_message_info *msgs;
	unsigned n;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &n, &error), 0);
	for (unsigned k = 0; k < n; k++)
		assert_false(msgs[k].lost);
	store_view_close(&v);
	suite_check_status(s, mailbox);
	return n;
}

/* Drop the index: the reopen rebuilds it from every file of every
 * folder (new/ and cur/), so a file no row named shows up as mail. */
void index_discard(struct suite *s)
{
	store_close(&s->store);
	const char *suffix[] = { "", "-wal", "-shm" };
	for (unsigned i = 0; i < 3; i++)
		(void)unlink(pool_printf(s->pool, "%s/mail/example.org/suite/%s%s",
					 (const char *)s->fx->priv,
					 STORE_INDEX_FILENAME, suffix[i]));
	s->store = suite_open(s);
}

struct copy_arg {
	bool move;
	unsigned when;
	uint32_t uids[2];
};

static int child_copy(struct store *store, void *arg)
{
	const struct copy_arg *a = arg;
	const char *error;
	struct store_view *v;
	struct store_copy_result res;
	pool_t *pool = pool_create(1024);
	if (store_view_open(store, SUITE_USER, "S", &v, &error) < 0)
		_exit(2);
	child_arm(store, a->when, 0);
	(void)store_view_copy(v, a->uids, 2, "D", a->move, pool, &res, &error);
	return 1; /* the crash point was not reached */
}

static void copy_crash(struct suite *s, bool move, unsigned when)
{
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "S", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "D", &error), 0);
	struct copy_arg arg = { .move = move, .when = when };
	/* one source in new/, one in cur/ (\Seen), one left alone */
	for (unsigned i = 0; i < 3; i++) {
		uint32_t uid = suite_deliver(s->store, "S", "Subject: m\r\n\r\nbody\r\n",
					     i == 1 ? STORE_FLAG_SEEN : 0, 0);
		if (i < 2)
			arg.uids[i] = uid;
	}
	suite_in_child(s, child_copy, &arg);
	bool done = when == CRASH_AFTER_COMMIT;
	unsigned want_src = move && done ? 1 : 3, want_dst = done ? 2 : 0;
	suite_reopen(s);
	assert_int_equal(mailbox_count(s, "S"), want_src);
	assert_int_equal(mailbox_count(s, "D"), want_dst);
	assert_int_equal(intents_left(s), 0);
	index_discard(s);
	assert_int_equal(mailbox_count(s, "S"), want_src);
	assert_int_equal(mailbox_count(s, "D"), want_dst);
}

/* MOVE committed, sources not yet unlinked: once brought back as new
 * mail (known=move_crash_source_back in test-suite-crash-ops.c) */
static void test_crash_after_move_commit(void **state)
{
	copy_crash(*state, true, CRASH_AFTER_COMMIT);
}

static void test_crash_before_move_commit(void **state)
{
	copy_crash(*state, true, CRASH_BEFORE_COMMIT);
}

/* COPY linked, not committed: the links must not become a second copy */
static void test_crash_before_copy_commit(void **state)
{
	copy_crash(*state, false, CRASH_BEFORE_COMMIT);
}

static void test_crash_after_copy_commit(void **state)
{
	copy_crash(*state, false, CRASH_AFTER_COMMIT);
}

/* A finished expunge, copy, move and rename leave no intent behind (the
 * expunge's once stayed, read by every rescan after a delivery). */
static void test_no_intent_left(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "S", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "D", &error), 0);
	uint32_t uids[4];
	for (unsigned i = 0; i < 4; i++)
		uids[i] = suite_deliver(s->store, "S", "Subject: n\r\n\r\n", 0, 0);
	unsigned gone;
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "S", uids, 1,
					       &gone, &error), 0);
	assert_int_equal(gone, 1);
	struct store_view *v = suite_view(s->store, "S");
	struct store_copy_result res;
	assert_int_equal(store_view_copy(v, &uids[1], 1, "D", false, s->pool, &res,
					 &error), 0);
	assert_int_equal(store_view_copy(v, &uids[2], 1, "D", true, s->pool, &res,
					 &error), 0);
	store_view_close(&v);
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "D", "N",
					      &error), 0);
	assert_int_equal(intents_left(s), 0);
	suite_reopen(s);
	assert_int_equal(mailbox_count(s, "S"), 2);
	assert_int_equal(mailbox_count(s, "N"), 2);
}

/* An intent's first line, strictly: "MAGIC 1 UIDVALIDITY\n" and nothing
 * else (the sscanf format it once was took a missing newline, a sign or
 * no space for one). */
static void test_intent_header(void **state)
{
	(void)state;
	uint32_t uv = 0;
	assert_int_equal(maildir_intent_header("postel-copy 1 42\nx\n", "postel-copy",
					       &uv), 17);
	assert_int_equal(uv, 42);
	assert_int_equal(maildir_intent_header("postel-copy 1 4294967295\n",
					       "postel-copy", &uv), 25);
	assert_int_equal(uv, UINT32_MAX);
	const char *bad[] = {
		"postel-copy 1 42", "postel-copy 1 +42\n", "postel-copy  1 42\n",
		"postel-copy1 42\n", "postel-copy 2 42\n", "postel-copy 1 4294967296\n",
		"postel-copy 1 \n", "postel-rename 1 42\n", "postel-copy 1 42 \n", "",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(maildir_intent_header(bad[i], "postel-copy", &uv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_crash_before_expunge_commit),
		SUITE_TEST(test_crash_before_rename_commit),
		SUITE_TEST(test_crash_between_folder_renames),
		SUITE_TEST(test_crash_after_move_commit),
		SUITE_TEST(test_crash_before_move_commit),
		SUITE_TEST(test_crash_before_copy_commit),
		SUITE_TEST(test_crash_after_copy_commit),
		SUITE_TEST(test_no_intent_left),
		SUITE_TEST(test_move_unlink_failure_keeps_intent),
		SUITE_TEST(test_intent_name_taken),
		SUITE_TEST(test_expunge_commit_failure_recovers),
		SUITE_TEST(test_intent_folder_gone),
		SUITE_TEST(test_legacy_rename_intent),
		SUITE_TEST(test_legacy_expunge_intent),
		SUITE_TEST(test_legacy_expunge_garbage),
		cmocka_unit_test(test_intent_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
