/* test-store-open.c: what opening a user costs (issue 8 items 7, 8, 14).
 *
 * Work is counted with store_stats_get(), never timed: a warm open (the
 * index exists, the Maildir is as the index last saw it) runs no
 * integrity check and reads no Maildir directory, however many messages
 * the mailbox holds; a file dropped into new/ by someone else is found
 * at the next open; a handle's users are parked for the next handle of
 * the process; stale tmp/ files are removed; a user whose index lock
 * another holder keeps does not stall other users' commits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/store.h"
#include "store/store_committer.h"
#include "store/fileio.h"
#include "store/test-store-fixture.h"

#define USER "dave@example.org"
#define USER_DIR "mail/example.org/dave"
#define OTHER "erin@example.org"
#define FILL 300

struct fixture {
	char dir[64];
	struct store *store;
	pool_t *pool;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	if (test_store_setup(f->dir, sizeof(f->dir), "test-store-open", &f->store,
			     NULL) < 0)
		return -1;
	f->pool = pool_create(4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	pool_destroy(&f->pool);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static const char *fpath(struct fixture *f, const char *rel)
{
	return t_printf("%s/%s", f->dir, rel);
}

static struct store_delivery *written(struct store *store, const char *user,
				      const char *body)
{
	return test_store_begin(store, user, "INBOX", body, strlen(body), 0);
}

static uint32_t deliver(struct store *store, const char *user, const char *body)
{
	return test_store_deliver(store, user, "INBOX", body);
}

static unsigned message_count(struct fixture *f, const char *user)
{
	struct store_message_info *msgs;
	unsigned count;
	const char *error;
	assert_int_equal(store_mailbox_list_messages(f->store, user, "INBOX",
						     f->pool, &msgs, &count,
						     &error), 0);
	return count;
}

/* A fresh handle: nothing of the user cached in this process's handles. */
static void reopen(struct fixture *f)
{
	const char *error;
	store_close(&f->store);
	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
}

/* Another MDA drops a message into USER's new/. */
static void drop_into_new(struct fixture *f)
{
	int fd = open(fpath(f, USER_DIR "/new/2000000000.M1P1Q1.other"),
		      O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fileio_write_full(fd, "dropped\n", 8), 0);
	close(fd);
}

static void test_warm_open_does_no_scan(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < FILL; i++)
		deliver(f->store, USER, t_printf("message %u\n", i));
	reopen(f);
	struct store_stats before, after;
	store_stats_get(&before);
	/* delivery, status and list each on a cold handle */
	assert_int_equal(deliver(f->store, USER, "one more\n"), FILL + 1);
	reopen(f);
	struct store_mailbox_status status;
	const char *error;
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &status,
					      &error), 0);
	assert_int_equal(status.messages, FILL + 1);
	store_stats_get(&after);
	assert_int_equal(after.index_opens - before.index_opens, 2);
	assert_int_equal(after.integrity_checks - before.integrity_checks, 0);
	assert_int_equal(after.maildir_scans - before.maildir_scans, 0);
}

static void test_outside_change_is_rescanned(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < 20; i++)
		deliver(f->store, USER, "m\n");
	reopen(f);
	drop_into_new(f);
	struct store_stats before, after;
	store_stats_get(&before);
	assert_int_equal(message_count(f, USER), 21);
	store_stats_get(&after);
	assert_int_equal(after.maildir_scans - before.maildir_scans, 1);
	/* and only once: the next cold open finds new/ as recorded */
	reopen(f);
	assert_int_equal(deliver(f->store, USER, "after\n"), 22);
	store_stats_get(&before);
	assert_int_equal(before.maildir_scans, after.maildir_scans);
}

/* Files another program drops into new/ are numbered in delivery order:
 * names carry unpadded microseconds, so "M99999" (earlier) must get the
 * lower UID than "M100000" of the same second. */
static void drop_named(struct fixture *f, const char *name, const char *text)
{
	int fd = open(fpath(f, t_printf(USER_DIR "/new/%s", name)),
		      O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fileio_write_full(fd, text, strlen(text)), 0);
	close(fd);
}

static void test_dropped_files_numbered_in_delivery_order(void **state)
{
	struct fixture *f = *state;
	deliver(f->store, USER, "m\n");
	reopen(f);
	drop_named(f, "2000000000.M100000P1Q2.other", "second, longer\n");
	drop_named(f, "2000000000.M99999P1Q1.other", "first\n");
	struct store_message_info *msgs;
	unsigned count;
	const char *error;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX", f->pool,
						     &msgs, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_true(msgs[1].uid < msgs[2].uid);
	assert_int_equal(msgs[1].size, strlen("first\r\n"));
	assert_int_equal(msgs[2].size, strlen("second, longer\r\n"));
}

static void test_expunge_keeps_open_cheap(void **state)
{
	struct fixture *f = *state;
	for (unsigned i = 0; i < 10; i++)
		deliver(f->store, USER, "m\n");
	reopen(f);
	/* a POP3 session's DELE + QUIT unlinks files from new/ */
	const uint32_t uids[] = { 2, 5, 7 };
	unsigned expunged;
	const char *error;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", uids, 3,
					       &expunged, &error), 0);
	assert_int_equal(expunged, 3);
	reopen(f);
	struct store_stats before, after;
	store_stats_get(&before);
	assert_int_equal(message_count(f, USER), 7);
	store_stats_get(&after);
	assert_int_equal(after.maildir_scans - before.maildir_scans, 0);
}

static void test_closed_handle_parks_users(void **state)
{
	struct fixture *f = *state;
	const char *error;
	deliver(f->store, USER, "m\n");
	/* another handle of this process stays open (a delivery thread's) */
	struct store *other;
	assert_int_equal(store_open(f->dir, &other, &error), 0);
	/* one POP3 session's handle ends, the next one begins */
	reopen(f);
	struct store_stats before, after;
	store_stats_get(&before);
	assert_int_equal(message_count(f, USER), 1);
	store_stats_get(&after);
	assert_int_equal(after.index_opens - before.index_opens, 0);
	assert_int_equal(after.maildir_scans - before.maildir_scans, 0);
	/* a parked user is checked like an open: an outside drop is seen */
	reopen(f);
	drop_into_new(f);
	assert_int_equal(message_count(f, USER), 2);
	store_stats_get(&before);
	assert_int_equal(before.index_opens, after.index_opens);
	assert_int_equal(before.maildir_scans - after.maildir_scans, 1);
	store_close(&other);
}

static void make_tmp_file(struct fixture *f, const char *name, time_t age)
{
	const char *path = fpath(f, t_printf(USER_DIR "/tmp/%s", name));
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fileio_write_full(fd, "partial", 7), 0);
	struct timespec times[2];
	times[0].tv_sec = times[1].tv_sec = time(NULL) - age;
	times[0].tv_nsec = times[1].tv_nsec = 0;
	assert_int_equal(futimens(fd, times), 0);
	close(fd);
}

static void test_stale_tmp_files_removed(void **state)
{
	struct fixture *f = *state;
	/* a Maildir left by a killed worker, before its index exists */
	assert_int_equal(mkdir(fpath(f, "mail/example.org"), 0700), 0);
	assert_int_equal(mkdir(fpath(f, USER_DIR), 0700), 0);
	assert_int_equal(mkdir(fpath(f, USER_DIR "/tmp"), 0700), 0);
	make_tmp_file(f, "old.partial", 37 * 3600);
	make_tmp_file(f, "fresh.partial", 60);
	struct store_stats before, after;
	store_stats_get(&before);
	const char *error;
	assert_int_equal(store_user_create(f->store, USER, &error), 0);
	store_stats_get(&after);
	assert_int_equal(after.tmp_cleaned - before.tmp_cleaned, 1);
	assert_int_equal(access(fpath(f, USER_DIR "/tmp/old.partial"), F_OK), -1);
	assert_int_equal(access(fpath(f, USER_DIR "/tmp/fresh.partial"), F_OK), 0);
	/* at most once per interval: a second open does not look again */
	make_tmp_file(f, "old2.partial", 40 * 3600);
	reopen(f);
	assert_int_equal(deliver(f->store, USER, "m\n"), 1);
	assert_int_equal(access(fpath(f, USER_DIR "/tmp/old2.partial"), F_OK), 0);
}

struct commit_thread {
	struct store_committer *committer;
	struct store_delivery *d;
	int result;
	uint32_t uid;
	atomic_bool done;
};

static void *commit_thread_run(void *arg)
{
	struct commit_thread *t = arg;
	char *error = NULL;
	t->result = store_committer_commit(t->committer, &t->d, 1, &t->uid, &error);
	free(error);
	atomic_store(&t->done, true);
	return NULL;
}

static void test_locked_user_does_not_stall_others(void **state)
{
	struct fixture *f = *state;
	const char *error;
	deliver(f->store, USER, "first\n");
	deliver(f->store, OTHER, "first\n");
	struct store_committer *committer;
	assert_int_equal(store_committer_create(f->dir, &committer, &error), 0);

	/* another process (as far as flock is concerned: another open file
	 * description) holds USER's index lock */
	int lock_fd = open(fpath(f, USER_DIR "/postel-index.sqlite.lock"),
			   O_RDWR | O_CLOEXEC);
	assert_true(lock_fd >= 0);
	assert_int_equal(flock(lock_fd, LOCK_EX | LOCK_NB), 0);

	/* the direct path gives up after the bound, with an error */
	struct store_stats before, after;
	uint32_t uid = 0;
	store_stats_get(&before);
	struct store_delivery *direct = written(f->store, USER, "third\n");
	assert_int_equal(store_delivery_commit(&direct, &uid, &error), -1);
	assert_non_null(strstr(error, "locked"));
	store_stats_get(&after);
	assert_int_equal(after.lock_timeouts - before.lock_timeouts, 1);


	/* a warm open of the locked user takes no lock: writing works */
	struct commit_thread t = { .committer = committer };
	t.d = written(f->store, USER, "second\n");
	pthread_t thread;
	assert_int_equal(pthread_create(&thread, NULL, commit_thread_run, &t), 0);

	/* the other user's commit goes through while USER's waits */
	struct store_delivery *d = written(f->store, OTHER, "second\n");
	uid = 0;
	char *cerror = NULL;
	assert_int_equal(store_committer_commit(committer, &d, 1, &uid, &cerror), 0);
	assert_int_equal(uid, 2);
	assert_false(atomic_load(&t.done));

	/* released: the waiting delivery is committed */
	assert_int_equal(flock(lock_fd, LOCK_UN), 0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(t.result, 0);
	assert_int_equal(t.uid, 2);
	close(lock_fd);
	store_committer_destroy(&committer);
	assert_int_equal(message_count(f, USER), 2);
}

int main(void)
{
	log_init("test-store-open", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_warm_open_does_no_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_change_is_rescanned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dropped_files_numbered_in_delivery_order,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_keeps_open_cheap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_closed_handle_parks_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_tmp_files_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked_user_does_not_stall_others,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
