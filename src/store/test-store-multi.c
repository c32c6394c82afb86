/* test-store-multi.c: crash recovery of the maildir multi commit
 * (store_maildir_multi.c), from the exact state a crash between the
 * renames and the index COMMIT leaves: some files renamed into new/
 * without rows, the marker in tmp/. The next open must index none of
 * them and remove them and the marker. Without a marker (the control)
 * the same files are indexed as ordinary unindexed mail. */
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
#include <unistd.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "store/store.h"
#include "store/store_maildir_delivery.h"
#include "store/test-store-fixture.h"

#define USER "multi@example.org"

static unsigned inbox_count(const char *dir)
{
	struct store *st;
	struct store_message_info *msgs;
	unsigned count;
	const char *error;
	pool_t *pool = pool_create(1024);
	assert_int_equal(store_open(dir, &st, &error), 0);
	assert_int_equal(store_mailbox_list_messages(st, USER, "INBOX", pool, &msgs, &count,
						     &error), 0);
	store_close(&st);
	pool_destroy(&pool);
	return count;
}

static unsigned dir_entries(const char *path)
{
	DIR *d = opendir(path);
	unsigned n = 0;
	struct dirent *de;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.' || strncmp(de->d_name, ".multi.", 7) == 0;
	closedir(d);
	return n;
}

/* Three deliveries prepared, renamed: the first two into new/; with a
 * marker if asked. The deliveries are dropped as a killed process would. */
static void crash_state(const char *dir, bool marker)
{
	struct store *st;
	const char *error;
	assert_int_equal(store_open(dir, &st, &error), 0);
	(void)test_store_deliver(st, USER, "INBOX", "Subject: earlier\r\n\r\n");
	struct maildir_delivery *ds[3];
	str_t list = STR_INIT;
	for (unsigned i = 0; i < 3; i++) {
		const char *text = t_printf("Subject: m%u\r\n\r\nbody\r\n", i);
		ds[i] = (struct maildir_delivery *)test_store_begin(st, USER, "INBOX", text,
								    strlen(text), 0);
		assert_int_equal(maildir_delivery_prepare(ds[i], &error), 0);
		str_append(&list, ds[i]->new_name, strlen(ds[i]->new_name));
		str_append(&list, "\n", 1);
	}
	if (marker) {
		const char *path = t_printf("%s/tmp/.multi.%s", ds[0]->folder_dir, ds[0]->name);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, list.data, list.len), (ssize_t)list.len);
		close(fd);
	}
	for (unsigned i = 0; i < 2; i++)
		assert_int_equal(rename(ds[i]->tmp_path, t_printf("%s/new/%s", ds[i]->folder_dir,
								  ds[i]->new_name)), 0);
	for (unsigned i = 0; i < 3; i++)
		maildir_delivery_free(ds[i]);
	str_free(&list);
	store_close(&st);
}

static void test_multi_recovered(void **state)
{
	(void)state;
	char dir[64];
	struct store *st;
	assert_int_equal(test_store_setup(dir, sizeof(dir), "test-store-multi", &st, USER), 0);
	store_close(&st);
	crash_state(dir, true);
	assert_int_equal(inbox_count(dir), 1);
	char *inbox = NULL;
	assert_true(asprintf(&inbox, "%s/mail/example.org/multi", dir) > 0);
	char *sub = NULL;
	assert_true(asprintf(&sub, "%s/new", inbox) > 0);
	/* only the earlier message is left in new/, the marker is gone */
	assert_int_equal(dir_entries(sub), 1);
	free(sub);
	assert_true(asprintf(&sub, "%s/tmp", inbox) > 0);
	assert_int_equal(dir_entries(sub), 1); /* the unrenamed third file */
	free(sub);
	free(inbox);
	/* later opens stay the same */
	assert_int_equal(inbox_count(dir), 1);
	test_dir_remove(dir);
}

static void test_multi_control_without_marker(void **state)
{
	(void)state;
	char dir[64];
	struct store *st;
	assert_int_equal(test_store_setup(dir, sizeof(dir), "test-store-multi", &st, USER), 0);
	store_close(&st);
	crash_state(dir, false);
	/* files are the truth: a lone file in new/ is mail */
	assert_int_equal(inbox_count(dir), 3);
	test_dir_remove(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multi_recovered),
		cmocka_unit_test(test_multi_control_without_marker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
