/* test-store.c: unit tests for store.h (maildir-sqlite backend). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/store.h"
#include "store/test-store-path.h"
#include "store/fileio.h"
#include "store/test-store-fixture.h"

#define USER "Alice@Example.ORG"
#define USER_DIR "mail/example.org/alice"

struct fixture {
	char dir[64];
	struct store *store;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	if (test_store_setup(f->dir, sizeof(f->dir), "test-store", &f->store,
			     NULL) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_close(&f->store);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static const char *fpath(struct fixture *f, const char *rel)
{
	return t_printf("%s/%s", f->dir, rel);
}

/* Number of entries (not starting with '.') in a directory. */
static unsigned dir_count(const char *path)
{
	DIR *dir = opendir(path);
	assert_non_null(dir);
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

static uint32_t deliver(struct store *store, const char *mailbox,
			const char *body)
{
	return test_store_deliver(store, USER, mailbox, body);
}

static void assert_file_content(const char *path, const void *data, size_t len)
{
	char *content;
	size_t content_len;
	assert_non_null(path);
	assert_int_equal(fileio_read_file(path, 1 << 20, &content,
					  &content_len), 0);
	assert_int_equal(content_len, len);
	assert_memory_equal(content, data, len);
	free(content);
}

static void test_user_create_layout(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct stat st;
	assert_int_equal(store_user_create(f->store, USER, &error), 0);
	assert_int_equal(store_user_create(f->store, USER, &error), 0);
	static const char *const dirs[] = {
		USER_DIR "/cur", USER_DIR "/new", USER_DIR "/tmp",
		USER_DIR "/.Drafts/new", USER_DIR "/.Sent/cur",
		USER_DIR "/.Junk/tmp", USER_DIR "/.Trash/new",
		USER_DIR "/.Archive/cur",
	};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		assert_int_equal(stat(fpath(f, dirs[i]), &st), 0);
		assert_true(S_ISDIR(st.st_mode));
	}
	assert_int_equal(stat(fpath(f, USER_DIR "/.Sent/maildirfolder"), &st), 0);
	assert_int_equal(stat(fpath(f, USER_DIR "/postel-index.sqlite"), &st), 0);
	struct store_mailbox_status status;
	assert_int_equal(store_mailbox_status(f->store, USER, "Trash", &status,
					      &error), 0);
	assert_int_equal(status.uidnext, 1);
	assert_int_equal(status.messages, 0);
	assert_true(status.uidvalidity > 1000000000u);
}

static void test_deliver_uids_and_content(void **state)
{
	struct fixture *f = *state;
	const char *error;
	/* no store_user_create: delivery creates the user */
	uint32_t uid1 = deliver(f->store, "inbox", "Subject: one\n\nbody\n");
	uint32_t uid2 = deliver(f->store, "INBOX", "Subject: two\n\n");
	assert_int_equal(uid1, 1);
	assert_int_equal(uid2, 2);

	/* from a spool file: offset and length, binary content */
	char spool_path[] = "/tmp/test-store-spool.XXXXXX";
	int spool = mkstemp(spool_path);
	assert_true(spool >= 0);
	unlink(spool_path);
	char bin[300000];
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)(i * 7 + 3);
	assert_int_equal(fileio_write_full(spool, bin, sizeof(bin)), 0);
	struct store_delivery *d =
		store_delivery_begin(f->store, USER, "INBOX", &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write_fd(d, spool, 10, sizeof(bin) - 20,
						 &error), 0);
	assert_int_equal(store_delivery_write(d, "\0end", 4, &error), 0);
	assert_int_equal(store_delivery_sync(d, &error), 0);
	uint32_t uid3;
	assert_int_equal(store_delivery_commit(&d, &uid3, &error), 0);
	assert_int_equal(uid3, 3);
	/* a source shorter than asked for is an error, and leaves nothing */
	d = store_delivery_begin(f->store, USER, "INBOX", &error);
	assert_int_equal(store_delivery_write_fd(d, spool, 10, sizeof(bin),
						 &error), -1);
	store_delivery_abort(&d);
	close(spool);

	pool_t *pool = pool_create(1024);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX",
						     pool, &msgs, &count,
						     &error), 0);
	assert_int_equal(count, 3);
	for (unsigned i = 0; i < count; i++)
		assert_int_equal(msgs[i].uid, i + 1);
	assert_true(msgs[1].modseq > msgs[0].modseq);
	assert_file_content(test_message_path(f->store, USER, "INBOX", msgs[0].uid), "Subject: one\n\nbody\n", 19);
	/* size: with CRLF line endings (store.h), so one more per bare LF */
	assert_int_equal(msgs[0].size, 19 + 3);
	char *expect = xmalloc(sizeof(bin) - 20 + 4);
	memcpy(expect, bin + 10, sizeof(bin) - 20);
	memcpy(expect + sizeof(bin) - 20, "\0end", 4);
	uint64_t wire = sizeof(bin) - 20 + 4;
	for (size_t i = 0; i < sizeof(bin) - 20 + 4; i++)
		wire += expect[i] == '\n' && (i == 0 || expect[i - 1] != '\r');
	assert_int_equal(msgs[2].size, wire);
	assert_file_content(test_message_path(f->store, USER, "INBOX", msgs[2].uid), expect, sizeof(bin) - 20 + 4);
	free(expect);
	/* Maildir name: in new/, with the size */
	assert_non_null(strstr(test_message_path(f->store, USER, "INBOX", msgs[0].uid), "/" USER_DIR "/new/"));
	assert_non_null(strstr(test_message_path(f->store, USER, "INBOX", msgs[0].uid), ",S=19,W=22"));
	assert_int_equal(dir_count(fpath(f, USER_DIR "/tmp")), 0);
	assert_int_equal(dir_count(fpath(f, USER_DIR "/new")), 3);

	/* another mailbox has its own UIDs */
	assert_int_equal(deliver(f->store, "Sent", "x\n"), 1);
	assert_int_equal(dir_count(fpath(f, USER_DIR "/.Sent/new")), 1);
	pool_destroy(&pool);
}

/* Wire form in, LF in the file (store_eol.h), wire size in the index and
 * in W=, however the writes split the CRLFs. */
static void test_deliver_crlf_stored_as_lf(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *wire = "Subject: a\r\n\r\nbody\r\n.x\r\n";
	struct store_delivery *d = store_delivery_begin(f->store, USER, "INBOX", &error);
	assert_non_null(d);
	for (const char *p = wire; *p != '\0'; p++)
		assert_int_equal(store_delivery_write(d, p, 1, &error), 0);
	uint32_t uid;
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);

	pool_t *pool = pool_create(1024);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX", pool,
						     &msgs, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(msgs[0].size, strlen(wire));
	assert_file_content(test_message_path(f->store, USER, "INBOX", msgs[0].uid), "Subject: a\n\nbody\n.x\n", 20);
	assert_non_null(strstr(test_message_path(f->store, USER, "INBOX", msgs[0].uid), ",S=20,W=24"));
	/* read back: the wire form exactly, even with a tiny buffer */
	for (size_t bufsize = 2; bufsize <= 64; bufsize += 62) {
		struct store_view *view;
		assert_int_equal(store_view_open(f->store, USER, "INBOX", &view,
						 &error), 0);
		struct store_message_reader *r =
			store_view_message_open(view, msgs[0].uid, &error);
		store_view_close(&view);
		assert_non_null(r);
		char back[64], chunk[64];
		size_t len = 0;
		ssize_t n;
		while ((n = store_message_read(r, chunk, bufsize, &error)) > 0) {
			assert_true((size_t)n <= bufsize && len + (size_t)n <= sizeof(back));
			memcpy(back + len, chunk, (size_t)n);
			len += (size_t)n;
		}
		assert_int_equal(n, 0);
		assert_int_equal(len, strlen(wire));
		assert_memory_equal(back, wire, len);
		store_message_close(&r);
		assert_null(r);
	}
	pool_destroy(&pool);
}

static void test_abort_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_delivery *d =
		store_delivery_begin(f->store, USER, "INBOX", &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write(d, "partial", 7, &error), 0);
	assert_int_equal(dir_count(fpath(f, USER_DIR "/tmp")), 1);
	store_delivery_abort(&d);
	assert_null(d);
	assert_int_equal(dir_count(fpath(f, USER_DIR "/tmp")), 0);
	assert_int_equal(dir_count(fpath(f, USER_DIR "/new")), 0);
	struct store_mailbox_status status;
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &status,
					      &error), 0);
	assert_int_equal(status.messages, 0);
	assert_int_equal(status.uidnext, 1);
}

static void test_write_error_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	struct rlimit old, small = { .rlim_cur = 4096, .rlim_max = 0 };
	assert_int_equal(store_user_create(f->store, USER, &error), 0);
	struct store_delivery *d =
		store_delivery_begin(f->store, USER, "INBOX", &error);
	assert_non_null(d);
	/* a file size limit stands in for ENOSPC/EDQUOT */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small.rlim_max = old.rlim_max;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	char buf[8192];
	memset(buf, 'x', sizeof(buf));
	int ret = store_delivery_write(d, buf, sizeof(buf), &error);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(ret, -1);
	assert_non_null(strstr(error, "File too large"));
	assert_int_equal(dir_count(fpath(f, USER_DIR "/tmp")), 0);
	assert_int_equal(store_delivery_write(d, "x", 1, &error), -1);
	uint32_t uid;
	assert_int_equal(store_delivery_commit(&d, &uid, &error), -1);
	assert_null(d);
	assert_int_equal(dir_count(fpath(f, USER_DIR "/new")), 0);
}

static void test_unsafe_addresses_refused(void **state)
{
	struct fixture *f = *state;
	const char *error;
	char long_local[80], long_domain[300];
	memset(long_local, 'a', 65);
	snprintf(long_local + 65, sizeof(long_local) - 65, "@example.org");
	memcpy(long_domain, "a@", 2);
	memset(long_domain + 2, 'd', 256);
	long_domain[258] = '\0';
	const char *const bad[] = {
		"../x@example.org", "a/b@example.org", "a@..", "a@.",
		".a@example.org", "a@.example.org", "..@example.org",
		"a\r\n@example.org", "a@exa\x01mple.org", "@example.org",
		"a@", "noat", "a@b/c", "a\\b@example.org", "a@example.org/..",
		long_local, long_domain, "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		error = NULL;
		assert_int_equal(store_user_create(f->store, bad[i], &error), -1);
		assert_non_null(error);
		assert_null(store_delivery_begin(f->store, bad[i], "INBOX",
						 &error));
	}
	assert_int_equal(dir_count(fpath(f, "mail")), 0);

	const char *const bad_mailboxes[] = {
		"", "../x", "a.b", ".hidden", "/a", "a/", "a//b", "x\ny",
	};
	for (size_t i = 0; i < sizeof(bad_mailboxes) / sizeof(*bad_mailboxes); i++)
		assert_null(store_delivery_begin(f->store, USER,
						 bad_mailboxes[i], &error));
	assert_null(store_delivery_begin(f->store, USER, "NoSuchBox", &error));
	assert_non_null(strstr(error, "no such mailbox"));

	struct store_address addr;
	assert_int_equal(store_address_parse("Bob.Smith@Mail.EXAMPLE.com",
					     &addr, &error), 0);
	assert_string_equal(addr.local, "bob.smith");
	assert_string_equal(addr.domain, "mail.example.com");
	/* the last '@' splits: a quoted local part may contain one */
	assert_int_equal(store_address_parse("\"a@b\"@c.org", &addr, &error), 0);
	assert_string_equal(addr.domain, "c.org");
}

static void test_mailbox_create(void **state)
{
	struct fixture *f = *state;
	const char *error;
	assert_int_equal(store_mailbox_create(f->store, USER, "Lists", &error),
			 -1); /* no such user yet */
	assert_int_equal(store_user_create(f->store, USER, &error), 0);
	assert_int_equal(store_mailbox_create(f->store, USER, "Lists/postel",
					      &error), 0);
	assert_int_equal(store_mailbox_create(f->store, USER, "Lists/postel",
					      &error), 0);
	struct stat st;
	assert_int_equal(stat(fpath(f, USER_DIR "/.Lists.postel/maildirfolder"),
			      &st), 0);
	assert_int_equal(deliver(f->store, "Lists/postel", "hi\n"), 1);
	assert_int_equal(deliver(f->store, "Lists/postel", "hi\n"), 2);
}

static void test_index_survives_reopen(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_mailbox_status before, after;
	deliver(f->store, "INBOX", "1\n");
	deliver(f->store, "INBOX", "2\n");
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &before,
					      &error), 0);
	store_close(&f->store);
	assert_null(f->store);
	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &after,
					      &error), 0);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.uidnext, 3);
	assert_int_equal(after.messages, 2);
	assert_int_equal(deliver(f->store, "INBOX", "3\n"), 3);
	/* a second handle (as another worker would have) sees the same */
	struct store *other;
	assert_int_equal(store_open(f->dir, &other, &error), 0);
	assert_int_equal(deliver(other, "INBOX", "4\n"), 4);
	assert_int_equal(deliver(f->store, "INBOX", "5\n"), 5);
	store_close(&other);
}

static void test_unindexed_file_is_picked_up(void **state)
{
	struct fixture *f = *state;
	const char *error;
	deliver(f->store, "INBOX", "1\n");
	store_close(&f->store);
	/* as after a crash between the rename into new/ and the commit, or
	 * a file dropped in by another MDA */
	int fd = open(fpath(f, USER_DIR "/new/2000000000.M1P1Q1.other"),
		      O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fileio_write_full(fd, "late\n", 5), 0);
	close(fd);
	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	pool_t *pool = pool_create(1024);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX",
						     pool, &msgs, &count,
						     &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(msgs[1].uid, 2);
	assert_file_content(test_message_path(f->store, USER, "INBOX", msgs[1].uid), "late\n", 5);
	pool_destroy(&pool);
}

static void corrupt_and_check(struct fixture *f, bool whole_file)
{
	const char *error;
	struct store_mailbox_status before, after;
	deliver(f->store, "INBOX", "first\n");
	deliver(f->store, "INBOX", "second\n");
	deliver(f->store, "Archive", "archived\n");
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &before,
					      &error), 0);
	pool_t *pool = pool_create(1024);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX",
						     pool, &msgs, &count,
						     &error), 0);
	/* a mail reader marks the second one read */
	const char *seen_path = t_printf("%s/cur/%s:2,S", fpath(f, USER_DIR),
					 strrchr(test_message_path(f->store, USER, "INBOX", msgs[1].uid), '/') + 1);
	assert_int_equal(rename(test_message_path(f->store, USER, "INBOX", msgs[1].uid), seen_path), 0);
	store_close(&f->store);

	const char *index = fpath(f, USER_DIR "/postel-index.sqlite");
	int fd = open(index, O_WRONLY);
	assert_true(fd >= 0);
	char junk[4096];
	memset(junk, 0x5a, sizeof(junk));
	if (whole_file) {
		assert_int_equal(ftruncate(fd, 0), 0);
		assert_int_equal(fileio_write_full(fd, junk, sizeof(junk)), 0);
	} else {
		/* keep the header page, damage the pages after it */
		assert_int_equal(pwrite(fd, junk, sizeof(junk), 4096), 4096);
		assert_int_equal(pwrite(fd, junk, sizeof(junk), 8192), 4096);
	}
	close(fd);
	unlink(t_printf("%s-wal", index));

	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX",
						     pool, &msgs, &count,
						     &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(msgs[0].uid, 1);
	assert_int_equal(msgs[1].uid, 2);
	assert_file_content(test_message_path(f->store, USER, "INBOX", msgs[0].uid), "first\n", 6);
	assert_file_content(test_message_path(f->store, USER, "INBOX", msgs[1].uid), "second\n", 7);
	assert_string_equal(msgs[1].flags, "\\Seen");
	assert_string_equal(msgs[0].flags, "");
	assert_int_equal(store_mailbox_status(f->store, USER, "INBOX", &after,
					      &error), 0);
	/* RFC 3501 2.3.1.1: new UIDs need a new, larger UIDVALIDITY */
	assert_true(after.uidvalidity > before.uidvalidity);
	assert_int_equal(store_mailbox_status(f->store, USER, "Archive", &after,
					      &error), 0);
	assert_int_equal(after.messages, 1);
	assert_int_equal(deliver(f->store, "INBOX", "third\n"), 3);

	/* the damaged file was kept for inspection */
	DIR *dir = opendir(fpath(f, USER_DIR));
	struct dirent *de;
	bool found = false;
	while ((de = readdir(dir)) != NULL)
		found |= strncmp(de->d_name, "postel-index.sqlite.corrupt-", 28) == 0;
	closedir(dir);
	assert_true(found);
	pool_destroy(&pool);
}

static void test_corrupt_index_rebuilt(void **state)
{
	corrupt_and_check(*state, true);
}

static void test_damaged_pages_rebuilt(void **state)
{
	corrupt_and_check(*state, false);
}

static void test_concurrent_processes(void **state)
{
	struct fixture *f = *state;
	const char *error;
	enum { CHILDREN = 4, EACH = 15 };
	assert_int_equal(store_user_create(f->store, USER, &error), 0);
	for (int c = 0; c < CHILDREN; c++) {
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid != 0)
			continue;
		/* each worker process has its own handle */
		struct store *s;
		int failed = store_open(f->dir, &s, &error) < 0;
		for (int i = 0; i < EACH && !failed; i++) {
			struct store_delivery *d =
				store_delivery_begin(s, USER, "INBOX", &error);
			uint32_t uid;
			failed = d == NULL ||
				store_delivery_write(d, "m\n", 2, &error) < 0 ||
				store_delivery_commit(&d, &uid, &error) < 0;
		}
		store_close(&s);
		_exit(failed);
	}
	for (int c = 0; c < CHILDREN; c++) {
		int status;
		assert_true(wait(&status) > 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	pool_t *pool = pool_create(1024);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(f->store, USER, "INBOX",
						     pool, &msgs, &count,
						     &error), 0);
	assert_int_equal(count, CHILDREN * EACH);
	for (unsigned i = 0; i < count; i++) {
		assert_int_equal(msgs[i].uid, i + 1);
		assert_false(msgs[i].lost);
	}
	assert_int_equal(dir_count(fpath(f, USER_DIR "/new")), CHILDREN * EACH);
	pool_destroy(&pool);
}

static void test_unknown_user_and_backend(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_mailbox_status status;
	struct store *s;
	assert_int_equal(store_mailbox_status(f->store, "nobody@example.org",
					      "INBOX", &status, &error), -1);
	assert_non_null(strstr(error, "no such user"));
	assert_int_equal(store_open_backend("nosuch", f->dir, &s, &error), -1);
}

int main(void)
{
	log_init("test-store", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_user_create_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_uids_and_content, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_error_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_crlf_stored_as_lf, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsafe_addresses_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_index_survives_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unindexed_file_is_picked_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_index_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_pages_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_user_and_backend, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
