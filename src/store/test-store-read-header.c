/* test-store-read-header.c: unit tests for store_message_read_header()
 * (store_view.h), the one reader of a part's header that FETCH, SORT,
 * downgrading and the THREADID backfill share: a part's wire header with
 * its empty line (the root and a child, read in any order, whatever the
 * reader's position), cut at max; with no part, the top header up to its
 * empty line, all of a message without one, only "\r\n" for one with no
 * header fields, cut at max. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_parser.h"
#include "store/store_view.h"
#include "store/test-store-fixture.h"

#define USER "hugo@example.org"

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-read-header", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

/* stored with LF line ends; read in wire form (CRLF) */
static const char msg_lf[] =
	"Subject: s\n"
	"Content-Type: multipart/mixed; boundary=b\n"
	"\n"
	"pre\n"
	"--b\n"
	"Content-Type: text/plain\n"
	"\n"
	"one\r\n\r\ntwo\n"
	"--b--\n";

static const char root_wire[] =
	"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n";
static const char child_wire[] = "Content-Type: text/plain\r\n\r\n";

static struct store_message_reader *open_uid(struct test_store_fixture *f,
					     const char *msg, uint32_t *uid_r)
{
	const char *error;
	*uid_r = test_store_deliver(f->store, USER, "INBOX", msg);
	if (f->view != NULL)
		store_view_close(&f->view);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	struct store_message_reader *r = store_view_message_open(f->view, *uid_r, &error);
	assert_non_null(r);
	return r;
}

static void assert_hdr(const str_t *hdr, const char *want)
{
	assert_int_equal(hdr->len, strlen(want));
	assert_memory_equal(hdr->data, want, hdr->len);
	assert_int_equal(hdr->data[hdr->len], '\0');
}

static void test_part_headers(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uid;
	struct store_message_reader *r = open_uid(f, msg_lf, &uid);
	struct mime_tree *t = NULL;
	assert_int_equal(store_view_message_structure(f->view, uid, pool_temp(), &t,
						      &error), 0);
	assert_int_equal(t->count, 2);
	str_t hdr = STR_INIT;
	/* the child first, then the root: each seeks to its own part */
	assert_int_equal(store_message_read_header(r, &t->parts[1], SIZE_MAX, &hdr,
						   &error), 0);
	assert_hdr(&hdr, child_wire);
	assert_int_equal(store_message_read_header(r, &t->parts[0], SIZE_MAX, &hdr,
						   &error), 0);
	assert_hdr(&hdr, root_wire);
	/* cut at max; 1 exercises the one-octet-past-want case */
	assert_int_equal(store_message_read_header(r, &t->parts[0], 10, &hdr, &error), 0);
	assert_hdr(&hdr, "Subject: s");
	assert_int_equal(store_message_read_header(r, &t->parts[1], 1, &hdr, &error), 0);
	assert_hdr(&hdr, "C");
	mime_tree_free(&t);
	str_free(&hdr);
	store_message_close(&r);
}

static void test_top_header_without_structure(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	uint32_t uid;
	str_t hdr = STR_INIT;
	struct store_message_reader *r = open_uid(f, msg_lf, &uid);
	char skip[8];
	assert_true(store_message_read(r, skip, sizeof(skip), &error) > 0);
	/* from 0 whatever the position, up to the empty line, not the body's */
	assert_int_equal(store_message_read_header(r, NULL, SIZE_MAX, &hdr, &error), 0);
	assert_hdr(&hdr, root_wire);
	assert_int_equal(store_message_read_header(r, NULL, 12, &hdr, &error), 0);
	assert_hdr(&hdr, "Subject: s\r\n");
	store_message_close(&r);

	/* no empty line: all of it is header (RFC 5322 2.1) */
	r = open_uid(f, "Subject: only\n", &uid);
	assert_int_equal(store_message_read_header(r, NULL, SIZE_MAX, &hdr, &error), 0);
	assert_hdr(&hdr, "Subject: only\r\n");
	store_message_close(&r);

	/* no header fields: the empty line alone, not the body's first one */
	r = open_uid(f, "\nbody\n\nmore\n", &uid);
	assert_int_equal(store_message_read_header(r, NULL, SIZE_MAX, &hdr, &error), 0);
	assert_hdr(&hdr, "\r\n");
	store_message_close(&r);

	/* a header longer than a read chunk, its empty line across chunks */
	str_t big = STR_INIT;
	for (unsigned i = 0; i < 400; i++)
		str_printf(&big, "X-Filler-%03u: abcdefghijklmnop\n", i);
	str_appendz(&big, "Subject: late\n\nbody\n");
	r = open_uid(f, big.data, &uid);
	assert_int_equal(store_message_read_header(r, NULL, SIZE_MAX, &hdr, &error), 0);
	assert_int_equal(hdr.len, big.len - strlen("body\n") + 402);
	assert_memory_equal(hdr.data + hdr.len - 17, "Subject: late\r\n\r\n", 17);
	store_message_close(&r);
	str_free(&big);
	str_free(&hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_part_headers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top_header_without_structure,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
