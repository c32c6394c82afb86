/* test-suite-mailbox.c: backend suite (suite.h), mailbox management and
 * watching through the public store headers only: create, list, rename
 * (children follow, UIDVALIDITY and UIDs kept; INBOX's messages move
 * and INBOX stays, empty: RFC 9051 6.3.6), delete (never INBOX, not
 * with children), subscriptions (6.3.7, 6.3.8), unsafe names refused by
 * every entry point (TESTING.md item 13), and a committed change in this
 * process wakes a watcher of the mailbox (store_watch.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/ioloop.h"
#include "store/backend-suite/suite.h"
#include "store/store_watch.h"

#define BODY "Subject: m\r\n\r\nmailbox\r\n"

static bool listed(struct suite *s, bool subscriptions, const char *name)
{
	const char *error = NULL;
	const char **names;
	unsigned count;
	if (subscriptions)
		assert_int_equal(store_mailbox_subscriptions(s->store, SUITE_USER,
							     s->pool, &names,
							     &count, &error), 0);
	else
		assert_int_equal(store_mailbox_list(s->store, SUITE_USER, s->pool,
						    &names, &count, &error), 0);
	bool found = false;
	for (unsigned i = 0; i < count; i++) {
		if (i > 0 && !subscriptions)
			assert_true(strcmp(names[i - 1], names[i]) < 0);
		found = found || strcmp(names[i], name) == 0;
	}
	return found;
}

static void test_create_list_delete(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	static const char *const defaults[] = {
		"INBOX", "Drafts", "Sent", "Junk", "Trash", "Archive" };
	for (unsigned i = 0; i < 6; i++)
		assert_true(listed(s, false, defaults[i]));
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Work", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Work/2026", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Work", &error), 0);
	assert_true(listed(s, false, "Work"));
	assert_true(listed(s, false, "Work/2026"));
	suite_deliver(s->store, "Work/2026", BODY, 0, 0);
	assert_int_equal(suite_check_status(s, "Work/2026").messages, 1);

	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "INBOX", &error), -1);
	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "Work", &error), -1);
	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "Work/2026", &error), 0);
	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "Work", &error), 0);
	assert_false(listed(s, false, "Work"));
	assert_false(listed(s, false, "Work/2026"));
	struct store_mailbox_status st;
	assert_int_equal(store_mailbox_status(s->store, SUITE_USER, "Work/2026",
					      &st, &error), -1);
	/* created again: empty, and its UIDs start over under a new validity */
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Work", &error), 0);
	assert_int_equal(suite_check_status(s, "Work").messages, 0);
	suite_reopen(s);
	assert_true(listed(s, false, "Work"));
}

static void test_rename(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Old/sub", &error), 0);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Old", &error), 0);
	uint32_t u = suite_deliver(s->store, "Old/sub", BODY, STORE_FLAG_SEEN, 0);
	struct store_mailbox_status before = suite_check_status(s, "Old/sub");
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "Old", "New", &error), 0);
	assert_false(listed(s, false, "Old"));
	assert_false(listed(s, false, "Old/sub"));
	assert_true(listed(s, false, "New"));
	assert_true(listed(s, false, "New/sub"));
	struct store_mailbox_status after = suite_check_status(s, "New/sub");
	assert_int_equal(after.uidvalidity, before.uidvalidity);
	assert_int_equal(after.uidnext, before.uidnext);
	struct store_view *v = suite_view(s->store, "New/sub");
	assert_int_equal(store_view_uid(v, 1), u);
	const char *data;
	size_t size;
	assert_int_equal(suite_read(v, u, s->pool, &data, &size), 0);
	assert_memory_equal(data, BODY, size);
	store_view_close(&v);
	/* onto an existing name, below itself, from a missing one: refused */
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "New", "Sent", &error), -1);
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "New", "New/sub/x", &error), -1);
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "Gone", "Here", &error), -1);
	assert_true(listed(s, false, "New/sub"));

	/* RFC 9051 6.3.6: renaming INBOX moves its messages, INBOX stays */
	suite_deliver(s->store, "INBOX", BODY, 0, 0);
	uint32_t i2 = suite_deliver(s->store, "INBOX", BODY, STORE_FLAG_FLAGGED, 0);
	struct store_mailbox_status in0 = suite_check_status(s, "INBOX");
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "inbox", "Saved", &error), 0);
	assert_true(listed(s, false, "INBOX"));
	struct store_mailbox_status in = suite_check_status(s, "INBOX");
	assert_int_equal(in.messages, 0);
	struct store_mailbox_status sv = suite_check_status(s, "Saved");
	assert_int_equal(sv.messages, 2);
	assert_int_equal(sv.unseen, 2);
	/* INBOX's UIDs are never given again under the same UIDVALIDITY */
	uint32_t again = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	struct store_mailbox_status in1 = suite_check_status(s, "INBOX");
	assert_true(in1.uidvalidity != in0.uidvalidity || again > i2);
	assert_int_equal(suite_check_status(s, "INBOX").messages, 1);
}

static void test_subscriptions(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	assert_int_equal(store_mailbox_subscribe(s->store, SUITE_USER, "Sent", true, &error), 0);
	assert_int_equal(store_mailbox_subscribe(s->store, SUITE_USER, "Not/There", true, &error), 0);
	assert_true(listed(s, true, "Sent"));
	assert_true(listed(s, true, "Not/There"));
	assert_false(listed(s, false, "Not/There"));
	assert_int_equal(store_mailbox_subscribe(s->store, SUITE_USER, "Sent", false, &error), 0);
	assert_false(listed(s, true, "Sent"));
	suite_reopen(s);
	assert_true(listed(s, true, "Not/There"));
}

/* TESTING.md item 13: refused everywhere, nothing created */
static void test_bad_names(void **state)
{
	struct suite *s = *state;
	static const char *const bad[] = {
		"../../etc", "/etc", "~root", "a//b", "INBOX/../..", "", "a/",
		".hidden", "a\x01" "b", "..", "a/./b", "a\\b",
	};
	const char *error = NULL, *name;
	const char **before;
	unsigned before_count, after_count;
	assert_int_equal(store_mailbox_list(s->store, SUITE_USER, s->pool, &before,
					    &before_count, &error), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("name=\"%s\"\n", bad[i]);
		assert_int_equal(store_mailbox_name_check(bad[i], &name, &error), -1);
		assert_int_equal(store_mailbox_create(s->store, SUITE_USER, bad[i], &error), -1);
		assert_null(store_delivery_begin(s->store, SUITE_USER, bad[i], &error));
		struct store_view *v = NULL;
		assert_int_equal(store_view_open(s->store, SUITE_USER, bad[i], &v, &error), -1);
		assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "Junk", bad[i], &error), -1);
		assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, bad[i], &error), -1);
		assert_int_equal(store_mailbox_subscribe(s->store, SUITE_USER, bad[i], true, &error), -1);
		struct store_mailbox_status st;
		assert_int_equal(store_mailbox_status(s->store, SUITE_USER, bad[i], &st, &error), -1);
	}
	const char **after;
	assert_int_equal(store_mailbox_list(s->store, SUITE_USER, s->pool, &after,
					    &after_count, &error), 0);
	assert_int_equal(after_count, before_count);
	assert_true(listed(s, false, "Junk"));
}

struct seen {
	struct ioloop *loop;
	unsigned calls;
	uint64_t modseq;
	char mailbox[64];
};

static void on_change(const char *user, const char *mailbox, uint64_t modseq,
		      bool from_peer, void *ctx)
{
	struct seen *w = ctx;
	assert_false(from_peer);
	assert_string_equal(user, SUITE_USER);
	w->calls++;
	w->modseq = modseq;
	snprintf(w->mailbox, sizeof(w->mailbox), "%s", mailbox);
	if (w->loop != NULL)
		ioloop_stop(w->loop);
}

static void on_guard(void *ctx)
{
	ioloop_stop(ctx);
}

static void run(struct ioloop *loop)
{
	struct timeout *guard = timeout_add(loop, 5000, on_guard, loop);
	ioloop_run(loop);
	timeout_remove(&guard);
}

static void test_watch_wakes(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct ioloop *loop = ioloop_create();
	struct seen inbox = { .loop = loop }, sent = { 0 };
	store_watch_attach(loop, NULL, NULL);
	struct store_watch *w1 = store_watch_add(SUITE_USER, "INBOX", on_change, &inbox);
	struct store_watch *w2 = store_watch_add(SUITE_USER, "Sent", on_change, &sent);
	uint32_t uid = suite_deliver(s->store, "INBOX", BODY, 0, 0);
	run(loop);
	assert_int_equal(inbox.calls, 1);
	assert_string_equal(inbox.mailbox, "INBOX");
	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	assert_true(inbox.modseq == 0 || inbox.modseq == st.highestmodseq);
	unsigned n;
	assert_int_equal(store_mailbox_expunge(s->store, SUITE_USER, "INBOX", &uid,
					       1, &n, &error), 0);
	run(loop);
	assert_int_equal(inbox.calls, 2);
	assert_int_equal(sent.calls, 0);
	store_watch_remove(&w1);
	store_watch_remove(&w2);
	store_watch_detach();
	ioloop_destroy(&loop);
}

/* The list of mailboxes or subscriptions changed: a watcher of every
 * mailbox hears STORE_WATCH_MAILBOX_LIST once per change; a watcher of one
 * mailbox does not (IMAP NOTIFY, RFC 5465 5.4, 5.5). */
static void test_watch_list_changes(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct ioloop *loop = ioloop_create();
	struct seen any = { .loop = loop }, inbox = { 0 };
	store_watch_attach(loop, NULL, NULL);
	struct store_watch *w1 = store_watch_add(SUITE_USER, NULL, on_change, &any);
	struct store_watch *w2 = store_watch_add(SUITE_USER, "INBOX", on_change, &inbox);
	assert_int_equal(store_mailbox_create(s->store, SUITE_USER, "Listed", &error), 0);
	run(loop);
	assert_int_equal(any.calls, 1);
	assert_string_equal(any.mailbox, STORE_WATCH_MAILBOX_LIST);
	assert_int_equal(store_mailbox_subscribe(s->store, SUITE_USER, "Listed", true,
						 &error), 0);
	run(loop);
	assert_int_equal(any.calls, 2);
	assert_int_equal(store_mailbox_rename(s->store, SUITE_USER, "Listed", "Moved",
					      &error), 0);
	run(loop);
	assert_int_equal(any.calls, 3);
	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "Moved", &error), 0);
	run(loop);
	assert_int_equal(any.calls, 4);
	assert_string_equal(any.mailbox, STORE_WATCH_MAILBOX_LIST);
	/* a refused change signals nothing */
	assert_int_equal(store_mailbox_delete(s->store, SUITE_USER, "Moved", &error), -1);
	assert_int_equal(inbox.calls, 0);
	store_watch_remove(&w1);
	store_watch_remove(&w2);
	store_watch_detach();
	ioloop_destroy(&loop);
	assert_int_equal(any.calls, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_create_list_delete),
		SUITE_TEST(test_rename),
		SUITE_TEST(test_subscriptions),
		SUITE_TEST(test_bad_names),
		SUITE_TEST(test_watch_wakes),
		SUITE_TEST(test_watch_list_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
