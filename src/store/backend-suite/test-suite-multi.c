/* test-suite-multi.c: backend suite (suite.h), the all-or-nothing commit
 * (store.h store_delivery_commit_multi(), IMAP MULTIAPPEND) through the
 * public store headers only:
 * - three deliveries commit with ascending UIDs, byte-exact, with the
 *   flags given, and STATUS agrees;
 * - a set that cannot commit (one member for another mailbox, one that
 *   was aborted by a failed write) leaves no message anywhere;
 * - a child committing sets of MULTI_SET messages is SIGKILLed at random
 *   moments: after each kill every set is there whole or not at all, and
 *   every set the child reported (after the call returned 0) is there. */
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

#define MULTI_SET 16
#define MULTI_ROUNDS 12
#define MULTI_BURST 40

static struct store_delivery *begin_text(struct store *store, const char *mailbox,
					 const char *text)
{
	const char *error;
	struct store_delivery *d = store_delivery_begin(store, SUITE_USER, mailbox, &error);
	if (d != NULL && store_delivery_write(d, text, strlen(text), &error) < 0)
		store_delivery_abort(&d);
	return d;
}

static void test_multi_commit(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	static const char *const texts[] = {
		"Subject: m1\r\n\r\none\r\n", "Subject: m2\r\n\r\ntwo\r\n",
		"Subject: m3\r\n\r\nthree\r\n",
	};
	uint32_t before = suite_deliver(s->store, "INBOX", "Subject: x\r\n\r\n", 0, 0);
	struct store_delivery *ds[3];
	uint32_t uids[3];
	for (unsigned i = 0; i < 3; i++) {
		ds[i] = begin_text(s->store, "INBOX", texts[i]);
		assert_non_null(ds[i]);
	}
	struct store_flags_update fl = { .op = STORE_FLAGS_REPLACE,
					 .sysflags = STORE_FLAG_SEEN };
	assert_int_equal(store_delivery_set_meta(ds[1], &fl, 1000000000, &error), 0);
	assert_int_equal(store_delivery_commit_multi(s->store, ds, 3, uids, &error), 0);
	for (unsigned i = 0; i < 3; i++) {
		assert_null(ds[i]);
		assert_true(uids[i] > (i == 0 ? before : uids[i - 1]));
	}
	suite_reopen(s);
	struct store_view *v = suite_view(s->store, "INBOX");
	for (unsigned i = 0; i < 3; i++) {
		const char *data;
		size_t size;
		assert_int_equal(suite_read(v, uids[i], s->pool, &data, &size), 0);
		assert_int_equal(size, strlen(texts[i]));
		assert_memory_equal(data, texts[i], size);
	}
	struct store_message_info *msgs;
	unsigned count;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &count, &error), 0);
	assert_int_equal(count, 4);
	assert_true(msgs[2].sysflags & STORE_FLAG_SEEN);
	assert_int_equal(msgs[2].internaldate, 1000000000);
	assert_false(msgs[1].sysflags & STORE_FLAG_SEEN);
	assert_int_equal(suite_check_status(s, "INBOX").messages, 4);
	store_view_close(&v);
	/* an empty set is a no-op */
	assert_int_equal(store_delivery_commit_multi(s->store, ds, 0, uids, &error), 0);
}

static void test_multi_none_on_failure(void **state)
{
	struct suite *s = *state;
	const char *error = NULL;
	struct store_delivery *ds[3];
	uint32_t uids[3];
	ds[0] = begin_text(s->store, "INBOX", "Subject: a\r\n\r\n");
	ds[1] = begin_text(s->store, "INBOX", "Subject: b\r\n\r\n");
	ds[2] = begin_text(s->store, "Archive", "Subject: c\r\n\r\n");
	assert_int_equal(store_delivery_commit_multi(s->store, ds, 3, uids, &error), -1);
	assert_non_null(error);
	for (unsigned i = 0; i < 3; i++)
		assert_null(ds[i]);
	suite_reopen(s);
	assert_int_equal(suite_check_status(s, "INBOX").messages, 0);
	assert_int_equal(suite_check_status(s, "Archive").messages, 0);
}

struct multi_arg {
	int fd;
	unsigned round;
};

static const char *multi_body(pool_t *pool, unsigned round, unsigned set, unsigned i)
{
	return pool_printf(pool, "X-Set: %u %u %u\r\nSubject: multi\r\n\r\n%0*u\r\n",
			   round, set, i, (int)(10 + (i * 37) % 200), i);
}

static int child_multi(struct store *store, void *arg)
{
	struct multi_arg *a = arg;
	const char *error;
	pool_t *pool = pool_create(16384);
	uint32_t uids[MULTI_SET];
	struct store_delivery *ds[MULTI_SET];
	unsigned ready = 0xffffffffu;
	if (write(a->fd, &ready, sizeof(ready)) != sizeof(ready))
		return -1;
	for (unsigned set = 0; set < MULTI_BURST; set++) {
		pool_clear(pool);
		for (unsigned i = 0; i < MULTI_SET; i++) {
			ds[i] = begin_text(store, "INBOX", multi_body(pool, a->round, set, i));
			if (ds[i] == NULL)
				return -1;
		}
		if (store_delivery_commit_multi(store, ds, MULTI_SET, uids, &error) < 0 ||
		    write(a->fd, &set, sizeof(set)) != sizeof(set))
			return -1;
	}
	return 0;
}

/* Per (round, set): how many members are stored; each must be whole. */
static void check_sets(struct suite *s, const unsigned *reported, unsigned nrounds)
{
	const char *error = NULL;
	struct store_view *v = suite_view(s->store, "INBOX");
	struct store_message_info *msgs;
	unsigned count;
	unsigned members[MULTI_ROUNDS][MULTI_BURST];
	memset(members, 0, sizeof(members));
	assert_int_equal(store_view_list(v, s->pool, &msgs, &count, &error), 0);
	for (unsigned m = 0; m < count; m++) {
		const char *data;
		size_t size;
		unsigned round, set, i;
		assert_false(msgs[m].lost);
		assert_int_equal(suite_read(v, msgs[m].uid, s->pool, &data, &size), 0);
		assert_int_equal(sscanf(data, "X-Set: %u %u %u", &round, &set, &i), 3);
		assert_true(round < MULTI_ROUNDS && set < MULTI_BURST && i < MULTI_SET);
		const char *want = multi_body(s->pool, round, set, i);
		assert_int_equal(size, strlen(want));
		assert_memory_equal(data, want, size);
		members[round][set]++;
	}
	for (unsigned r = 0; r < nrounds; r++) {
		for (unsigned set = 0; set < MULTI_BURST; set++) {
			if (members[r][set] != 0 && members[r][set] != MULTI_SET)
				fail_msg("round=%u set=%u partial: %u of %u", r, set,
					 members[r][set], MULTI_SET);
			if (set < reported[r] && members[r][set] == 0)
				fail_msg("round=%u set=%u reported but missing", r, set);
		}
	}
	suite_check_status(s, "INBOX");
	store_view_close(&v);
}

static void test_multi_crash(void **state)
{
	struct suite *s = *state;
	unsigned seed = 3502;
	unsigned reported[MULTI_ROUNDS] = { 0 };
	for (unsigned round = 0; round < MULTI_ROUNDS; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		struct multi_arg arg = { fds[1], round };
		pid_t pid = suite_spawn(s, child_multi, &arg);
		close(fds[1]);
		unsigned got;
		assert_int_equal(read(fds[0], &got, sizeof(got)), sizeof(got));
		/* the first set is committed: kill it during a later one */
		assert_int_equal(read(fds[0], &got, sizeof(got)), sizeof(got));
		reported[round] = got + 1;
		usleep(1000 * (5 + (unsigned)rand_r(&seed) % 80));
		kill(pid, SIGKILL);
		int status = suite_wait(pid, 10000);
		assert_true(status >= 0);
		assert_true(WIFSIGNALED(status) ||
			    (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		while (read(fds[0], &got, sizeof(got)) == sizeof(got))
			reported[round] = got + 1;
		close(fds[0]);
		print_message("round=%u sets_reported=%u\n", round, reported[round]);
		suite_reopen(s);
		check_sets(s, reported, round + 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_multi_commit),
		SUITE_TEST(test_multi_none_on_failure),
		SUITE_TEST(test_multi_crash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
