/* test-suite-view.c: backend suite (suite.h), views and flags through
 * the public store headers only: the seq/UID map; sync returns new UIDs,
 * flag changes with their MODSEQ and expunges made by another handle and
 * by another process; MODSEQs strictly increase across both and
 * HIGHESTMODSEQ is the largest; flags and keywords add/remove/replace,
 * UNCHANGEDSINCE refusals, keywords case-insensitive; two processes
 * setting different flags on the same messages lose neither. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/backend-suite/suite.h"

#define BODY "Subject: v\r\n\r\nview\r\n"

static void test_view_map(void **state)
{
	struct suite *s = *state;
	uint32_t u[3];
	for (unsigned i = 0; i < 3; i++)
		u[i] = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	struct store_view *v = suite_view(s->store, "inbox"); /* any case */
	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	assert_int_equal(store_view_count(v), 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(store_view_uid(v, i + 1), u[i]);
		assert_int_equal(store_view_seq(v, u[i]), i + 1);
	}
	assert_int_equal(store_view_uid(v, 0), 0);
	assert_int_equal(store_view_uid(v, 4), 0);
	assert_int_equal(store_view_seq(v, u[2] + 1), 0);
	assert_int_equal(store_view_uidnext(v), st.uidnext);
	assert_int_equal(store_view_uidvalidity(v), st.uidvalidity);
	assert_true(store_view_modseq(v) == st.highestmodseq);
	struct store_view_changes c;
	suite_sync(s, v, &c);
	assert_false(c.reset);
	assert_int_equal(c.added_count + c.expunged_count + c.flag_change_count, 0);
	store_view_close(&v);
}

/* The child: a delivery, \Seen on the first message, the second
 * expunged; it reports nothing, the parent learns it all from sync. */
static int child_changes(struct store *store, void *arg)
{
	const uint32_t *u = arg;
	const char *error;
	uint32_t uid;
	unsigned n;
	struct store_view *v;
	if (suite_try_deliver(store, "INBOX", BODY, 0, &uid) < 0 ||
	    store_view_open(store, SUITE_USER, "INBOX", &v, &error) < 0)
		return -1;
	struct store_flags_update up = { .op = STORE_FLAGS_ADD,
					 .sysflags = STORE_FLAG_SEEN };
	int ret = store_view_set_flags(v, &u[0], 1, &up, NULL, NULL, NULL,
				       &error);
	store_view_close(&v);
	if (ret < 0 || store_mailbox_expunge(store, SUITE_USER, "INBOX", &u[1],
					     1, &n, &error) < 0 || n != 1)
		return -1;
	return 0;
}

static void check_sync_sees_child(struct suite *s, struct store_view *v,
				  const uint32_t *u, uint64_t floor)
{
	struct store_view_changes c;
	unsigned before = store_view_count(v);
	suite_sync(s, v, &c);
	assert_false(c.reset);
	assert_int_equal(c.added_count, 1);
	assert_true(c.added[0] > u[2]);
	assert_int_equal(c.expunged_count, 1);
	assert_int_equal(c.expunged[0], u[1]);
	assert_int_equal(c.flag_change_count, 1);
	assert_int_equal(c.flag_changes[0].uid, u[0]);
	assert_int_equal(c.flag_changes[0].sysflags, STORE_FLAG_SEEN);
	assert_true(c.flag_changes[0].modseq > floor);
	assert_true(store_view_modseq(v) > c.flag_changes[0].modseq);
	assert_int_equal(store_view_count(v), before); /* one in, one out */
	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	assert_true(st.highestmodseq == store_view_modseq(v));
}

static void test_sync_other_handle_and_process(void **state)
{
	struct suite *s = *state;
	uint32_t u[3];
	for (unsigned i = 0; i < 3; i++)
		u[i] = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	/* a change of our own first: the others' come above it */
	suite_set_flags(v, u[2], STORE_FLAGS_ADD, STORE_FLAG_ANSWERED);
	struct store_view_changes c;
	suite_sync(s, v, &c);
	assert_int_equal(c.flag_change_count, 1);
	uint64_t mine = c.flag_changes[0].modseq;
	assert_true(mine == store_view_modseq(v));

	suite_in_child(s, child_changes, u);
	check_sync_sees_child(s, v, u, mine);

	/* after the child's changes ours come above them again */
	uint64_t theirs = store_view_modseq(v);
	suite_set_flags(v, u[0], STORE_FLAGS_ADD, STORE_FLAG_FLAGGED);
	suite_sync(s, v, &c);
	assert_int_equal(c.flag_change_count, 1);
	assert_true(c.flag_changes[0].modseq > theirs);
	store_view_close(&v);

	/* the same from another handle of this process */
	u[0] = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	u[1] = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	u[2] = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	v = suite_view(s->store, "INBOX");
	struct store *other = suite_open(s);
	uint64_t floor = store_view_modseq(v);
	assert_int_equal(child_changes(other, u), 0);
	check_sync_sees_child(s, v, u, floor);
	store_close(&other);
	store_view_close(&v);
}

static const char *flags_of(struct suite *s, struct store_view *v, uint32_t uid)
{
	const char *error = NULL;
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &count, &error), 0);
	for (unsigned i = 0; i < count; i++)
		if (msgs[i].uid == uid)
			return msgs[i].flags;
	fail_msg("uid %u not listed", uid);
	return NULL;
}

static unsigned count_word(const char *flags, const char *word)
{
	unsigned n = 0;
	size_t len = strlen(word);
	for (const char *p = flags; *p != '\0';) {
		size_t w = strcspn(p, " ");
		n += w == len && strncasecmp(p, word, len) == 0;
		p += w + (p[w] == ' ');
	}
	return n;
}

static void keywords(struct store_view *v, uint32_t uid, enum store_flags_op op,
		     const char *kw)
{
	const char *error = NULL;
	const char *list[] = { kw };
	struct store_flags_update up = { .op = op, .keywords = list,
					 .keyword_count = 1 };
	assert_int_equal(store_keyword_check(kw, &error), 0);
	assert_int_equal(store_view_set_flags(v, &uid, 1, &up, NULL, NULL, NULL,
					      &error), 0);
}

static void test_flags_keywords(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	uint32_t a = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	uint32_t b = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	struct store_view *v = suite_view(s->store, "INBOX");
	suite_set_flags(v, a, STORE_FLAGS_ADD, STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	suite_set_flags(v, a, STORE_FLAGS_REMOVE, STORE_FLAG_SEEN);
	assert_int_equal(store_flags_text_bits(flags_of(s, v, a)), STORE_FLAG_DELETED);
	suite_set_flags(v, a, STORE_FLAGS_REPLACE, STORE_FLAG_DRAFT | STORE_FLAG_ANSWERED);
	assert_int_equal(store_flags_text_bits(flags_of(s, v, a)),
			 STORE_FLAG_DRAFT | STORE_FLAG_ANSWERED);

	/* keywords: case-insensitive, never twice */
	keywords(v, a, STORE_FLAGS_ADD, "$Label1");
	keywords(v, a, STORE_FLAGS_ADD, "$LABEL1");
	assert_int_equal(count_word(flags_of(s, v, a), "$label1"), 1);
	keywords(v, a, STORE_FLAGS_REMOVE, "$label1");
	assert_int_equal(count_word(flags_of(s, v, a), "$label1"), 0);
	assert_int_equal(store_flags_text_bits(flags_of(s, v, a)),
			 STORE_FLAG_DRAFT | STORE_FLAG_ANSWERED);
	assert_int_equal(store_keyword_check("bad\\kw", &error), -1);
	assert_int_equal(store_keyword_check("a b", &error), -1);

	/* RFC 7162 3.1.3 UNCHANGEDSINCE */
	struct store_view_changes c;
	suite_sync(s, v, &c);
	uint64_t now = store_view_modseq(v);
	suite_set_flags(v, a, STORE_FLAGS_ADD, STORE_FLAG_FLAGGED); /* a > now */
	uint32_t both[2] = { a, b };
	uint32_t *modified;
	unsigned modified_count;
	struct store_flags_update up = { .op = STORE_FLAGS_ADD,
					 .sysflags = STORE_FLAG_SEEN,
					 .unchangedsince = now };
	assert_int_equal(store_view_set_flags(v, both, 2, &up, s->pool, &modified,
					      &modified_count, &error), 0);
	assert_int_equal(modified_count, 1);
	assert_int_equal(modified[0], a);
	assert_int_equal(store_flags_text_bits(flags_of(s, v, a)) & STORE_FLAG_SEEN, 0);
	assert_int_equal(store_flags_text_bits(flags_of(s, v, b)), STORE_FLAG_SEEN);
	suite_check_status(s, "INBOX");
	store_view_close(&v);
}

#define RACE_MSGS 15

struct race {
	int go; /* read end: the start signal */
	unsigned flag;
};

static int child_race(struct store *store, void *arg)
{
	struct race *r = arg;
	const char *error;
	char c;
	struct store_view *v;
	if (read(r->go, &c, 1) != 1 ||
	    store_view_open(store, SUITE_USER, "INBOX", &v, &error) < 0)
		return -1;
	int ret = 0;
	for (unsigned seq = 1; seq <= store_view_count(v) && ret == 0; seq++) {
		uint32_t uid = store_view_uid(v, seq);
		struct store_flags_update up = { .op = STORE_FLAGS_ADD,
						 .sysflags = r->flag };
		ret = store_view_set_flags(v, &uid, 1, &up, NULL, NULL, NULL,
					   &error);
	}
	store_view_close(&v);
	return ret;
}

static void test_no_lost_update_two_processes(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	for (unsigned i = 0; i < RACE_MSGS; i++)
		suite_deliver(s->store, "INBOX", BODY, 0, 0);
	int go[2];
	assert_int_equal(pipe(go), 0);
	struct race ra = { go[0], STORE_FLAG_SEEN }, rb = { go[0], STORE_FLAG_FLAGGED };
	pid_t a = suite_spawn(s, child_race, &ra);
	pid_t b = suite_spawn(s, child_race, &rb);
	assert_int_equal(write(go[1], "ab", 2), 2);
	int sa = suite_wait(a, 30000), sb = suite_wait(b, 30000);
	close(go[0]);
	close(go[1]);
	assert_true(sa >= 0 && WIFEXITED(sa) && WEXITSTATUS(sa) == 0);
	assert_true(sb >= 0 && WIFEXITED(sb) && WEXITSTATUS(sb) == 0);
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_mailbox_list_messages(s->store, SUITE_USER, "INBOX",
						     s->pool, &msgs, &count,
						     &error), 0);
	assert_int_equal(count, RACE_MSGS);
	for (unsigned i = 0; i < count; i++)
		assert_int_equal(msgs[i].sysflags, STORE_FLAG_SEEN | STORE_FLAG_FLAGGED);
	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	assert_int_equal(st.unseen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_view_map),
		SUITE_TEST(test_sync_other_handle_and_process),
		SUITE_TEST(test_flags_keywords),
		SUITE_TEST(test_no_lost_update_two_processes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
