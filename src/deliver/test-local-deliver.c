/* test-local-deliver.c: unit tests for local_deliver.h: copies land in
 * each local mailbox with Return-Path/Delivered-To in front and the
 * message's own Return-Path left out, the remote part is queued in the
 * same step, a Delivered-To loop drops the copy, a generated message
 * (a bounce, from memory) is delivered the same way. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver/local_deliver.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "store/store_committer.h"
#include "store/test-store-fixture.h"

static char tdir[64];
/* files under tdir/mail/ holding the token, collected by nftw */
static const char *want_token;
static char *found[8];
static unsigned nfound;

static int find_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	path += strlen(tdir);
	if (flag != FTW_F || strstr(path, "/tmp/") != NULL || st->st_size > 65536 ||
	    (strstr(path, "/mail/") == NULL && strstr(path, "/queue/msg/") == NULL))
		return 0;
	char *buf = xcalloc(1, (size_t)st->st_size + 1);
	int fd = open(t_printf("%s%s", tdir, path), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, (size_t)st->st_size), st->st_size);
	close(fd);
	if (getenv("SHOW") != NULL && strstr(buf, want_token) != NULL) fprintf(stderr, "%s: [%s]\n", path, buf);
	if (strstr(buf, want_token) != NULL && nfound < 8)
		found[nfound++] = buf;
	else
		free(buf);
	return 0;
}

static void find(const char *token)
{
	for (unsigned i = 0; i < nfound; i++)
		free(found[i]);
	nfound = 0;
	want_token = token;
	assert_int_equal(nftw(tdir, find_entry, 16, FTW_PHYS), 0);
}

static int setup(void **state)
{
	return test_dir_make(tdir, sizeof(tdir), "test-deliver");
}

static int teardown(void **state)
{
	find("\x01never");
	test_dir_remove(tdir);
	return 0;
}

static void run(struct local_delivery *d, struct store_committer *c)
{
	d->sid = "test";
	d->data_dir = tdir;
	d->committer = c;
	local_deliver_run(d);
}

static void test_fan_out_and_queue(void **state)
{
	struct store_committer *c;
	const char *error;
	assert_int_equal(store_committer_create(tdir, &c, &error), 0);
	const char *msg = "Return-Path: <forged@evil.example>\r\nSubject: tok-fan\r\n\r\nbody\r\n";
	const char *local[] = { "bob@example.org", "alice@example.org" };
	struct queue_recipient rcpt = { .address = queue_str_c("far@remote.example") };
	struct local_delivery d = {
		.msg_fd = -1, .msg_mem = msg, .msg_size = strlen(msg),
		.sender = "carol@example.net", .local = local, .nlocal = 2,
		.env = { .sender = queue_str_c("carol@example.net"), .received = 1,
			 .recipients = &rcpt, .recipient_count = 1 },
	};
	str_appendz(&d.prefix, "Received: by test\r\n");
	run(&d, c);
	assert_false(d.failed);
	assert_false(d.loop);
	assert_int_equal(strlen(d.queue_id), QUEUE_ID_LEN);
	find("tok-fan");
	assert_int_equal(nfound, 3);
	unsigned copies = 0;
	/* the store keeps LF line ends; the queue keeps the wire's CRLF */
	for (unsigned i = 0; i < nfound; i++) {
		if (strncmp(found[i], "Return-Path: <carol@example.net>\nDelivered-To: ", 47) == 0) {
			copies++;
			assert_null(strstr(found[i], "forged@evil"));
			assert_non_null(strstr(found[i], "Received: by test\nSubject: tok-fan"));
		} else {
			/* RFC 5321 4.4: a relay does not touch Return-Path */
			assert_string_equal(found[i], "Received: by test\r\n"
					    "Return-Path: <forged@evil.example>\r\n"
					    "Subject: tok-fan\r\n\r\nbody\r\n");
		}
	}
	assert_int_equal(copies, 2);
	local_delivery_deinit(&d);
	store_committer_destroy(&c);
}

/* A bounce: generated in memory, null sender, one local recipient. */
static void test_generated_message(void **state)
{
	struct store_committer *c;
	const char *error;
	assert_int_equal(store_committer_create(tdir, &c, &error), 0);
	const char *msg = "From: MAILER-DAEMON@test\r\nSubject: tok-bounce\r\n\r\nx\r\n";
	const char *local[] = { "alice@example.org" };
	struct local_delivery d = {
		.msg_fd = -1, .msg_mem = msg, .msg_size = strlen(msg),
		.sender = "", .local = local, .nlocal = 1,
	};
	run(&d, c);
	assert_false(d.failed);
	assert_string_equal(d.queue_id, "");
	find("tok-bounce");
	assert_int_equal(nfound, 1);
	assert_non_null(strstr(found[0], "Return-Path: <>\nDelivered-To: alice@example.org\n"
			       "From: MAILER-DAEMON@test\n"));
	local_delivery_deinit(&d);
	store_committer_destroy(&c);
}

static void test_loop(void **state)
{
	struct store_committer *c;
	const char *error;
	assert_int_equal(store_committer_create(tdir, &c, &error), 0);
	const char *msg = "Delivered-To: <Alice@example.org>\r\nSubject: tok-loop\r\n\r\nx\r\n";
	const char *local[] = { "alice@example.org" };
	struct local_delivery d = {
		.msg_fd = -1, .msg_mem = msg, .msg_size = strlen(msg),
		.sender = "x@y.example", .local = local, .nlocal = 1,
	};
	run(&d, c);
	assert_true(d.loop);
	assert_int_equal(d.looped, 1);
	find("tok-loop");
	assert_int_equal(nfound, 0);
	local_delivery_deinit(&d);
	/* a second copy for someone else goes through, the looping one not */
	const char *two[] = { "alice@example.org", "bob@example.org" };
	struct local_delivery d2 = {
		.msg_fd = -1, .msg_mem = msg, .msg_size = strlen(msg),
		.sender = "x@y.example", .local = two, .nlocal = 2,
	};
	run(&d2, c);
	assert_false(d2.loop);
	assert_false(d2.failed);
	assert_int_equal(d2.looped, 1);
	find("tok-loop");
	assert_int_equal(nfound, 1);
	assert_non_null(strstr(found[0], "Delivered-To: bob@example.org\n"));
	local_delivery_deinit(&d2);
	store_committer_destroy(&c);
}

int main(void)
{
	log_init("test-local-deliver", LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fan_out_and_queue),
		cmocka_unit_test(test_generated_message),
		cmocka_unit_test(test_loop),
	};
	/* one data directory: the delivery thread's store handle is kept */
	return cmocka_run_group_tests(tests, setup, teardown);
}
