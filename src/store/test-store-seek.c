/* test-store-seek.c: unit tests for the seekable reader (store.h
 * store_message_seek(), store_seek.h): on messages of several sizes
 * (past 1 MiB, lines of varied length, one without a final newline, a
 * CR just before a checkpoint), delivered singly and in a group commit,
 * seeking to every checkpoint +-1 and to random offsets, with large and
 * tiny read buffers, gives exactly the bytes of a read from the start
 * after skipping; a message without checkpoints (delivered before schema
 * 4) seeks as well; the physical facts (wire and file size, checkpoint
 * count) are right. */
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
#include "lib/str.h"
#include "store/store_view.h"
#include "store/store_seek.h"
#include "store/test-store-path.h"
#include "store/test-store-fixture.h"

#define USER "gina@example.org"

static int setup(void **state)
{
	return test_store_fixture_setup(state, "test-store-seek", USER);
}

static int teardown(void **state)
{
	return test_store_fixture_teardown(state);
}

/* A wire-form message of about size bytes, lines of 0..300 bytes. */
static char *make_message(size_t size, bool final_newline, unsigned seed,
			  size_t *len_r)
{
	char *m = xmalloc(size + 400);
	size_t len = 0;
	srand(seed);
	len += (size_t)snprintf(m, 64, "Subject: seek %u\r\n\r\n", seed);
	while (len < size) {
		size_t line = (size_t)(rand() % 301);
		for (size_t i = 0; i < line; i++)
			m[len++] = (char)('!' + rand() % 90);
		m[len++] = '\r';
		m[len++] = '\n';
	}
	if (!final_newline)
		memcpy(m + len, "tail", 4), len += 4;
	*len_r = len;
	return m;
}

static struct store_delivery *begin_write(struct test_store_fixture *f, const char *m,
					  size_t len)
{
	const char *error;
	struct store_delivery *d = store_delivery_begin(f->store, USER, "INBOX",
							&error);
	assert_non_null(d);
	/* chunks of odd sizes: the checkpoints must not depend on them */
	for (size_t off = 0, step = 1; off < len; step = step * 7 % 9001 + 1) {
		size_t n = len - off < step ? len - off : step;
		assert_int_equal(store_delivery_write(d, m + off, n, &error), 0);
		off += n;
	}
	return d;
}

static uint32_t deliver(struct test_store_fixture *f, const char *m, size_t len)
{
	const char *error;
	uint32_t uid = 0;
	struct store_delivery *d = begin_write(f, m, len);
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	return uid;
}

/* Everything from the reader's position, with reads of bufsize. */
static char *read_rest(struct store_message_reader *r, size_t bufsize,
		       size_t limit, size_t *len_r)
{
	const char *error;
	char *out = xmalloc(limit + 2 * 65536 + bufsize);
	char *buf = xmalloc(bufsize);
	size_t len = 0;
	for (unsigned rounds = 0; len < limit; rounds++) {
		assert_true(rounds < 10000000);
		ssize_t n = store_message_read(r, buf, bufsize, &error);
		assert_true(n >= 0);
		if (n == 0)
			break;
		memcpy(out + len, buf, (size_t)n);
		len += (size_t)n;
	}
	free(buf);
	*len_r = len;
	return out;
}

/* Seek r to off and compare up to limit bytes with full[off..]. */
static void check_at(struct store_message_reader *r, const char *full,
		     size_t full_len, uint64_t off, size_t bufsize, size_t limit)
{
	const char *error;
	assert_int_equal(store_message_seek(r, off, &error), 0);
	size_t len;
	char *got = read_rest(r, bufsize, limit, &len);
	size_t want = off >= full_len ? 0 : full_len - (size_t)off;
	if (want > limit)
		want = limit;
	assert_true(len >= want);
	if (len > full_len - (off >= full_len ? full_len : off))
		fail_msg("read past the end at offset %llu", (unsigned long long)off);
	if (want > 0 && memcmp(got, full + off, want) != 0)
		fail_msg("bytes differ after seek to %llu (bufsize %zu)",
			 (unsigned long long)off, bufsize);
	free(got);
}

/* The whole check for one delivered message whose wire form is m. */
static void check_message(struct test_store_fixture *f, uint32_t uid, const char *m,
			  size_t len, bool expect_ckpt)
{
	const char *error;
	if (f->view == NULL)
		assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view,
						 &error), 0);
	else {
		pool_t *pool = pool_create(1024);
		struct store_view_changes c;
		assert_int_equal(store_view_sync(f->view, pool, &c, &error), 0);
		pool_destroy(&pool);
	}
	struct store_message_reader *r = store_view_message_open(f->view, uid,
								 &error);
	assert_non_null(r);
	size_t full_len;
	char *full = read_rest(r, 8192, len + 10, &full_len);
	assert_int_equal(full_len, len);
	assert_memory_equal(full, m, len);

	struct store_message_physical phys;
	assert_int_equal(store_message_physical(r, &phys, &error), 0);
	assert_int_equal(phys.wire_size, len);
	uint64_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += m[i] == '\n';
	assert_int_equal(phys.file_size, len - lines);
	assert_int_equal(phys.checkpoints,
			 expect_ckpt ? phys.file_size / STORE_CKPT_INTERVAL : 0);

	/* every checkpoint's wire offset: its file offset plus the LFs
	 * before it (the file has no CR of its own here) */
	uint64_t file = 0, wire = 0;
	for (size_t i = 0; i <= len; i++) {
		if (file > 0 && file % STORE_CKPT_INTERVAL == 0 &&
		    (i == 0 || m[i - 1] != '\r')) {
			for (int d = -1; d <= 1; d++)
				check_at(r, full, len, wire + (uint64_t)(int64_t)d,
					 d == 0 ? 7 : 4096,
					 d == 0 ? 2000 : 3 * STORE_CKPT_INTERVAL);
		}
		if (i == len)
			break;
		if (m[i] != '\r')
			file++;
		wire++;
	}
	srand(4242);
	for (unsigned i = 0; i < 60; i++) {
		uint64_t off = (uint64_t)rand() % (len + 1);
		check_at(r, full, len, off, i % 3 == 0 ? 2 : 65536 * 2,
			 i % 3 == 0 ? 500 : 70000);
	}
	static const size_t ends[] = { 0, 1, 2 };
	for (unsigned i = 0; i < 3; i++) {
		check_at(r, full, len, ends[i], 4096, len + 10);
		if (len >= ends[i])
			check_at(r, full, len, len - ends[i], 4096, 100);
	}
	check_at(r, full, len, len + 5, 4096, 100);
	store_message_close(&r);
	free(full);
}

static void test_seek_sizes(void **state)
{
	struct test_store_fixture *f = *state;
	static const struct { size_t size; bool nl; } cases[] = {
		{ 100, true }, { 32768, true }, { 40000, false },
		{ 200000, true }, { 1300000, false },
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		char *m = make_message(cases[i].size, cases[i].nl, i + 1, &len);
		uint32_t uid = deliver(f, m, len);
		check_message(f, uid, m, len, true);
		free(m);
	}
}

/* store_message_reader_replace_header() (RFC 6858 downgrading): the
 * reader shows the new header, then the stored message after the old
 * one; seeks anywhere (inside the new header, past it, near a
 * checkpoint) and tiny reads give the bytes of that form. */
static void test_seek_replaced_header(void **state)
{
	struct test_store_fixture *f = *state;
	size_t len;
	char *m = make_message(200000, true, 77, &len);
	uint32_t uid = deliver(f, m, len);
	const char *error;
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	struct store_message_reader *r = store_view_message_open(f->view, uid, &error);
	assert_non_null(r);
	const char *old_end = strstr(m, "\r\n\r\n") + 4;
	size_t old_len = (size_t)(old_end - m);
	static const char hdr[] = "Subject: =?UTF-8?Q?replaced?=\r\nX-Longer: yes\r\n\r\n";
	size_t hlen = sizeof(hdr) - 1;
	store_message_reader_replace_header(r, hdr, hlen, old_len);
	size_t full_len = hlen + len - old_len;
	char *full = xmalloc(full_len);
	memcpy(full, hdr, hlen);
	memcpy(full + hlen, old_end, len - old_len);
	size_t got_len;
	char *got = read_rest(r, 2, full_len + 10, &got_len);
	assert_int_equal(got_len, full_len);
	assert_memory_equal(got, full, full_len);
	free(got);
	static const uint64_t offs[] = { 0, 1, 10, 47, 48, 49, 5000, 70000, 199990 };
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		check_at(r, full, full_len, offs[i], 7, 3000);
		check_at(r, full, full_len, offs[i], 65536, 100000);
	}
	store_message_close(&r);
	free(full);
	free(m);
}

/* store_message_reader_replace() with three regions (RFC 6858: the
 * header of every 8-bit MIME part), longer, shorter and inside a
 * checkpoint interval: reads and seeks give the spliced form; regions
 * out of order or empty are refused. */
static void test_seek_replaced_regions(void **state)
{
	struct test_store_fixture *f = *state;
	size_t len;
	char *m = make_message(200000, true, 78, &len);
	uint32_t uid = deliver(f, m, len);
	const char *error;
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view, &error), 0);
	struct store_message_reader *r = store_view_message_open(f->view, uid, &error);
	assert_non_null(r);
	static const struct { size_t off, old; const char *data; } regs[] = {
		{ 0, 20, "HEADER REPLACED, LONGER THAN IT WAS\r\n" },
		{ 40000, 300, "short" },
		{ 100003, 5, "a region well inside the second half of the message" },
	};
	str_t full = STR_INIT;
	size_t at = 0;
	for (unsigned i = 0; i < 3; i++) {
		str_append(&full, m + at, regs[i].off - at);
		str_appendz(&full, regs[i].data);
		at = regs[i].off + regs[i].old;
		assert_int_equal(store_message_reader_replace(r, regs[i].off, regs[i].old,
							      regs[i].data,
							      strlen(regs[i].data)), 0);
	}
	str_append(&full, m + at, len - at);
	assert_int_equal(store_message_reader_replace(r, 50, 1, "x", 1), -1);
	assert_int_equal(store_message_reader_replace(r, 190000, 1, "", 0), -1);
	size_t got_len;
	char *got = read_rest(r, 2, full.len + 10, &got_len);
	assert_int_equal(got_len, full.len);
	assert_memory_equal(got, full.data, full.len);
	free(got);
	static const uint64_t offs[] = { 0, 5, 37, 38, 39990, 40020, 40021, 40026,
					 99700, 99730, 99760, 150000, 199000 };
	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		check_at(r, full.data, full.len, offs[i], 7, 3000);
		check_at(r, full.data, full.len, offs[i], 65536, 100000);
	}
	store_message_close(&r);
	str_free(&full);
	free(m);
}

/* A lone CR right before a checkpoint: the file holds "\r\n" there, and
 * the reader must not add a CR of its own after seeking past it. */
static void test_seek_cr_at_checkpoint(void **state)
{
	struct test_store_fixture *f = *state;
	size_t len = 2 * STORE_CKPT_INTERVAL + 50;
	char *m = xmalloc(len);
	memset(m, 'x', len);
	memcpy(m, "Subject: cr\r\n\r\n", 15);
	/* the header loses 2 CRs: file offset 32767 is the lone CR at wire
	 * 32769, the checkpoint (32768, 32770) falls between it and an LF */
	m[STORE_CKPT_INTERVAL + 1] = '\r';
	m[STORE_CKPT_INTERVAL + 2] = '\r';
	m[STORE_CKPT_INTERVAL + 3] = '\n';
	uint32_t uid = deliver(f, m, len);
	const char *error;
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view,
					 &error), 0);
	struct store_message_reader *r = store_view_message_open(f->view, uid,
								 &error);
	assert_non_null(r);
	size_t full_len;
	char *full = read_rest(r, 8192, 4 * len, &full_len);
	for (uint64_t off = STORE_CKPT_INTERVAL - 4;
	     off < STORE_CKPT_INTERVAL + 8; off++)
		check_at(r, full, full_len, off, 4096, full_len);
	store_message_close(&r);
	free(full);
	free(m);
}

/* COPY and MOVE keep the file, and so its checkpoints. */
static void test_seek_after_copy(void **state)
{
	struct test_store_fixture *f = *state;
	const char *error;
	size_t len;
	char *m = make_message(120000, true, 31, &len);
	uint32_t uid = deliver(f, m, len);
	assert_int_equal(store_mailbox_create(f->store, USER, "Kept", &error), 0);
	assert_int_equal(store_view_open(f->store, USER, "INBOX", &f->view,
					 &error), 0);
	pool_t *pool = pool_create(1024);
	struct store_copy_result res;
	assert_int_equal(store_view_copy(f->view, &uid, 1, "Kept", true, pool,
					 &res, &error), 0);
	assert_int_equal(res.count, 1);
	struct store_view *kept;
	assert_int_equal(store_view_open(f->store, USER, "Kept", &kept, &error), 0);
	struct store_message_reader *r = store_view_message_open(kept,
								 res.dst_uids[0],
								 &error);
	assert_non_null(r);
	struct store_message_physical phys;
	assert_int_equal(store_message_physical(r, &phys, &error), 0);
	assert_int_equal(phys.checkpoints, phys.file_size / STORE_CKPT_INTERVAL);
	assert_true(phys.checkpoints > 0);
	size_t full_len;
	char *full = read_rest(r, 8192, len + 10, &full_len);
	assert_int_equal(full_len, len);
	check_at(r, full, len, 70001, 4096, 1000);
	free(full);
	store_message_close(&r);
	store_view_close(&kept);
	pool_destroy(&pool);
	free(m);
}

static void test_seek_group_commit(void **state)
{
	struct test_store_fixture *f = *state;
	size_t len1, len2;
	char *m1 = make_message(100000, true, 11, &len1);
	char *m2 = make_message(70000, false, 12, &len2);
	struct store_delivery *ds[2] = { begin_write(f, m1, len1),
					 begin_write(f, m2, len2) };
	uint32_t uids[2];
	int results[2];
	const char *errors[2];
	assert_int_equal(store_delivery_commit_group(f->store, ds, 2, uids,
						     results, errors), 0);
	check_message(f, uids[0], m1, len1, true);
	check_message(f, uids[1], m2, len2, true);
	free(m1);
	free(m2);
}

/* Delivered before schema 4: no checkpoints; a seek converts from the
 * start and still gives the same bytes. */
static void test_seek_without_checkpoints(void **state)
{
	struct test_store_fixture *f = *state;
	size_t len;
	char *m = make_message(150000, true, 21, &len);
	uint32_t uid = deliver(f, m, len);
	struct store_address addr;
	const char *name, *error;
	struct maildir_user *user;
	struct store_index_mailbox mb;
	assert_int_equal(store_target_parse(USER, "INBOX", &addr, &name, &error), 0);
	assert_int_equal(maildir_mailbox_get((struct maildir_store *)f->store,
					     &addr, name, false, &user, &mb,
					     &error), 0);
	assert_int_equal(store_index_begin(user->index, &error), 0);
	assert_int_equal(store_index_message_set_checkpoints(user->index, mb.id,
							     uid, NULL, 0,
							     &error), 0);
	assert_int_equal(store_index_commit(user->index, &error), 0);
	check_message(f, uid, m, len, false);
	free(m);
}

static void test_ckpt_blob_unknown_section(void **state)
{
	(void)state;
	struct store_ckpt_builder b = { 0 };
	char data[STORE_CKPT_INTERVAL];
	memset(data, '\n', sizeof(data));
	for (unsigned i = 0; i < 3; i++)
		store_ckpt_feed(&b, data, sizeof(data));
	size_t len;
	unsigned char *blob = store_ckpt_finish(&b, &len);
	assert_int_equal(store_ckpt_count(blob, len), 3);
	/* a later section kind (tag 2, MIME parts) before ours is skipped */
	unsigned char *ext = xmalloc(len + 4);
	ext[0] = STORE_CKPT_FORMAT;
	ext[1] = 2;
	ext[2] = 2;
	ext[3] = 0x55;
	ext[4] = 0x66;
	memcpy(ext + 5, blob + 1, len - 1);
	uint64_t file, wire;
	assert_int_equal(store_ckpt_find(ext, len + 4, 2 * 65536 + 1, &file,
					 &wire), 0);
	assert_int_equal(file, 2 * STORE_CKPT_INTERVAL);
	assert_int_equal(wire, 4 * STORE_CKPT_INTERVAL);
	assert_int_equal(store_ckpt_find(blob, len - 1, 99, &file, &wire), -1);
	free(ext);
	free(blob);
}

int main(void)
{
	log_init("test-store-seek", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_seek_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_cr_at_checkpoint, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_seek_group_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_seek_after_copy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_seek_without_checkpoints,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_replaced_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seek_replaced_regions, setup, teardown),
		cmocka_unit_test(test_ckpt_blob_unknown_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
