/* test-store-flags.c: unit tests for what flag changes leave behind in
 * the maildir-sqlite backend: the Maildir ":2," suffix on disk, an index
 * rebuilt from those suffixes, the migration of a schema-2 index made by
 * the old code's SQL, \Recent claims, and STATUS counters that match a
 * full count after random operations on two handles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "store/store_view.h"
#include "store/test-store-path.h"
#include "store/test-store-fixture.h"

#define USER "frank@example.org"
#define USER_DIR "mail/example.org/frank"

struct fixture {
	char dir[64];
	struct store *a, *b;
	struct store_view *va, *vb;
	pool_t *pool;
};

static uint32_t deliver(struct store *store, const char *body)
{
	return test_store_deliver(store, USER, "INBOX", body);
}

static void open_views(struct fixture *f)
{
	const char *error;
	assert_int_equal(store_open(f->dir, &f->a, &error), 0);
	assert_int_equal(store_open(f->dir, &f->b, &error), 0);
	assert_int_equal(store_view_open(f->a, USER, "INBOX", &f->va, &error), 0);
	assert_int_equal(store_view_open(f->b, USER, "INBOX", &f->vb, &error), 0);
}

static void close_views(struct fixture *f)
{
	store_view_close(&f->va);
	store_view_close(&f->vb);
	store_close(&f->a);
	store_close(&f->b);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct store *store;
	if (test_store_setup(f->dir, sizeof(f->dir), "test-store-flags", &store,
			     USER) < 0)
		return -1;
	store_close(&store);
	f->pool = pool_create(4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	close_views(f);
	pool_destroy(&f->pool);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static void set_flags(struct store_view *view, uint32_t uid,
		      enum store_flags_op op, unsigned sysflags)
{
	const char *error;
	struct store_flags_update update = { .op = op, .sysflags = sysflags };
	assert_int_equal(store_view_set_flags(view, &uid, 1, &update, NULL, NULL,
					      NULL, &error), 0);
}

static const char *suffix_of(struct fixture *f, uint32_t uid)
{
	const char *path = test_message_path(f->a, USER, "INBOX", uid);
	assert_non_null(path);
	const char *info = strstr(path, ":2,");
	return info == NULL ? "" : info;
}

static void test_suffix_renamed(void **state)
{
	struct fixture *f = *state;
	uint32_t uid;
	{
		struct store *store;
		const char *error;
		assert_int_equal(store_open(f->dir, &store, &error), 0);
		uid = deliver(store, "Subject: s\r\n\r\nx\r\n");
		store_close(&store);
	}
	open_views(f);
	const char *path = test_message_path(f->a, USER, "INBOX", uid);
	assert_non_null(strstr(path, "/" USER_DIR "/new/"));
	set_flags(f->va, uid, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	path = test_message_path(f->a, USER, "INBOX", uid);
	assert_non_null(strstr(path, "/" USER_DIR "/cur/"));
	assert_string_equal(suffix_of(f, uid), ":2,FS");
	/* letters another program set (P, keywords a-z) are kept */
	char moved[512];
	snprintf(moved, sizeof(moved), "%.*s:2,FPSa",
		 (int)(strstr(path, ":2,") - path), path);
	assert_int_equal(rename(path, moved), 0);
	set_flags(f->vb, uid, STORE_FLAGS_REPLACE,
		  STORE_FLAG_ANSWERED | STORE_FLAG_DELETED | STORE_FLAG_DRAFT);
	assert_string_equal(suffix_of(f, uid), ":2,DPRTa");
	set_flags(f->va, uid, STORE_FLAGS_REPLACE, 0);
	assert_string_equal(suffix_of(f, uid), ":2,Pa");
	struct stat st;
	assert_int_equal(stat(test_message_path(f->a, USER, "INBOX", uid), &st), 0);
}

/* An index lost and rebuilt from the files gets the flags back from
 * the suffixes our renames wrote. */
static void test_rebuild_reads_suffixes(void **state)
{
	struct fixture *f = *state;
	const char *error;
	open_views(f);
	uint32_t u1 = deliver(f->a, "Subject: 1\r\n\r\n1\r\n");
	uint32_t u2 = deliver(f->a, "Subject: 2\r\n\r\n2\r\n");
	(void)u2;
	struct store_view_changes c;
	assert_int_equal(store_view_sync(f->va, f->pool, &c, &error), 0);
	set_flags(f->va, u1, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
	close_views(f);
	const char *index = t_printf("%s/" USER_DIR "/postel-index.sqlite", f->dir);
	assert_int_equal(unlink(index), 0);
	(void)unlink(t_printf("%s-wal", index));
	(void)unlink(t_printf("%s-shm", index));
	open_views(f);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(f->va, f->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 2);
	/* a rebuild numbers the files afresh, in no promised order (one was
	 * renamed into cur/, the other is still in new/): one message has
	 * the flags from its suffix, the other none */
	unsigned flagged = msgs[0].sysflags != 0 ? 0 : 1;
	assert_int_equal(msgs[flagged].sysflags, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
	assert_int_equal(msgs[1 - flagged].sysflags, 0);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 1);
}

/* APPEND with flags and an internal date: index, suffix and mtime, and
 * both back after a rebuild; every message gets a GUID of its own. */
static void test_append_with_flags_and_date(void **state)
{
	struct fixture *f = *state;
	const char *error;
	open_views(f);
	const char *kw[] = { "$Sent" };
	struct store_flags_update flags = {
		.sysflags = STORE_FLAG_SEEN | STORE_FLAG_DRAFT,
		.keywords = kw, .keyword_count = 1,
	};
	uint32_t uid;
	struct store_delivery *d = store_delivery_begin(f->a, USER, "INBOX", &error);
	assert_non_null(d);
	const char *body = "Subject: d\r\n\r\nx\r\n";
	assert_int_equal(store_delivery_write(d, body, strlen(body), &error), 0);
	const char *bad[] = { "(x" };
	flags.keywords = bad;
	assert_int_equal(store_delivery_set_meta(d, &flags, 1000000000, &error), -1);
	flags.keywords = kw;
	assert_int_equal(store_delivery_set_meta(d, &flags, 1000000000, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	deliver(f->a, "Subject: plain\r\n\r\ny\r\n");
	assert_string_equal(suffix_of(f, uid), ":2,DS");
	struct stat st;
	assert_int_equal(stat(test_message_path(f->a, USER, "INBOX", uid), &st), 0);
	assert_int_equal(st.st_mtime, 1000000000);
	for (unsigned round = 0; round < 2; round++) {
		struct store_message_info *msgs;
		unsigned count;
		assert_int_equal(store_mailbox_list_messages(f->b, USER, "INBOX", f->pool,
							     &msgs, &count, &error), 0);
		assert_int_equal(count, 2);
		assert_int_equal(msgs[0].sysflags, STORE_FLAG_SEEN | STORE_FLAG_DRAFT);
		assert_int_equal(msgs[0].internaldate, 1000000000);
		assert_int_equal(msgs[1].sysflags, 0);
		static const uint8_t zero[STORE_GUID_SIZE];
		assert_memory_not_equal(msgs[0].guid, zero, STORE_GUID_SIZE);
		assert_memory_not_equal(msgs[0].guid, msgs[1].guid, STORE_GUID_SIZE);
		if (round == 0) {
			/* keywords are in the index only (no dovecot-keywords) */
			assert_string_equal(msgs[0].flags, "\\Seen \\Draft $Sent");
			close_views(f);
			const char *index = t_printf("%s/" USER_DIR
						     "/postel-index.sqlite", f->dir);
			assert_int_equal(unlink(index), 0);
			(void)unlink(t_printf("%s-wal", index));
			(void)unlink(t_printf("%s-shm", index));
			open_views(f);
		}
	}
}

/* The version 2 schema as the old code created it. */
static const char old_schema_2[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL, new_mtime INTEGER NOT NULL DEFAULT 0,"
	" tmp_checked INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE messages (mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '', filename TEXT NOT NULL,"
	" size INTEGER NOT NULL, internaldate INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid), UNIQUE (mailbox_id, filename));"
	"PRAGMA user_version=2;"
	"INSERT INTO mailboxes VALUES (1, 'INBOX', 1234, 5, 7, 0, 0);"
	"INSERT INTO messages VALUES (1, 2, 3, '\\Seen', '1000.A.host', 6, 1000);"
	"INSERT INTO messages VALUES (1, 4, 6, '\\Deleted \\Flagged', '1001.B.host',"
	" 10, 1001);";

static void write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* Version 1: no new_mtime, tmp_checked. */
static const char old_schema_1[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL);"
	"CREATE TABLE messages (mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '', filename TEXT NOT NULL,"
	" size INTEGER NOT NULL, internaldate INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid), UNIQUE (mailbox_id, filename));"
	"PRAGMA user_version=1;"
	"INSERT INTO mailboxes VALUES (1, 'INBOX', 1234, 5, 7);"
	"INSERT INTO messages VALUES (1, 2, 3, '\\Seen', '1000.A.host', 6, 1000);"
	"INSERT INTO messages VALUES (1, 4, 6, '\\Deleted \\Flagged', '1001.B.host',"
	" 10, 1001);";

/* Build an old index from old_sql beside two message files, open it
 * with this code and check what the migration made of it. */
static void migrate_and_check(struct fixture *f, const char *old_sql)
{
	const char *error;
	const char *udir = t_printf("%s/" USER_DIR, f->dir);
	const char *index = t_printf("%s/postel-index.sqlite", udir);
	assert_int_equal(unlink(index), 0);
	(void)unlink(t_printf("%s-wal", index));
	(void)unlink(t_printf("%s-shm", index));
	write_file(t_printf("%s/cur/1000.A.host:2,S", udir), "a\nb\n");
	write_file(t_printf("%s/cur/1001.B.host:2,FT", udir), "c\nd\nef\n");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, old_sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	open_views(f);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.uidvalidity, 1234); /* migrated, not rebuilt */
	assert_int_equal(st.uidnext, 5);
	assert_int_equal(st.highestmodseq, 7);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 1);
	assert_int_equal(st.deleted, 1);
	assert_int_equal(st.size, 16);
	assert_int_equal(st.recent, 0);
	assert_int_equal(store_view_count(f->va), 2);
	assert_int_equal(store_view_uid(f->va, 2), 4);
	struct store_message_info *msgs;
	unsigned count;
	static const uint8_t zero[STORE_GUID_SIZE];
	assert_int_equal(store_view_list(f->va, f->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_memory_not_equal(msgs[0].guid, zero, STORE_GUID_SIZE);
	assert_memory_not_equal(msgs[0].guid, msgs[1].guid, STORE_GUID_SIZE);
	assert_string_equal(msgs[1].flags, "\\Deleted \\Flagged");
	assert_int_equal(msgs[1].sysflags, STORE_FLAG_DELETED | STORE_FLAG_FLAGGED);
	/* the expunge log and triggers work on the migrated index */
	uint32_t uid = 2;
	unsigned n;
	assert_int_equal(store_mailbox_expunge(f->b, USER, "INBOX", &uid, 1, &n,
					       &error), 0);
	struct store_view_changes c;
	assert_int_equal(store_view_sync(f->va, f->pool, &c, &error), 0);
	assert_int_equal(c.expunged_count, 1);
	assert_int_equal(c.expunged[0], 2);
	assert_int_equal(store_view_modseq(f->va), 8);
	{
		struct store_message_reader *r = store_view_message_open(f->va, 4, &error);
		assert_non_null(r);
		char buf[64];
		assert_int_equal(store_message_read(r, buf, sizeof(buf), &error), 10);
		store_message_close(&r);
	}
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	sqlite3_stmt *stmt;
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 11);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

static void test_migration_from_2(void **state)
{
	migrate_and_check(*state, old_schema_2);
}

static void test_migration_from_1(void **state)
{
	migrate_and_check(*state, old_schema_1);
}

/* The counters against a count of every row, after each of a bounded
 * series of random appends, flag changes and expunges on two handles. */
static void test_status_matches_full_count(void **state)
{
	struct fixture *f = *state;
	const char *error;
	open_views(f);
	for (unsigned i = 0; i < 10; i++)
		deliver(f->a, "Subject: r\r\n\r\nrandom\r\n");
	unsigned seed = 42;
	for (unsigned round = 0; round < 120; round++) {
		struct store_view *view = rand_r(&seed) % 2 ? f->va : f->vb;
		struct store *store = view == f->va ? f->a : f->b;
		struct store_view_changes c;
		assert_int_equal(store_view_sync(view, f->pool, &c, &error), 0);
		unsigned count = store_view_count(view);
		uint32_t uid = count == 0 ? 1 :
			store_view_uid(view, 1 + (unsigned)rand_r(&seed) % count);
		unsigned op = (unsigned)rand_r(&seed) % 10, n;
		if (op < 6 && count > 0) {
			set_flags(view, uid, (enum store_flags_op)(op % 3),
				  (unsigned)rand_r(&seed) & STORE_FLAGS_SYSTEM);
		} else if (op < 8 && count > 0) {
			assert_int_equal(store_mailbox_expunge(store, USER, "INBOX", &uid,
							       1, &n, &error), 0);
		} else {
			deliver(store, round % 2 ? "a\r\n" : "Subject: longer\r\n\r\nb\r\n");
		}
		struct store_mailbox_status st;
		struct store_message_info *msgs;
		unsigned total, unseen = 0, deleted = 0;
		uint64_t size = 0;
		assert_int_equal(store_mailbox_status(f->b, USER, "INBOX", &st,
						      &error), 0);
		assert_int_equal(store_mailbox_list_messages(f->a, USER, "INBOX",
							     f->pool, &msgs, &total,
							     &error), 0);
		for (unsigned i = 0; i < total; i++) {
			unseen += (msgs[i].sysflags & STORE_FLAG_SEEN) == 0;
			deleted += (msgs[i].sysflags & STORE_FLAG_DELETED) != 0;
			size += msgs[i].size;
			assert_int_equal(msgs[i].sysflags,
					 store_flags_text_bits(msgs[i].flags));
		}
		assert_int_equal(st.messages, total);
		assert_int_equal(st.unseen, unseen);
		assert_int_equal(st.deleted, deleted);
		assert_int_equal(st.size, size);
		assert_int_equal(st.recent, total); /* nobody claimed \Recent */
		pool_clear(f->pool);
	}
}

/* \Recent: the first session to claim gets them; STATUS RECENT counts
 * what nobody claimed. */
static void test_claim_recent(void **state)
{
	struct fixture *f = *state;
	const char *error;
	open_views(f);
	for (unsigned i = 0; i < 3; i++)
		deliver(f->a, "Subject: x\r\n\r\nbody\r\n");
	struct store_view_changes c;
	assert_int_equal(store_view_sync(f->va, f->pool, &c, &error), 0);
	assert_int_equal(store_view_sync(f->vb, f->pool, &c, &error), 0);
	struct store_mailbox_status st;
	uint32_t first;
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.recent, 3);
	assert_int_equal(store_view_claim_recent(f->va, &first, &error), 0);
	assert_int_equal(first, 1);
	assert_int_equal(store_view_claim_recent(f->vb, &first, &error), 0);
	assert_int_equal(first, 4); /* nothing left for the second */
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.recent, 0);
	deliver(f->a, "Subject: new\r\n\r\nnew\r\n");
	assert_int_equal(store_mailbox_status(f->b, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.recent, 1);
	/* a view claims only what its map holds */
	assert_int_equal(store_view_claim_recent(f->vb, &first, &error), 0);
	assert_int_equal(first, 4);
	assert_int_equal(store_mailbox_status(f->b, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.recent, 1);
	assert_int_equal(store_view_sync(f->vb, f->pool, &c, &error), 0);
	assert_int_equal(store_view_claim_recent(f->vb, &first, &error), 0);
	assert_int_equal(first, 4);
	assert_int_equal(store_mailbox_status(f->b, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.recent, 0);
}

int main(void)
{
	log_init("test-store-flags", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_suffix_renamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_reads_suffixes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_with_flags_and_date, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claim_recent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_status_matches_full_count, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
