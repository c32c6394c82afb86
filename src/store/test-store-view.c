/* test-store-view.c: unit tests for mailbox views (store_view.h) on the
 * maildir-sqlite backend: two handles on one mailbox see each other's
 * flag changes and expunges through sync with strictly increasing
 * MODSEQs, the expunge log, messages read by UID wherever the file went,
 * UNCHANGEDSINCE and keywords, changes since a MODSEQ with the expunge
 * log's horizon (QRESYNC). Suffixes, rebuild, migration and STATUS
 * counters: test-store-flags.c. */
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
#include "store/store_view.h"
#include "store/test-store-path.h"
#include "store/test-store-fixture.h"

#define USER "erin@example.org"

struct fixture {
	char dir[64];
	struct store *a, *b; /* two handles: two index connections */
	struct store_view *va, *vb;
	pool_t *pool;
};

static uint32_t deliver(struct store *store, const char *body)
{
	return test_store_deliver(store, USER, "INBOX", body);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error;
	if (test_store_setup(f->dir, sizeof(f->dir), "test-store-view", &f->a,
			     USER) < 0 ||
	    store_open(f->dir, &f->b, &error) < 0)
		return -1;
	f->pool = pool_create(4096);
	for (unsigned i = 0; i < 3; i++)
		deliver(f->a, "Subject: x\r\n\r\nbody\r\n");
	if (store_view_open(f->a, USER, "inbox", &f->va, &error) < 0 ||
	    store_view_open(f->b, USER, "INBOX", &f->vb, &error) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	store_view_close(&f->va);
	store_view_close(&f->vb);
	store_close(&f->a);
	store_close(&f->b);
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

static void sync_view(struct fixture *f, struct store_view *view,
		      struct store_view_changes *changes)
{
	const char *error;
	assert_int_equal(store_view_sync(view, f->pool, changes, &error), 0);
}

static void test_open_map(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(store_view_count(f->va), 3);
	assert_int_equal(store_view_uid(f->va, 1), 1);
	assert_int_equal(store_view_uid(f->va, 3), 3);
	assert_int_equal(store_view_uid(f->va, 4), 0);
	assert_int_equal(store_view_uid(f->va, 0), 0);
	assert_int_equal(store_view_seq(f->va, 2), 2);
	assert_int_equal(store_view_seq(f->va, 9), 0);
	assert_int_equal(store_view_uidnext(f->va), 4);
	assert_int_equal(store_view_uidvalidity(f->va), store_view_uidvalidity(f->vb));
	assert_true(store_view_modseq(f->va) >= 4); /* three appends */
	struct store_view_changes c;
	sync_view(f, f->va, &c);
	assert_false(c.reset);
	assert_int_equal(c.expunged_count + c.added_count + c.flag_change_count, 0);
}

static void test_flag_change_seen_by_other_view(void **state)
{
	struct fixture *f = *state;
	struct store_view_changes c;
	uint64_t before = store_view_modseq(f->vb);
	set_flags(f->va, 2, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	sync_view(f, f->vb, &c);
	assert_int_equal(c.flag_change_count, 1);
	assert_int_equal(c.flag_changes[0].uid, 2);
	assert_int_equal(c.flag_changes[0].sysflags,
			 STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_string_equal(c.flag_changes[0].flags, "\\Flagged \\Seen");
	uint64_t m1 = c.flag_changes[0].modseq;
	assert_true(m1 > before);
	assert_int_equal(store_view_modseq(f->vb), m1);

	/* the other way, and each change above the last */
	set_flags(f->vb, 2, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN);
	set_flags(f->vb, 3, STORE_FLAGS_REPLACE, STORE_FLAG_DRAFT);
	sync_view(f, f->va, &c);
	assert_int_equal(c.flag_change_count, 2);
	assert_int_equal(c.flag_changes[0].uid, 2);
	assert_int_equal(c.flag_changes[0].sysflags, STORE_FLAG_FLAGGED);
	assert_int_equal(c.flag_changes[1].uid, 3);
	assert_int_equal(c.flag_changes[1].sysflags, STORE_FLAG_DRAFT);
	assert_true(c.flag_changes[0].modseq > m1);
	assert_true(c.flag_changes[1].modseq > c.flag_changes[0].modseq);

	/* no change, no new MODSEQ (and nothing to sync) */
	uint64_t now = store_view_modseq(f->va);
	set_flags(f->va, 3, STORE_FLAGS_ADD, STORE_FLAG_DRAFT);
	sync_view(f, f->va, &c);
	assert_int_equal(c.flag_change_count, 0);
	assert_int_equal(store_view_modseq(f->va), now);
}

static void test_expunge_seen_by_other_view(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_view_changes c;
	unsigned n;
	uint64_t before = store_view_modseq(f->va);
	uint32_t two = 2;
	assert_int_equal(store_mailbox_expunge(f->b, USER, "INBOX", &two, 1, &n,
					       &error), 0);
	assert_int_equal(n, 1);
	/* the view's numbers stay until it syncs (RFC 9051 7.5.1) */
	assert_int_equal(store_view_count(f->va), 3);
	sync_view(f, f->va, &c);
	assert_int_equal(c.expunged_count, 1);
	assert_int_equal(c.expunged[0], 2);
	assert_int_equal(store_view_count(f->va), 2);
	assert_int_equal(store_view_seq(f->va, 3), 2);
	assert_int_equal(store_view_seq(f->va, 2), 0);
	assert_true(store_view_modseq(f->va) > before);

	/* a new message and an expunge together */
	uint32_t uid4 = deliver(f->a, "Subject: four\r\n\r\n4\r\n");
	uint32_t one = 1;
	assert_int_equal(store_mailbox_expunge(f->a, USER, "INBOX", &one, 1, &n,
					       &error), 0);
	sync_view(f, f->vb, &c);
	assert_int_equal(c.expunged_count, 2); /* 2 and 1, in UID order */
	assert_int_equal(c.expunged[0], 1);
	assert_int_equal(c.expunged[1], 2);
	assert_int_equal(c.added_count, 1);
	assert_int_equal(c.added[0], uid4);
	assert_int_equal(store_view_count(f->vb), 2);
	assert_int_equal(store_view_uid(f->vb, 2), uid4);
	assert_int_equal(store_view_uidnext(f->vb), uid4 + 1);
	assert_int_equal(store_view_modseq(f->vb), store_view_modseq(f->va) + 2);
}

/* The expunge log: a message added and expunged between two syncs is
 * neither added nor expunged; one EXPUNGE (one transaction) gives all
 * its messages one MODSEQ, above the append's (schema 8). */
static void test_expunge_log(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_view_changes c;
	unsigned n;
	uint32_t uid4 = deliver(f->a, "Subject: four\r\n\r\n4\r\n");
	uint32_t uids[2] = { uid4, 3 };
	uint64_t before = store_view_modseq(f->vb);
	assert_int_equal(store_mailbox_expunge(f->a, USER, "INBOX", uids, 2, &n,
					       &error), 0);
	assert_int_equal(n, 2);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	/* the append, then one MODSEQ for the whole expunge */
	assert_int_equal(st.highestmodseq, before + 2);
	sync_view(f, f->vb, &c);
	assert_int_equal(c.added_count, 0);
	assert_int_equal(c.expunged_count, 1);
	assert_int_equal(c.expunged[0], 3);
	assert_int_equal(store_view_modseq(f->vb), st.highestmodseq);
	assert_int_equal(store_view_uidnext(f->vb), uid4 + 1);
}

/* RFC 7162 3.2.5 QRESYNC: store_view_changes_since() reads what changed
 * above a MODSEQ without moving the map, and says when the expunge log
 * (trimmed by the limits of store_expunge_log_limits()) no longer covers
 * it. */
static void test_changes_since_and_horizon(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct store_view_flag_change *rows;
	uint32_t *gone;
	unsigned row_count, gone_count, n;
	bool complete;
	uint64_t m0 = store_view_modseq(f->vb);
	struct store_flags_update up = { .op = STORE_FLAGS_ADD, .sysflags = STORE_FLAG_FLAGGED };
	uint32_t two = 2, one = 1, three = 3;
	assert_int_equal(store_view_set_flags(f->va, &two, 1, &up, NULL, NULL, NULL, &error), 0);
	assert_int_equal(store_mailbox_expunge(f->a, USER, "INBOX", &one, 1, &n, &error), 0);
	assert_int_equal(store_view_changes_since(f->vb, m0, f->pool, &rows, &row_count, &gone,
						  &gone_count, &complete, &error), 0);
	assert_int_equal(row_count, 1);
	assert_int_equal(rows[0].uid, 2);
	assert_true(rows[0].modseq > m0 && (rows[0].sysflags & STORE_FLAG_FLAGGED) != 0);
	assert_int_equal(gone_count, 1);
	assert_int_equal(gone[0], 1);
	assert_true(complete);
	assert_int_equal(store_view_count(f->vb), 3); /* the map did not move */
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	uint64_t m1 = st.highestmodseq;
	/* keep nothing older than now: the next expunge trims uid 1's entry */
	store_expunge_log_limits(0, 0);
	sleep(1);
	assert_int_equal(store_mailbox_expunge(f->a, USER, "INBOX", &three, 1, &n, &error), 0);
	store_expunge_log_limits(30, 100000);
	assert_int_equal(store_view_changes_since(f->vb, m0, f->pool, &rows, &row_count, &gone,
						  &gone_count, &complete, &error), 0);
	assert_false(complete); /* 3.2.5.2: m0 is below the horizon now */
	assert_int_equal(gone_count, 1);
	assert_int_equal(gone[0], 3);
	assert_int_equal(store_view_changes_since(f->vb, m1, f->pool, &rows, &row_count, &gone,
						  &gone_count, &complete, &error), 0);
	assert_true(complete && gone_count == 1 && gone[0] == 3 && row_count == 0);
}

static void read_all(struct store_view *view, uint32_t uid, const char *expect)
{
	const char *error;
	struct store_message_reader *r = store_view_message_open(view, uid, &error);
	assert_non_null(r);
	char buf[256];
	size_t len = 0;
	ssize_t n;
	while ((n = store_message_read(r, buf + len, sizeof(buf) - len, &error)) > 0)
		len += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(len, strlen(expect));
	assert_memory_equal(buf, expect, len);
	store_message_close(&r);
}

/* By UID, wherever a Maildir reader moved the file; none for an
 * expunged UID. */
static void test_message_by_uid(void **state)
{
	struct fixture *f = *state;
	const char *error;
	uint32_t uid = deliver(f->a, "Subject: r\r\n\r\nread me\r\n");
	struct store_view_changes c;
	sync_view(f, f->vb, &c);
	read_all(f->vb, uid, "Subject: r\r\n\r\nread me\r\n");
	const char *path = test_message_path(f->a, USER, "INBOX", uid);
	assert_non_null(path);
	const char *base = strrchr(path, '/') + 1;
	char moved[512];
	snprintf(moved, sizeof(moved), "%s/mail/example.org/erin/cur/%s:2,PS",
		 f->dir, base);
	assert_int_equal(rename(path, moved), 0);
	read_all(f->vb, uid, "Subject: r\r\n\r\nread me\r\n");
	assert_null(store_view_message_open(f->vb, 999, &error));
	unsigned n;
	assert_int_equal(store_mailbox_expunge(f->a, USER, "INBOX", &uid, 1, &n,
					       &error), 0);
	assert_null(store_view_message_open(f->vb, uid, &error));
}

static void test_unchangedsince(void **state)
{
	struct fixture *f = *state;
	const char *error;
	set_flags(f->va, 1, STORE_FLAGS_ADD, STORE_FLAG_ANSWERED);
	struct store_view_changes c;
	sync_view(f, f->vb, &c);
	uint64_t m1 = c.flag_changes[0].modseq;
	sync_view(f, f->va, &c); /* a view sees its own changes by sync too */
	assert_int_equal(c.flag_change_count, 1);
	/* RFC 7162 3.1.3: uid 1 changed after m1 - 1, uid 2 did not */
	uint32_t uids[2] = { 1, 2 };
	struct store_flags_update update = {
		.op = STORE_FLAGS_ADD, .sysflags = STORE_FLAG_DELETED,
		.unchangedsince = m1 - 1,
	};
	uint32_t *modified;
	unsigned modified_count;
	assert_int_equal(store_view_set_flags(f->vb, uids, 2, &update, f->pool,
					      &modified, &modified_count, &error), 0);
	assert_int_equal(modified_count, 1);
	assert_int_equal(modified[0], 1);
	sync_view(f, f->va, &c);
	assert_int_equal(c.flag_change_count, 1);
	assert_int_equal(c.flag_changes[0].uid, 2);
	assert_int_equal(c.flag_changes[0].sysflags, STORE_FLAG_DELETED);
}

static void test_keywords(void **state)
{
	struct fixture *f = *state;
	const char *error;
	const char *kw[] = { "$Label1", "Work" };
	struct store_flags_update update = {
		.op = STORE_FLAGS_ADD, .sysflags = STORE_FLAG_SEEN,
		.keywords = kw, .keyword_count = 2,
	};
	uint32_t uid = 1;
	assert_int_equal(store_view_set_flags(f->va, &uid, 1, &update, NULL, NULL,
					      NULL, &error), 0);
	struct store_view_changes c;
	sync_view(f, f->vb, &c);
	assert_string_equal(c.flag_changes[0].flags, "\\Seen $Label1 Work");
	/* case-insensitive: removing "$label1" removes "$Label1" */
	const char *rm[] = { "$label1" };
	update = (struct store_flags_update){ .op = STORE_FLAGS_REMOVE,
					      .keywords = rm, .keyword_count = 1 };
	assert_int_equal(store_view_set_flags(f->va, &uid, 1, &update, NULL, NULL,
					      NULL, &error), 0);
	sync_view(f, f->vb, &c);
	assert_string_equal(c.flag_changes[0].flags, "\\Seen Work");
	const char *bad[] = { "a b" };
	update.keywords = bad;
	assert_int_equal(store_view_set_flags(f->va, &uid, 1, &update, NULL, NULL,
					      NULL, &error), -1);
	const char *sys[] = { "\\Seen" };
	update.keywords = sys;
	assert_int_equal(store_view_set_flags(f->va, &uid, 1, &update, NULL, NULL,
					      NULL, &error), -1);
	/* listed through the view as in the index */
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(f->vb, f->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_string_equal(msgs[0].flags, "\\Seen Work");
	assert_int_equal(msgs[0].sysflags, STORE_FLAG_SEEN);
}

static void test_copy_and_move(void **state)
{
	struct fixture *f = *state;
	const char *error;
	set_flags(f->va, 1, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED);
	struct store_copy_result r;
	uint32_t uids[3] = { 3, 1, 99 };
	assert_int_equal(store_view_copy(f->va, uids, 3, "Archive", false, f->pool,
					 &r, &error), 0);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.src_uids[0], 1);
	assert_int_equal(r.src_uids[1], 3);
	assert_int_equal(r.dst_uids[0], 1);
	assert_int_equal(r.dst_uids[1], 2);
	struct store_view *archive;
	assert_int_equal(store_view_open(f->b, USER, "Archive", &archive, &error), 0);
	assert_int_equal(store_view_uidvalidity(archive), r.dst_uidvalidity);
	assert_int_equal(store_view_count(archive), 2);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(archive, f->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(msgs[0].sysflags, STORE_FLAG_FLAGGED);
	read_all(archive, 2, "Subject: x\r\n\r\nbody\r\n");
	store_view_close(&archive);

	/* MOVE: gone from INBOX for every view, there in Trash */
	uint32_t two = 2;
	assert_int_equal(store_view_copy(f->va, &two, 1, "Trash", true, f->pool,
					 &r, &error), 0);
	assert_int_equal(r.count, 1);
	struct store_view_changes c;
	sync_view(f, f->vb, &c);
	assert_int_equal(c.expunged_count, 1);
	assert_int_equal(c.expunged[0], 2);
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(f->a, USER, "Trash", &st, &error), 0);
	assert_int_equal(st.messages, 1);
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.messages, 2);
	assert_null(test_message_path(f->a, USER, "INBOX", 2));
	/* refused: into itself, into nothing; nothing left behind */
	uint32_t one = 1;
	assert_int_equal(store_view_copy(f->va, &one, 1, "INBOX", true, f->pool,
					 &r, &error), -1);
	assert_int_equal(store_view_copy(f->va, &one, 1, "Nowhere", false, f->pool,
					 &r, &error), -1);
	assert_int_equal(store_mailbox_status(f->a, USER, "INBOX", &st, &error), 0);
	assert_int_equal(st.messages, 2);
}

static void assert_names(struct fixture *f, const char *expect)
{
	const char *error, **names;
	unsigned count;
	assert_int_equal(store_mailbox_list(f->a, USER, f->pool, &names, &count,
					    &error), 0);
	char got[512] = "";
	for (unsigned i = 0; i < count; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s",
			 i > 0 ? " " : "", names[i]);
	assert_string_equal(got, expect);
}

static bool folder_exists(struct fixture *f, const char *name)
{
	struct stat st;
	return stat(t_printf("%s/mail/example.org/erin/%s", f->dir, name), &st) == 0;
}

static void test_mailbox_management(void **state)
{
	struct fixture *f = *state;
	const char *error;
	assert_names(f, "Archive Drafts INBOX Junk Sent Trash");
	assert_int_equal(store_mailbox_create(f->a, USER, "Projects", &error), 0);
	assert_int_equal(store_mailbox_create(f->a, USER, "Projects/a", &error), 0);
	struct store_delivery *d = store_delivery_begin(f->a, USER, "Projects/a", &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write(d, "S: p\r\n\r\np\r\n", 11, &error), 0);
	uint32_t uid;
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	struct store_mailbox_status before, after;
	assert_int_equal(store_mailbox_status(f->b, USER, "Projects/a", &before,
					      &error), 0);
	/* refused: INBOX, a mailbox with children, names taken or below */
	assert_int_equal(store_mailbox_delete(f->a, USER, "inbox", &error), -1);
	assert_int_equal(store_mailbox_delete(f->a, USER, "Projects", &error), -1);
	assert_int_equal(store_mailbox_rename(f->a, USER, "Projects", "Trash", &error), -1);
	assert_int_equal(store_mailbox_rename(f->a, USER, "Projects", "Projects/b",
					      &error), -1);
	assert_int_equal(store_mailbox_rename(f->a, USER, "Nope", "Nope2", &error), -1);

	assert_int_equal(store_mailbox_rename(f->b, USER, "Projects", "Work", &error), 0);
	assert_names(f, "Archive Drafts INBOX Junk Sent Trash Work Work/a");
	assert_true(folder_exists(f, ".Work.a/cur"));
	assert_false(folder_exists(f, ".Projects.a"));
	assert_int_equal(store_mailbox_status(f->a, USER, "Work/a", &after, &error), 0);
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.messages, 1);
	struct store_view *view;
	assert_int_equal(store_view_open(f->a, USER, "Work/a", &view, &error), 0);
	read_all(view, uid, "S: p\r\n\r\np\r\n");
	store_view_close(&view);

	assert_int_equal(store_mailbox_delete(f->a, USER, "Work/a", &error), 0);
	assert_int_equal(store_mailbox_delete(f->b, USER, "Work", &error), 0);
	assert_false(folder_exists(f, ".Work.a"));
	assert_false(folder_exists(f, ".Work"));
	assert_int_equal(store_mailbox_delete(f->b, USER, "Work", &error), -1);
	/* a new handle (and a rescan) does not bring them back */
	store_view_close(&f->va);
	store_view_close(&f->vb);
	store_close(&f->a);
	store_close(&f->b);
	assert_int_equal(store_open(f->dir, &f->a, &error), 0);
	assert_int_equal(store_open(f->dir, &f->b, &error), 0);
	assert_int_equal(store_user_create(f->a, USER, &error), 0);
	assert_names(f, "Archive Drafts INBOX Junk Sent Trash");

	/* RFC 9051 6.3.6: INBOX's messages move, INBOX stays, empty */
	assert_int_equal(store_mailbox_rename(f->a, USER, "INBOX", "Old", &error), 0);
	assert_names(f, "Archive Drafts INBOX Junk Old Sent Trash");
	assert_int_equal(store_mailbox_status(f->b, USER, "INBOX", &after, &error), 0);
	assert_int_equal(after.messages, 0);
	assert_int_equal(store_mailbox_status(f->b, USER, "Old", &after, &error), 0);
	assert_int_equal(after.messages, 3);

	const char **names;
	unsigned count;
	assert_int_equal(store_mailbox_subscribe(f->a, USER, "Sent", true, &error), 0);
	assert_int_equal(store_mailbox_subscribe(f->a, USER, "Later", true, &error), 0);
	assert_int_equal(store_mailbox_subscribe(f->b, USER, "Sent", false, &error), 0);
	assert_int_equal(store_mailbox_subscriptions(f->b, USER, f->pool, &names,
						     &count, &error), 0);
	assert_int_equal(count, 1);
	assert_string_equal(names[0], "Later");
}

int main(void)
{
	log_init("test-store-view", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flag_change_seen_by_other_view,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_seen_by_other_view,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_expunge_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_changes_since_and_horizon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_by_uid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchangedsince, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keywords, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_and_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox_management, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
