/* test-suite-append.c: backend suite (suite.h), delivery and append,
 * the expunge log, copy and move, through the public store headers only:
 * a message comes back byte-exact in wire form with its wire size, the
 * flags, keywords and internal date given at append; GUIDs differ; UIDs
 * ascend and are never reused after an expunge, also across a reopen,
 * and UIDVALIDITY stays; an expunged UID is reported by sync and its
 * reader fails cleanly; COPY/MOVE return UID maps and keep flags. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/backend-suite/suite.h"

static const char *const bodies[] = {
	"Subject: one\r\n\r\nfirst\r\n",
	"From: a@b\r\nSubject: two\r\n\r\nline 1\r\n\r\n.dot\r\nlast",
	"Subject: three\r\n\r\n\r\n",
};

static void test_append_read_back(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	uint32_t uids[4];
	/* a big body too: read in several chunks */
	char *big = pool_alloc(s->pool, 70000);
	size_t off = (size_t)snprintf(big, 70000, "Subject: big\r\n\r\n");
	for (unsigned i = 0; off + 80 < 70000; i++)
		off += (size_t)snprintf(big + off, 70000 - off,
					"%06u abcdefghijklmnopqrstuvwxyz\r\n", i);
	const char *all[4] = { bodies[0], bodies[1], bodies[2], big };
	time_t t0 = time(NULL);
	for (unsigned i = 0; i < 4; i++)
		uids[i] = suite_deliver(s->store, "INBOX", all[i], 0, 0);
	time_t t1 = time(NULL);
	struct store_view *v = suite_view(s->store, "INBOX");
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 4);
	for (unsigned i = 0; i < 4; i++) {
		const char *data;
		size_t size;
		if (i > 0)
			assert_true(uids[i] > uids[i - 1]);
		assert_int_equal(msgs[i].uid, uids[i]);
		assert_int_equal(suite_read(v, uids[i], s->pool, &data, &size), 0);
		assert_int_equal(size, strlen(all[i]));
		assert_memory_equal(data, all[i], size);
		assert_true(msgs[i].size == size);
		assert_string_equal(msgs[i].flags, "");
		/* no date given: the time of the commit */
		assert_true(msgs[i].internaldate >= t0 - 1 &&
			    msgs[i].internaldate <= t1 + 1);
		for (unsigned j = 0; j < i; j++)
			assert_memory_not_equal(msgs[i].guid, msgs[j].guid,
						STORE_GUID_SIZE);
	}
	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	assert_int_equal(st.messages, 4);
	assert_int_equal(st.unseen, 4);
	store_view_close(&v);
}

static void test_append_flags_date(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	const char *kw[] = { "$Label1" };
	struct store_flags_update fl = {
		.op = STORE_FLAGS_REPLACE,
		.sysflags = STORE_FLAG_SEEN | STORE_FLAG_FLAGGED,
		.keywords = kw, .keyword_count = 1,
	};
	struct store_delivery *d = store_delivery_begin(s->store, SUITE_USER,
							"Drafts", &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write(d, bodies[0], strlen(bodies[0]),
					      &error), 0);
	assert_int_equal(store_delivery_set_meta(d, &fl, 1700000000, &error), 0);
	uint32_t uid;
	assert_int_equal(store_delivery_commit(&d, &uid, &error), 0);
	assert_null(d);
	struct store_view *v = suite_view(s->store, "Drafts");
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(msgs[0].uid, uid);
	assert_int_equal(msgs[0].sysflags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	assert_non_null(strstr(msgs[0].flags, "$Label1"));
	assert_non_null(strstr(msgs[0].flags, "\\Seen"));
	assert_true(msgs[0].internaldate == 1700000000);
	assert_int_equal(suite_check_status(s, "Drafts").unseen, 0);
	store_view_close(&v);

	/* an aborted delivery leaves nothing */
	d = store_delivery_begin(s->store, SUITE_USER, "Drafts", &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write(d, "x\r\n", 3, &error), 0);
	store_delivery_abort(&d);
	assert_null(d);
	assert_int_equal(suite_check_status(s, "Drafts").messages, 1);
}

static void test_uids_never_reused(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	unsigned n;
	struct store_mailbox_status st0 = suite_check_status(s, "INBOX");
	uint32_t a = suite_deliver(s->store, "INBOX", bodies[0], 0, 0);
	uint32_t b = suite_deliver(s->store, "INBOX", bodies[1], 0, 0);
	assert_true(b > a);
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX",
					       &b, 1, &n, &error), 0);
	assert_int_equal(n, 1);
	/* gone twice: skipped */
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX",
					       &b, 1, &n, &error), 0);
	assert_int_equal(n, 0);
	uint32_t c = suite_deliver(s->store, "INBOX", bodies[2], 0, 0);
	assert_true(c > b);
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX",
					       &c, 1, &n, &error), 0);
	suite_reopen(s);
	struct store_mailbox_status st1 = suite_check_status(s, "INBOX");
	assert_int_equal(st1.uidvalidity, st0.uidvalidity);
	assert_true(st1.uidnext > c);
	uint32_t d = suite_deliver(s->store, "INBOX", bodies[0], 0, 0);
	assert_true(d > c);
	assert_int_equal(st1.messages, 1);
	/* a second handle sees the same UIDVALIDITY */
	struct store *other = suite_open(s);
	struct store_mailbox_status st2;
	assert_int_equal(store_mailbox_status(other, SUITE_USER, "INBOX", &st2,
					      &error), 0);
	assert_int_equal(st2.uidvalidity, st0.uidvalidity);
	assert_int_equal(st2.uidnext, d + 1);
	store_close(&other);
}

static void test_expunge_log_and_reader(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct store_view_changes c;
	unsigned n;
	uint32_t u[3];
	for (unsigned i = 0; i < 3; i++)
		u[i] = suite_deliver(s->store, "INBOX", bodies[i], 0, 0);
	struct store *other = suite_open(s);
	struct store_view *v = suite_view(s->store, "INBOX");
	uint64_t before = store_view_modseq(v);
	uint32_t gone[2] = { u[0], u[2] };
	assert_int_equal(store_mailbox_expunge(other, SUITE_USER, "INBOX", gone,
					       2, &n, &error), 0);
	assert_int_equal(n, 2);
	/* not synced yet: the view keeps its numbers, the reader fails */
	assert_int_equal(store_view_count(v), 3);
	struct store_message_reader *r = store_view_message_open(v, u[0], &error);
	if (r != NULL) {
		char buf[64];
		assert_true(store_message_read(r, buf, sizeof(buf), &error) < 0);
		store_message_close(&r);
	}
	suite_sync(s, v, &c);
	assert_int_equal(c.expunged_count, 2);
	assert_int_equal(c.expunged[0], u[0]);
	assert_int_equal(c.expunged[1], u[2]);
	assert_int_equal(store_view_count(v), 1);
	assert_int_equal(store_view_uid(v, 1), u[1]);
	/* above every earlier one; the two may share one (RFC 7162 3.1.1) */
	assert_true(store_view_modseq(v) > before);
	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	assert_true(st.highestmodseq == store_view_modseq(v));
	assert_null(store_view_message_open(v, u[2], &error));
	assert_null(store_view_message_open(v, 999999, &error));
	const char *data;
	size_t size;
	assert_int_equal(suite_read(v, u[1], s->pool, &data, &size), 0);
	assert_memory_equal(data, bodies[1], size);
	store_view_close(&v);
	store_close(&other);
}

static void test_copy_move(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct store_copy_result res;
	uint32_t u[3];
	u[0] = suite_deliver(s->store, "INBOX", bodies[0], STORE_FLAG_SEEN, 0);
	u[1] = suite_deliver(s->store, "INBOX", bodies[1], STORE_FLAG_FLAGGED, 0);
	u[2] = suite_deliver(s->store, "INBOX", bodies[2], 0, 0);
	suite_deliver(s->store, "Archive", bodies[2], 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	uint32_t pick[2] = { u[2], u[0] }; /* given out of order */
	assert_int_equal(store_view_copy(v, pick, 2, "Archive", false, s->pool,
					 &res, &error), 0);
	assert_int_equal(res.count, 2);
	assert_int_equal(res.src_uids[0], u[0]); /* in UID order */
	assert_int_equal(res.src_uids[1], u[2]);
	assert_true(res.dst_uids[1] > res.dst_uids[0]);
	struct store_mailbox_status ar = suite_check_status(s, "Archive");
	assert_int_equal(res.dst_uidvalidity, ar.uidvalidity);
	assert_int_equal(ar.messages, 3);
	uint32_t last = res.dst_uids[1];

	assert_int_equal(store_view_copy(v, &u[1], 1, "Archive", true, s->pool,
					 &res, &error), 0);
	assert_int_equal(res.count, 1);
	assert_true(res.dst_uids[0] > last);
	struct store_view *av = suite_view(s->store, "Archive");
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(av, s->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 4);
	assert_int_equal(msgs[1].sysflags, STORE_FLAG_SEEN);
	assert_int_equal(msgs[2].sysflags, 0);
	assert_int_equal(msgs[3].sysflags, STORE_FLAG_FLAGGED);
	const char *data;
	size_t size;
	assert_int_equal(suite_read(av, res.dst_uids[0], s->pool, &data, &size), 0);
	assert_int_equal(size, strlen(bodies[1]));
	assert_memory_equal(data, bodies[1], size);
	/* the source is gone after MOVE */
	struct store_view_changes c;
	suite_sync(s, v, &c);
	assert_int_equal(c.expunged_count, 1);
	assert_int_equal(c.expunged[0], u[1]);
	assert_int_equal(suite_check_status(s, "INBOX").messages, 2);
	/* a missing destination is an error, nothing moves */
	assert_int_equal(store_view_copy(v, u, 1, "Nowhere", true, s->pool,
					 &res, &error), -1);
	assert_int_equal(suite_check_status(s, "INBOX").messages, 2);
	store_view_close(&av);
	store_view_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_append_read_back),
		SUITE_TEST(test_append_flags_date),
		SUITE_TEST(test_uids_never_reused),
		SUITE_TEST(test_expunge_log_and_reader),
		SUITE_TEST(test_copy_move),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
