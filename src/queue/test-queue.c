/* test-queue.c: unit tests for queue.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "queue/queue.h"
#include "store/fileio.h"
#include "store/test-store-fixture.h"

struct fixture {
	char dir[64];
	struct queue *q;
	pool_t *pool;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	const char *error;
	if (test_dir_make(f->dir, sizeof(f->dir), "test-queue") < 0 ||
	    queue_open(f->dir, &f->q, &error) < 0)
		return -1;
	f->pool = pool_create(4096);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	queue_close(&f->q);
	pool_destroy(&f->pool);
	test_dir_remove(f->dir);
	free(f);
	return 0;
}

static unsigned dir_count(struct fixture *f, const char *sub)
{
	DIR *dir = opendir(t_printf("%s/queue/%s", f->dir, sub));
	assert_non_null(dir);
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dir);
	return n;
}

#define BYTES(s) { (s), sizeof(s) - 1 }

static const char *simple_queue(struct queue *q, const char *sender,
				const char *body, char id[QUEUE_ID_MAX])
{
	struct queue_recipient rcpt = { .address = queue_str_c("bob@example.net") };
	struct queue_envelope env = {
		.sender = queue_str_c(sender), .received = 1700000000,
		.recipients = &rcpt, .recipient_count = 1,
	};
	const char *error = NULL;
	struct queue_writer *w = queue_writer_begin(q, &env, &error);
	assert_non_null(w);
	assert_int_equal(queue_writer_write(w, body, strlen(body), &error), 0);
	assert_int_equal(queue_writer_commit(&w, id, &error), 0);
	assert_null(w);
	return id;
}

static void assert_str_equal(struct queue_str a, struct queue_str b)
{
	if (b.data == NULL) {
		assert_null(a.data);
		return;
	}
	assert_non_null(a.data);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.data, b.data, b.len);
	assert_int_equal(a.data[a.len], '\0');
}

static void test_envelope_round_trip_hostile(void **state)
{
	struct fixture *f = *state;
	struct queue_recipient rcpts[] = {
		{ .address = BYTES("bob@example.net\r\nrcpt=evil@x"),
		  .orcpt = BYTES("rfc822;b%0D%0Ab\0\r\n=%"),
		  .notify = QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_DELAY },
		{ .address = BYTES("c\0d@example.net"),
		  .notify = QUEUE_NOTIFY_NEVER, .attempts = 7,
		  .next_attempt = 1700000999 },
		{ .address = BYTES("\xc3\xa9t\xc3\xa9@\xe4\xbe\x8b.jp") },
	};
	struct queue_envelope env = {
		.sender = BYTES("a\r\nend\r\nsender=x\0y%41 b"),
		.auth_user = BYTES("alice=%\n"),
		.client_ip = BYTES("2001:db8::1"),
		.received = 1700000000, .smtputf8 = true,
		.body = QUEUE_BODY_BINARYMIME, .dsn_ret = QUEUE_DSN_RET_HDRS,
		.envid = BYTES("QQ+2B\r\n\x7f\xff"),
		.recipients = rcpts, .recipient_count = 3,
	};
	const char *error;
	struct queue_writer *w = queue_writer_begin(f->q, &env, &error);
	assert_non_null(w);
	static const char body[] = "Subject: x\r\n\r\n\0binary\r\n.\r\n";
	assert_int_equal(queue_writer_write(w, body, sizeof(body), &error), 0);
	char id[QUEUE_ID_MAX];
	assert_int_equal(queue_writer_commit(&w, id, &error), 0);
	assert_true(queue_id_is_valid(id));

	struct queue_entry_info entry;
	assert_int_equal(queue_entry_read(f->q, id, f->pool, &entry, &error), 0);
	assert_string_equal(entry.id, id);
	assert_int_equal(entry.size, sizeof(body));
	assert_str_equal(entry.env.sender, env.sender);
	assert_str_equal(entry.env.auth_user, env.auth_user);
	assert_str_equal(entry.env.client_ip, env.client_ip);
	assert_str_equal(entry.env.envid, env.envid);
	assert_int_equal(entry.env.received, 1700000000);
	assert_true(entry.env.smtputf8);
	assert_int_equal(entry.env.body, QUEUE_BODY_BINARYMIME);
	assert_int_equal(entry.env.dsn_ret, QUEUE_DSN_RET_HDRS);
	assert_int_equal(entry.env.recipient_count, 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_str_equal(entry.env.recipients[i].address, rcpts[i].address);
		assert_str_equal(entry.env.recipients[i].orcpt, rcpts[i].orcpt);
		assert_int_equal(entry.env.recipients[i].notify, rcpts[i].notify);
		assert_int_equal(entry.env.recipients[i].attempts, rcpts[i].attempts);
		assert_int_equal(entry.env.recipients[i].next_attempt,
				 rcpts[i].next_attempt);
	}

	/* the file itself: printable lines only, no forged fields */
	char *raw;
	size_t raw_len;
	assert_int_equal(fileio_read_file(t_printf("%s/queue/env/%s", f->dir, id),
					  1 << 20, &raw, &raw_len), 0);
	for (size_t i = 0; i < raw_len; i++)
		assert_true(raw[i] == '\n' || (raw[i] >= 0x20 && raw[i] < 0x7f));
	unsigned lines = 0, rcpt_lines = 0;
	for (char *line = raw; line < raw + raw_len; line = strchr(line, '\n') + 1) {
		lines++;
		rcpt_lines += strncmp(line, "rcpt=", 5) == 0;
	}
	assert_int_equal(rcpt_lines, 3);
	assert_non_null(strstr(raw, "rcpt-notify=success,delay\n"));
	assert_non_null(strstr(raw, "rcpt-notify=never\n"));
	free(raw);

	/* the message, byte for byte */
	int fd = queue_message_open(f->q, id, &error);
	assert_true(fd >= 0);
	char buf[256];
	assert_int_equal(read(fd, buf, sizeof(buf)), sizeof(body));
	assert_memory_equal(buf, body, sizeof(body));
	close(fd);
	assert_int_equal(dir_count(f, "tmp"), 0);
}

static void test_list(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct queue_entry_info *entries;
	unsigned count;
	assert_int_equal(queue_list(f->q, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 0);

	char ids[3][QUEUE_ID_MAX];
	simple_queue(f->q, "a@example.org", "one\n", ids[0]);
	simple_queue(f->q, "", "two!\n", ids[1]);
	/* from a spool file, with an offset */
	char spool_path[] = "/tmp/test-queue-spool.XXXXXX";
	int spool = mkstemp(spool_path);
	unlink(spool_path);
	assert_int_equal(fileio_write_full(spool, "xxxhello spool\n", 15), 0);
	struct queue_recipient rcpt = { .address = queue_str_c("c@example.com") };
	struct queue_envelope env = { .sender = queue_str_c("s@example.org"),
				      .recipients = &rcpt, .recipient_count = 1 };
	struct queue_writer *w = queue_writer_begin(f->q, &env, &error);
	assert_int_equal(queue_writer_write_fd(w, spool, 3, 12, &error), 0);
	assert_int_equal(queue_writer_commit(&w, ids[2], &error), 0);
	close(spool);

	assert_int_equal(queue_list(f->q, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_string_equal(entries[i].id, ids[i]);
	assert_true(strcmp(ids[0], ids[1]) < 0 && strcmp(ids[1], ids[2]) < 0);
	assert_string_equal(entries[0].env.sender.data, "a@example.org");
	assert_int_equal(entries[1].env.sender.len, 0);
	assert_int_equal(entries[1].size, 5);
	assert_int_equal(entries[2].size, 12);
	assert_string_equal(entries[2].env.recipients[0].address.data,
			    "c@example.com");

	/* a read-only handle sees the same and changes nothing */
	struct queue *ro;
	assert_int_equal(queue_open_readonly(f->dir, &ro, &error), 0);
	assert_int_equal(queue_list(ro, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 3);
	assert_null(queue_writer_begin(ro, &env, &error));
	queue_close(&ro);
	assert_int_equal(queue_open_readonly("/nonexistent-postel", &ro, &error), 0);
	assert_int_equal(queue_list(ro, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 0);
	queue_close(&ro);

	/* the runner's operations */
	rcpt.attempts = 2;
	rcpt.next_attempt = 1800000000;
	assert_int_equal(queue_envelope_update(f->q, ids[2], &env, 12, &error), 0);
	struct queue_entry_info entry;
	assert_int_equal(queue_entry_read(f->q, ids[2], f->pool, &entry, &error), 0);
	assert_int_equal(entry.env.recipients[0].attempts, 2);
	assert_int_equal(queue_remove(f->q, ids[1], &error), 0);
	assert_int_equal(queue_list(f->q, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 2);
	assert_int_equal(dir_count(f, "msg"), 2);
	assert_int_equal(queue_entry_read(f->q, "../../etc/passwd", f->pool,
					  &entry, &error), -1);
	assert_int_equal(dir_count(f, "tmp"), 0);
}

static void test_abort_and_write_error(void **state)
{
	struct fixture *f = *state;
	const char *error;
	struct queue_recipient rcpt = { .address = queue_str_c("b@example.net") };
	struct queue_envelope env = { .recipients = &rcpt, .recipient_count = 1 };
	struct queue_writer *w = queue_writer_begin(f->q, &env, &error);
	assert_int_equal(queue_writer_write(w, "abc", 3, &error), 0);
	assert_int_equal(dir_count(f, "tmp"), 1);
	queue_writer_abort(&w);
	assert_null(w);
	assert_int_equal(dir_count(f, "tmp"), 0);

	w = queue_writer_begin(f->q, &env, &error);
	struct rlimit old, small = { .rlim_cur = 1024 };
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	small.rlim_max = old.rlim_max;
	setrlimit(RLIMIT_FSIZE, &small);
	char big[4096] = { 0 };
	int ret = queue_writer_write(w, big, sizeof(big), &error);
	setrlimit(RLIMIT_FSIZE, &old);
	assert_int_equal(ret, -1);
	assert_non_null(strstr(error, "File too large"));
	assert_int_equal(dir_count(f, "tmp"), 0);
	char id[QUEUE_ID_MAX];
	assert_int_equal(queue_writer_commit(&w, id, &error), -1);
	assert_int_equal(dir_count(f, "msg") + dir_count(f, "env") +
			 dir_count(f, "tmp"), 0);

	/* unfit envelopes are refused before anything is written */
	env.recipient_count = 0;
	assert_null(queue_writer_begin(f->q, &env, &error));
	env.recipient_count = 1;
	rcpt.notify = QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_SUCCESS;
	assert_null(queue_writer_begin(f->q, &env, &error));
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

static void put_file(struct fixture *f, const char *rel, const char *content)
{
	int fd = open(t_printf("%s/queue/%s", f->dir, rel),
		      O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fileio_write_full(fd, content, strlen(content)), 0);
	close(fd);
}

static void test_leftovers_cleaned(void **state)
{
	struct fixture *f = *state;
	const char *error;
	char good[QUEUE_ID_MAX];
	simple_queue(f->q, "a@example.org", "kept\n", good);

	/* a writer that died mid-message, in a real child process */
	pid_t child = fork();
	if (child == 0) {
		struct queue_recipient rcpt = { .address = queue_str_c("x@y.z") };
		struct queue_envelope env = { .recipients = &rcpt,
					      .recipient_count = 1 };
		struct queue_writer *w = queue_writer_begin(f->q, &env, &error);
		_exit(w != NULL && queue_writer_write(w, "half", 4, &error) == 0 ?
		      0 : 1);
	}
	int status;
	waitpid(child, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* a writer that died between the message and envelope renames */
	char orphan[QUEUE_ID_MAX];
	snprintf(orphan, sizeof(orphan), "%010x%05x%06x%04x", 1, 2,
		 (unsigned)dead_pid(), 3);
	put_file(f, t_printf("msg/%s", orphan), "orphan\n");
	/* an envelope that does not parse, and one without a message */
	put_file(f, "env/00000000010000200000f0001", "postel-envelope 1\nid=x\n");
	put_file(f, "msg/00000000010000200000f0001", "bad env\n");
	put_file(f, "env/00000000010000200000f0002",
		 "postel-envelope 1\nid=00000000010000200000f0002\n"
		 "received=1\nsize=1\nsender=\nsmtputf8=no\nbody=7bit\n"
		 "ret=none\nrcpt=a@b\nrcpt-attempts=0\nrcpt-next-attempt=0\nend\n");
	/* an unknown tmp file: removed only once old */
	put_file(f, "tmp/junk-old", "x");
	put_file(f, "tmp/junk-new", "x");
	struct timespec old_times[2] = { { .tv_sec = 1000000000 },
					 { .tv_sec = 1000000000 } };
	assert_int_equal(utimensat(AT_FDCWD, t_printf("%s/queue/tmp/junk-old",
						      f->dir), old_times, 0), 0);
	/* a live writer in this process must survive another open */
	struct queue_recipient rcpt = { .address = queue_str_c("l@example.net") };
	struct queue_envelope env = { .recipients = &rcpt, .recipient_count = 1 };
	struct queue_writer *live = queue_writer_begin(f->q, &env, &error);
	assert_non_null(live);
	assert_int_equal(queue_writer_write(live, "live\n", 5, &error), 0);
	assert_int_equal(dir_count(f, "tmp"), 4);

	struct queue *q2;
	assert_int_equal(queue_open(f->dir, &q2, &error), 0);
	assert_int_equal(dir_count(f, "tmp"), 2); /* live writer + junk-new */
	assert_int_equal(access(t_printf("%s/queue/tmp/junk-new", f->dir), F_OK), 0);
	assert_int_equal(dir_count(f, "corrupt"), 4);
	assert_int_equal(access(t_printf("%s/queue/corrupt/%s.msg", f->dir,
					 orphan), F_OK), 0);
	assert_int_equal(access(t_printf("%s/queue/corrupt/00000000010000200000f0002.env",
					 f->dir), F_OK), 0);
	struct queue_entry_info *entries;
	unsigned count;
	assert_int_equal(queue_list(q2, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 1);
	assert_string_equal(entries[0].id, good);

	char live_id[QUEUE_ID_MAX];
	assert_int_equal(queue_writer_commit(&live, live_id, &error), 0);
	assert_int_equal(queue_list(q2, f->pool, &entries, &count, &error), 0);
	assert_int_equal(count, 2);
	queue_close(&q2);
}

static void test_interrupted_remove(void **state)
{
	struct fixture *f = *state;
	const char *error;
	char done[QUEUE_ID_MAX], busy[QUEUE_ID_MAX];
	pid_t dead = dead_pid();
	/* a runner died after ending the entry: recovery finishes it */
	simple_queue(f->q, "a@example.org", "sent\n", done);
	assert_int_equal(rename(t_printf("%s/queue/env/%s", f->dir, done),
				t_printf("%s/queue/tmp/%s.del.%ld", f->dir,
					 done, (long)dead)), 0);
	/* a live process is removing this one right now: leave it be,
	 * even though the pid of its writer is long gone */
	snprintf(busy, sizeof(busy), "%010x%05x%06x%04x", 1, 2,
		 (unsigned)dead, 4);
	put_file(f, t_printf("msg/%s", busy), "busy\n");
	put_file(f, t_printf("tmp/%s.del.%ld", busy, (long)getpid()), "x");

	struct queue *q2;
	assert_int_equal(queue_open(f->dir, &q2, &error), 0);
	assert_int_equal(access(t_printf("%s/queue/msg/%s", f->dir, done), F_OK), -1);
	assert_int_equal(access(t_printf("%s/queue/msg/%s", f->dir, busy), F_OK), 0);
	assert_int_equal(dir_count(f, "corrupt"), 0);
	assert_int_equal(dir_count(f, "tmp"), 1);
	queue_close(&q2);
}

static void expect_parse_fail(const char *text, size_t len)
{
	pool_t *pool = pool_create(1024);
	struct queue_entry_info entry;
	const char *error = NULL;
	assert_int_equal(queue_envelope_parse(text, len, pool, &entry, &error), -1);
	assert_non_null(error);
	pool_destroy(&pool);
}

#define HEAD "postel-envelope 1\nid=00000000010000200000f0002\nreceived=1\n" \
	"size=1\nsender=\nsmtputf8=no\nbody=7bit\nret=none\n"
#define RCPT "rcpt=a@b\nrcpt-attempts=0\nrcpt-next-attempt=0\n"

static void test_parser_strict(void **state)
{
	(void)state;
	const char *const bad[] = {
		HEAD RCPT,                          /* no end */
		HEAD RCPT "end\nx=1\n",             /* data after end */
		HEAD RCPT "end",                    /* last line cut */
		HEAD "end\n",                       /* no recipient */
		HEAD "sender=x\n" RCPT "end\n",     /* repeated key */
		HEAD "colour=blue\n" RCPT "end\n",  /* unknown key */
		HEAD "envid=%G1\n" RCPT "end\n",    /* bad escape */
		HEAD "envid=%4\n" RCPT "end\n",     /* short escape */
		HEAD "envid=a b\n" RCPT "end\n",    /* raw space */
		HEAD "rcpt-notify=never\n" RCPT "end\n", /* before rcpt */
		HEAD RCPT "rcpt-notify=never,success\nend\n",
		HEAD RCPT "rcpt-notify=success,\nend\n",
		HEAD "rcpt=a@b\n" RCPT "end\n",     /* incomplete recipient */
		HEAD RCPT "rcpt-attempts=1\nend\n", /* repeated rcpt field */
		HEAD RCPT "rcpt-orcpt=x\rend\n",    /* CR */
		"postel-envelope 2\n" RCPT "end\n", /* version */
		HEAD "received=-1\n" RCPT "end\n",
		"postel-envelope 1\nid=x\nend\n",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		expect_parse_fail(bad[i], strlen(bad[i]));
	static const char with_nul[] = HEAD RCPT "end\n";
	char copy[sizeof(with_nul)];
	memcpy(copy, with_nul, sizeof(with_nul));
	copy[20] = '\0';
	expect_parse_fail(copy, sizeof(with_nul) - 1);

	pool_t *pool = pool_create(1024);
	struct queue_entry_info entry;
	const char *error;
	const char *good = HEAD RCPT "rcpt-notify=failure,success\n" RCPT "end\n";
	assert_int_equal(queue_envelope_parse(good, strlen(good), pool, &entry,
					      &error), 0);
	assert_int_equal(entry.env.recipient_count, 2);
	assert_int_equal(entry.env.recipients[0].notify,
			 QUEUE_NOTIFY_FAILURE | QUEUE_NOTIFY_SUCCESS);
	assert_null(entry.env.envid.data);
	assert_null(entry.env.recipients[1].orcpt.data);
	pool_destroy(&pool);
}

int main(void)
{
	log_init("test-queue", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelope_round_trip_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_and_write_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_cleaned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupted_remove, setup, teardown),
		cmocka_unit_test(test_parser_strict),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
