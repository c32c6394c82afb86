/* test-suite-crash.c: backend suite (suite.h), consistency under load
 * and crashes through the public store headers only:
 * - two processes run a bounded, seeded mix of deliveries, flag changes,
 *   expunges and copies on one mailbox at once; afterwards STATUS
 *   (MESSAGES, UNSEEN, DELETED, SIZE, UIDNEXT, UIDVALIDITY, HIGHESTMODSEQ,
 *   RECENT) agrees with a full walk and with a synced view;
 * - a child delivering and flagging is SIGKILLed at a random moment, ten
 *   rounds; it reports a delivery or flag change on a pipe only after the
 *   call returned 0. After each kill a fresh handle finds every reported
 *   message, byte-exact, with its reported flags, no partial message,
 *   and a STATUS that agrees with a walk (store.h: a crash leaves either
 *   no visible message or a complete one). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/backend-suite/suite.h"

#define RANDOM_OPS 40
#define CRASH_ROUNDS 10
#define CRASH_BURST 200

static int random_ops(struct store *store, unsigned seed)
{
	const char *error;
	struct store_view *v;
	struct store_view_changes c;
	pool_t *pool = pool_create(4096);
	int ret = store_view_open(store, SUITE_USER, "INBOX", &v, &error);
	for (unsigned i = 0; i < RANDOM_OPS && ret == 0; i++) {
		pool_clear(pool);
		if ((ret = store_view_sync(v, pool, &c, &error)) < 0)
			break;
		unsigned n = store_view_count(v), op = (unsigned)rand_r(&seed) % 10;
		uint32_t uid = n == 0 ? 0 :
			store_view_uid(v, 1 + (unsigned)rand_r(&seed) % n);
		unsigned flags = (unsigned)rand_r(&seed) & STORE_FLAGS_SYSTEM;
		if (op < 4 || uid == 0) {
			char body[128];
			snprintf(body, sizeof(body), "Subject: r%u\r\n\r\n%.*s\r\n",
				 i, (int)(rand_r(&seed) % 60), 
				 "0123456789012345678901234567890123456789012345678901234567890");
			ret = suite_try_deliver(store, "INBOX", body, flags, &uid);
		} else if (op < 7) {
			struct store_flags_update up = {
				.op = (enum store_flags_op)(op - 4), .sysflags = flags };
			ret = store_view_set_flags(v, &uid, 1, &up, NULL, NULL,
						   NULL, &error);
		} else if (op < 9) {
			unsigned gone;
			ret = store_mailbox_expunge(store, SUITE_USER, "INBOX",
						    &uid, 1, &gone, &error);
		} else {
			struct store_copy_result res;
			ret = store_view_copy(v, &uid, 1, "Archive", op & 1, pool,
					      &res, &error);
		}
	}
	store_view_close(&v);
	pool_destroy(&pool);
	return ret;
}

static int child_random(struct store *store, void *arg)
{
	return random_ops(store, *(unsigned *)arg);
}

static void test_status_after_random_ops(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct store_view *v = suite_view(s->store, "INBOX");
	unsigned child_seed = 4242;
	pid_t pid = suite_spawn(s, child_random, &child_seed);
	assert_int_equal(random_ops(s->store, 1717), 0);
	int status = suite_wait(pid, 60000);
	assert_true(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);

	struct store_mailbox_status st = suite_check_status(s, "INBOX");
	suite_check_status(s, "Archive");
	struct store_view_changes c;
	uint64_t before = store_view_modseq(v);
	suite_sync(s, v, &c);
	for (unsigned i = 0; i < c.flag_change_count; i++)
		assert_true(c.flag_changes[i].modseq > before &&
			    c.flag_changes[i].modseq <= st.highestmodseq);
	assert_true(store_view_modseq(v) == st.highestmodseq);
	assert_int_equal(store_view_count(v), st.messages);
	assert_int_equal(store_view_uidnext(v), st.uidnext);
	assert_int_equal(store_view_uidvalidity(v), st.uidvalidity);
	/* nobody claimed \Recent yet: all are recent; one claim takes all */
	assert_int_equal(st.recent, st.messages);
	uint32_t first;
	assert_int_equal(store_view_claim_recent(v, &first, &error), 0);
	assert_int_equal(suite_check_status(s, "INBOX").recent, 0);
	suite_deliver(s->store, "INBOX", "Subject: new\r\n\r\n", 0, 0);
	assert_int_equal(suite_check_status(s, "INBOX").recent, 1);
	store_view_close(&v);
}

/* What the crashing child reports, after the call returned 0. */
struct report {
	uint32_t uid;
	uint32_t index; /* which body */
	uint32_t seen;  /* 1: \Seen set on uid */
};

struct crash_arg {
	int fd;
	unsigned round;
};

static char *crash_body(pool_t *pool, unsigned round, unsigned index)
{
	size_t fill = 100 + (index * 997u) % 16000u;
	char *head = pool_printf(pool, "X-Round: %u %u\r\nSubject: crash\r\n\r\n",
				 round, index);
	size_t hl = strlen(head);
	char *body = pool_alloc(pool, hl + fill + 3);
	memcpy(body, head, hl);
	for (size_t i = 0; i < fill; i++)
		body[hl + i] = (i % 64 == 63) ? '\n' : (char)('a' + (i + index) % 26);
	for (size_t i = 0; i < fill; i++) /* wire form: CRLF line ends */
		if (body[hl + i] == '\n')
			body[hl + i - 1] = '\r';
	memcpy(body + hl + fill, "\r\n", 3);
	return body;
}

static int child_crash(struct store *store, void *arg)
{
	struct crash_arg *a = arg;
	const char *error;
	pool_t *pool = pool_create(32768);
	struct store_view *v;
	struct report ready = { 0, 0, 0 };
	if (store_view_open(store, SUITE_USER, "INBOX", &v, &error) < 0 ||
	    write(a->fd, &ready, sizeof(ready)) != sizeof(ready))
		return -1;
	uint32_t last = 0;
	for (unsigned i = 0; i < CRASH_BURST; i++) {
		pool_clear(pool);
		struct report rep = { 0, i, 0 };
		if (i % 3 == 2 && last != 0) {
			struct store_flags_update up = { .op = STORE_FLAGS_ADD,
							 .sysflags = STORE_FLAG_SEEN };
			if (store_view_set_flags(v, &last, 1, &up, NULL, NULL, NULL,
						 &error) < 0)
				return -1;
			rep.uid = last;
			rep.seen = 1;
		} else {
			if (suite_try_deliver(store, "INBOX",
					      crash_body(pool, a->round, i), 0,
					      &rep.uid) < 0)
				return -1;
			last = rep.uid;
		}
		if (write(a->fd, &rep, sizeof(rep)) != sizeof(rep))
			return -1;
	}
	return 0;
}

/* Every message present is whole; every reported one is present. */
static void check_after_crash(struct suite *s, const struct report *reps,
			      unsigned nrep)
{
	const char *error = NULL;
	struct store_view *v = suite_view(s->store, "INBOX");
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &count, &error), 0);
	for (unsigned i = 0; i < count; i++) {
		const char *data;
		size_t size;
		unsigned round, index;
		assert_false(msgs[i].lost);
		assert_int_equal(suite_read(v, msgs[i].uid, s->pool, &data, &size), 0);
		assert_int_equal(sscanf(data, "X-Round: %u %u", &round, &index), 2);
		const char *want = crash_body(s->pool, round, index);
		assert_int_equal(size, strlen(want));
		assert_memory_equal(data, want, size);
		assert_true(msgs[i].size == size);
	}
	for (unsigned r = 0; r < nrep; r++) {
		unsigned seq = store_view_seq(v, reps[r].uid);
		if (seq == 0)
			fail_msg("reported uid=%u missing", reps[r].uid);
		if (reps[r].seen)
			assert_true(msgs[seq - 1].sysflags & STORE_FLAG_SEEN);
	}
	suite_check_status(s, "INBOX");
	store_view_close(&v);
}

static void test_crash_points(void **state)
{
	struct suite *s = *state;
	unsigned seed = 99;
	struct report *all = xcalloc(CRASH_ROUNDS * CRASH_BURST, sizeof(*all));
	unsigned nall = 0;
	for (unsigned round = 0; round < CRASH_ROUNDS; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		struct crash_arg arg = { fds[1], round };
		pid_t pid = suite_spawn(s, child_crash, &arg);
		close(fds[1]);
		struct report rep;
		/* the child's handle is open: kill it in its burst */
		assert_int_equal(read(fds[0], &rep, sizeof(rep)), sizeof(rep));
		assert_int_equal(rep.uid, 0);
		usleep(1000 * (5 + (unsigned)rand_r(&seed) % 60));
		kill(pid, SIGKILL);
		int status = suite_wait(pid, 10000);
		assert_true(status >= 0);
		/* killed, or (a fast machine) done with its whole burst */
		assert_true(WIFSIGNALED(status) ||
			    (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		unsigned got = 0;
		while (read(fds[0], &rep, sizeof(rep)) == sizeof(rep) &&
		       nall < CRASH_ROUNDS * CRASH_BURST) {
			all[nall++] = rep;
			got++;
		}
		close(fds[0]);
		print_message("round=%u reported=%u\n", round, got);
		suite_reopen(s);
		check_after_crash(s, all, nall);
	}
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_status_after_random_ops),
		SUITE_TEST(test_crash_points),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
