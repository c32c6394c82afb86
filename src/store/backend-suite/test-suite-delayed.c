/* test-suite-delayed.c: backend suite (suite.h), store_view_sync_added()
 * through the public store headers only (RFC 5465 6 SELECTED-DELAYED):
 * new messages join the map while another handle's expunges stay
 * pending, their sequence numbers counting the pending ones; flag changes
 * above a MODSEQ come with them; a message added and expunged between two
 * reads never enters the map; the next full sync removes every pending
 * expunge (an added message's included) at the right place, repeats no
 * flag state the added messages were told with, and moves the MODSEQ,
 * after which nothing is left to report; and under a seeded mix of
 * another handle's deliveries, flag changes and expunges, a client that
 * applies what each call reports keeps the view's map, which after a full
 * sync is the mailbox's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "store/backend-suite/suite.h"

#define MIX_ROUNDS 60
#define MIX_MAX 256

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

/* the client's picture: m[0..*n) must be the view's map */
static void check_mirror(struct store_view *v, const uint32_t *m, unsigned n)
{
	assert_int_equal(store_view_count(v), n);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(store_view_uid(v, i + 1), m[i]);
}

/* a full sync, applied to the client's picture as a client would:
 * each expunged UID must be one it had */
static void apply_sync(struct suite *s, struct store_view *v, uint32_t *m, unsigned *n)
{
	struct store_view_changes c;
	suite_sync(s, v, &c);
	for (unsigned i = 0; i < c.expunged_count; i++) {
		unsigned j = 0;
		while (j < *n && m[j] != c.expunged[i])
			j++;
		assert_true(j < *n);
		memmove(m + j, m + j + 1, (*n - j - 1) * sizeof(*m));
		(*n)--;
	}
	assert_true(*n + c.added_count <= MIX_MAX);
	memcpy(m + *n, c.added, c.added_count * sizeof(*m));
	*n += c.added_count;
}

static void test_mix_keeps_client_in_step(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct store_view *v = suite_view(s->store, "INBOX");
	struct store *other = suite_open(s);
	struct store_view *w = suite_view(other, "INBOX");
	uint32_t m[MIX_MAX];
	unsigned n = 0, seed = 5465;
	struct store_view_changes c;
	for (unsigned round = 0; round < MIX_ROUNDS; round++) {
		suite_sync(s, w, &c);
		unsigned count = store_view_count(w), op = (unsigned)rand_r(&seed) % 10;
		uint32_t uid = count == 0 ? 0 : store_view_uid(w, 1 + (unsigned)rand_r(&seed) % count);
		if (op < 4 || uid == 0)
			(void)suite_deliver(other, "INBOX", BODY, 0, 0);
		else if (op < 7)
			suite_set_flags(w, uid, STORE_FLAGS_ADD, STORE_FLAG_SEEN);
		else
			expunge(other, uid);
		if (rand_r(&seed) % 3 != 0) {
			/* between commands: additions only */
			added(s, v, store_view_read_modseq(v), &c);
			assert_true(n + c.added_count <= MIX_MAX);
			memcpy(m + n, c.added, c.added_count * sizeof(*m));
			n += c.added_count;
		} else {
			/* a command: expunges at their place, then additions */
			apply_sync(s, v, m, &n);
		}
		check_mirror(v, m, n);
	}
	apply_sync(s, v, m, &n);
	check_mirror(v, m, n);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(s->store, SUITE_USER, "INBOX", s->pool,
						     &msgs, &count, &error), 0);
	assert_int_equal(count, n);
	for (unsigned i = 0; i < count; i++)
		assert_int_equal(msgs[i].uid, m[i]);
	store_view_close(&w);
	store_close(&other);
	store_view_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_added_while_expunges_wait),
		SUITE_TEST(test_mix_keeps_client_in_step),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
