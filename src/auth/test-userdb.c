/* test-userdb.c: unit tests for userdb.h on a fresh accounts.db in a
 * temporary directory per test: schema, management, case rules, alias
 * resolution (recursion, loops, dedup, catch-all), send-as, validation,
 * and changes seen by a second open handle without reopening. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/userdb.h"
#include "auth/test-userdb-dir.h"

struct fixture {
	char dir[64];
	struct userdb *db;
	pool_t *pool;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *error = NULL;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test-userdb.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	if (userdb_open(f->dir, &f->db, &error) < 0)
		fail_msg("userdb_open: %s", error);
	f->pool = pool_create(4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	userdb_close(&f->db);
	assert_null(f->db);
	test_userdb_dir_remove(f->dir);
	pool_destroy(&f->pool);
	free(f);
	return 0;
}

static void user_add(struct fixture *f, const char *address)
{
	const char *error = NULL;
	if (userdb_user_add(f->db, address, "$y$fakehash", NULL, &error) != 1)
		fail_msg("user_add %s: %s", address, error);
}

static void alias_add(struct fixture *f, const char *source, const char *target)
{
	const char *error = NULL;
	if (userdb_alias_add(f->db, source, target, &error) != 1)
		fail_msg("alias_add %s %s: %s", source, target, error);
}

/* Aliases made before alias_add() refused loops (or by hand): inserted
 * as they are, so resolution still has to cope with them. */
static void alias_add_unchecked(struct fixture *f, const char *source, const char *target)
{
	char path[128];
	sqlite3 *sql;
	snprintf(path, sizeof(path), "%s/db/accounts.db", f->dir);
	assert_int_equal(sqlite3_open(path, &sql), SQLITE_OK);
	char *stmt = sqlite3_mprintf("INSERT INTO aliases (source, target) VALUES (%Q, %Q)",
				     source, target);
	assert_int_equal(sqlite3_exec(sql, stmt, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(stmt);
	sqlite3_close(sql);
}

/* Resolve and return the targets as "addr(L|E) addr(L|E)..." */
static const char *resolve(struct fixture *f, const char *address, int expect)
{
	struct userdb_target *targets;
	unsigned count;
	const char *error = NULL;
	int ret = userdb_resolve_rcpt(f->db, address, f->pool, &targets, &count, &error);
	if (ret != expect)
		fail_msg("resolve %s: %d, expected %d (%s)", address, ret, expect,
			 error != NULL ? error : "");
	char *out = pool_strdup(f->pool, "");
	for (unsigned i = 0; i < count; i++)
		out = pool_printf(f->pool, "%s%s%s(%c)", out, i == 0 ? "" : " ",
				  targets[i].address, targets[i].local ? 'L' : 'E');
	return out;
}

static void test_open_schema(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char path[128];
	sqlite3 *sql;
	sqlite3_stmt *stmt;
	const char *error = NULL;

	snprintf(path, sizeof(path), "%s/db/accounts.db", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(sqlite3_open(path, &sql), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sql, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_prepare_v2(sql, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);

	/* reopening keeps the secret; a newer schema is refused */
	struct userdb *db2;
	unsigned char secret[USERDB_SECRET_LEN];
	memcpy(secret, userdb_secret(f->db), sizeof(secret));
	assert_int_equal(userdb_open(f->dir, &db2, &error), 0);
	assert_memory_equal(userdb_secret(db2), secret, sizeof(secret));
	userdb_close(&db2);
	assert_int_equal(sqlite3_exec(sql, "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(userdb_open(f->dir, &db2, &error), -1);
	assert_non_null(strstr(error, "newer"));
	sqlite3_close(sql);
}

static void test_domains(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL, **names;
	unsigned count;

	assert_int_equal(userdb_domain_add(f->db, "Example.ORG", &error), 1);
	assert_int_equal(userdb_domain_add(f->db, "example.org", &error), 0);
	assert_int_equal(userdb_domain_add(f->db, "b.example", &error), 1);
	assert_int_equal(userdb_domain_add(f->db, "bad_domain", &error), -1);
	assert_int_equal(userdb_domain_add(f->db, "../etc", &error), -1);
	assert_int_equal(userdb_is_local_domain(f->db, "EXAMPLE.org"), 1);
	assert_int_equal(userdb_is_local_domain(f->db, "example.net"), 0);
	assert_int_equal(userdb_domain_list(f->db, f->pool, &names, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_string_equal(names[0], "b.example");
	assert_string_equal(names[1], "example.org"); /* stored lower-case */

	user_add(f, "u@example.org");
	assert_int_equal(userdb_domain_del(f->db, "example.org", &error), -1);
	assert_non_null(strstr(error, "1 user"));
	assert_int_equal(userdb_user_del(f->db, "U@EXAMPLE.ORG", &error), 1);
	alias_add(f, "@example.org", "x@elsewhere.net");
	assert_int_equal(userdb_domain_del(f->db, "example.org", &error), -1);
	assert_int_equal(userdb_alias_del(f->db, "@example.org", NULL, &error), 1);
	assert_int_equal(userdb_domain_del(f->db, "EXAMPLE.org", &error), 1);
	assert_int_equal(userdb_domain_del(f->db, "example.org", &error), 0);
	assert_int_equal(userdb_is_local_domain(f->db, "example.org"), 0);
}

static void test_users(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL, **addrs;
	unsigned count;
	struct userdb_auth auth;
	struct password_scram scram = { .salt = { 1, 2, 3 }, .salt_len = 3,
					.iterations = 4096, .stored_key = { 9 },
					.server_key = { 8 } };

	/* adding a user adds its domain; the local part keeps its case */
	assert_int_equal(userdb_user_add(f->db, "Bob.Smith@Example.ORG", "$y$h1", &scram, &error), 1);
	assert_int_equal(userdb_is_local_domain(f->db, "example.org"), 1);
	assert_int_equal(userdb_user_add(f->db, "bob.smith@example.org", "$y$h2", NULL, &error), 0);
	assert_int_equal(userdb_user_exists(f->db, "BOB.SMITH@example.org"), 1);
	assert_int_equal(userdb_user_exists(f->db, "bob@example.org"), 0);
	assert_int_equal(userdb_user_add(f->db, "a/b@example.org", "$y$h", NULL, &error), -1);
	assert_int_equal(userdb_user_add(f->db, "@example.org", "$y$h", NULL, &error), -1);
	assert_int_equal(userdb_user_add(f->db, "c@example.org", "", NULL, &error), -1);

	assert_int_equal(userdb_auth_lookup(f->db, "bob.smith@EXAMPLE.org", f->pool, &auth, &error), 1);
	assert_string_equal(auth.address, "Bob.Smith@example.org");
	assert_string_equal(auth.password_hash, "$y$h1");
	assert_true(auth.has_scram);
	assert_int_equal(auth.scram.salt_len, 3);
	assert_int_equal(auth.scram.iterations, 4096);
	assert_int_equal(auth.scram.stored_key[0], 9);
	assert_int_equal(auth.scram.server_key[0], 8);

	/* a new imported hash drops the SCRAM keys */
	assert_int_equal(userdb_user_set_password(f->db, "BOB.smith@example.org", "$6$x", NULL, &error), 1);
	assert_int_equal(userdb_auth_lookup(f->db, "bob.smith@example.org", f->pool, &auth, &error), 1);
	assert_string_equal(auth.password_hash, "$6$x");
	assert_false(auth.has_scram);
	assert_int_equal(userdb_user_set_password(f->db, "nobody@example.org", "$6$x", NULL, &error), 0);
	assert_int_equal(userdb_auth_lookup(f->db, "nobody@example.org", f->pool, &auth, &error), 0);

	user_add(f, "zed@b.example");
	assert_int_equal(userdb_user_list(f->db, NULL, f->pool, &addrs, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(userdb_user_list(f->db, "B.EXAMPLE", f->pool, &addrs, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_string_equal(addrs[0], "zed@b.example");
	assert_int_equal(userdb_user_del(f->db, "zed@b.example", &error), 1);
	assert_int_equal(userdb_user_del(f->db, "zed@b.example", &error), 0);
}

static void test_resolve_basic(void **state)
{
	struct fixture *f = *state;

	user_add(f, "Alice@example.org");
	assert_string_equal(resolve(f, "alice@EXAMPLE.ORG", 1), "Alice@example.org(L)");
	assert_string_equal(resolve(f, "ALICE@example.org", 1), "Alice@example.org(L)");
	assert_string_equal(resolve(f, "nobody@example.org", 0), "");
	assert_string_equal(resolve(f, "Someone@Other.NET", 1), "Someone@other.net(E)");
	assert_string_equal(resolve(f, "postmaster", 0), "");
	assert_string_equal(resolve(f, "@example.org", 0), "");
	/* a quoted local part with '@' is split at the last '@' */
	assert_string_equal(resolve(f, "\"a@b\"@example.org", 0), "");
}

static void test_resolve_aliases(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;

	user_add(f, "alice@example.org");
	user_add(f, "bob@example.org");
	alias_add(f, "team@example.org", "alice@example.org");
	alias_add(f, "team@example.org", "Bob@Example.org");
	alias_add(f, "team@example.org", "partner@remote.net");
	assert_string_equal(resolve(f, "TEAM@example.org", 1),
			    "alice@example.org(L) bob@example.org(L) partner@remote.net(E)");

	/* nesting with duplicates: everyone once */
	alias_add(f, "all@example.org", "team@example.org");
	alias_add(f, "all@example.org", "alice@example.org");
	alias_add(f, "all@example.org", "PARTNER@remote.net");
	assert_string_equal(resolve(f, "all@example.org", 1),
			    "alice@example.org(L) bob@example.org(L) partner@remote.net(E)");

	/* alias_add() refuses a loop (issue 11 item 5) ... */
	alias_add(f, "loop-a@example.org", "loop-b@example.org");
	assert_int_equal(userdb_alias_add(f->db, "loop-b@example.org", "loop-a@example.org",
					  &error), -1);
	assert_non_null(strstr(error, "loop"));
	assert_int_equal(userdb_alias_add(f->db, "self@example.org", "self@example.org",
					  &error), -1);
	/* ... but one already there ends: a -> b -> a, plus bob */
	alias_add_unchecked(f, "loop-b@example.org", "loop-a@example.org");
	alias_add(f, "loop-b@example.org", "bob@example.org");
	assert_string_equal(resolve(f, "loop-a@example.org", 1), "bob@example.org(L)");
	/* a loop with no user at all is not deliverable */
	alias_add(f, "x1@example.org", "x2@example.org");
	alias_add_unchecked(f, "x2@example.org", "x1@example.org");
	assert_string_equal(resolve(f, "x1@example.org", 0), "");

	/* an alias that would shadow a user is refused; listing the user's
	 * own address first keeps a copy, and then it may forward */
	assert_int_equal(userdb_alias_add(f->db, "bob@example.org", "archive@remote.net",
					  &error), -1);
	assert_non_null(strstr(error, "shadow"));
	/* one made before the rule: the alias wins over the user */
	alias_add_unchecked(f, "bob@example.org", "archive@remote.net");
	assert_string_equal(resolve(f, "bob@example.org", 1), "archive@remote.net(E)");
	alias_add(f, "bob@example.org", "bob@example.org");
	assert_string_equal(resolve(f, "bob@example.org", 1),
			    "archive@remote.net(E) bob@example.org(L)");

	/* a dangling local target is skipped */
	alias_add(f, "half@example.org", "gone@example.org");
	assert_string_equal(resolve(f, "half@example.org", 0), "");
	alias_add(f, "half@example.org", "alice@example.org");
	assert_string_equal(resolve(f, "half@example.org", 1), "alice@example.org(L)");

	/* sources must be in a local domain; targets must be addresses */
	assert_int_equal(userdb_alias_add(f->db, "x@remote.net", "alice@example.org", &error), -1);
	assert_int_equal(userdb_alias_add(f->db, "y@example.org", "@example.org", &error), -1);
	assert_int_equal(userdb_alias_add(f->db, "y@example.org", "a/b@example.org", &error), -1);
	assert_int_equal(userdb_alias_add(f->db, "team@example.org", "ALICE@example.org", &error), 0);
}

static void test_resolve_depth(void **state)
{
	struct fixture *f = *state;
	char src[64], dst[64];
	const char *error = NULL;
	struct userdb_target *targets;
	unsigned count;

	user_add(f, "end@example.org");
	/* d0 -> d1 -> ... -> d8 -> end: 9 alias levels, one too many */
	for (unsigned i = 0; i <= 8; i++) {
		snprintf(src, sizeof(src), "d%u@example.org", i);
		if (i == 8)
			snprintf(dst, sizeof(dst), "end@example.org");
		else
			snprintf(dst, sizeof(dst), "d%u@example.org", i + 1);
		alias_add(f, src, dst);
	}
	assert_string_equal(resolve(f, "d1@example.org", 1), "end@example.org(L)");
	assert_int_equal(userdb_resolve_rcpt(f->db, "d0@example.org", f->pool, &targets,
					     &count, &error), -1);
	assert_non_null(strstr(error, "deeper"));
}

static void test_resolve_catchall(void **state)
{
	struct fixture *f = *state;

	user_add(f, "alice@example.org");
	user_add(f, "catch@example.org");
	alias_add(f, "sales@example.org", "alice@example.org");
	alias_add(f, "@example.org", "catch@example.org");
	/* exact user and exact alias win over the catch-all */
	assert_string_equal(resolve(f, "alice@example.org", 1), "alice@example.org(L)");
	assert_string_equal(resolve(f, "sales@example.org", 1), "alice@example.org(L)");
	assert_string_equal(resolve(f, "random@EXAMPLE.org", 1), "catch@example.org(L)");
	/* the catch-all also applies to alias targets in the domain */
	alias_add(f, "fwd@example.org", "typo@example.org");
	assert_string_equal(resolve(f, "fwd@example.org", 1), "catch@example.org(L)");
	/* other local domains are not covered */
	user_add(f, "x@other.example");
	assert_string_equal(resolve(f, "random@other.example", 0), "");
}

static void test_may_send_as(void **state)
{
	struct fixture *f = *state;

	user_add(f, "alice@example.org");
	user_add(f, "bob@example.org");
	alias_add(f, "info@example.org", "alice@example.org");
	alias_add(f, "info@example.org", "bob@example.org");
	alias_add(f, "all@example.org", "info@example.org");
	alias_add(f, "@example.org", "alice@example.org");
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "alice@example.org"), 1);
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "ALICE@Example.org"), 1);
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "INFO@example.org"), 1);
	assert_int_equal(userdb_may_send_as(f->db, "bob@example.org", "info@example.org"), 1);
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "bob@example.org"), 0);
	/* only direct targets, and never through the catch-all */
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "all@example.org"), 0);
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "whatever@example.org"), 0);
	assert_int_equal(userdb_may_send_as(f->db, "alice@example.org", "alice@evil.example"), 0);
}

static void test_changes_seen_by_other_handle(void **state)
{
	struct fixture *f = *state;
	struct userdb *server;
	const char *error = NULL;

	/* the "server" handle prepares its statements first */
	assert_int_equal(userdb_open(f->dir, &server, &error), 0);
	assert_int_equal(userdb_user_exists(server, "new@example.org"), 0);
	assert_int_equal(userdb_is_local_domain(server, "example.org"), 0);
	user_add(f, "new@example.org");
	assert_int_equal(userdb_is_local_domain(server, "example.org"), 1);
	assert_int_equal(userdb_user_exists(server, "new@example.org"), 1);
	assert_int_equal(userdb_user_del(f->db, "new@example.org", &error), 1);
	assert_int_equal(userdb_user_exists(server, "new@example.org"), 0);
	userdb_close(&server);
}

/* A file whose pages after the first are garbage opens (the schema is on
 * page 1) but fails the check, and the error names the file. */
static void test_damaged_file_refused(void **state)
{
	struct fixture *f = *state;
	const char *error = NULL;
	char path[128];

	for (int i = 0; i < 200; i++)
		user_add(f, pool_printf(f->pool, "u%d@example.org", i));
	userdb_close(&f->db);
	assert_int_equal(userdb_ready(f->dir, &error), 0);
	snprintf(path, sizeof(path), "%s/db/accounts.db", f->dir);
	FILE *fp = fopen(path, "r+b");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	long size = ftell(fp);
	assert_true(size > 8192);
	assert_int_equal(fseek(fp, 4096, SEEK_SET), 0);
	for (long at = 4096; at < size; at++)
		fputc(0x5a ^ (int)(at & 0xff), fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(userdb_ready(f->dir, &error), -1);
	assert_non_null(strstr(error, path));
}

static void test_validation(void **state)
{
	(void)state;
	const char *error;
	static const char *const good[] = {
		"a@b", "first.last@example.org", "x+tag@sub.example.co.uk",
		"o'neil@example.org", "a-b_c=d@x-y.example", "UPPER@EXAMPLE.ORG",
	};
	static const char *const bad[] = {
		"", "plain", "@example.org", "a@", "a@@b", "a@b@c", ".a@b", "a.@b",
		"a..b@c", "../x@b", "a/b@c", "a b@c", "a@b..c", "a@-b.c", "a@b-.c",
		"a@b.c.", "a@.b", "a@b/c", "a@[127.0.0.1]", "\"q\"@b", "a\\b@c",
		"caf\xc3\xa9@b", "a@b_c",
		"12345678901234567890123456789012345678901234567890123456789012345@b",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!userdb_address_valid(good[i], false, &error))
			fail_msg("rejected %s: %s", good[i], error);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (userdb_address_valid(bad[i], false, &error))
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_true(userdb_address_valid("@example.org", true, &error));
	assert_false(userdb_address_valid("@", true, &error));

	char label[80], longdom[300];
	memset(label, 'a', 63);
	label[63] = '\0';
	assert_true(userdb_domain_valid(label, &error));
	memset(label, 'a', 64);
	label[64] = '\0';
	assert_false(userdb_domain_valid(label, &error));
	/* 4 labels of 63 and dots: 255 ok, 257 not */
	memset(longdom, 'a', sizeof(longdom));
	longdom[63] = longdom[127] = longdom[191] = '.';
	longdom[255] = '\0';
	assert_true(userdb_domain_valid(longdom, &error));
	longdom[255] = 'a';
	longdom[256] = 'a';
	longdom[257] = '\0';
	assert_false(userdb_domain_valid(longdom, &error));

	pool_t *pool = pool_create(256);
	assert_string_equal(userdb_address_normalize(pool, "Mixed.Case@EXAMPLE.Org"),
			    "Mixed.Case@example.org");
	assert_string_equal(userdb_address_normalize(pool, "NoAt"), "NoAt");
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_users, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_aliases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resolve_catchall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_may_send_as, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_seen_by_other_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_file_refused, setup, teardown),
		cmocka_unit_test(test_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
