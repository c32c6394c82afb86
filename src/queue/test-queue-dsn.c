/* test-queue-dsn.c: unit tests for queue_dsn.h: RFC 3464 structure, who
 * gets a DSN (NOTIFY, null sender, already notified), RET=HDRS and the
 * size bound, delay and success notices, hostile reply text. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "lib/str.h"
#include "queue/queue_dsn.h"

static const char original[] =
	"Received: by test\r\nFrom: <s@y.example>\r\nSubject: hello\r\n\r\nthe body\r\n";

static struct queue_recipient rcpts[4];
static struct queue_envelope env;

static void init(void)
{
	memset(rcpts, 0, sizeof(rcpts));
	rcpts[0] = (struct queue_recipient){
		.address = queue_str_c("a+1@x.example"), .orcpt = queue_str_c("rfc822;A+2B1@x.example"),
		.state = QUEUE_RCPT_FAILED, .reply_code = 550, .attempts = 1,
		.reply_status = queue_str_c("5.1.1"), .reply_text = queue_str_c("no such user"),
		.mx = queue_str_c("mx.x.example") };
	rcpts[1] = (struct queue_recipient){
		.address = queue_str_c("never@x.example"), .notify = QUEUE_NOTIFY_NEVER,
		.state = QUEUE_RCPT_FAILED, .reply_code = 550 };
	rcpts[2] = (struct queue_recipient){
		.address = queue_str_c("ok@x.example"), .state = QUEUE_RCPT_DELIVERED,
		.reply_code = 250 };
	rcpts[3] = (struct queue_recipient){
		.address = queue_str_c("late@x.example"), .notify = QUEUE_NOTIFY_DELAY,
		.state = QUEUE_RCPT_DEFERRED, .reply_code = 451, .attempts = 3,
		.reply_status = queue_str_c("4.7.1"),
		.reply_text = queue_str_c("greylisted\r\nBcc: evil@x\x80") };
	env = (struct queue_envelope){
		.sender = queue_str_c("s@y.example"), .received = 1796000000,
		.envid = queue_str_c("QQ+2B1"), .recipients = rcpts, .recipient_count = 4 };
}

static struct queue_dsn_input input(enum queue_dsn_kind kind)
{
	return (struct queue_dsn_input){
		.kind = kind, .hostname = "mx.test", .queue_id = "0123456789abcdef012345678",
		.env = &env, .now = 1796003600, .retry_until = 1796432000,
		.original = original, .original_len = strlen(original),
		.original_size = strlen(original) };
}

/* RFC 5322 2.1, 2.1.1: CRLF only, no line over 998 octets */
static void assert_lines_ok(const str_t *s)
{
	size_t line = 0;
	for (size_t i = 0; i < s->len; i++) {
		if (s->data[i] == '\n') {
			assert_true(i > 0 && s->data[i - 1] == '\r');
			line = 0;
		} else {
			assert_true(++line <= 998);
		}
	}
}

static unsigned count(const str_t *s, const char *needle)
{
	unsigned n = 0;
	for (const char *p = s->data; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_failure(void **state)
{
	init();
	struct queue_dsn_input in = input(QUEUE_DSN_FAILURE);
	str_t out = STR_INIT;
	bool included[4];
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_true(included[0]);
	assert_false(included[1]); /* NOTIFY=NEVER */
	assert_false(included[2]); /* delivered */
	assert_false(included[3]); /* deferred: not in a failure DSN */
	assert_lines_ok(&out);
	const char *b = "0123456789abcdef012345678/1796003600.dsn";
	assert_non_null(strstr(out.data, "From: Mail Delivery System <MAILER-DAEMON@mx.test>\r\n"
			       "To: <s@y.example>\r\n"));
	assert_non_null(strstr(out.data, "\r\nAuto-Submitted: auto-replied\r\n"));
	assert_non_null(strstr(out.data, "Content-Type: multipart/report; "
			       "report-type=delivery-status;\r\n\tboundary=\""));
	assert_int_equal(count(&out, t_printf("\r\n--%s\r\n", b)), 3);
	assert_int_equal(count(&out, t_printf("\r\n--%s--\r\n", b)), 1);
	assert_non_null(strstr(out.data, "Content-Type: message/delivery-status\r\n\r\n"
			       "Reporting-MTA: dns; mx.test\r\n"));
	assert_non_null(strstr(out.data, "Original-Envelope-Id: QQ+1\r\n"));
	assert_non_null(strstr(out.data, "Arrival-Date: Mon, 30 Nov 2026 00:53:20 +0000\r\n"));
	assert_non_null(strstr(out.data, "\r\n\r\nOriginal-Recipient: rfc822; A+1@x.example\r\n"
			       "Final-Recipient: rfc822; a+1@x.example\r\nAction: failed\r\n"
			       "Status: 5.1.1\r\nRemote-MTA: dns; mx.x.example\r\n"
			       "Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n"));
	assert_null(strstr(out.data, "never@x.example"));
	assert_non_null(strstr(out.data, "Content-Type: message/rfc822\r\n\r\n"
			       "Received: by test\r\n"));
	assert_non_null(strstr(out.data, "the body\r\n"));
	str_free(&out);

	/* once notified, not again; the null sender never */
	rcpts[0].notified = true;
	assert_int_equal(queue_dsn_build(&in, &out, included), 0);
	rcpts[0].notified = false;
	env.sender = queue_str_c("");
	assert_int_equal(queue_dsn_build(&in, &out, included), 0);
	assert_int_equal(out.len, 0);
}

static void test_headers_only(void **state)
{
	init();
	env.dsn_ret = QUEUE_DSN_RET_HDRS;
	struct queue_dsn_input in = input(QUEUE_DSN_FAILURE);
	str_t out = STR_INIT;
	bool included[4];
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_non_null(strstr(out.data, "Content-Type: text/rfc822-headers\r\n\r\n"
			       "Received: by test\r\nFrom: <s@y.example>\r\nSubject: hello\r\n"));
	assert_null(strstr(out.data, "the body"));
	str_free(&out);
	/* RET=FULL but too big: headers only; a partial read likewise */
	env.dsn_ret = QUEUE_DSN_RET_FULL;
	in.max_size = 20;
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_null(strstr(out.data, "the body"));
	assert_null(strstr(out.data, "Subject: hello"));
	assert_non_null(strstr(out.data, "text/rfc822-headers\r\n\r\nReceived: by test\r\n\r\n--"));
	assert_lines_ok(&out);
	str_free(&out);
	in.max_size = 0;
	in.original_size = 50 * 1024 * 1024;
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_null(strstr(out.data, "the body"));
	assert_non_null(strstr(out.data, "Subject: hello\r\n"));
	str_free(&out);
}

static void test_delay(void **state)
{
	init();
	struct queue_dsn_input in = input(QUEUE_DSN_DELAY);
	str_t out = STR_INIT;
	bool included[4];
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_false(included[0]);
	assert_true(included[3]);
	assert_lines_ok(&out);
	assert_non_null(strstr(out.data, "Subject: Delayed Mail (still being retried)\r\n"));
	assert_non_null(strstr(out.data, "Final-Recipient: rfc822; late@x.example\r\n"
			       "Action: delayed\r\nStatus: 4.7.1\r\n"));
	/* the remote's CR LF and 8-bit byte cannot forge a header line */
	assert_non_null(strstr(out.data, "Diagnostic-Code: smtp; 451 4.7.1 greylisted??Bcc: evil@x?\r\n"));
	assert_null(strstr(out.data, "\nBcc:"));
	assert_non_null(strstr(out.data, "Will-Retry-Until: Sat, 5 Dec 2026 00:53:20 +0000\r\n"));
	assert_non_null(strstr(out.data, "text/rfc822-headers"));
	/* NOTIFY=FAILURE only: no delay notice */
	str_free(&out);
	rcpts[3].notify = QUEUE_NOTIFY_FAILURE;
	assert_int_equal(queue_dsn_build(&in, &out, included), 0);
}

/* RFC 3461 NOTIFY=SUCCESS: a "relayed" report, headers only; none for a
 * delivered recipient that did not ask for one */
static void test_success(void **state)
{
	init();
	struct queue_dsn_input in = input(QUEUE_DSN_SUCCESS);
	str_t out = STR_INIT;
	bool included[4];
	assert_int_equal(queue_dsn_build(&in, &out, included), 0);
	rcpts[2].notify = QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE;
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_true(included[2]);
	assert_false(included[0] || included[1] || included[3]);
	assert_lines_ok(&out);
	assert_non_null(strstr(out.data, "Subject: Successful Mail Delivery Report\r\n"));
	assert_non_null(strstr(out.data, "Final-Recipient: rfc822; ok@x.example\r\n"
			       "Action: relayed\r\nStatus: 2.0.0\r\n"));
	assert_non_null(strstr(out.data, "text/rfc822-headers"));
	assert_null(strstr(out.data, "the body"));
	assert_null(strstr(out.data, "Will-Retry-Until"));
	str_free(&out);
	rcpts[2].notified = true;
	assert_int_equal(queue_dsn_build(&in, &out, included), 0);
}

/* RFC 6533 3: an internationalized recipient is written as
 * utf-8-addr-xtext, pure ASCII, nothing lost (it was "??" before) */
static void test_utf8_recipient(void **state)
{
	init();
	/* ö U+00F6, + (an xtext special), € U+20AC, 😀 U+1F600, a stray byte */
	rcpts[0].address = queue_str_c("j\xc3\xb6rg+\xe2\x82\xac\xf0\x9f\x98\x80\xff@b.example");
	struct queue_dsn_input in = input(QUEUE_DSN_FAILURE);
	str_t out = STR_INIT;
	bool included[4];
	assert_int_equal(queue_dsn_build(&in, &out, included), 1);
	assert_lines_ok(&out);
	assert_non_null(strstr(out.data, "Final-Recipient: utf-8; "
			       "j\\x{F6}rg\\x{2B}\\x{20AC}\\x{1F600}?@b.example\r\n"));
	str_free(&out);
}

int main(void)
{
	log_init("test-queue-dsn", LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure),
		cmocka_unit_test(test_headers_only),
		cmocka_unit_test(test_delay),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_utf8_recipient),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
