/* test-probe-reply.c: unit tests for probe_reply.h (SMTP reply lines,
 * EHLO keywords, POP3 CAPA, IMAP CAPABILITY, line splitting) and for
 * probe_text_safe(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "probe/probe_reply.h"

static void test_line_next(void **state)
{
	const char *line;
	size_t len, consumed;

	(void)state;
	assert_int_equal(probe_line_next("220 hi\r\nmore", 12, &line, &len, &consumed), 1);
	assert_int_equal(len, 6);
	assert_memory_equal(line, "220 hi", 6);
	assert_int_equal(consumed, 8);
	assert_int_equal(probe_line_next("bare\nx", 6, &line, &len, &consumed), 1);
	assert_int_equal(len, 4);
	assert_int_equal(consumed, 5);
	assert_int_equal(probe_line_next("no end", 6, &line, &len, &consumed), 0);

	char big[PROBE_LINE_MAX + 10];
	memset(big, 'a', sizeof(big));
	assert_int_equal(probe_line_next(big, sizeof(big), &line, &len, &consumed), -1);
	assert_int_equal(probe_line_next(big, PROBE_LINE_MAX - 1, &line, &len,
					 &consumed), 0);
}

static void test_smtp_reply_line(void **state)
{
	unsigned code;
	bool last;
	const char *text;
	size_t len;

	(void)state;
	assert_int_equal(probe_smtp_reply_line("250-PIPELINING", 14, &code, &last,
					       &text, &len), 0);
	assert_int_equal(code, 250);
	assert_false(last);
	assert_int_equal(len, 10);
	assert_int_equal(probe_smtp_reply_line("554 no", 6, &code, &last, &text, &len), 0);
	assert_int_equal(code, 554);
	assert_true(last);
	assert_int_equal(probe_smtp_reply_line("220", 3, &code, &last, &text, &len), 0);
	assert_true(last);
	assert_int_equal(len, 0);
	assert_int_equal(probe_smtp_reply_line("22", 2, &code, &last, &text, &len), -1);
	assert_int_equal(probe_smtp_reply_line("2x0 a", 5, &code, &last, &text, &len), -1);
	assert_int_equal(probe_smtp_reply_line("250_a", 5, &code, &last, &text, &len), -1);
	assert_int_equal(probe_smtp_reply_line("150 a", 5, &code, &last, &text, &len), -1);
	assert_int_equal(probe_smtp_reply_line("* OK IMAP", 9, &code, &last, &text,
					       &len), -1);
}

static void test_ehlo(void **state)
{
	pool_t *pool = pool_create(1024);
	struct probe_caps caps = { 0 }, mechs = { 0 };
	static const char *const lines[] = {
		"PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN  SCRAM-SHA-256",
		"AUTH=PLAIN LOGIN", "STARTTLS", "AUTHX Y", "8BITMIME",
	};

	(void)state;
	for (unsigned i = 0; i < 7; i++)
		probe_smtp_ehlo_line(pool, &caps, &mechs, lines[i], strlen(lines[i]));
	assert_int_equal(caps.count, 7);
	assert_string_equal(caps.items[1], "SIZE 10240000");
	assert_true(probe_caps_has(&caps, "starttls"));
	assert_false(probe_caps_has(&caps, "STARTTL"));
	/* duplicates from the old AUTH= form are kept once; AUTHX is not AUTH */
	assert_int_equal(mechs.count, 3);
	assert_string_equal(mechs.items[0], "PLAIN");
	assert_string_equal(mechs.items[1], "LOGIN");
	assert_string_equal(mechs.items[2], "SCRAM-SHA-256");
	pool_destroy(&pool);
}

static void test_pop3_capa(void **state)
{
	pool_t *pool = pool_create(1024);
	struct probe_caps caps = { 0 }, mechs = { 0 };

	(void)state;
	probe_pop3_capa_line(pool, &caps, &mechs, "USER", 4);
	probe_pop3_capa_line(pool, &caps, &mechs, "SASL PLAIN LOGIN", 16);
	probe_pop3_capa_line(pool, &caps, &mechs, "STLS", 4);
	assert_int_equal(caps.count, 3);
	assert_true(probe_caps_has(&caps, "STLS"));
	assert_int_equal(mechs.count, 2);
	assert_string_equal(mechs.items[1], "LOGIN");
	pool_destroy(&pool);
}

static void test_imap_caps(void **state)
{
	pool_t *pool = pool_create(1024);
	struct probe_caps caps = { 0 }, mechs = { 0 };
	const char *atoms;
	size_t len;
	static const char greet[] =
		"* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
		"LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.";
	static const char untagged[] = "* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN";

	(void)state;
	assert_int_equal(probe_imap_caps_in_line(greet, strlen(greet), &atoms, &len), 1);
	probe_imap_caps(pool, &caps, &mechs, atoms, len);
	assert_int_equal(caps.count, 9);
	assert_true(probe_caps_has(&caps, "STARTTLS"));
	assert_int_equal(mechs.count, 1);
	assert_int_equal(probe_imap_caps_in_line(untagged, strlen(untagged),
						 &atoms, &len), 1);
	probe_imap_caps(pool, &caps, &mechs, atoms, len);
	assert_int_equal(mechs.count, 2);
	assert_int_equal(probe_imap_caps_in_line("* OK [CAPABILITY x", 18, &atoms, &len), 0);
	assert_int_equal(probe_imap_caps_in_line("* OK ready", 10, &atoms, &len), 0);
	assert_int_equal(probe_imap_caps_in_line("a1 OK done", 10, &atoms, &len), 0);
	assert_int_equal(probe_imap_caps_in_line("*", 1, &atoms, &len), 0);
	pool_destroy(&pool);
}

static void test_caps_bounded_and_safe(void **state)
{
	pool_t *pool = pool_create(1024);
	struct probe_caps caps = { 0 }, mechs = { 0 };
	char word[16];

	(void)state;
	for (unsigned i = 0; i < PROBE_CAPS_MAX + 5; i++) {
		int n = snprintf(word, sizeof(word), "X%u", i);
		probe_smtp_ehlo_line(pool, &caps, &mechs, word, (size_t)n);
	}
	assert_int_equal(caps.count, PROBE_CAPS_MAX);
	assert_true(caps.truncated);

	struct probe_caps evil = { 0 };
	probe_caps_add(pool, &evil, "A\033[31mB\\\x80", 9);
	assert_string_equal(evil.items[0], "A\\x1b[31mB\\\\\\x80");

	char long_word[PROBE_CAP_LEN_MAX + 50];
	memset(long_word, 'w', sizeof(long_word));
	probe_caps_add(pool, &evil, long_word, sizeof(long_word));
	assert_int_equal(strlen(evil.items[1]), PROBE_CAP_LEN_MAX + 3);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_next),
		cmocka_unit_test(test_smtp_reply_line),
		cmocka_unit_test(test_ehlo),
		cmocka_unit_test(test_pop3_capa),
		cmocka_unit_test(test_imap_caps),
		cmocka_unit_test(test_caps_bounded_and_safe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
