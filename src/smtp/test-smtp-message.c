/* test-smtp-message.c: unit tests for smtp_message.h: what counts as a
 * first header line, the Return-Path ranges and Delivered-To values of the
 * header section (and never of the body), results independent of how the
 * input is split, unique Message-IDs, and the disk-full reply class. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "smtp/smtp_message.h"

struct collected {
	str_t values;	/* "value|value|..." */
};

static void collect(void *context, const char *value, size_t len)
{
	struct collected *c = context;
	str_append(&c->values, value, len);
	str_appendc(&c->values, '|');
}

/* Scan msg in pieces of `step` octets (0: at once). */
static void scan_msg(const char *msg, size_t step, struct smtp_message_scan *scan,
		     struct collected *c)
{
	size_t len = strlen(msg);
	smtp_message_scan_init(scan, collect, c);
	if (step == 0)
		step = len == 0 ? 1 : len;
	bool done = false;
	for (size_t off = 0; off < len && !done; off += step)
		done = smtp_message_scan_feed(scan, msg + off,
					      len - off < step ? len - off : step);
	if (!done)
		smtp_message_scan_finish(scan);
}

/* msg without the Return-Path ranges */
static char *without_return_paths(const char *msg, const struct smtp_message_scan *scan,
				  str_t *out)
{
	uint64_t pos = 0;
	for (unsigned i = 0; i < scan->return_path_count; i++) {
		assert_true(scan->return_paths[i].start >= pos);
		str_append(out, msg + pos, scan->return_paths[i].start - pos);
		pos = scan->return_paths[i].end;
	}
	str_appendz(out, msg + pos);
	return (char *)str_c(out);
}

static void test_first_line(void **state)
{
	(void)state;
	static const struct {
		const char *msg;
		bool field, empty, separator;
	} cases[] = {
		{ "Subject: x\r\n\r\nbody\r\n", true, false, false },
		{ "X:\r\n", true, false, false },
		{ "X-Odd!#$%&'*+-/=?^_`{|}~.name:v\r\n", true, false, false },
		{ "Subject: no line end", true, false, false },
		{ "Hello world\r\n", false, false, true },
		{ "Hello: world\r\n", true, false, false },
		{ "\r\nbody\r\n", false, true, false },
		{ "Subject : spaced\r\n\r\nb\r\n", false, false, true },
		{ "Subject\t: tab\r\n", false, false, true },
		{ " folded: first\r\n", false, false, true },
		{ "From alice@example.org Thu Jan  1 00:00:00 2026\r\n", false, false, true },
		{ ":no name\r\n", false, false, true },
		{ "no colon at all", false, false, true },
		{ "\xc3\xa9t\xc3\xa9: 8-bit name\r\n", false, false, true },
		{ "", false, false, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_message_scan scan;
		struct collected c = { STR_INIT };
		scan_msg(cases[i].msg, 0, &scan, &c);
		if (scan.first_line_field != cases[i].field ||
		    scan.first_line_empty != cases[i].empty ||
		    smtp_message_needs_separator(&scan) != cases[i].separator)
			fail_msg("case %zu %s: field=%d empty=%d", i, cases[i].msg,
				 scan.first_line_field, scan.first_line_empty);
		smtp_message_scan_deinit(&scan);
		str_free(&c.values);
	}
}

static const char traced[] =
	"Return-Path: <forged@example.net>\r\n"
	"Received: from a\r\n\tby b; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	"Delivered-To: Alice@Example.ORG\r\n"
	"RETURN-PATH :\r\n <second@example.net>\r\n"
	"Delivered-To:\r\n\t<bob@example.org> \r\n"
	"Return-Pathology: kept\r\n"
	"Subject: Return-Path: in a value\r\n"
	"Delivered-To: carol@example.org\r\n"
	"\r\n"
	"Return-Path: <in-the-body@example.net>\r\n"
	"Delivered-To: body@example.org\r\n";

static const char traced_stripped[] =
	"Received: from a\r\n\tby b; Thu, 1 Jan 2026 00:00:00 +0000\r\n"
	"Delivered-To: Alice@Example.ORG\r\n"
	"Delivered-To:\r\n\t<bob@example.org> \r\n"
	"Return-Pathology: kept\r\n"
	"Subject: Return-Path: in a value\r\n"
	"Delivered-To: carol@example.org\r\n"
	"\r\n"
	"Return-Path: <in-the-body@example.net>\r\n"
	"Delivered-To: body@example.org\r\n";

static void test_trace_fields(void **state)
{
	(void)state;
	/* every split size gives the same answer */
	for (size_t step = 0; step <= sizeof(traced); step++) {
		struct smtp_message_scan scan;
		struct collected c = { STR_INIT };
		str_t out = STR_INIT;
		scan_msg(traced, step, &scan, &c);
		assert_true(scan.first_line_field);
		assert_int_equal(scan.return_path_count, 2);
		assert_string_equal(without_return_paths(traced, &scan, &out), traced_stripped);
		assert_string_equal(str_c(&c.values),
				    "Alice@Example.ORG|bob@example.org|carol@example.org|");
		smtp_message_scan_deinit(&scan);
		str_free(&c.values);
		str_free(&out);
	}
}

static void test_header_section_end(void **state)
{
	(void)state;
	struct smtp_message_scan scan;
	struct collected c = { STR_INIT };
	str_t out = STR_INIT;
	/* a line that is no field ends the header section too */
	const char *msg = "Subject: s\r\nnot a field\r\nReturn-Path: <x@y>\r\n"
			  "Delivered-To: x@y\r\n";
	scan_msg(msg, 0, &scan, &c);
	assert_int_equal(scan.return_path_count, 0);
	assert_string_equal(str_c(&c.values), "");
	smtp_message_scan_deinit(&scan);

	/* a field running to the very end, without CRLF, is still removed */
	msg = "Subject: s\r\nReturn-Path: <x@y>";
	scan_msg(msg, 1, &scan, &c);
	assert_int_equal(scan.return_path_count, 1);
	assert_string_equal(without_return_paths(msg, &scan, &out), "Subject: s\r\n");
	smtp_message_scan_deinit(&scan);

	/* an over-long Delivered-To value is not an address: skipped */
	str_t big = STR_INIT;
	str_appendz(&big, "Delivered-To: ");
	for (int i = 0; i < SMTP_MESSAGE_VALUE_MAX; i++)
		str_appendc(&big, 'a');
	str_appendz(&big, "\r\nDelivered-To: short@x\r\n\r\n");
	scan_msg(str_c(&big), 7, &scan, &c);
	assert_string_equal(str_c(&c.values), "short@x|");
	smtp_message_scan_deinit(&scan);
	str_free(&big);
	str_free(&c.values);
	str_free(&out);
}

static void test_message_id(void **state)
{
	(void)state;
	str_t a = STR_INIT, b = STR_INIT;
	/* same second, session and number: the random part still differs */
	smtp_message_id(&a, 1767225600, "ABC123", 1, "mail.example.org");
	smtp_message_id(&b, 1767225600, "ABC123", 1, "mail.example.org");
	assert_string_not_equal(str_c(&a), str_c(&b));
	assert_true(strncmp(str_c(&a), "<1767225600.ABC123.1.", 21) == 0);
	assert_true(a.len > 21 + 16);
	assert_string_equal(str_c(&a) + a.len - 18, "@mail.example.org>");
	str_free(&a);
	str_free(&b);
}

static void test_storage_full_class(void **state)
{
	(void)state;
	/* the texts the Maildir write, the queue and the index give */
	assert_true(smtp_message_error_is_storage_full(
		t_printf("writing mail file failed: %s", strerror(ENOSPC))));
	assert_true(smtp_message_error_is_storage_full(
		t_printf("writing queue file failed: %s", strerror(EDQUOT))));
	assert_true(smtp_message_error_is_storage_full(
		t_printf("index commit: %s (database or disk is full) (/d/x)",
			 strerror(ENOSPC))));
	assert_false(smtp_message_error_is_storage_full(NULL));
	assert_false(smtp_message_error_is_storage_full(
		"creating /data/mail/example.org/space/tmp/x failed: Permission denied"));
	assert_false(smtp_message_error_is_storage_full("index commit: disk I/O error"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_line),
		cmocka_unit_test(test_trace_fields),
		cmocka_unit_test(test_header_section_end),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_storage_full_class),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
