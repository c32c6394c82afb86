/* test-queue-state.c: unit tests for the queue's per-recipient results
 * (envelope version 2, version 1 still read), leases between two runners,
 * and the retry schedule (queue_schedule.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "queue/queue.h"

static const struct queue_schedule sch = {
	.retry_min = 300, .retry_max = 4 * 3600, .lifetime = 5 * 86400,
	.delay_warning = 4 * 3600,
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void test_v2_round_trip(void **state)
{
	pool_t *pool = pool_create(4096);
	struct queue_recipient r[2] = {
		{ .address = queue_str_c("a@x.example"), .attempts = 3, .next_attempt = 77,
		  .state = QUEUE_RCPT_DEFERRED, .reply_code = 451,
		  .reply_status = queue_str_c("4.7.1"),
		  .reply_text = queue_str_c("try again\r\nlater = %"),
		  .mx = queue_str_c("mx1.x.example") },
		{ .address = queue_str_c("b@x.example"), .state = QUEUE_RCPT_DELIVERED,
		  .reply_code = 250 },
	};
	struct queue_envelope env = {
		.sender = queue_str_c("s@y.example"), .received = 5,
		.lease_owner = queue_str_c("runner 7/2"), .lease_expires = 99,
		.delay_warned = true, .requiretls = true, .recipients = r,
		.recipient_count = 2,
	};
	const char *error;
	assert_int_equal(queue_envelope_check(&env, &error), 0);
	str_t text = STR_INIT;
	queue_envelope_format("0123456789abcdef012345678", 10, &env, &text);
	assert_non_null(strstr(text.data, "postel-envelope 2\n"));
	assert_non_null(strstr(text.data, "rcpt-reply-text=try%20again%0D%0Alater%20=%20%25\n"));
	struct queue_entry_info e;
	assert_int_equal(queue_envelope_parse(text.data, text.len, pool, &e, &error), 0);
	assert_string_equal(e.env.lease_owner.data, "runner 7/2");
	assert_int_equal(e.env.lease_expires, 99);
	assert_true(e.env.delay_warned);
	assert_true(e.env.requiretls);          /* RFC 8689 */
	assert_int_equal(e.env.recipients[0].state, QUEUE_RCPT_DEFERRED);
	assert_int_equal(e.env.recipients[0].reply_code, 451);
	assert_string_equal(e.env.recipients[0].reply_status.data, "4.7.1");
	assert_string_equal(e.env.recipients[0].reply_text.data, "try again\r\nlater = %");
	assert_string_equal(e.env.recipients[0].mx.data, "mx1.x.example");
	assert_int_equal(e.env.recipients[1].state, QUEUE_RCPT_DELIVERED);
	assert_null(e.env.recipients[1].mx.data);
	str_free(&text);
	pool_destroy(&pool);
}

/* A file written before version 2 is still read (state pending); a
 * version 1 file with a version 2 key is refused. */
static void test_v1_still_read(void **state)
{
	pool_t *pool = pool_create(4096);
	const char *v1 = "postel-envelope 1\nid=0123456789abcdef012345678\n"
		"received=5\nsize=10\nsender=s@y.example\nsmtputf8=no\nbody=7bit\n"
		"ret=none\nrcpt=a@x.example\nrcpt-attempts=2\nrcpt-next-attempt=9\nend\n";
	struct queue_entry_info e;
	const char *error;
	assert_int_equal(queue_envelope_parse(v1, strlen(v1), pool, &e, &error), 0);
	assert_int_equal(e.env.recipients[0].state, QUEUE_RCPT_PENDING);
	assert_int_equal(e.env.recipients[0].attempts, 2);
	assert_null(e.env.lease_owner.data);
	const char *bad = "postel-envelope 1\nid=0123456789abcdef012345678\n"
		"received=5\nsize=10\nsender=s@y.example\nsmtputf8=no\nbody=7bit\n"
		"ret=none\nrcpt=a@x.example\nrcpt-attempts=2\nrcpt-next-attempt=9\n"
		"rcpt-state=failed\nend\n";
	assert_int_equal(queue_envelope_parse(bad, strlen(bad), pool, &e, &error), -1);
	/* version 2: a lease owner without expiry, a reply code out of range */
	const char *v2[] = {
		"postel-envelope 2\nid=0123456789abcdef012345678\nreceived=5\nsize=1\n"
		"sender=\nsmtputf8=no\nbody=7bit\nret=none\nlease-owner=r1\n"
		"rcpt=a@x\nrcpt-attempts=0\nrcpt-next-attempt=0\nend\n",
		"postel-envelope 2\nid=0123456789abcdef012345678\nreceived=5\nsize=1\n"
		"sender=\nsmtputf8=no\nbody=7bit\nret=none\n"
		"rcpt=a@x\nrcpt-attempts=0\nrcpt-next-attempt=0\nrcpt-reply-code=199\nend\n",
		"postel-envelope 2\nid=0123456789abcdef012345678\nreceived=5\nsize=1\n"
		"sender=\nsmtputf8=no\nbody=7bit\nret=none\n"
		"rcpt=a@x\nrcpt-attempts=0\nrcpt-next-attempt=0\nrcpt-state=sent\nend\n",
	};
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(queue_envelope_parse(v2[i], strlen(v2[i]), pool, &e, &error), -1);
	pool_destroy(&pool);
}

static void test_backoff(void **state)
{
	/* no jitter at random % 21 == 10: exact doubling to the cap */
	assert_int_equal(queue_backoff(&sch, 1, 10), 300);
	assert_int_equal(queue_backoff(&sch, 2, 10), 600);
	assert_int_equal(queue_backoff(&sch, 3, 10), 1200);
	assert_int_equal(queue_backoff(&sch, 6, 10), 9600);
	assert_int_equal(queue_backoff(&sch, 7, 10), 14400);
	assert_int_equal(queue_backoff(&sch, 1000000, 10), 14400);
	/* +-10% */
	assert_int_equal(queue_backoff(&sch, 1, 0), 270);
	assert_int_equal(queue_backoff(&sch, 1, 20), 330);
	for (uint32_t r = 0; r < 1000; r++) {
		unsigned d = queue_backoff(&sch, 40, r * 2654435761u);
		assert_true(d >= 12960 && d <= 15840);
	}
}

static void test_outcomes(void **state)
{
	pool_t *pool = pool_create(4096);
	struct queue_recipient r[3] = {
		{ .address = queue_str_c("a@x") }, { .address = queue_str_c("b@x") },
		{ .address = queue_str_c("c@x"), .notify = QUEUE_NOTIFY_FAILURE },
	};
	struct queue_envelope env = { .sender = queue_str_c("s@y"), .received = 1000,
				      .recipients = r, .recipient_count = 3 };
	queue_rcpt_result(&r[0], &sch, 2000, 10, 250, "2.0.0", "ok", "mx", pool);
	queue_rcpt_result(&r[1], &sch, 2000, 10, 550, "5.1.1", "5.1.1 no such user", "mx", pool);
	queue_rcpt_result(&r[2], &sch, 2000, 10, 0, NULL, "connection refused", "mx", pool);
	assert_int_equal(r[0].state, QUEUE_RCPT_DELIVERED);
	assert_int_equal(r[1].state, QUEUE_RCPT_FAILED);
	assert_string_equal(r[1].reply_status.data, "5.1.1");
	/* the enhanced code that opens the text is kept once */
	assert_string_equal(r[1].reply_text.data, "no such user");
	assert_int_equal(r[2].state, QUEUE_RCPT_DEFERRED);
	assert_int_equal(r[2].reply_code, 0);
	assert_int_equal(r[2].next_attempt, 2300);
	assert_int_equal(r[2].attempts, 1);
	queue_rcpt_result(&r[2], &sch, 2300, 10, 421, "4.3.2", "busy", "mx2", pool);
	assert_int_equal(r[2].next_attempt, 2900);
	assert_false(queue_entry_done(&env));
	/* c asked for failure notices only: no delay warning */
	assert_false(queue_delay_warning_due(&env, &sch, 1000 + 5 * 3600));
	r[2].notify = 0;
	assert_false(queue_delay_warning_due(&env, &sch, 1000 + 3600));
	assert_true(queue_delay_warning_due(&env, &sch, 1000 + 4 * 3600));
	env.delay_warned = true;
	assert_false(queue_delay_warning_due(&env, &sch, 1000 + 5 * 3600));
	/* expiry: the deferred one fails with 4.4.7, the last reply kept */
	assert_int_equal(queue_expire(&env, &sch, 1000 + 5 * 86400 - 1, pool), 0);
	assert_int_equal(queue_expire(&env, &sch, 1000 + 5 * 86400, pool), 1);
	assert_int_equal(r[2].state, QUEUE_RCPT_FAILED);
	assert_string_equal(r[2].reply_status.data, "4.4.7");
	assert_string_equal(r[2].reply_text.data, "busy");
	assert_int_equal(r[0].state, QUEUE_RCPT_DELIVERED);
	assert_true(queue_entry_done(&env));
	pool_destroy(&pool);
}

static void make_entry(struct queue *q, char id[QUEUE_ID_MAX])
{
	struct queue_recipient r = { .address = queue_str_c("a@x.example") };
	struct queue_envelope env = { .sender = queue_str_c("s@y.example"), .received = 1,
				      .recipients = &r, .recipient_count = 1 };
	const char *error;
	struct queue_writer *w = queue_writer_begin(q, &env, &error);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, "x\r\n", 3, &error), 0);
	assert_int_equal(queue_writer_commit(&w, id, &error), 0);
}

/* Two runners (each its own process, as an old and a new generation):
 * one lease at a time; a lost lease writes nothing; expiry hands over. */
static void test_lease(void **state)
{
	char dir[64], id[QUEUE_ID_MAX];
	snprintf(dir, sizeof(dir), "/tmp/test-queue-lease.XXXXXX");
	assert_non_null(mkdtemp(dir));
	struct queue *q;
	const char *error;
	pool_t *pool = pool_create(4096);
	assert_int_equal(queue_open(dir, &q, &error), 0);
	make_entry(q, id);
	struct queue_entry_info e;
	assert_int_equal(queue_lease(q, id, "old", 100, 60, pool, &e, &error), 1);
	/* the other generation, in another process, at the same time */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct queue *q2;
		struct queue_entry_info e2;
		pool_t *p2 = pool_create(4096);
		if (queue_open(dir, &q2, &error) < 0 ||
		    queue_lease(q2, id, "new", 120, 60, p2, &e2, &error) != 0 ||
		    queue_lease_update(q2, id, "new", &e2.env, e2.size, true, &error) != 0)
			_exit(1);
		_exit(queue_lease(q2, id, "new", 161, 60, p2, &e2, &error) == 1 ? 0 : 2);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* "new" took it over after expiry: "old"'s results are refused */
	e.env.recipients[0].state = QUEUE_RCPT_DELIVERED;
	assert_int_equal(queue_lease_update(q, id, "old", &e.env, e.size, true, &error), 0);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_int_equal(e.env.recipients[0].state, QUEUE_RCPT_PENDING);
	assert_string_equal(e.env.lease_owner.data, "new");
	assert_int_equal(e.env.lease_expires, 221);
	/* the holder records results and releases */
	e.env.recipients[0].state = QUEUE_RCPT_DEFERRED;
	assert_int_equal(queue_lease_update(q, id, "new", &e.env, e.size, true, &error), 1);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_int_equal(e.env.recipients[0].state, QUEUE_RCPT_DEFERRED);
	assert_null(e.env.lease_owner.data);
	assert_int_equal(queue_lease(q, id, "old", 130, 60, pool, &e, &error), 1);
	queue_close(&q);
	pool_destroy(&pool);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A short lease renewed before it runs out keeps another owner away
 * past the first expiry; a lost lease is not renewed. */
static void test_lease_renew(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-queue-renew-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char id[QUEUE_ID_MAX];
	const char *error;
	pool_t *pool = pool_create(4096);
	struct queue *q;
	assert_int_equal(queue_open(dir, &q, &error), 0);
	make_entry(q, id);
	struct queue_entry_info e;
	time_t expires = 0;
	assert_int_equal(queue_lease(q, id, "runner-a", 100, 2, pool, &e, &error), 1);
	/* results of an attempt, not yet written, survive the renewal */
	assert_int_equal(queue_lease_renew(q, id, "runner-a", 101, 2, &expires, &error), 1);
	assert_int_equal(expires, 103);
	/* past the first expiry (102): still held */
	assert_int_equal(queue_lease(q, id, "runner-b", 102, 2, pool, &e, &error), 0);
	assert_int_equal(queue_lease_renew(q, id, "runner-a", 102, 2, &expires, &error), 1);
	assert_int_equal(queue_lease(q, id, "runner-b", 103, 2, pool, &e, &error), 0);
	/* not renewed: it runs out and another owner takes it */
	assert_int_equal(queue_lease(q, id, "runner-b", 105, 2, pool, &e, &error), 1);
	assert_int_equal(queue_lease_renew(q, id, "runner-a", 105, 2, &expires, &error), 0);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_string_equal(e.env.lease_owner.data, "runner-b");
	assert_int_equal(e.env.lease_expires, 107);
	assert_int_equal(queue_lease_renew(q, "0000000000000000000000ee9", "runner-a", 105, 2,
					   &expires, &error), -1);
	queue_close(&q);
	pool_destroy(&pool);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	log_init("test-queue-state", LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_round_trip),
		cmocka_unit_test(test_v1_still_read),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_lease_renew),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
