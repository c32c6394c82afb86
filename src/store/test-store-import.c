/* test-store-import.c: unit tests for schema 4's index additions: the
 * migration from a schema-3 index (kept UIDVALIDITY, expunge log, old
 * messages without checkpoints still read and seek), the importer's
 * append with a given UID and its refusals, the UIDVALIDITY / UIDNEXT /
 * HIGHESTMODSEQ settings (durable across a reopen), and the expunge
 * log's trim to its horizon (keeps the newest, records the horizon);
 * and the message-open queries prepared once per index. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
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
#include "store/store_index_private.h" /* idx->db */
#include "store/store_view.h"
#include "store/test-store-path.h"
#include "store/test-store-fixture.h"

#define USER "hugo@example.org"
#define USER_DIR "mail/example.org/hugo"

struct fixture {
	char dir[64];
	struct store *store;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	if (test_store_setup(f->dir, sizeof(f->dir), "test-store-import", &f->store,
			     USER) < 0)
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

static struct store_delivery *begin(struct fixture *f, const char *mailbox,
				    const char *body)
{
	return test_store_begin(f->store, USER, mailbox, body, strlen(body), 0);
}

static uint32_t deliver(struct fixture *f, const char *body)
{
	return test_store_deliver(f->store, USER, "INBOX", body);
}

static struct store_index *inbox_index(struct fixture *f, int64_t *id_r)
{
	struct store_address addr;
	const char *name, *error;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	assert_int_equal(store_target_parse(USER, "INBOX", &addr, &name, &error), 0);
	assert_int_equal(maildir_mailbox_get((struct maildir_store *)f->store,
					     &addr, name, false, &user, &mb,
					     &error), 0);
	*id_r = mb.id;
	return user->index;
}

static void status(struct fixture *f, const char *mailbox,
		   struct store_mailbox_status *st)
{
	const char *error;
	assert_int_equal(store_mailbox_status(f->store, USER, mailbox, st,
					      &error), 0);
}

/* The version 3 schema as the code before schema 4 created it. */
static const char old_schema_3[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE mailboxes (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL, new_mtime INTEGER NOT NULL DEFAULT 0,"
	" tmp_checked INTEGER NOT NULL DEFAULT 0,"
	" first_recent_uid INTEGER NOT NULL DEFAULT 1,"
	" n_messages INTEGER NOT NULL DEFAULT 0, n_unseen INTEGER NOT NULL DEFAULT 0,"
	" n_deleted INTEGER NOT NULL DEFAULT 0, n_size INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE messages (mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL, modseq INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '', filename TEXT NOT NULL,"
	" size INTEGER NOT NULL, internaldate INTEGER NOT NULL,"
	" sysflags INTEGER NOT NULL DEFAULT 0, guid BLOB,"
	" PRIMARY KEY (mailbox_id, uid), UNIQUE (mailbox_id, filename));"
	"CREATE TABLE expunges (mailbox_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL, PRIMARY KEY (mailbox_id, uid)) WITHOUT ROWID;"
	"CREATE INDEX expunges_modseq ON expunges (mailbox_id, modseq);"
	"CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);"
	"CREATE TABLE subscriptions (name TEXT PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE keywords (mailbox_id INTEGER NOT NULL,"
	" name TEXT NOT NULL COLLATE NOCASE, PRIMARY KEY (mailbox_id, name))"
	" WITHOUT ROWID;"
	"CREATE TRIGGER messages_ins AFTER INSERT ON messages BEGIN"
	" UPDATE mailboxes SET n_messages = n_messages + 1,"
	"  n_size = n_size + new.size,"
	"  n_unseen = n_unseen + ((new.sysflags & 1) = 0),"
	"  n_deleted = n_deleted + ((new.sysflags & 8) != 0)"
	"  WHERE id = new.mailbox_id; END;"
	"CREATE TRIGGER messages_del AFTER DELETE ON messages BEGIN"
	" UPDATE mailboxes SET n_messages = n_messages - 1,"
	"  n_size = n_size - old.size,"
	"  n_unseen = n_unseen - ((old.sysflags & 1) = 0),"
	"  n_deleted = n_deleted - ((old.sysflags & 8) != 0),"
	"  highestmodseq = highestmodseq + 1 WHERE id = old.mailbox_id;"
	" INSERT OR REPLACE INTO expunges (mailbox_id, uid, modseq)"
	"  SELECT old.mailbox_id, old.uid, highestmodseq FROM mailboxes"
	"  WHERE id = old.mailbox_id; END;"
	"CREATE TRIGGER messages_flags AFTER UPDATE OF sysflags ON messages BEGIN"
	" UPDATE mailboxes SET"
	"  n_unseen = n_unseen - ((old.sysflags & 1) = 0) + ((new.sysflags & 1) = 0),"
	"  n_deleted = n_deleted - ((old.sysflags & 8) != 0) + ((new.sysflags & 8) != 0)"
	"  WHERE id = new.mailbox_id; END;"
	"PRAGMA user_version=3;"
	"INSERT INTO mailboxes (id, name, uidvalidity, uidnext, highestmodseq)"
	" VALUES (1, 'INBOX', 4321, 5, 9);"
	"INSERT INTO messages VALUES (1, 2, 3, '\\Seen', '1000.A.host', 6, 1000, 1,"
	" randomblob(16));"
	"INSERT INTO messages VALUES (1, 4, 6, '', '1001.B.host', 10, 1001, 0,"
	" randomblob(16));"
	"INSERT INTO expunges VALUES (1, 3, 8);";

static void write_file(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static int64_t query_int(const char *index, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return v;
}

static void test_migration_from_3(void **state)
{
	struct fixture *f = *state;
	const char *error;
	store_close(&f->store);
	const char *udir = t_printf("%s/" USER_DIR, f->dir);
	const char *index = t_printf("%s/postel-index.sqlite", udir);
	assert_int_equal(unlink(index), 0);
	(void)unlink(t_printf("%s-wal", index));
	(void)unlink(t_printf("%s-shm", index));
	write_file(t_printf("%s/cur/1000.A.host:2,S", udir), "a\nb\n");
	write_file(t_printf("%s/cur/1001.B.host:2,", udir), "c\nd\nef\n");
	sqlite3 *db;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, old_schema_3, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	struct store_mailbox_status st;
	status(f, "INBOX", &st);
	assert_int_equal(st.uidvalidity, 4321); /* migrated, not rebuilt */
	assert_int_equal(st.uidnext, 5);
	assert_int_equal(st.highestmodseq, 9);
	assert_int_equal(st.messages, 2);
	struct store_view *view;
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &view, &error), 0);
	/* an old message: no checkpoints, reads and seeks all the same */
	struct store_message_reader *r = store_view_message_open(view, 4, &error);
	assert_non_null(r);
	struct store_message_physical phys;
	assert_int_equal(store_message_physical(r, &phys, &error), 0);
	assert_int_equal(phys.wire_size, 10);
	assert_int_equal(phys.file_size, 7);
	assert_int_equal(phys.checkpoints, 0);
	assert_int_equal(store_message_seek(r, 3, &error), 0);
	char buf[64];
	assert_int_equal(store_message_read(r, buf, sizeof(buf), &error), 7);
	assert_memory_equal(buf, "d\r\nef\r\n", 7);
	store_message_close(&r);
	store_view_close(&view);
	/* the old log entry stays; a new expunge is stamped with its time */
	uint32_t uid = 2;
	unsigned n;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX", &uid, 1,
					       &n, &error), 0);
	assert_int_equal(n, 1);
	assert_int_equal(query_int(index, "PRAGMA user_version"), 11);
	assert_int_equal(query_int(index, "SELECT count(*) FROM expunges"), 2);
	assert_true(query_int(index, "SELECT expunged_at FROM expunges WHERE uid = 2")
		    >= (int64_t)time(NULL) - 60);
	assert_int_equal(query_int(index, "SELECT modseq FROM expunges WHERE uid = 2"),
			 10);
	assert_int_equal(query_int(index, "SELECT expunge_horizon FROM mailboxes"), 0);
}

static void test_import_append(void **state)
{
	struct fixture *f = *state;
	const char *error;
	uint32_t uid = 0;
	assert_int_equal(deliver(f, "Subject: 1\r\n\r\n1\r\n"), 1);
	struct store_delivery *d = begin(f, "INBOX", "Subject: 10\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_set_uid(d, 10, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_int_equal(uid, 10);
	struct store_mailbox_status st;
	status(f, "INBOX", &st);
	assert_int_equal(st.uidnext, 11);
	assert_int_equal(st.messages, 2);
	/* below UIDNEXT: refused, nothing stored */
	d = begin(f, "INBOX", "Subject: 5\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_set_uid(d, 5, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), -1);
	assert_non_null(strstr(error, "UIDNEXT is 11"));
	d = begin(f, "INBOX", "Subject: 10\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_set_uid(d, 10, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), -1);
	d = begin(f, "INBOX", "Subject: 0\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_set_uid(d, 0, &error), -1);
	store_delivery_abort(&d);
	status(f, "INBOX", &st);
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.uidnext, 11);
	const char *newdir = t_printf("%s/" USER_DIR "/new", f->dir);
	unsigned files = 0;
	DIR *dir = opendir(newdir);
	assert_non_null(dir);
	for (struct dirent *de; (de = readdir(dir)) != NULL;)
		files += de->d_name[0] != '.';
	closedir(dir);
	assert_int_equal(files, 2);
	/* exactly UIDNEXT is fine; the next plain delivery follows it */
	d = begin(f, "INBOX", "Subject: 11\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_set_uid(d, 11, &error), 0);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_int_equal(uid, 11);
	assert_int_equal(deliver(f, "Subject: 12\r\n\r\n1\r\n"), 12);
}

static void test_import_meta(void **state)
{
	struct fixture *f = *state;
	const char *error;
	assert_int_equal(store_mailbox_create(f->store, USER, "Archive", &error), 0);
	struct store_import_meta meta = { .uidvalidity = 777, .uidnext = 50,
					  .highestmodseq = 1000 };
	assert_int_equal(store_mailbox_import_meta(f->store, USER, "Archive",
						   &meta, &error), 0);
	/* never lowered */
	meta = (struct store_import_meta){ .uidnext = 20, .highestmodseq = 5 };
	assert_int_equal(store_mailbox_import_meta(f->store, USER, "Archive",
						   &meta, &error), 0);
	/* a mailbox with messages keeps its UIDVALIDITY */
	deliver(f, "Subject: 1\r\n\r\n1\r\n");
	struct store_mailbox_status before;
	status(f, "INBOX", &before);
	meta = (struct store_import_meta){ .uidvalidity = 99, .uidnext = 70 };
	assert_int_equal(store_mailbox_import_meta(f->store, USER, "INBOX",
						   &meta, &error), -1);
	assert_non_null(strstr(error, "UIDVALIDITY"));
	meta.uidvalidity = 0;
	assert_int_equal(store_mailbox_import_meta(f->store, USER, "INBOX",
						   &meta, &error), 0);
	meta = (struct store_import_meta){ .uidnext = 5 };
	assert_int_equal(store_mailbox_import_meta(f->store, USER, "Nowhere",
						   &meta, &error), -1);

	/* durable: a new handle sees it all */
	store_close(&f->store);
	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	struct store_mailbox_status st;
	status(f, "Archive", &st);
	assert_int_equal(st.uidvalidity, 777);
	assert_int_equal(st.uidnext, 50);
	assert_int_equal(st.highestmodseq, 1000);
	status(f, "INBOX", &st);
	assert_int_equal(st.uidvalidity, before.uidvalidity);
	assert_int_equal(st.uidnext, 70);
	uint32_t uid;
	struct store_delivery *d = begin(f, "Archive", "Subject: a\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_int_equal(uid, 50);
	status(f, "Archive", &st);
	assert_int_equal(st.highestmodseq, 1001);
}

/* Opening a message (every POP3 RETR) runs two index queries: their
 * statements are prepared once per index and kept, not prepared and
 * finalized per message. */
static void test_message_open_statements_cached(void **state)
{
	struct fixture *f = *state;
	uint32_t uid = deliver(f, "Subject: c\r\n\r\nx\r\n");
	int64_t id;
	struct store_index *idx = inbox_index(f, &id);
	pool_t *pool = pool_create(1024);
	struct store_index_message msg;
	void *ckpt;
	size_t len;
	const char *error;
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(store_index_message_get(idx, id, uid, pool, &msg,
							 &error), 1);
		assert_int_equal(msg.uid, uid);
		assert_int_equal(store_index_message_checkpoints(idx, id, uid, pool,
								 &ckpt, &len,
								 &error), 0);
	}
	unsigned kept = 0;
	for (sqlite3_stmt *st = sqlite3_next_stmt(idx->db, NULL); st != NULL;
	     st = sqlite3_next_stmt(idx->db, st)) {
		/* (the delivery's cached thread statements write) */
		if (strncmp(sqlite3_sql(st), "SELECT", 6) == 0 &&
		    strstr(sqlite3_sql(st), "FROM messages WHERE mailbox_id = ?1"
			   " AND uid = ?2") != NULL)
			kept++;
	}
	assert_int_equal(kept, 2);
	pool_destroy(&pool);
}

/* The one-column reads of FETCH BODYSTRUCTURE and PREVIEW and the
 * statements that thread a delivery are prepared once per index too
 * (store_index_structure.c index_message_get()): each is in SQLite's
 * list of open statements once, after several calls. */
static unsigned stmts_with(struct store_index *idx, const char *sql)
{
	unsigned n = 0;
	for (sqlite3_stmt *st = sqlite3_next_stmt(idx->db, NULL); st != NULL;
	     st = sqlite3_next_stmt(idx->db, st))
		n += strstr(sqlite3_sql(st), sql) != NULL;
	return n;
}

static void test_column_statements_cached(void **state)
{
	struct fixture *f = *state;
	uint32_t uid = deliver(f, "Message-ID: <p@x>\r\nSubject: c\r\n\r\nx\r\n");
	deliver(f, "References: <p@x>\r\nSubject: Re: c\r\n\r\ny\r\n");
	int64_t id;
	struct store_index *idx = inbox_index(f, &id);
	pool_t *pool = pool_create(1024);
	const char *error, *preview;
	void *blob;
	size_t len;
	uint64_t size;
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(store_index_message_set_preview(idx, id, uid, "c", &error), 0);
		assert_int_equal(store_index_message_preview(idx, id, uid, pool, &preview,
							     &error), 1);
		assert_string_equal(preview, "c");
		assert_int_equal(store_index_message_set_structure(idx, id, uid, "s", 1,
								   &error), 0);
		assert_int_equal(store_index_message_structure(idx, id, uid, pool, &blob,
							       &len, &size, &error), 1);
		assert_int_equal(len, 1);
	}
	assert_int_equal(store_index_message_preview(idx, id, 999, pool, &preview, &error), 0);
	assert_null(preview);
	assert_int_equal(stmts_with(idx, "SELECT preview FROM messages"), 1);
	assert_int_equal(stmts_with(idx, "UPDATE messages SET preview"), 1);
	assert_int_equal(stmts_with(idx, "SELECT structure, size FROM messages"), 1);
	assert_int_equal(stmts_with(idx, "UPDATE messages SET structure"), 1);
	assert_int_equal(stmts_with(idx, "FROM msgids WHERE msgid"), 1);
	assert_int_equal(stmts_with(idx, "INSERT OR IGNORE INTO msgids"), 1);
	pool_destroy(&pool);
}

static void test_horizon_trim(void **state)
{
	struct fixture *f = *state;
	const char *error;
	uint32_t uids[10];
	for (unsigned i = 0; i < 10; i++)
		uids[i] = deliver(f, "Subject: h\r\n\r\nx\r\n");
	unsigned n;
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(store_mailbox_expunge(f->store, USER, "INBOX",
						       &uids[i], 1, &n, &error), 0);
	int64_t id;
	struct store_index *idx = inbox_index(f, &id);
	const char *index = t_printf("%s/" USER_DIR "/postel-index.sqlite", f->dir);
	/* every entry is recent: the defaults trim nothing */
	assert_int_equal(query_int(index, "SELECT count(*) FROM expunges"), 10);
	uint64_t horizon;
	assert_int_equal(store_index_expunge_horizon(idx, id, &horizon, &error), 0);
	assert_int_equal(horizon, 0);
	/* the six oldest are 40 days old */
	sqlite3 *db;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, t_printf("UPDATE expunges SET expunged_at"
		" = %lld WHERE uid <= 6", (long long)time(NULL) - 40 * 86400),
		NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	int64_t sixth = query_int(index, "SELECT modseq FROM expunges WHERE uid = 6");
	int64_t now = (int64_t)time(NULL);
	/* keep the newest 8 whatever their age: only uids 1, 2 go */
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_expunges_trim(idx, id, now,
						   STORE_EXPUNGE_KEEP_SECS, 8,
						   &horizon, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(horizon, query_int(index, "SELECT min(modseq) FROM"
					    " expunges") - 1);
	assert_int_equal(query_int(index, "SELECT count(*) FROM expunges"), 8);
	assert_int_equal(query_int(index, "SELECT min(uid) FROM expunges"), 3);
	/* keep 3: the old ones beyond them go, the young ones stay */
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_expunges_trim(idx, id, now,
						   STORE_EXPUNGE_KEEP_SECS, 3,
						   &horizon, &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(horizon, (uint64_t)sixth);
	assert_int_equal(query_int(index, "SELECT count(*) FROM expunges"), 4);
	assert_int_equal(query_int(index, "SELECT min(uid) FROM expunges"), 7);
	assert_int_equal(query_int(index, "SELECT expunge_horizon FROM mailboxes"
				   " WHERE name = 'INBOX'"), sixth);
	/* a view from before the horizon still learns the kept expunges */
	assert_int_equal(store_index_expunge_horizon(idx, id, &horizon, &error), 0);
	assert_int_equal(horizon, (uint64_t)sixth);
	/* nothing more to trim: the horizon stays */
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_expunges_trim(idx, id, now, 0, 100, &horizon,
						   &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(horizon, (uint64_t)sixth);
	assert_int_equal(query_int(index, "SELECT count(*) FROM expunges"), 4);
}

/* An expunge commit trims with the defaults (100,000 entries, 30 days):
 * a log of 100,005 old entries loses its 6 oldest on the next expunge. */
static void test_horizon_trim_on_expunge(void **state)
{
	struct fixture *f = *state;
	const char *error;
	assert_int_equal(store_mailbox_create(f->store, USER, "Trash", &error), 0);
	struct store_import_meta meta = { .uidnext = 200000,
					  .highestmodseq = 200000 };
	assert_int_equal(store_mailbox_import_meta(f->store, USER, "Trash", &meta,
						   &error), 0);
	const char *index = t_printf("%s/" USER_DIR "/postel-index.sqlite", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(index, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "WITH RECURSIVE k(n) AS (SELECT 1"
		" UNION ALL SELECT n + 1 FROM k WHERE n < 100005)"
		" INSERT INTO expunges (mailbox_id, uid, modseq, expunged_at)"
		" SELECT (SELECT id FROM mailboxes WHERE name = 'Trash'), n, n, 0"
		" FROM k", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	uint32_t uid;
	struct store_delivery *d = begin(f, "Trash", "Subject: t\r\n\r\nx\r\n");
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	unsigned n;
	assert_int_equal(store_mailbox_expunge(f->store, USER, "Trash", &uid, 1,
					       &n, &error), 0);
	assert_int_equal(query_int(index, "SELECT count(*) FROM expunges WHERE"
		" mailbox_id = (SELECT id FROM mailboxes WHERE name = 'Trash')"),
		STORE_EXPUNGE_KEEP_COUNT);
	assert_int_equal(query_int(index, "SELECT expunge_horizon FROM mailboxes"
				   " WHERE name = 'Trash'"), 6);
	assert_int_equal(query_int(index, "SELECT min(modseq) FROM expunges WHERE"
		" mailbox_id = (SELECT id FROM mailboxes WHERE name = 'Trash')"), 7);
}

int main(void)
{
	log_init("test-store-import", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migration_from_3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_append, setup, teardown),
		cmocka_unit_test_setup_teardown(test_import_meta, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_open_statements_cached,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_column_statements_cached, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_horizon_trim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_horizon_trim_on_expunge, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
