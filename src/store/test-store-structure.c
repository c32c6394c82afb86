/* test-store-structure.c: unit tests for the MIME structure cache
 * (store_view_message_structure(), store_structure.c): the tree of a
 * message stored with bare LFs carries WIRE offsets (CRLF form); the
 * first request stores the mime_cache blob in the index and the second
 * decodes it (same tree); a damaged blob is parsed again and replaced;
 * an expunged UID is an error; COPY carries the blob along. Schema 9's
 * hdr8bit: set at delivery (0 for a 7-bit header, 1 for an 8-bit one),
 * copied with the message, NULL (-1) for a row migrated from version 8
 * until store_view_message_set_hdr_8bit() records it. */
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
#include <sqlite3.h>

#include "lib/mem.h"
#include "mime/mime_parser.h"
#include "store/store_view.h"
#include "store/test-store-path.h"
#include "store/test-store-fixture.h"

#define USER "hugo@example.org"

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-structure", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

/* LF line ends as an MTA may hand them over: stored as LF */
static const char msg_lf[] =
	"Subject: s\n"
	"Content-Type: multipart/mixed; boundary=b\n"
	"\n"
	"pre\n"
	"--b\n"
	"Content-Type: text/plain\n"
	"\n"
	"one\ntwo\n"
	"--b--\n";

static uint32_t deliver(struct test_store_fixture *f, const char *m)
{
	const char *error;
	uint32_t uid = test_store_deliver(f->store, USER, "INBOX", m);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view,
					 &error), 0);
	return uid;
}

static struct store_index *mailbox_index(struct test_store_fixture *f,
					 const char *mailbox, int64_t *id_r)
{
	struct store_address addr;
	const char *name, *error;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	assert_int_equal(store_target_parse(USER, mailbox, &addr, &name,
					    &error), 0);
	assert_int_equal(maildir_mailbox_get((struct maildir_store *)f->store,
					     &addr, name, false, &user, &mb,
					     &error), 0);
	*id_r = mb.id;
	return user->index;
}

static size_t stored_blob_len_in(struct test_store_fixture *f, const char *mailbox,
				 uint32_t uid)
{
	int64_t id;
	struct store_index *idx = mailbox_index(f, mailbox, &id);
	void *blob;
	size_t len;
	uint64_t size;
	const char *error;
	assert_int_equal(store_index_message_structure(idx, id, uid, pool_temp(),
						       &blob, &len, &size,
						       &error), 1);
	assert_int_equal(size, strlen(msg_lf) + 10); /* 10 LFs become CRLF */
	return len;
}

static struct store_index *inbox_index(struct test_store_fixture *f, int64_t *id_r)
{
	return mailbox_index(f, "INBOX", id_r);
}

static size_t stored_blob_len(struct test_store_fixture *f, uint32_t uid)
{
	return stored_blob_len_in(f, "INBOX", uid);
}

static void check_tree(const struct mime_tree *t)
{
	/* wire form: "Subject: s\r\n" 12, Content-Type line 43, "\r\n" 2 */
	assert_int_equal(t->count, 2);
	assert_string_equal(t->parts[0].type, "multipart");
	assert_int_equal(t->parts[0].hdr_off, 0);
	assert_int_equal(t->parts[0].body_off, 57);
	assert_int_equal(t->parts[0].hdr_bare_lf, 0);
	const struct mime_part *p = &t->parts[1];
	assert_string_equal(p->type, "text");
	/* "pre\r\n--b\r\n" 10 */
	assert_int_equal(p->hdr_off, 67);
	assert_int_equal(p->body_off, 67 + 26 + 2);
	/* "one\r\ntwo": the last CRLF belongs to the delimiter */
	assert_int_equal(mime_part_body_octets(p), 8);
	assert_int_equal(p->body_bare_lf, 0);
	assert_int_equal(p->body_lines, 1);
}

static void test_structure_wire_offsets_and_cache(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uid = deliver(f, msg_lf);
	assert_int_equal(stored_blob_len(f, uid), 0); /* lazy */
	struct mime_tree *t = NULL;
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(),
						      &t, &error), 0);
	check_tree(t);
	mime_tree_free(&t);
	assert_true(stored_blob_len(f, uid) > 0);
	/* from the blob now: the same tree */
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(),
						      &t, &error), 0);
	check_tree(t);
	mime_tree_free(&t);
}

static void test_structure_damaged_blob_is_replaced(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uid = deliver(f, msg_lf);
	int64_t id;
	struct store_index *idx = inbox_index(f, &id);
	assert_int_equal(store_index_begin(idx, &error), 0);
	assert_int_equal(store_index_message_set_structure(idx, id, uid,
							   "\x07junk", 5,
							   &error), 0);
	assert_int_equal(store_index_commit(idx, &error), 0);
	assert_int_equal(stored_blob_len(f, uid), 5);
	struct mime_tree *t = NULL;
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(),
						      &t, &error), 0);
	check_tree(t);
	mime_tree_free(&t);
	assert_true(stored_blob_len(f, uid) > 5);
	/* no such message */
	assert_int_equal(store_view_message_structure(f->view, uid + 5,
						      pool_temp(), &t, &error),
			 -1);
	assert_null(t);
}

static void test_structure_copied_with_message(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uid = deliver(f, msg_lf);
	struct mime_tree *t = NULL;
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(),
						      &t, &error), 0);
	mime_tree_free(&t);
	size_t len = stored_blob_len(f, uid);
	struct store_copy_result res;
	assert_int_equal(store_view_copy(f->view, &uid, 1, "Archive", false,
					 pool_temp(), &res, &error), 0);
	assert_int_equal(res.count, 1);
	assert_int_equal(stored_blob_len_in(f, "Archive", res.dst_uids[0]), len);
}

static int8_t hdr_8bit_of(struct test_store_fixture *f, uint32_t uid)
{
	const char *error;
	struct store_message_info *infos;
	unsigned n;
	assert_int_equal(store_view_list_uids(f->view, &uid, 1, pool_temp(), &infos, &n,
					      &error), 0);
	assert_int_equal(n, 1);
	return infos[0].hdr_8bit;
}

static void test_hdr8bit_at_delivery_migration_and_set(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t plain = deliver(f, msg_lf);
	store_view_close(&f->view);
	uint32_t eight = deliver(f, "Subject: caf\xc3\xa9\n\nbody\n");
	assert_int_equal(hdr_8bit_of(f, plain), 0);
	assert_int_equal(hdr_8bit_of(f, eight), 1);
	/* an 8-bit body does not make the header 8-bit */
	store_view_close(&f->view);
	uint32_t body8 = deliver(f, "Subject: s\n\nk\xc3\xb6ln\n");
	assert_int_equal(hdr_8bit_of(f, body8), 0);
	/* a 7-bit top-level header over an 8-bit MIME part header */
	store_view_close(&f->view);
	uint32_t part8 = deliver(f, "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
				 "Content-Type: text/plain; name=\"\xc3\xa9\"\n\nx\n--b--\n");
	assert_int_equal(hdr_8bit_of(f, part8), 1);
	struct store_copy_result res;
	assert_int_equal(store_view_copy(f->view, &eight, 1, "Archive", false,
					 pool_temp(), &res, &error), 0);
	/* back to version 8: the column goes, every row forgets */
	store_view_close(&f->view);
	store_close(&f->store);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(t_printf("%s/mail/example.org/hugo/postel-index.sqlite",
					       f->dir), &db), SQLITE_OK);
	assert_int_equal(test_store_sql_int(db, "SELECT count(*) FROM messages"
						" WHERE hdr8bit = 1"), 3); /* the copy too */
	test_store_sql_exec(db, "ALTER TABLE messages DROP COLUMN hdr8bit;" "ALTER TABLE messages DROP COLUMN dgsize;" "ALTER TABLE messages DROP COLUMN sortkeys;"
			    "ALTER TABLE mailboxes DROP COLUMN thread_keys;"
			    "PRAGMA user_version = 8;");
	sqlite3_close(db);
	assert_int_equal(store_open(f->dir, &f->store, &error), 0);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	assert_int_equal(hdr_8bit_of(f, eight), -1);
	assert_int_equal(hdr_8bit_of(f, plain), -1);
	assert_int_equal(store_view_message_set_hdr_8bit(f->view, eight, true, 0, &error), 0);
	assert_int_equal(store_view_message_set_hdr_8bit(f->view, plain, false, 0, &error), 0);
	assert_int_equal(hdr_8bit_of(f, eight), 1);
	assert_int_equal(hdr_8bit_of(f, plain), 0);
}

/* A composite type written folded, with a comment or with white space
 * before the colon still marks the message (its parts may have 8-bit
 * headers); a discrete type with an 8-bit body does not. */
static void test_hdr8bit_composite_type_however_written(void **state)
{
	struct test_store_fixture *f = *state;
	static const char *const composite[] = {
		"Content-Type:\n multipart/mixed; boundary=b\n\n--b\n"
		"Subject: \xc3\xa9\n\nx\n--b--\n",
		"Content-Type: (c) multipart/mixed; boundary=b\n\n--b\n"
		"Subject: \xc3\xa9\n\nx\n--b--\n",
		"Content-Type: message/global\n\nSubject: \xc3\xa9\n\nx\n",
	};
	for (unsigned i = 0; i < sizeof(composite) / sizeof(*composite); i++) {
		store_view_close(&f->view);
		uint32_t uid = deliver(f, composite[i]);
		assert_int_equal(hdr_8bit_of(f, uid), 1);
	}
	store_view_close(&f->view);
	uint32_t leaf = deliver(f, "Content-Type:\n text/plain; charset=utf-8\n\nk\xc3\xb6ln\n");
	assert_int_equal(hdr_8bit_of(f, leaf), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_structure_wire_offsets_and_cache,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_damaged_blob_is_replaced,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_structure_copied_with_message,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hdr8bit_composite_type_however_written,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hdr8bit_at_delivery_migration_and_set,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
