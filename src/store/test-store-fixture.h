/* test-store-fixture.h: for unit tests only: the set-up every test over a
 * store (or any data directory) repeats, in one place.
 *
 * - test_dir_make(): a fresh "/tmp/<name>.XXXXXX" directory;
 * - test_dir_remove(): removes it and all below it (no symlinks followed);
 * - test_store_setup(): the directory, store_open() on it and, when user is
 *   not NULL, store_user_create();
 * - test_store_begin(): store_delivery_begin() and the body written in
 *   chunks (0 = in one write), each step asserted; the caller sets meta,
 *   uid or syncs and commits;
 * - test_store_deliver(): begin + commit, asserted; returns the UID;
 * - struct test_store_fixture with test_store_fixture_setup()/_teardown():
 *   the common cmocka fixture, a store with one user and a view the test
 *   may open (closed at teardown).
 * Include after <cmocka.h>. All helpers are static inline, so a test that
 * uses only some of them builds clean under -Wall -Wextra -Werror. */
#ifndef POSTEL_TEST_STORE_FIXTURE_H
#define POSTEL_TEST_STORE_FIXTURE_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lib/mem.h"
#include "store/store.h"
#include "store/store_view.h"

static inline int test_dir_rm_entry(const char *path, const struct stat *st,
				    int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static inline void test_dir_remove(const char *dir)
{
	nftw(dir, test_dir_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* 0 and dir holds the new directory's path, or -1. */
static inline int test_dir_make(char *dir, size_t size, const char *name)
{
	int n = snprintf(dir, size, "/tmp/%s.XXXXXX", name);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static inline int test_store_setup(char *dir, size_t size, const char *name,
				   struct store **store_r, const char *user)
{
	const char *error;
	if (test_dir_make(dir, size, name) < 0 ||
	    store_open(dir, store_r, &error) < 0)
		return -1;
	if (user != NULL && store_user_create(*store_r, user, &error) < 0)
		return -1;
	return 0;
}

static inline struct store_delivery *
test_store_begin(struct store *store, const char *user, const char *mailbox,
		 const void *body, size_t len, size_t chunk)
{
	const char *error;
	struct store_delivery *d = store_delivery_begin(store, user, mailbox,
							&error);
	assert_non_null(d);
	if (chunk == 0)
		chunk = len == 0 ? 1 : len;
	const char *p = body;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		assert_int_equal(store_delivery_write(d, p + off, n, &error), 0);
	}
	return d;
}

static inline uint32_t test_store_deliver(struct store *store, const char *user,
					  const char *mailbox, const char *body)
{
	const char *error;
	uint32_t uid = 0;
	struct store_delivery *d = test_store_begin(store, user, mailbox, body,
						    strlen(body), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_null(d);
	return uid;
}

struct test_store_fixture {
	char dir[64];
	struct store *store;
	struct store_view *view;
};

static inline int test_store_fixture_setup(void **state, const char *name,
					   const char *user)
{
	struct test_store_fixture *f = xcalloc(1, sizeof(*f));
	*state = f;
	return test_store_setup(f->dir, sizeof(f->dir), name, &f->store, user);
}

static inline int test_store_fixture_teardown(void **state)
{
	struct test_store_fixture *f = *state;
	if (f == NULL)
		return 0;
	store_view_close(&f->view);
	store_close(&f->store);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

#ifdef SQLITE_VERSION_NUMBER
/* For tests that read or change an index with SQL (include <sqlite3.h>
 * first): run sql, failing the test on an error; the first column of
 * the first row of a query. */
static inline void test_store_sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err != NULL ? err : "?");
}

static inline int64_t test_store_sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *stmt;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}
#endif

#endif
