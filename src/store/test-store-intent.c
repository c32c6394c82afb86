/* test-store-intent.c: the maildir-sqlite intents
 * (store_maildir_intent.c) where something fails: a MOVE's source unlink,
 * a name already taken, an expunge's commit; and the intents the previous
 * build (7d438c8) left: a rename's without "end", FOLDER/postel-expunge.
 * Linked into test-store-crashpoint (its main and linker wraps). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/test-store-intent.h"

/* A MOVE whose source unlink fails keeps its intent (it was removed
 * before the unlinks were durable, and even when one failed), and an
 * open whose recovery cannot unlink is not refused: it logs, keeps the
 * intent, and a later open finishes it. */
void test_move_unlink_failure_keeps_intent(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "S", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "D", &error), 0);
	uint32_t uids[3];
	for (unsigned i = 0; i < 3; i++)
		uids[i] = suite_deliver(s->store, "S", "Subject: u\r\n\r\n",
					i == 1 ? STORE_FLAG_SEEN : 0, 0);
	struct store_view *v = suite_view(s->store, "S");
	struct store_copy_result res;
	fail_unlink = "/.S/";
	assert_int_equal(store_view_copy(v, uids, 2, "D", true, s->pool, &res,
					 &error), 0);
	store_view_close(&v);
	assert_int_equal(intents_left(s), 1);
	/* the unlink still fails: the open goes on, the intent stays */
	suite_reopen(s);
	assert_int_equal(mailbox_count(s, "S"), 1);
	assert_int_equal(intents_left(s), 1);
	fail_unlink = NULL;
	suite_reopen(s);
	assert_int_equal(mailbox_count(s, "D"), 2);
	assert_int_equal(intents_left(s), 0);
	index_discard(s);
	assert_int_equal(mailbox_count(s, "S"), 1);
	assert_int_equal(mailbox_count(s, "D"), 2);
}

/* A file already at the next intent name (an earlier process with this
 * PID) is neither truncated nor taken over: O_EXCL, next number. */
void test_intent_name_taken(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "E", &error), 0);
	uint32_t uids[2];
	for (unsigned i = 0; i < 2; i++)
		uids[i] = suite_deliver(s->store, "E", "Subject: t\r\n\r\n", 0, 0);
	unsigned gone;
	last_intent[0] = '\0';
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "E", &uids[0],
					       1, &gone, &error), 0);
	char *dot = strrchr(last_intent, '.');
	assert_non_null(dot);
	*dot = '\0';
	const char *taken = pool_printf(s->pool, "%s.%lu", last_intent,
					strtoul(dot + 1, NULL, 10) + 1);
	FILE *f = fopen(taken, "w");
	assert_non_null(f);
	fputs("sentinel\n", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "E", &uids[1],
					       1, &gone, &error), 0);
	assert_int_equal(gone, 1);
	char buf[32] = "";
	f = fopen(taken, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "sentinel\n");
	assert_int_equal(unlink(taken), 0);
}

/* An expunge whose commit fails after its unlinks: the user leaves the
 * cache, so the next access recovers instead of showing rows whose
 * files are gone. */
void test_expunge_commit_failure_recovers(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "E", &error), 0);
	uint32_t uids[2];
	for (unsigned i = 0; i < 2; i++)
		uids[i] = suite_deliver(s->store, "E", "Subject: c\r\n\r\n",
					i == 0 ? STORE_FLAG_SEEN : 0, 0);
	unsigned gone;
	crash_commit = FAIL_COMMIT;
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "E", uids, 1,
					       &gone, &error), -1);
	crash_commit = 0;
	assert_int_equal(mailbox_count(s, "E"), 1);
	assert_int_equal(intents_left(s), 0);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A copy intent whose source mailbox's folder is gone (row still there)
 * is nothing to do, not an error that refuses every open of the user. */
void test_intent_folder_gone(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	const char *user_dir = pool_printf(s->pool, "%s/mail/example.org/suite",
					   (const char *)s->fx->priv);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "S", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "D", &error), 0);
	store_close(&s->store);
	const char *sub[] = { "new", "cur", "tmp" };
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(rmdir(pool_printf(s->pool, "%s/.S/%s", user_dir,
						   sub[i])), 0);
	(void)unlink(pool_printf(s->pool, "%s/.S/maildirfolder", user_dir));
	assert_int_equal(rmdir(pool_printf(s->pool, "%s/.S", user_dir)), 0);
	write_file(pool_printf(s->pool, "%s/postel-copy.1.1", user_dir),
		   "postel-copy 1 1\nS\nD\ns 1.M1P1Q1.h\nd 2.M2P2Q2.h\nend\n");
	s->store = suite_open(s);
	assert_int_equal(mailbox_count(s, "D"), 0);
	assert_int_equal(intents_left(s), 0);
}

/* new/'s mtime moved away from what the index recorded: the next open
 * scans the mailbox (what the previous build's expunge did). */
static void touch_new(const char *folder, time_t when)
{
	struct timespec ts[2] = { { when, 0 }, { when, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, folder, ts, 0), 0);
}

/* The previous build's rename intent ("OLD\nNEW\n", no "end"), left by a
 * crash after the parent's folder moved: finished, not ignored as torn. */
void test_legacy_rename_intent(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	const char *user_dir = pool_printf(s->pool, "%s/mail/example.org/suite",
					   (const char *)s->fx->priv);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "B", &error), 0);
	suite_deliver(s->store, "B", "Subject: l\r\n\r\n", 0, 0);
	struct store_view *v = suite_view(s->store, "B");
	uint32_t uv = store_view_uidvalidity(v);
	store_view_close(&v);
	store_close(&s->store);
	write_file(pool_printf(s->pool, "%s/postel-rename.1.1", user_dir),
		   pool_printf(s->pool, "postel-rename 1 %u\nB\nN\n", uv));
	assert_int_equal(rename(pool_printf(s->pool, "%s/.B", user_dir),
				pool_printf(s->pool, "%s/.N", user_dir)), 0);
	s->store = suite_open(s);
	assert_false(suite_mailbox_listed(s, "B"));
	v = suite_view(s->store, "N");
	assert_int_equal(store_view_uidvalidity(v), uv);
	store_view_close(&v);
	assert_int_equal(mailbox_count(s, "N"), 1);
	assert_int_equal(intents_left(s), 0);
}

/* The previous build's FOLDER/postel-expunge after a crash between its
 * unlinks and its commit: the expunge is finished by the scan, and the
 * file removed once it has nothing left to do. */
void test_legacy_expunge_intent(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	const char *folder = pool_printf(s->pool, "%s/mail/example.org/suite/.E",
					 (const char *)s->fx->priv);
	const char *new_dir = pool_printf(s->pool, "%s/new", folder);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "E", &error), 0);
	uint32_t uid = suite_deliver(s->store, "E", "Subject: x\r\n\r\n", 0, 0);
	DIR *dir = opendir(new_dir);
	assert_non_null(dir);
	const char *first = NULL;
	for (struct dirent *de; (de = readdir(dir)) != NULL;) {
		if (de->d_name[0] != '.')
			first = pool_printf(s->pool, "%s/%s", new_dir, de->d_name);
	}
	closedir(dir);
	assert_non_null(first);
	for (unsigned i = 0; i < 2; i++)
		suite_deliver(s->store, "E", "Subject: k\r\n\r\n", 0, 0);
	struct store_view *v = suite_view(s->store, "E");
	uint32_t uv = store_view_uidvalidity(v);
	store_view_close(&v);
	store_close(&s->store);
	write_file(pool_printf(s->pool, "%s/postel-expunge", folder),
		   pool_printf(s->pool, "postel-expunge 1 %u\n%u\n", uv, uid));
	assert_int_equal(unlink(first), 0);
	touch_new(new_dir, 1000000000);
	s->store = suite_open(s);
	assert_int_equal(mailbox_count(s, "E"), 2);
	/* the next scan finds nothing left to do: the file goes */
	store_close(&s->store);
	touch_new(new_dir, 1000000100);
	s->store = suite_open(s);
	assert_int_equal(mailbox_count(s, "E"), 2);
	assert_int_equal(intents_left(s), 0);
}


/* A legacy FOLDER/postel-expunge that is not simple is removed by the
 * scan (logged), never taken for UIDs. */
void test_legacy_expunge_garbage(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	const char *folder = pool_printf(s->pool, "%s/mail/example.org/suite/.G",
					 (const char *)s->fx->priv);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "G", &error), 0);
	suite_deliver(s->store, "G", "Subject: g\r\n\r\n", 0, 0);
	store_close(&s->store);
	write_file(pool_printf(s->pool, "%s/postel-expunge", folder),
		   "postel-expunge 1 1\n1\nx-not-a-uid\n");
	touch_new(pool_printf(s->pool, "%s/new", folder), 1000000000);
	s->store = suite_open(s);
	assert_int_equal(mailbox_count(s, "G"), 1);
	assert_int_equal(intents_left(s), 0);
}
