/* test-store-watch.c: unit tests for store_watch.c: a change notified on
 * another thread wakes the loop and reaches the matching watchers (and the
 * publish hook) once; peers' changes reach watchers but are not published
 * again; repeats fold into one; the pending list is bounded; a watcher
 * may remove itself inside its callback; nothing happens unattached. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "lib/ioloop.h"
#include "store/store_watch.h"

struct seen {
	struct ioloop *loop;
	unsigned calls, peer_calls, published, stop_after;
	uint64_t last_modseq;
	char last_mailbox[64];
	struct store_watch *self; /* removed on first call when set */
};

static void on_change(const char *user, const char *mailbox, uint64_t modseq,
		      bool from_peer, void *ctx)
{
	struct seen *s = ctx;
	s->calls++;
	s->peer_calls += from_peer;
	s->last_modseq = modseq;
	snprintf(s->last_mailbox, sizeof(s->last_mailbox), "%s", mailbox);
	store_watch_remove(&s->self);
	if (s->stop_after > 0 && s->calls >= s->stop_after)
		ioloop_stop(s->loop);
}

static void on_publish(const char *user, const char *mailbox, uint64_t modseq, void *ctx)
{
	struct seen *s = ctx;
	s->published++;
}

static void on_guard(void *ctx)
{
	ioloop_stop(ctx);
}

static void run(struct ioloop *loop, unsigned msecs)
{
	struct timeout *guard = timeout_add(loop, msecs, on_guard, loop);
	ioloop_run(loop);
	timeout_remove(&guard);
}

static void *notify_thread(void *arg)
{
	store_notify_changed("alice@example.org", "INBOX", 7);
	return NULL;
}

static void test_thread_wakes_loop(void **state)
{
	struct ioloop *loop = ioloop_create();
	struct seen inbox = { .loop = loop, .stop_after = 1 }, other = { .loop = loop },
		any = { .loop = loop }, hook = { 0 };
	store_watch_attach(loop, on_publish, &hook);
	struct store_watch *w1 = store_watch_add("alice@example.org", "INBOX", on_change, &inbox);
	struct store_watch *w2 = store_watch_add("alice@example.org", "Sent", on_change, &other);
	struct store_watch *w3 = store_watch_add(NULL, NULL, on_change, &any);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, notify_thread, NULL), 0);
	run(loop, 5000);
	pthread_join(t, NULL);
	assert_int_equal(inbox.calls, 1);
	assert_int_equal(inbox.peer_calls, 0);
	assert_true(inbox.last_modseq == 7);
	assert_int_equal(other.calls, 0);
	assert_int_equal(any.calls, 1);
	assert_int_equal(hook.published, 1);
	/* a peer's change: watchers yes, publish no */
	store_watch_peer_changed("alice@example.org", "Sent", 0);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.peer_calls, 1);
	assert_int_equal(any.calls, 2);
	assert_int_equal(hook.published, 1);
	store_watch_remove(&w1);
	store_watch_remove(&w2);
	store_watch_remove(&w3);
	assert_null(w1);
	store_watch_detach();
	ioloop_destroy(&loop);
}

static void test_fold_and_bound(void **state)
{
	struct ioloop *loop = ioloop_create();
	struct seen any = { .loop = loop }, hook = { 0 };
	store_watch_attach(loop, on_publish, &hook);
	struct store_watch *w = store_watch_add(NULL, NULL, on_change, &any);
	/* repeats of one mailbox fold into one, with the highest modseq */
	store_notify_changed("bob@example.org", "INBOX", 3);
	store_notify_changed("bob@example.org", "INBOX", 9);
	store_notify_changed("bob@example.org", "INBOX", 5);
	uint64_t dropped = store_watch_dropped();
	char name[32];
	for (unsigned i = 0; i < STORE_WATCH_PENDING_MAX + 10; i++) {
		snprintf(name, sizeof(name), "box%u", i);
		store_notify_changed("bob@example.org", name, 1);
	}
	assert_true(store_watch_dropped() - dropped == 11);
	run(loop, 100);
	assert_int_equal(any.calls, STORE_WATCH_PENDING_MAX);
	assert_int_equal(hook.published, STORE_WATCH_PENDING_MAX);
	store_watch_remove(&w);
	store_watch_detach();
	/* detached: nothing is kept */
	store_notify_changed("bob@example.org", "INBOX", 1);
	assert_true(store_watch_dropped() - dropped == 11);
	ioloop_destroy(&loop);
}

static void test_remove_inside_callback(void **state)
{
	struct ioloop *loop = ioloop_create();
	store_watch_attach(loop, NULL, NULL);
	struct seen a = { .loop = loop }, b = { .loop = loop };
	a.self = store_watch_add("carol@example.org", "INBOX", on_change, &a);
	struct store_watch *wb = store_watch_add("carol@example.org", NULL, on_change, &b);
	store_watch_peer_changed("carol@example.org", "INBOX", 0);
	store_watch_peer_changed("carol@example.org", "INBOX", 0);
	assert_int_equal(a.calls, 1);
	assert_null(a.self);
	assert_int_equal(b.calls, 2);
	store_watch_remove(&wb);
	store_watch_detach();
	ioloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_wakes_loop),
		cmocka_unit_test(test_fold_and_bound),
		cmocka_unit_test(test_remove_inside_callback),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
