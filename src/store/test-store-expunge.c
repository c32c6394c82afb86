/* test-store-expunge.c: unit tests for store_mailbox_expunge() and
 * store_mailbox_lock() (maildir-sqlite backend). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/store.h"
#include "store/test-store-fixture.h"
#include "store/test-store-path.h"

#define USER "carol@example.org"

struct fixture {
	char dir[64];
	struct store *store;
	pool_t *pool;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	if (test_store_setup(f->dir, sizeof(f->dir), "test-store-expunge",
			     &f->store, USER) < 0)
		return -1;
	f->pool = pool_create(1024);
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

static void deliver(struct fixture *f, const char *body)
{
	test_store_deliver(f->store, USER, "INBOX", body);
}

static unsigned list(struct fixture *f, struct store *store,
		     struct store_message_info **msgs_r)
{
	const char *error;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(store, USER, "INBOX", f->pool,
						     msgs_r, &count, &error), 0);
	return count;
}

static void test_expunge_removes_file_and_row(void **state)
{
	struct fixture *f = *state;
	const char *error;
	deliver(f, "Subject: one\r\n\r\n1\r\n");
	deliver(f, "Subject: two\r\n\r\n2\r\n");
	deliver(f, "Subject: three\r\n\r\n3\r\n");
	struct store_message_info *msgs;
	assert_int_equal(list(f, f->store, &msgs), 3);
	const char *path2 = pool_strdup(f->pool, test_message_path(f->store, USER, "INBOX", msgs[1].uid));
	struct store_mailbox_status before, after;
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &before, &error), 0);

	uint32_t uids[] = { 2, 77 }; /* 77 does not exist: skipped */
	unsigned expunged;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", uids, 2,
					       &expunged, &error), 0);
	assert_int_equal(expunged, 1);
	struct stat st;
	assert_int_equal(stat(path2, &st), -1);
	assert_int_equal(list(f, f->store, &msgs), 2);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 3);
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &after, &error), 0);
	assert_int_equal(after.messages, 2);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_true(after.highestmodseq > before.highestmodseq);
	/* a UID is never reused */
	deliver(f, "Subject: four\r\n\r\n4\r\n");
	assert_int_equal(list(f, f->store, &msgs), 3);
	assert_int_equal(msgs[2].uid, 4);

	/* another handle (another process's view) agrees */
	struct store *other;
	assert_int_equal(store_open(f->dir, &other, &error), 0);
	assert_int_equal(list(f, other, &msgs), 3);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 3);
	store_close(&other);
}

static void test_expunge_row_without_file(void **state)
{
	struct fixture *f = *state;
	const char *error;
	deliver(f, "Subject: one\r\n\r\n1\r\n");
	struct store_message_info *msgs;
	assert_int_equal(list(f, f->store, &msgs), 1);
	/* as after a crash between unlink and commit */
	assert_int_equal(unlink(test_message_path(f->store, USER, "INBOX", msgs[0].uid)), 0);
	assert_int_equal(list(f, f->store, &msgs), 1);
	assert_true(msgs[0].lost);
	uint32_t uid = 1;
	unsigned expunged;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", &uid, 1,
					       &expunged, &error), 0);
	assert_int_equal(expunged, 1);
	assert_int_equal(list(f, f->store, &msgs), 0);
	/* nothing to do is fine */
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", &uid, 0,
					       &expunged, &error), 0);
	assert_int_equal(expunged, 0);
}

static void test_expunge_bad_input(void **state)
{
	struct fixture *f = *state;
	const char *error;
	uint32_t uid = 1;
	unsigned expunged;
	assert_int_equal(store_mailbox_expunge(f->store, "nobody@example.org", "INBOX",
					       &uid, 1, &expunged, &error), -1);
	assert_int_equal(store_mailbox_expunge(f->store, "../x@example.org", "INBOX",
					       &uid, 1, &expunged, &error), -1);
	assert_int_equal(store_mailbox_expunge(f->store, USER, "No/Such", &uid, 1,
					       &expunged, &error), -1);
}

static void test_lock_is_exclusive(void **state)
{
	struct fixture *f = *state;
	const char *error;
	int fd1 = -1, fd2 = -1;
	assert_int_equal(store_mailbox_lock(f->store, USER, "INBOX", &fd1, &error), 1);
	/* a second open file description in the same process conflicts */
	assert_int_equal(store_mailbox_lock(f->store, USER, "INBOX", &fd2, &error), 0);
	struct store *other;
	assert_int_equal(store_open(f->dir, &other, &error), 0);
	assert_int_equal(store_mailbox_lock(other, USER, "INBOX", &fd2, &error), 0);
	/* a different mailbox is independent */
	assert_int_equal(store_mailbox_lock(other, USER, "Sent", &fd2, &error), 1);
	close(fd2);
	close(fd1);
	assert_int_equal(store_mailbox_lock(other, USER, "INBOX", &fd2, &error), 1);
	close(fd2);
	store_close(&other);
	/* the lock file is not a message */
	struct store_message_info *msgs;
	assert_int_equal(list(f, f->store, &msgs), 0);
	assert_int_equal(store_mailbox_lock(f->store, "nobody@example.org", "INBOX",
					    &fd1, &error), -1);
}

int main(void)
{
	log_init("test-store-expunge", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_expunge_removes_file_and_row, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_row_without_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_is_exclusive, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
