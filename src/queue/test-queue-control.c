/* test-queue-control.c: unit tests for queue_control.c (postel queue
 * retry|hold|release) and the hold's effect on leases (queue_lease.c):
 * a held entry is leased to nobody but a bounce handle, a hold set under
 * a runner's lease survives the runner's write, release and retry make
 * the open recipients due now, and the flag round-trips the envelope. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "queue/queue.h"

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static void make_entry(struct queue *q, char id[QUEUE_ID_MAX])
{
	struct queue_recipient r = { .address = queue_str_c("a@x.example"),
				     .state = QUEUE_RCPT_DEFERRED, .next_attempt = 900,
				     .attempts = 1 };
	struct queue_envelope env = { .sender = queue_str_c("s@y.example"), .received = 1,
				      .recipients = &r, .recipient_count = 1 };
	const char *error;
	struct queue_writer *w = queue_writer_begin(q, &env, &error);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, "x\r\n", 3, &error), 0);
	assert_int_equal(queue_writer_commit(&w, id, &error), 0);
}

static void test_hold_release_retry(void **state)
{
	(void)state;
	char dir[] = "/tmp/test-queue-control-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char id[QUEUE_ID_MAX];
	const char *error, *why;
	pool_t *pool = pool_create(4096);
	struct queue *q;
	assert_int_equal(queue_open(dir, &q, &error), 0);
	make_entry(q, id);
	struct queue_entry_info e;

	/* retry: the deferred recipient is due now, once */
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RETRY, 100, &why, &error), 1);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_int_equal(e.env.recipients[0].next_attempt, 100);
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RETRY, 100, &why, &error), 0);
	assert_string_equal(why, "already due");

	/* hold: durable, refused to a runner, not retried, held once */
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_HOLD, 100, &why, &error), 1);
	assert_null(why);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_true(e.env.hold);
	assert_int_equal(queue_lease(q, id, "runner-a", 100, 60, pool, &e, &error), 0);
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RETRY, 100, &why, &error), 0);
	assert_non_null(strstr(why, "held"));
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_HOLD, 100, &why, &error), 0);

	/* the bounce CLI's handle may lease it */
	struct queue *qb;
	assert_int_equal(queue_open(dir, &qb, &error), 0);
	queue_lease_held_entries(qb);
	assert_int_equal(queue_lease(qb, id, "cli-1", 100, 60, pool, &e, &error), 1);
	assert_int_equal(queue_lease_update(qb, id, "cli-1", &e.env, e.size, true, &error), 1);
	queue_close(&qb);

	/* release: not held, due now; releasing again is refused */
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RELEASE, 200, &why, &error), 1);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_false(e.env.hold);
	assert_int_equal(e.env.recipients[0].next_attempt, 100); /* was due already */
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RELEASE, 200, &why, &error), 0);
	assert_string_equal(why, "not held");

	/* held under a runner's lease: its write keeps the hold */
	assert_int_equal(queue_lease(q, id, "runner-a", 300, 60, pool, &e, &error), 1);
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_HOLD, 310, &why, &error), 1);
	assert_non_null(why);
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RETRY, 310, &why, &error), 0);
	e.env.recipients[0].next_attempt = 400; /* the attempt's result */
	assert_false(e.env.hold);
	assert_int_equal(queue_lease_update(q, id, "runner-a", &e.env, e.size, true, &error), 1);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_true(e.env.hold);
	assert_null(e.env.lease_owner.data);
	assert_int_equal(e.env.recipients[0].next_attempt, 400);
	assert_int_equal(queue_lease(q, id, "runner-b", 320, 60, pool, &e, &error), 0);
	assert_int_equal(queue_control(q, id, QUEUE_CONTROL_RELEASE, 330, &why, &error), 1);
	assert_int_equal(queue_entry_read(q, id, pool, &e, &error), 0);
	assert_int_equal(e.env.recipients[0].next_attempt, 330);

	errno = 0;
	assert_int_equal(queue_control(q, "0000000000000000000000ee9", QUEUE_CONTROL_HOLD, 1,
				       &why, &error), -1);
	assert_int_equal(errno, ENOENT);
	queue_close(&q);
	pool_destroy(&pool);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* hold=yes is written only when held and read back; a v1 file has none */
static void test_hold_round_trip(void **state)
{
	(void)state;
	pool_t *pool = pool_create(4096);
	struct queue_recipient r = { .address = queue_str_c("a@x.example") };
	struct queue_envelope env = { .sender = queue_str_c(""), .received = 5,
				      .recipients = &r, .recipient_count = 1 };
	str_t out = STR_INIT;
	queue_envelope_format("0000000000000000000000001", 3, &env, &out);
	assert_null(memmem(out.data, out.len, "hold=", 5));
	env.hold = true;
	str_clear(&out);
	queue_envelope_format("0000000000000000000000001", 3, &env, &out);
	assert_non_null(memmem(out.data, out.len, "\nhold=yes\n", 10));
	struct queue_entry_info e;
	const char *error;
	assert_int_equal(queue_envelope_parse(out.data, out.len, pool, &e, &error), 0);
	assert_true(e.env.hold);
	str_free(&out);
	pool_destroy(&pool);
}

int main(void)
{
	log_init("test-queue-control", LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_release_retry),
		cmocka_unit_test(test_hold_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
