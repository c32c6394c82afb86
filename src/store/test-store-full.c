/* test-store-full.c: an index commit that fails for lack of space answers
 * like a Maildir write that does (TESTING.md item 25: 452 4.3.1). A shim
 * SQLite VFS, made the default, fails the index's writes with SQLITE_FULL
 * (what the unix VFS makes of ENOSPC) or with an I/O error whose system
 * errno is EDQUOT; the store's error must then carry the same class as a
 * file write's, which the SMTP reply layer maps to 452 4.3.1, leave no
 * message behind, and work again once space returns. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/mem.h"
#include "smtp/smtp_message.h"
#include "store/store.h"
#include "store/store_committer.h"
#include "store/test-store-fixture.h"

static char dir[64];

/* ---- the shim VFS ---- */

enum fail_mode { FAIL_NONE, FAIL_FULL, FAIL_EDQUOT };
static enum fail_mode fail_mode;
static unsigned failed_writes;
static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_io_methods shim_methods;

struct shim_file {
	sqlite3_file base;
	sqlite3_file *real;
};
#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int shim_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int shim_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	if (fail_mode != FAIL_NONE) {
		failed_writes++;
		if (fail_mode == FAIL_FULL)
			return SQLITE_FULL;
		errno = EDQUOT;
		return SQLITE_IOERR_WRITE;
	}
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}
static int shim_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}
static int shim_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device_chars(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}
static int shim_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		     int flags, int *out_flags)
{
	(void)vfs;
	struct shim_file *sf = (struct shim_file *)f;
	sf->real = (sqlite3_file *)(sf + 1);
	int rc = real_vfs->xOpen(real_vfs, name, sf->real, flags, out_flags);
	sf->base.pMethods = rc == SQLITE_OK ? &shim_methods : NULL;
	return rc;
}

static int shim_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
	(void)vfs;
	if (fail_mode == FAIL_EDQUOT)
		return EDQUOT;
	return real_vfs->xGetLastError(real_vfs, n, buf);
}

static void shim_register(void)
{
	real_vfs = sqlite3_vfs_find("unix");
	assert_non_null(real_vfs);
	shim_methods = (sqlite3_io_methods){
		.iVersion = 3, .xClose = shim_close, .xRead = shim_read,
		.xWrite = shim_write, .xTruncate = shim_truncate, .xSync = shim_sync,
		.xFileSize = shim_file_size, .xLock = shim_lock, .xUnlock = shim_unlock,
		.xCheckReservedLock = shim_check_reserved,
		.xFileControl = shim_file_control, .xSectorSize = shim_sector_size,
		.xDeviceCharacteristics = shim_device_chars, .xShmMap = shim_shm_map,
		.xShmLock = shim_shm_lock, .xShmBarrier = shim_shm_barrier,
		.xShmUnmap = shim_shm_unmap, .xFetch = shim_fetch, .xUnfetch = shim_unfetch,
	};
	/* the unix VFS's other methods read only pAppData and mxPathname */
	shim_vfs = *real_vfs;
	shim_vfs.pNext = NULL;
	shim_vfs.zName = "postel-test-full";
	shim_vfs.szOsFile = (int)sizeof(struct shim_file) + real_vfs->szOsFile;
	shim_vfs.xOpen = shim_open;
	shim_vfs.xGetLastError = shim_last_error;
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
}

/* ---- the tests ---- */

static int setup(void **state)
{
	(void)state;
	fail_mode = FAIL_NONE;
	return test_dir_make(dir, sizeof(dir), "test-store-full");
}

static int teardown(void **state)
{
	(void)state;
	fail_mode = FAIL_NONE;
	test_dir_remove(dir);
	return 0;
}

static struct store_delivery *written(struct store *st, const char *user, const char *text)
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
	pool_destroy(&pool);
	return count;
}

/* Files in the user's new/ and tmp/: none may be left by a failed commit. */
static unsigned count_files(const char *user_dir)
{
	unsigned n = 0;
	const char *subs[] = { "new", "tmp" };
	for (unsigned i = 0; i < 2; i++) {
		char path[256];
		snprintf(path, sizeof(path), "%s/%s/%s", dir, user_dir, subs[i]);
		DIR *d = opendir(path);
		assert_non_null(d);
		for (struct dirent *e; (e = readdir(d)) != NULL; )
			n += e->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

static void test_commit_full(void **state)
{
	(void)state;
	struct store *st;
	const char *error = NULL;
	uint32_t uid;
	assert_int_equal(store_open(dir, &st, &error), 0);
	struct store_delivery *d = written(st, "alice@example.org", "Subject: 1\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);

	static const struct { enum fail_mode mode; int err; } cases[] = {
		{ FAIL_FULL, ENOSPC }, { FAIL_EDQUOT, EDQUOT },
	};
	for (unsigned i = 0; i < 2; i++) {
		d = written(st, "alice@example.org", "Subject: 2\r\n\r\nfull\r\n");
		fail_mode = cases[i].mode;
		failed_writes = 0;
		error = NULL;
		int ret = store_delivery_commit(&d, &uid, &error);
		fail_mode = FAIL_NONE;
		assert_int_equal(ret, -1);
		assert_true(failed_writes > 0);
		assert_non_null(error);
		if (strstr(error, strerror(cases[i].err)) == NULL)
			fail_msg("case %u: error does not name %s: %s", i,
				 strerror(cases[i].err), error);
		/* the SMTP reply layer: 452 4.3.1, as for a file write */
		assert_true(smtp_message_error_is_storage_full(error));
		assert_int_equal(count_messages(st, "alice@example.org"), 1);
	}
	assert_int_equal(count_files("mail/example.org/alice"), 1);
	/* space is back: delivery works again */
	d = written(st, "alice@example.org", "Subject: 3\r\n\r\nback\r\n");
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_int_equal(count_messages(st, "alice@example.org"), 2);
	store_close(&st);
}

/* The path SMTP delivery takes: the committer thread's group commit. */
static void test_group_commit_full(void **state)
{
	(void)state;
	struct store *st;
	struct store_committer *c;
	const char *error = NULL;
	char *cerror = NULL;
	uint32_t uids[2];
	assert_int_equal(store_open(dir, &st, &error), 0);
	assert_int_equal(store_committer_create(dir, &c, &error), 0);
	struct store_delivery *ds[2] = {
		written(st, "bob@example.org", "Subject: a\r\n\r\na\r\n"),
		written(st, "bob@example.org", "Subject: b\r\n\r\nb\r\n"),
	};
	assert_int_equal(store_committer_commit(c, ds, 1, uids, &cerror), 0);
	fail_mode = FAIL_FULL;
	int ret = store_committer_commit(c, ds + 1, 1, uids, &cerror);
	fail_mode = FAIL_NONE;
	assert_int_equal(ret, -1);
	assert_non_null(cerror);
	assert_true(smtp_message_error_is_storage_full(cerror));
	free(cerror);
	assert_int_equal(count_messages(st, "bob@example.org"), 1);
	assert_int_equal(count_files("mail/example.org/bob"), 1);
	store_committer_destroy(&c);
	store_close(&st);
}

int main(void)
{
	shim_register();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
