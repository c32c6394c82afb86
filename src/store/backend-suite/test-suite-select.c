/* test-suite-select.c: backend suite (suite.h), the view calls that read
 * only what they need, through the public store headers only:
 * store_view_select_info() (SELECT's first unseen message and the
 * mailbox's keywords, whether given by STORE, by APPEND or by COPY; a
 * message appended after the view's sync is not counted; its MAILBOXID,
 * the one STATUS gives, kept by RENAME),
 * store_view_list_uids() (a batch of a FETCH: dense and sparse sets,
 * expunged messages left out), store_view_deleted() (EXPUNGE's \Deleted
 * messages of the map) and store_view_set_flags_result() (what
 * STORE reports: every message of the set still there, changed or not,
 * with its flags after the change). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "store/backend-suite/suite.h"

#define BODY "Subject: s\r\n\r\nselect\r\n"

static void set_keywords(struct store_view *v, uint32_t uid, enum store_flags_op op,
			 const char *const *kw, unsigned n)
{
	const char *error;
	struct store_flags_update up = { .op = op, .keywords = kw, .keyword_count = n };
	assert_int_equal(store_view_set_flags(v, &uid, 1, &up, NULL, NULL, NULL, &error), 0);
}

static struct store_view_select_info select_info(struct suite *s, struct store_view *v,
						 unsigned max)
{
	struct store_view_select_info info;
	const char *error;
	assert_int_equal(store_view_select_info(v, max, s->pool, &info, &error), 0);
	return info;
}

static void test_select_first_unseen(void **state)
{
	struct suite *s = *state;
	struct store_view *v = suite_view(s->store, "INBOX");
	struct store_view_select_info info = select_info(s, v, 10);
	assert_int_equal(info.first_unseen_uid, 0); /* empty */
	store_view_close(&v);
	uint32_t u[5];
	for (unsigned i = 0; i < 5; i++)
		u[i] = suite_deliver(s->store, "INBOX", BODY, i < 3 ? STORE_FLAG_SEEN : 0, 0);
	v = suite_view(s->store, "INBOX");
	info = select_info(s, v, 10);
	assert_int_equal(info.first_unseen_uid, u[3]);
	assert_int_equal(info.first_unseen_seq, 4);
	/* seen now: the next one */
	suite_set_flags(v, u[3], STORE_FLAGS_ADD, STORE_FLAG_SEEN);
	info = select_info(s, v, 10);
	assert_int_equal(info.first_unseen_seq, 5);
	/* unseen again, before it: that one */
	suite_set_flags(v, u[1], STORE_FLAGS_REMOVE, STORE_FLAG_SEEN);
	info = select_info(s, v, 10);
	assert_int_equal(info.first_unseen_uid, u[1]);
	assert_int_equal(info.first_unseen_seq, 2);
	/* expunged: the next; a message appended since the view's sync is
	 * not in its map and not reported */
	const char *error;
	unsigned n;
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX", &u[1], 1, &n,
					       &error), 0);
	struct store_view_changes c;
	suite_sync(s, v, &c);
	suite_set_flags(v, u[4], STORE_FLAGS_ADD, STORE_FLAG_SEEN);
	(void)suite_deliver(s->store, "INBOX", BODY, 0, 0);
	info = select_info(s, v, 10);
	assert_int_equal(info.first_unseen_uid, 0);
	assert_int_equal(info.first_unseen_seq, 0);
	suite_sync(s, v, &c);
	info = select_info(s, v, 10);
	assert_int_equal(info.first_unseen_seq, 5); /* u0 u2 u3 u4 new */
	store_view_close(&v);
}

static void test_select_keywords(void **state)
{
	struct suite *s = *state;
	const char *error;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Other", &error), 0);
	uint32_t a = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	uint32_t b = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	assert_int_equal(select_info(s, v, 10).keyword_count, 0);
	/* STORE */
	const char *kw1[] = { "$Label1", "zeta" };
	set_keywords(v, a, STORE_FLAGS_ADD, kw1, 2);
	/* APPEND with a keyword (RFC 9051 6.3.12) */
	struct store_delivery *d = store_delivery_begin(s->store, SUITE_USER, "INBOX", &error);
	assert_non_null(d);
	assert_int_equal(store_delivery_write(d, BODY, strlen(BODY), &error), 0);
	const char *kw2[] = { "Appended" };
	struct store_flags_update up = { .keywords = kw2, .keyword_count = 1 };
	assert_int_equal(store_delivery_set_meta(d, &up, 0, &error), 0);
	assert_int_equal(store_delivery_sync(d, &error), 0);
	uint32_t c_uid;
	assert_int_equal(store_delivery_commit(&d, &c_uid, &error), 0);
	struct store_view_changes ch;
	suite_sync(s, v, &ch);
	struct store_view_select_info info = select_info(s, v, 10);
	assert_int_equal(info.keyword_count, 3);
	assert_string_equal(info.keywords[0], "$Label1");
	assert_string_equal(info.keywords[1], "Appended");
	assert_string_equal(info.keywords[2], "zeta");
	/* at most max; a keyword once set stays listed (RFC 9051 7.3.5
	 * allows flags no message holds); case-insensitive: no twin */
	assert_int_equal(select_info(s, v, 2).keyword_count, 2);
	set_keywords(v, a, STORE_FLAGS_REMOVE, kw1, 2);
	const char *kw3[] = { "ZETA" };
	set_keywords(v, b, STORE_FLAGS_ADD, kw3, 1);
	assert_int_equal(select_info(s, v, 10).keyword_count, 3);
	/* COPY carries its keywords to the other mailbox */
	struct store_copy_result res;
	assert_int_equal(store_view_copy(v, &c_uid, 1, "Other", false, s->pool, &res,
					 &error), 0);
	store_view_close(&v);
	v = suite_view(s->store, "Other");
	info = select_info(s, v, 10);
	assert_int_equal(info.keyword_count, 1);
	assert_string_equal(info.keywords[0], "Appended");
	assert_int_equal(info.first_unseen_seq, 1);
	store_view_close(&v);
}

/* RFC 8474 4.3: SELECT's MAILBOXID comes with the rest of its facts,
 * the same as store_mailbox_status()'s, one per mailbox, kept by RENAME */
static void test_select_mailboxid(void **state)
{
	struct suite *s = *state;
	const char *error;
	assert_true(store_mailbox_create(s->store, SUITE_USER, "Box", &error) >= 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	struct store_view_select_info info = select_info(s, v, 10);
	store_view_close(&v);
	assert_true(strlen(info.mailboxid) > 1);
	assert_string_equal(info.mailboxid, suite_check_status(s, "INBOX").mailboxid);
	char box[STORE_OBJECTID_SIZE];
	v = suite_view(s->store, "Box");
	memcpy(box, select_info(s, v, 10).mailboxid, sizeof(box));
	store_view_close(&v);
	assert_string_equal(box, suite_check_status(s, "Box").mailboxid);
	assert_string_not_equal(box, info.mailboxid);
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "Box", "Renamed", &error), 0);
	v = suite_view(s->store, "Renamed");
	assert_string_equal(select_info(s, v, 10).mailboxid, box);
	store_view_close(&v);
}

/* n messages in INBOX (u[flag_at] with flag), a view of them, then
 * u[gone] expunged by another session (the view not synced) */
static struct store_view *view_with_gap(struct suite *s, uint32_t *u, unsigned n,
					unsigned flag_at, unsigned flag, unsigned gone)
{
	const char *error;
	unsigned expunged;
	for (unsigned i = 0; i < n; i++)
		u[i] = suite_deliver(s->store, "INBOX", BODY, i == flag_at ? flag : 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX", &u[gone], 1,
					       &expunged, &error), 0);
	return v;
}

static void test_list_uids(void **state)
{
	struct suite *s = *state;
	const char *error;
	uint32_t u[40];
	/* u[8] expunged by another session: left out */
	struct store_view *v = view_with_gap(s, u, 40, 7, STORE_FLAG_FLAGGED, 8);
	struct store_message_info *m;
	unsigned count;
	/* dense */
	assert_int_equal(store_view_list_uids(v, &u[5], 5, s->pool, &m, &count, &error), 0);
	assert_int_equal(count, 4);
	assert_int_equal(m[0].uid, u[5]);
	assert_int_equal(m[2].uid, u[7]);
	assert_int_equal(m[2].sysflags, STORE_FLAG_FLAGGED);
	assert_string_equal(m[2].flags, "\\Flagged");
	assert_int_equal(m[3].uid, u[9]);
	assert_true(m[3].size > 0);
	assert_false(m[3].lost);
	/* sparse: first and last of 40, and a UID never used */
	uint32_t sparse[3] = { u[0], u[39], u[39] + 100 };
	assert_int_equal(store_view_list_uids(v, sparse, 3, s->pool, &m, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(m[0].uid, u[0]);
	assert_int_equal(m[1].uid, u[39]);
	assert_int_equal(store_view_list_uids(v, sparse, 0, s->pool, &m, &count, &error), 0);
	assert_int_equal(count, 0);
	store_view_close(&v);
}

static void test_deleted(void **state)
{
	struct suite *s = *state;
	const char *error;
	uint32_t u[6], *d;
	unsigned count;
	for (unsigned i = 0; i < 6; i++)
		u[i] = suite_deliver(s->store, "INBOX", BODY, i % 2 == 1 ? STORE_FLAG_DELETED : 0,
				     0);
	struct store_view *v = suite_view(s->store, "INBOX");
	assert_int_equal(store_view_deleted(v, s->pool, &d, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_int_equal(d[0], u[1]);
	assert_int_equal(d[1], u[3]);
	assert_int_equal(d[2], u[5]);
	/* flag changes count at once; a message appended since the view's
	 * sync is not in its map and not listed */
	suite_set_flags(v, u[3], STORE_FLAGS_REMOVE, STORE_FLAG_DELETED);
	suite_set_flags(v, u[0], STORE_FLAGS_ADD, STORE_FLAG_DELETED);
	(void)suite_deliver(s->store, "INBOX", BODY, STORE_FLAG_DELETED, 0);
	assert_int_equal(store_view_deleted(v, s->pool, &d, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_int_equal(d[0], u[0]);
	assert_int_equal(d[1], u[1]);
	assert_int_equal(d[2], u[5]);
	unsigned n;
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX", d, count, &n,
					       &error), 0);
	assert_int_equal(n, 3);
	struct store_view_changes c;
	suite_sync(s, v, &c);
	assert_int_equal(store_view_deleted(v, s->pool, &d, &count, &error), 0);
	assert_int_equal(count, 1); /* the one appended */
	store_view_close(&v);
}

static void test_set_flags_result(void **state)
{
	struct suite *s = *state;
	const char *error;
	uint32_t u[4];
	struct store_view *v = view_with_gap(s, u, 4, 1, STORE_FLAG_SEEN, 2);
	uint64_t before = store_view_modseq(v);
	const char *kw[] = { "Work" };
	struct store_flags_update up = { .op = STORE_FLAGS_ADD, .sysflags = STORE_FLAG_SEEN,
					 .keywords = kw, .keyword_count = 1 };
	uint32_t set[3] = { u[0], u[2], u[3] };
	struct store_view_flag_change *r;
	unsigned count;
	assert_int_equal(store_view_set_flags_result(v, set, 3, &up, s->pool, &r, &count,
						     &error), 0);
	assert_int_equal(count, 2); /* u[2] is gone */
	assert_int_equal(r[0].uid, u[0]);
	assert_string_equal(r[0].flags, "\\Seen Work");
	assert_int_equal(r[0].sysflags, STORE_FLAG_SEEN);
	assert_true(r[0].modseq > before);
	assert_int_equal(r[1].uid, u[3]);
	/* one STORE may give its messages one MODSEQ (RFC 7162 3.1.1) */
	assert_true(r[1].modseq >= r[0].modseq);
	/* no change: reported all the same, with its MODSEQ kept */
	uint64_t kept = r[1].modseq;
	uint32_t one = u[3];
	assert_int_equal(store_view_set_flags_result(v, &one, 1, &up, s->pool, &r, &count,
						     &error), 0);
	assert_int_equal(count, 1);
	assert_string_equal(r[0].flags, "\\Seen Work");
	assert_int_equal(r[0].modseq, kept);
	/* only the set: u[1] (seen before) is not among the results */
	struct store_flags_update rm = { .op = STORE_FLAGS_REMOVE, .sysflags = STORE_FLAG_SEEN };
	assert_int_equal(store_view_set_flags_result(v, &one, 1, &rm, s->pool, &r, &count,
						     &error), 0);
	assert_int_equal(count, 1);
	assert_int_equal(r[0].uid, u[3]);
	assert_string_equal(r[0].flags, "Work");
	store_view_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_select_first_unseen),
		SUITE_TEST(test_select_keywords),
		SUITE_TEST(test_select_mailboxid),
		SUITE_TEST(test_list_uids),
		SUITE_TEST(test_deleted),
		SUITE_TEST(test_set_flags_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
