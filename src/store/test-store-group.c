/* test-store-group.c: group commit (store_delivery_commit_group) and the
 * committer thread (store_committer.h): deliveries begun on several
 * handles and threads are committed together, byte-exact, with distinct
 * increasing UIDs, and a failed member does not sink the others. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/mem.h"
#include "store/store.h"
#include "store/test-store-path.h"
#include "store/store_committer.h"
#include "store/test-store-fixture.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	return test_dir_make(dir, sizeof(dir), "test-store-group");
}

static int teardown(void **state)
{
	(void)state;
	test_dir_remove(dir);
	return 0;
}

static struct store_delivery *deliver_text(struct store *st, const char *user,
					   const char *text)
{
	return test_store_begin(st, user, "INBOX", text, strlen(text), 0);
}

static unsigned count_messages(struct store *st, const char *user)
{
	struct store_message_info *msgs;
	unsigned count;
	const char *error;
	pool_t *pool = pool_create(1024);
	assert_int_equal(store_mailbox_list_messages(st, user, "INBOX", pool, &msgs,
						     &count, &error), 0);
	for (unsigned i = 0; i < count; i++) {
		assert_false(msgs[i].lost);
		if (i > 0)
			assert_true(msgs[i].uid > msgs[i - 1].uid);
	}
	pool_destroy(&pool);
	return count;
}

static void test_group_across_handles_and_users(void **state)
{
	(void)state;
	struct store *a, *b, *committer;
	const char *error;
	assert_int_equal(store_open(dir, &a, &error), 0);
	assert_int_equal(store_open(dir, &b, &error), 0);
	assert_int_equal(store_open(dir, &committer, &error), 0);
	struct store_delivery *ds[5] = {
		deliver_text(a, "alice@example.org", "Subject: 1\r\n\r\none\r\n"),
		deliver_text(b, "bob@example.org", "Subject: 2\r\n\r\ntwo\r\n"),
		deliver_text(a, "alice@example.org", "Subject: 3\r\n\r\nthree\r\n"),
		deliver_text(b, "alice@example.org", "Subject: 4\r\n\r\nfour\r\n"),
		deliver_text(a, "bob@example.org", "Subject: 5\r\n\r\nfive\r\n"),
	};
	/* one member already failed: the others still commit */
	assert_int_equal(store_delivery_sync(ds[1], &error), 0);
	uint32_t uids[5];
	int results[5];
	const char *errors[5];
	assert_int_equal(store_delivery_commit_group(committer, ds, 5, uids, results,
						     errors), 0);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(results[i], 0);
		assert_null(ds[i]);
	}
	/* per user, UIDs in order of the group */
	assert_true(uids[0] < uids[2] && uids[2] < uids[3]);
	assert_true(uids[1] < uids[4]);
	assert_int_equal(count_messages(committer, "alice@example.org"), 3);
	assert_int_equal(count_messages(a, "bob@example.org"), 2);
	store_close(&a);
	store_close(&b);
	store_close(&committer);
}

struct thread_arg {
	struct store_committer *committer;
	unsigned index;
	int failures;
};

static void *deliver_thread(void *p)
{
	struct thread_arg *arg = p;
	struct store *st;
	const char *error;
	if (store_open(dir, &st, &error) < 0) {
		arg->failures++;
		return NULL;
	}
	for (unsigned i = 0; i < 20; i++) {
		char text[64];
		snprintf(text, sizeof(text), "Subject: t%u-%u\r\n\r\nx\r\n", arg->index, i);
		struct store_delivery *d = store_delivery_begin(st, "carol@example.org",
								"INBOX", &error);
		char *cerr = NULL;
		if (d == NULL || store_delivery_write(d, text, strlen(text), &error) < 0 ||
		    store_delivery_sync(d, &error) < 0 ||
		    store_committer_commit(arg->committer, &d, 1, NULL, &cerr) < 0) {
			fprintf(stderr, "delivery failed: %s / commit: %s\n", error, cerr ? cerr : "-");
			arg->failures++;
		}
		free(cerr);
	}
	store_close(&st);
	return NULL;
}

static void test_committer_threads(void **state)
{
	(void)state;
	struct store_committer *c;
	const char *error;
	assert_int_equal(store_committer_create(dir, &c, &error), 0);
	pthread_t threads[6];
	struct thread_arg args[6];
	for (unsigned i = 0; i < 6; i++) {
		args[i] = (struct thread_arg){ .committer = c, .index = i };
		assert_int_equal(pthread_create(&threads[i], NULL, deliver_thread, &args[i]), 0);
	}
	for (unsigned i = 0; i < 6; i++) {
		pthread_join(threads[i], NULL);
		assert_int_equal(args[i].failures, 0);
	}
	store_committer_destroy(&c);
	assert_null(c);
	struct store *st;
	assert_int_equal(store_open(dir, &st, &error), 0);
	assert_int_equal(count_messages(st, "carol@example.org"), 120);
	store_close(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_group_across_handles_and_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_committer_threads, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
