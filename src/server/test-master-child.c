/* test-master-child.c: unit tests for master_child.c over socketpairs,
 * each test end playing a child: MAILBOX_CHANGED from one worker reaches
 * every other worker that said hello, and not its sender; nothing is
 * accepted before a HELLO; a HELLO of the wrong kind or generation, or a
 * malformed frame, drops that child's channel (the others go on). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/channel.h"
#include "lib/ioloop.h"
#include "server/master_child.h"

#define KIDS 4

struct kid {
	struct ioloop *loop;
	struct channel *chan;
	unsigned changes, closed;
};

static void kid_on_msg(const struct channel_msg *msg, void *ctx)
{
	struct kid *k = ctx;
	if (msg->type == CHANNEL_MSG_MAILBOX_CHANGED &&
	    strcmp(msg->user, "alice@example.org") == 0 &&
	    strcmp(msg->mailbox, "INBOX") == 0 && msg->modseq == 5)
		k->changes++;
}

static void kid_on_closed(const char *reason, void *ctx)
{
	struct kid *k = ctx;
	k->closed++;
	channel_destroy(&k->chan);
}

static void on_guard(void *ctx)
{
	ioloop_stop(ctx);
}

/* Lets the loop pass frames around for a while. */
static void settle(struct ioloop *loop)
{
	struct timeout *guard = timeout_add(loop, 150, on_guard, loop);
	ioloop_run(loop);
	timeout_remove(&guard);
}

static void send_msg(struct kid *k, const struct channel_msg *m)
{
	const char *error;
	assert_int_equal(channel_send(k->chan, m, &error), 0);
}

static void test_fan_out_and_drops(void **state)
{
	struct ioloop *loop = ioloop_create();
	struct master_children *t = master_children_create(loop, 8);
	struct kid kids[KIDS];
	for (unsigned i = 0; i < KIDS; i++) {
		int fds[2];
		const char *error;
		assert_int_equal(channel_pair(fds, &error), 0);
		kids[i] = (struct kid){ .loop = loop };
		kids[i].chan = channel_create(loop, fds[1], kid_on_msg, kid_on_closed, &kids[i]);
		master_children_add(t, i, (pid_t)(1000 + i), CHILD_WORKER, 3, fds[0]);
	}
	struct channel_msg hello = { .type = CHANNEL_MSG_HELLO, .kind = CHILD_WORKER,
				     .generation = 3 };
	struct channel_msg change = { .type = CHANNEL_MSG_MAILBOX_CHANGED, .modseq = 5 };
	snprintf(change.user, sizeof(change.user), "alice@example.org");
	snprintf(change.mailbox, sizeof(change.mailbox), "INBOX");
	/* kid 0 and 1 say hello; kid 2 says it with the wrong generation;
	 * kid 3 sends a change before any hello */
	send_msg(&kids[0], &hello);
	send_msg(&kids[1], &hello);
	struct channel_msg stale = hello;
	stale.generation = 2;
	send_msg(&kids[2], &stale);
	send_msg(&kids[3], &change);
	settle(loop);
	assert_int_equal(kids[0].closed, 0);
	assert_int_equal(kids[1].closed, 0);
	assert_int_equal(kids[2].closed, 1);
	assert_int_equal(kids[3].closed, 1);
	assert_int_equal(kids[0].changes + kids[1].changes, 0);
	/* a change from kid 0 reaches kid 1 only, once */
	send_msg(&kids[0], &change);
	settle(loop);
	assert_int_equal(kids[0].changes, 0);
	assert_int_equal(kids[1].changes, 1);
	/* a second hello is a protocol error: kid 1 is dropped, kid 0 stays */
	send_msg(&kids[1], &hello);
	settle(loop);
	assert_int_equal(kids[1].closed, 1);
	assert_int_equal(kids[0].closed, 0);
	/* a reaped child's row can be reused */
	master_children_gone(t, 1000);
	settle(loop);
	assert_int_equal(kids[0].closed, 1);
	master_children_destroy(&t);
	assert_null(t);
	for (unsigned i = 0; i < KIDS; i++)
		channel_destroy(&kids[i].chan);
	ioloop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fan_out_and_drops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
