/* test-suite-delayed.c: backend suite (suite.h), store_view_sync_added()
 * through the public store headers only (RFC 5465 6 SELECTED-DELAYED):
 * new messages join the map while another handle's expunges stay
 * pending, their sequence numbers counting the pending ones; flag changes
 * above a MODSEQ come with them; a message added and expunged between two
 * reads never enters the map; the next full sync removes every pending
 * expunge (an added message's included) at the right place, repeats no
 * flag state the added messages were told with, and moves the MODSEQ,
 * after which nothing is left to report. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "store/backend-suite/suite.h"

#define BODY "Subject: d\r\n\r\ndelayed\r\n"

static void added(struct suite *s, struct store_view *v, uint64_t flags_since,
		  struct store_view_changes *c)
{
	const char *error = NULL;
	assert_int_equal(store_view_sync_added(v, flags_since, s->pool, c, &error), 0);
	assert_false(c->reset);
	assert_int_equal(c->expunged_count, 0);
}

static void expunge(struct store *store, uint32_t uid)
{
	const char *error = NULL;
	unsigned n;
	assert_int_equal(store_mailbox_expunge(store, SUITE_USER, "INBOX", &uid, 1, &n,
					       &error), 0);
	assert_int_equal(n, 1);
}

static void test_added_while_expunges_wait(void **state)
{
	struct suite *s = *state;
	uint32_t u[8];
	for (unsigned i = 0; i < 3; i++)
		u[i] = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	uint64_t modseq = store_view_modseq(v);
	struct store *other = suite_open(s);
	struct store_view *w = suite_view(other, "INBOX");

	/* another handle: u[1] expunged, u[2] flagged, two new ones */
	expunge(other, u[1]);
	suite_set_flags(w, u[2], STORE_FLAGS_ADD, STORE_FLAG_FLAGGED);
	u[3] = suite_deliver(other, "INBOX", BODY, 0, 0);
	u[4] = suite_deliver(other, "INBOX", BODY, 0, 0);
	struct store_view_changes c;
	added(s, v, UINT64_MAX, &c);
	assert_int_equal(c.added_count, 2);
	assert_int_equal(c.added[0], u[3]);
	assert_int_equal(c.added[1], u[4]);
	assert_int_equal(c.flag_change_count, 0); /* none wanted */
	/* the expunged one is still 2: the new ones are 4 and 5 */
	assert_int_equal(store_view_count(v), 5);
	assert_int_equal(store_view_seq(v, u[1]), 2);
	assert_int_equal(store_view_seq(v, u[3]), 4);
	assert_int_equal(store_view_uid(v, 5), u[4]);
	assert_int_equal(store_view_modseq(v), modseq);
	assert_true(store_view_uidnext(v) > u[4]);

	/* again, asking for flag changes since the full sync: u[2]'s, not
	 * the added ones' (told when they were added), nothing new */
	uint64_t read = store_view_read_modseq(v);
	assert_true(read > modseq);
	added(s, v, modseq, &c);
	assert_int_equal(c.added_count, 0);
	assert_int_equal(c.flag_change_count, 1);
	assert_int_equal(c.flag_changes[0].uid, u[2]);
	assert_true((c.flag_changes[0].sysflags & STORE_FLAG_FLAGGED) != 0);
	assert_true(c.flag_changes[0].modseq > modseq);
	/* since the last read: only what changed after it */
	suite_set_flags(w, u[0], STORE_FLAGS_ADD, STORE_FLAG_SEEN);
	added(s, v, read, &c);
	assert_int_equal(c.added_count, 0);
	assert_int_equal(c.flag_change_count, 1);
	assert_int_equal(c.flag_changes[0].uid, u[0]);
	assert_true(c.flag_changes[0].modseq > read);
	assert_true(store_view_read_modseq(v) >= c.flag_changes[0].modseq);
	assert_int_equal(store_view_modseq(v), modseq);

	/* an added one expunged, one more new, one new and gone at once */
	expunge(other, u[3]);
	u[5] = suite_deliver(other, "INBOX", BODY, 0, 0);
	u[6] = suite_deliver(other, "INBOX", BODY, 0, 0);
	expunge(other, u[6]);
	added(s, v, UINT64_MAX, &c);
	assert_int_equal(c.added_count, 1);
	assert_int_equal(c.added[0], u[5]);
	assert_int_equal(store_view_count(v), 6);
	assert_int_equal(store_view_seq(v, u[5]), 6);
	assert_int_equal(store_view_seq(v, u[6]), 0);

	/* the full sync: both pending expunges, at their place */
	suite_sync(s, v, &c);
	assert_int_equal(c.expunged_count, 2);
	assert_int_equal(c.expunged[0], u[1]);
	assert_int_equal(c.expunged[1], u[3]);
	assert_int_equal(c.added_count, 0);
	/* flag changes: u[2]'s and u[0]'s (held before), u[5]'s (added by
	 * a call that returned no flags: its state is told again); not
	 * u[4]'s, told when it was added and covered since */
	assert_int_equal(c.flag_change_count, 3);
	assert_int_equal(c.flag_changes[0].uid, u[0]);
	assert_int_equal(c.flag_changes[1].uid, u[2]);
	assert_int_equal(c.flag_changes[2].uid, u[5]);
	assert_int_equal(store_view_count(v), 4);
	const uint32_t left[] = { u[0], u[2], u[4], u[5] };
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(store_view_uid(v, i + 1), left[i]);
	assert_true(store_view_modseq(v) > modseq);
	assert_int_equal(store_view_modseq(v), suite_check_status(s, "INBOX").highestmodseq);
	suite_sync(s, v, &c);
	assert_int_equal(c.added_count + c.expunged_count + c.flag_change_count, 0);
	added(s, v, store_view_modseq(v), &c);
	assert_int_equal(c.added_count + c.flag_change_count, 0);

	/* taken with flags asked for: the full sync has nothing to repeat;
	 * a later change of it is reported */
	u[7] = suite_deliver(other, "INBOX", BODY, 0, 0);
	added(s, v, store_view_modseq(v), &c);
	assert_int_equal(c.added_count, 1);
	assert_int_equal(c.added[0], u[7]);
	suite_sync(s, v, &c);
	assert_int_equal(c.added_count + c.expunged_count + c.flag_change_count, 0);
	added(s, v, UINT64_MAX, &c);
	assert_int_equal(c.added_count + c.flag_change_count, 0);
	suite_set_flags(w, u[7], STORE_FLAGS_ADD, STORE_FLAG_SEEN);
	suite_sync(s, v, &c);
	assert_int_equal(c.flag_change_count, 1);
	assert_int_equal(c.flag_changes[0].uid, u[7]);
	/* and a full sync with nothing taken before still adds */
	uint32_t last = suite_deliver(other, "INBOX", BODY, 0, 0);
	suite_sync(s, v, &c);
	assert_int_equal(c.added_count, 1);
	assert_int_equal(c.added[0], last);
	store_view_close(&w);
	store_close(&other);
	store_view_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_added_while_expunges_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
