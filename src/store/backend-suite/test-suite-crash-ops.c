/* test-suite-crash-ops.c: backend suite (suite.h), crashes during
 * expunge, COPY, MOVE and mailbox RENAME, through the public store
 * headers only (test-suite-crash.c covers delivery and flag changes,
 * test-suite-multi.c MULTIAPPEND).
 *
 * Each round (seeded, CRASH_OPS_ROUNDS of them) gets fresh mailboxes:
 * R<n> holding OPS_GROUPS groups of GROUP_SIZE tagged messages, R<n>d
 * (the COPY/MOVE destination) and R<n>b<k> (a RENAME each, two messages
 * apiece). A child runs the ops in order (group g: expunge, copy, move,
 * or rename R<n>b<g/4> to R<n>n<g/4>) and reports each on a pipe only
 * after its call returned 0; the parent SIGKILLs it at a random moment.
 * With a fresh handle afterwards:
 * - every reported op is fully done, every op after the one in flight
 *   fully undone, and the one in flight either (all or nothing: COPY and
 *   MOVE are one commit, store_view.h; a RENAME is atomic, store.h; an
 *   expunge is per message, store.h: "some may be gone and the rest
 *   remain", never a message half gone);
 * - the index and the mail agree: no message is lost, every listed one
 *   reads back byte-exact, no tag is listed twice or unknown, STATUS
 *   agrees with a walk (suite_check_status);
 * - UIDs are never reused: a new delivery to R<n> gets a UID above every
 *   UID R<n> ever had, one to R<n>d above every UID the child reported
 *   there, and a renamed mailbox keeps UIDVALIDITY and UIDs. */
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

#define CRASH_OPS_ROUNDS 16
#define OPS_GROUPS 8
#define GROUP_SIZE 3
#define RENAME_MSGS 2
#define OP_EXPUNGE 0
#define OP_COPY 1
#define OP_MOVE 2
#define OP_RENAME 3

/* What the child reports once an op returned 0. */
struct op_report {
	uint32_t group;
	uint32_t max_dst_uid; /* COPY/MOVE: the largest UID made in R<n>d */
};

struct round_arg {
	int fd;
	unsigned round;
	uint32_t uids[OPS_GROUPS][GROUP_SIZE];
};

/* Each round starts with another op, so that every kind is in flight
 * in some round; each four groups hold one RENAME. */
static unsigned round_of_op;

static unsigned op_of(unsigned group)
{
	return (group + round_of_op) % 4;
}

static char *tagged_body(pool_t *pool, unsigned round, unsigned group,
			 unsigned i)
{
	size_t fill = 64 + ((round * 31u + group * 7u + i) * 577u) % 6000u;
	char *head = pool_printf(pool, "X-Tag: %u %u %u\r\nSubject: ops\r\n\r\n",
				 round, group, i);
	size_t hl = strlen(head);
	char *body = pool_alloc(pool, hl + fill + 3);
	memcpy(body, head, hl);
	for (size_t k = 0; k < fill; k++)
		body[hl + k] = (k % 64 == 62 && k + 1 < fill) ? '\r' :
			(k % 64 == 63) ? '\n' :
			(char)('a' + (k + group + i) % 26);
	memcpy(body + hl + fill, "\r\n", 3);
	return body;
}

static const char *name_of(pool_t *pool, unsigned round, const char *what,
			   int k)
{
	return k < 0 ? pool_printf(pool, "R%u%s", round, what) :
		pool_printf(pool, "R%u%s%d", round, what, k);
}

static int child_ops(struct store *store, void *arg)
{
	struct round_arg *a = arg;
	const char *error;
	pool_t *pool = pool_create(8192);
	struct store_view *v;
	struct store_view_changes c;
	struct op_report ready = { UINT32_MAX, 0 };
	char src[32];
	snprintf(src, sizeof(src), "R%u", a->round);
	if (store_view_open(store, SUITE_USER, src, &v, &error) < 0 ||
	    write(a->fd, &ready, sizeof(ready)) != sizeof(ready))
		return -1;
	for (unsigned g = 0; g < OPS_GROUPS; g++) {
		pool_clear(pool);
		struct op_report rep = { g, 0 };
		struct store_copy_result res;
		unsigned gone;
		int ret = store_view_sync(v, pool, &c, &error);
		switch (op_of(g)) {
		case OP_EXPUNGE:
			if (ret == 0)
				ret = store_mailbox_expunge(store, SUITE_USER, src,
							    a->uids[g], GROUP_SIZE,
							    &gone, &error);
			break;
		case OP_COPY:
		case OP_MOVE:
			if (ret == 0)
				ret = store_view_copy(v, a->uids[g], GROUP_SIZE,
						      name_of(pool, a->round, "d", -1),
						      op_of(g) == OP_MOVE, pool, &res,
						      &error);
			for (unsigned i = 0; ret == 0 && i < res.count; i++)
				if (res.dst_uids[i] > rep.max_dst_uid)
					rep.max_dst_uid = res.dst_uids[i];
			break;
		default:
			if (ret == 0)
				ret = store_mailbox_rename(
					store, SUITE_USER,
					name_of(pool, a->round, "b", (int)g / 4),
					name_of(pool, a->round, "n", (int)g / 4), &error);
		}
		if (ret < 0) {
			fprintf(stderr, "event=child_op_failed group=%u error=%s\n", g, error);
			return -1;
		}
		if (write(a->fd, &rep, sizeof(rep)) != sizeof(rep))
			return -1;
	}
	store_view_close(&v);
	pool_destroy(&pool);
	return 0;
}

/* Tags found in mailbox: count[group][i]; fails on an unreadable,
 * altered, foreign or doubled message. A lost row (its file gone, the
 * row left: store.h) is returned in lost_r (at most OPS_GROUPS *
 * GROUP_SIZE), not counted. Returns the largest UID. */
static uint32_t census(struct suite *s, unsigned round, const char *mailbox,
		       const uint32_t (*uids)[GROUP_SIZE],
		       unsigned count_r[OPS_GROUPS][GROUP_SIZE], uint32_t *lost_r,
		       unsigned *lost_count_r)
{
	struct store_view *v = suite_view(s->store, mailbox);
	struct store_message_info *msgs;
	unsigned n;
	const char *error = NULL;
	uint32_t top = 0;
	assert_int_equal(store_view_list(v, s->pool, &msgs, &n, &error), 0);
	memset(count_r, 0, sizeof(unsigned) * OPS_GROUPS * GROUP_SIZE);
	*lost_count_r = 0;
	for (unsigned k = 0; k < n; k++) {
		const char *data;
		size_t size;
		unsigned r, g, i;
		if (msgs[k].uid > top)
			top = msgs[k].uid;
		if (msgs[k].lost) {
			assert_true(*lost_count_r < OPS_GROUPS * GROUP_SIZE);
			lost_r[(*lost_count_r)++] = msgs[k].uid;
			continue;
		}
		assert_int_equal(suite_read(v, msgs[k].uid, s->pool, &data, &size), 0);
		assert_int_equal(sscanf(data, "X-Tag: %u %u %u", &r, &g, &i), 3);
		assert_int_equal(r, round);
		assert_true(g < OPS_GROUPS && i < GROUP_SIZE);
		const char *want = tagged_body(s->pool, r, g, i);
		assert_int_equal(size, strlen(want));
		assert_memory_equal(data, want, size);
		assert_true(msgs[k].size == size);
		/* with uids (the source): an expunged message never back
		 * under another UID, as a file the sync took for new mail
		 * would be */
		if (uids != NULL && op_of(g) == OP_EXPUNGE &&
		    msgs[k].uid != uids[g][i])
			fail_msg("round=%u group=%u msg=%u back as uid=%u (was %u)",
				 round, g, i, msgs[k].uid, uids[g][i]);
		count_r[g][i]++;
	}
	store_view_close(&v);
	suite_check_status(s, mailbox);
	return top;
}

/* A kill inside store_mailbox_expunge() after a file's unlink and before
 * the rows' commit once left the row without its file, listed as lost
 * until a later expunge; now the reopen finishes the expunge (its
 * intent, store_maildir_expunge.c), so no row may be lost, and the
 * group's messages must be gone or there, never resurrected. */
static void check_lost(const struct round_arg *a, const uint32_t *lost,
		       unsigned nlost)
{
	for (unsigned k = 0; k < nlost; k++)
		fail_msg("round=%u uid=%u lost: a row without its file", a->round,
			 lost[k]);
}

/* state 0: as before the op, 1: done; -1 neither. */
static int group_state(unsigned op, unsigned in_src, unsigned in_dst)
{
	switch (op) {
	case OP_EXPUNGE:
		return in_dst != 0 ? -1 : in_src == 1 ? 0 : in_src == 0 ? 1 : -1;
	case OP_COPY:
		return in_src != 1 ? -1 : in_dst == 0 ? 0 : in_dst == 1 ? 1 : -1;
	default: /* OP_MOVE */
		return in_src == 1 && in_dst == 0 ? 0 :
			in_src == 0 && in_dst == 1 ? 1 : -1;
	}
}

static void check_round(struct suite *s, struct round_arg *a, unsigned done,
			uint32_t max_dst_uid, const uint32_t *uidvalidity,
			uint32_t src_top)
{
	unsigned src[OPS_GROUPS][GROUP_SIZE], dst[OPS_GROUPS][GROUP_SIZE];
	const char *sname = name_of(s->pool, a->round, "", -1);
	const char *dname = name_of(s->pool, a->round, "d", -1);
	uint32_t lost[OPS_GROUPS * GROUP_SIZE], dst_lost[OPS_GROUPS * GROUP_SIZE];
	unsigned nlost, ndst_lost;
	census(s, a->round, sname, (const uint32_t (*)[GROUP_SIZE])a->uids, src,
	       lost, &nlost);
	uint32_t dst_top = census(s, a->round, dname, NULL, dst, dst_lost,
				  &ndst_lost);
	assert_int_equal(ndst_lost, 0);
	check_lost(a, lost, nlost);
	for (unsigned g = 0; g < OPS_GROUPS; g++) {
		unsigned op = op_of(g);
		int want = g < done ? 1 : g > done ? 0 : -1; /* -1: either */
		if (op == OP_RENAME) {
			const char *old = name_of(s->pool, a->round, "b", (int)g / 4);
			const char *new = name_of(s->pool, a->round, "n", (int)g / 4);
			/* a kill after the folders moved and before the
			 * commit once listed both, the new one imported as
			 * a new mailbox: now the reopen finishes the rename
			 * (its intent, store_maildir_rename.c) */
			bool o = suite_mailbox_listed(s, old);
			bool n = suite_mailbox_listed(s, new);
			if (o == n || (want >= 0 && n != (want == 1)))
				fail_msg("round=%u rename %s->%s old=%d new=%d done=%u",
					 a->round, old, new, o, n, done);
			struct store_view *v = suite_view(s->store, n ? new : old);
			assert_int_equal(store_view_count(v), RENAME_MSGS);
			assert_int_equal(store_view_uidvalidity(v), uidvalidity[g / 4]);
			for (unsigned i = 0; i < RENAME_MSGS; i++)
				assert_int_equal(store_view_uid(v, i + 1), i + 1);
			store_view_close(&v);
			continue;
		}
		int first = -2;
		for (unsigned i = 0; i < GROUP_SIZE; i++) {
			int st = group_state(op, src[g][i], dst[g][i]);
			/* a kill in a MOVE after its commit and before the
			 * sources' unlink once left a source file without a
			 * row, which the next rescan of new/ took for new mail
			 * (it was tolerated as known=move_crash_source_back):
			 * now the reopen unlinks it (the move's intent,
			 * store_maildir_copy.c), so the message is in one
			 * place only */
			if (st < 0 || (want >= 0 && st != want))
				fail_msg("round=%u group=%u op=%u msg=%u src=%u dst=%u "
					 "done=%u: neither before nor after", a->round, g,
					 op, i, src[g][i], dst[g][i], done);
			/* COPY and MOVE are one commit: the group moves as one */
			if (op != OP_EXPUNGE && first != -2 && st != first)
				fail_msg("round=%u group=%u op=%u: half the group copied",
					 a->round, g, op);
			first = st;
		}
	}
	/* UIDs are never reused (RFC 9051 2.3.1.1) */
	uint32_t uid;
	assert_int_equal(suite_try_deliver(s->store, sname, "Subject: after\r\n\r\n",
					   0, &uid), 0);
	assert_true(uid > src_top);
	assert_int_equal(suite_try_deliver(s->store, dname, "Subject: after\r\n\r\n",
					   0, &uid), 0);
	assert_true(uid > max_dst_uid && uid > dst_top);
}

static void prepare_round(struct suite *s, struct round_arg *a,
			  uint32_t *uidvalidity, uint32_t *src_top)
{
	const char *error = NULL;
	const char *sname = name_of(s->pool, a->round, "", -1);
	assert_true(store_mailbox_create(s->store, SUITE_USER, sname, &error) >= 0);
	assert_true(store_mailbox_create(s->store, SUITE_USER,
					 name_of(s->pool, a->round, "d", -1), &error) >= 0);
	for (unsigned g = 0; g < OPS_GROUPS; g++)
		for (unsigned i = 0; i < GROUP_SIZE; i++)
			a->uids[g][i] = *src_top = suite_deliver(
				s->store, sname, tagged_body(s->pool, a->round, g, i),
				0, 0);
	for (unsigned k = 0; k < OPS_GROUPS / 4; k++) {
		const char *b = name_of(s->pool, a->round, "b", (int)k);
		assert_true(store_mailbox_create(s->store, SUITE_USER, b, &error) >= 0);
		for (unsigned i = 0; i < RENAME_MSGS; i++)
			suite_deliver(s->store, b, "Subject: renamed\r\n\r\n", 0, 0);
		struct store_view *v = suite_view(s->store, b);
		uidvalidity[k] = store_view_uidvalidity(v);
		store_view_close(&v);
	}
}

static void test_crash_during_expunge_copy_move_rename(void **state)
{
	struct suite *s = *state;
	unsigned seed = 2027;
	unsigned killed = 0;
	for (unsigned round = 0; round < CRASH_OPS_ROUNDS; round++) {
		struct round_arg arg = { .round = round };
		round_of_op = round;
		uint32_t uidvalidity[OPS_GROUPS / 4], src_top = 0;
		prepare_round(s, &arg, uidvalidity, &src_top);
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		arg.fd = fds[1];
		pid_t pid = suite_spawn(s, child_ops, &arg);
		close(fds[1]);
		struct op_report rep;
		assert_int_equal(read(fds[0], &rep, sizeof(rep)), sizeof(rep));
		assert_int_equal(rep.group, UINT32_MAX);
		/* kill in op `target` whatever the machine's speed: after the
		 * reports of the ops before it, a random moment into it */
		unsigned target = (unsigned)rand_r(&seed) % OPS_GROUPS, done = 0;
		uint32_t max_dst_uid = 0;
		bool more = true;
		for (unsigned k = 0; k <= OPS_GROUPS && more; k++) {
			if (done == target) {
				usleep((unsigned)rand_r(&seed) % 8000);
				kill(pid, SIGKILL);
			}
			more = read(fds[0], &rep, sizeof(rep)) == sizeof(rep) &&
				done < OPS_GROUPS;
			if (!more)
				break;
			assert_int_equal(rep.group, done);
			if (rep.max_dst_uid > max_dst_uid)
				max_dst_uid = rep.max_dst_uid;
			done++;
		}
		int status = suite_wait(pid, 10000);
		assert_true(status >= 0);
		assert_true(WIFSIGNALED(status) ||
			    (WIFEXITED(status) && WEXITSTATUS(status) == 0));
		killed += WIFSIGNALED(status);
		close(fds[0]);
		print_message("round=%u done=%u killed=%d\n", round, done,
			      WIFSIGNALED(status));
		suite_reopen(s);
		check_round(s, &arg, done, max_dst_uid, uidvalidity, src_top);
	}
	/* the kills must land in the ops, not all after them */
	assert_true(killed >= CRASH_OPS_ROUNDS / 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SUITE_TEST(test_crash_during_expunge_copy_move_rename),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
