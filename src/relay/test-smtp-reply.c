/* test-smtp-reply.c: the relay's reply parser: single and multiline
 * replies, RFC 3463 enhanced codes, and every limit that makes a reply
 * malformed (line length, line count, code range, changing codes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "relay/smtp_reply.h"
#include "relay/smtp_client_private.h"

static int feed(struct smtp_reply_parser *p, const char *line, const char **error_r)
{
	return smtp_reply_feed(p, line, strlen(line), error_r);
}

static void test_single_and_multiline(void **state)
{
	(void)state;
	struct smtp_reply_parser p;
	const char *error = NULL;
	smtp_reply_parser_init(&p, 0);
	assert_int_equal(feed(&p, "250 2.1.5 ok", &error), 1);
	assert_int_equal(p.reply.code, 250);
	assert_string_equal(p.reply.enhanced, "2.1.5");
	assert_string_equal(str_c(&p.reply.text), "2.1.5 ok");

	assert_int_equal(feed(&p, "250-mx.example greets you", &error), 0);
	assert_int_equal(feed(&p, "250-PIPELINING", &error), 0);
	assert_int_equal(feed(&p, "250-SIZE 1000", &error), 0);
	assert_int_equal(feed(&p, "250-AUTH=PLAIN LOGIN", &error), 0);
	assert_int_equal(feed(&p, "250 STARTTLS", &error), 1);
	assert_int_equal(p.reply.lines, 5);
	assert_string_equal(p.reply.enhanced, "");
	const char *t;
	size_t len;
	assert_true(smtp_reply_line(&p.reply, 2, &t, &len));
	assert_int_equal(len, 9);
	assert_memory_equal(t, "SIZE 1000", 9);
	assert_false(smtp_reply_line(&p.reply, 5, &t, &len));
	struct smtp_client_caps caps;
	memset(&caps, 0, sizeof(caps));
	smtp_client_caps_parse(&caps, &p.reply);
	assert_true(caps.pipelining && caps.size && caps.starttls);
	assert_true(caps.auth_plain && caps.auth_login);
	assert_false(caps.chunking || caps.eightbitmime || caps.dsn);
	assert_int_equal(caps.size_max, 1000);

	/* "NNN" alone; an enhanced code of the wrong class is ignored */
	assert_int_equal(feed(&p, "354", &error), 1);
	assert_int_equal(p.reply.code, 354);
	assert_int_equal(feed(&p, "451 5.1.1 odd", &error), 1);
	assert_string_equal(p.reply.enhanced, "");
	smtp_reply_parser_free(&p);
}

static void test_malformed(void **state)
{
	(void)state;
	struct smtp_reply_parser p;
	const char *error = NULL;
	smtp_reply_parser_init(&p, 3);
	assert_int_equal(feed(&p, "25O ok", &error), -1);
	assert_string_equal(error, "malformed reply line");
	assert_int_equal(feed(&p, "250_ok", &error), -1);
	assert_int_equal(feed(&p, "199 odd", &error), -1);
	assert_string_equal(error, "reply code out of range");
	assert_int_equal(feed(&p, "250-a", &error), 0);
	assert_int_equal(feed(&p, "251 b", &error), -1);
	assert_string_equal(error, "multiline reply changes its code");
	/* a flood of continuation lines stops at max_lines */
	assert_int_equal(feed(&p, "250-a", &error), 0);
	assert_int_equal(feed(&p, "250-b", &error), 0);
	assert_int_equal(feed(&p, "250-c", &error), 0);
	assert_int_equal(feed(&p, "250-d", &error), -1);
	assert_string_equal(error, "too many reply lines");
	char longline[SMTP_REPLY_LINE_MAX + 2];
	memset(longline, 'x', sizeof(longline) - 1);
	memcpy(longline, "250 ", 4);
	longline[sizeof(longline) - 1] = '\0';
	assert_int_equal(feed(&p, longline, &error), -1);
	assert_string_equal(error, "reply line too long");
	longline[SMTP_REPLY_LINE_MAX] = '\0';
	assert_int_equal(feed(&p, longline, &error), 1);
	assert_int_equal(smtp_reply_feed(&p, "250 a\0b", 7, &error), -1);
	smtp_reply_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_and_multiline),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
