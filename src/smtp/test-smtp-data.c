/* test-smtp-data.c: unit tests for smtp_data.h: end detection, SMTP
 * smuggling variants (TESTING.md SMTP item 3), dot-unstuffing, splits at
 * every offset, the size cap, line length, 8-bit and header tracking, and
 * the BDAT variants. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/str.h"
#include "smtp/smtp_data.h"

struct result {
	str_t out;
	int ret;
	size_t consumed;	/* total input used */
	struct smtp_data_decoder dec;
};

/* set by test_bare_lf_accepted: decoders take bare LFs as CRLF */
static bool accept_lf;

static void result_free(struct result *r)
{
	str_free(&r->out);
}

/* Feed input in DATA mode, split at the offsets in splits[] (ascending,
 * n_splits of them). Stops feeding once the end is found. */
static void feed_split(const char *in, size_t len, const size_t *splits,
		       size_t n_splits, uint64_t max, struct result *r)
{
	memset(r, 0, sizeof(*r));
	smtp_data_decoder_init(&r->dec, SMTP_DATA_MODE_DATA, max, &r->out);
	if (accept_lf)
		smtp_data_decoder_accept_bare_lf(&r->dec);
	size_t pos = 0;
	for (size_t s = 0; s <= n_splits && r->ret == 0; s++) {
		size_t end = s < n_splits ? splits[s] : len;
		size_t used;
		r->ret = smtp_data_decoder_feed(&r->dec, in + pos, end - pos, &used);
		assert_true(used <= end - pos);
		if (r->ret == 0)
			assert_int_equal(used, end - pos);
		r->consumed += used;
		pos = end;
	}
}

static void feed_all(const char *in, size_t len, uint64_t max, struct result *r)
{
	feed_split(in, len, NULL, 0, max, r);
}

static void assert_same(const struct result *a, const struct result *b)
{
	assert_int_equal(a->ret, b->ret);
	assert_int_equal(a->consumed, b->consumed);
	assert_int_equal(a->out.len, b->out.len);
	assert_memory_equal(str_c(&a->out), str_c(&b->out), a->out.len);
	assert_true(a->dec.size == b->dec.size);
	assert_int_equal(a->dec.too_big, b->dec.too_big);
	assert_int_equal(a->dec.errors, b->dec.errors);
	assert_ptr_equal(a->dec.error, b->dec.error);
	assert_int_equal(a->dec.long_line, b->dec.long_line);
	assert_int_equal(a->dec.eight_bit, b->dec.eight_bit);
	assert_int_equal(a->dec.in_header, b->dec.in_header);
	assert_int_equal(a->dec.seen_date, b->dec.seen_date);
	assert_int_equal(a->dec.seen_message_id, b->dec.seen_message_id);
	assert_string_equal(a->dec.message_id, b->dec.message_id);
}

/* Whole feed == every 2-way split == byte-at-a-time feed. */
static void check_splits(const char *in, size_t len, uint64_t max)
{
	struct result whole, part;
	feed_all(in, len, max, &whole);
	for (size_t i = 0; i <= len; i++) {
		feed_split(in, len, &i, 1, max, &part);
		assert_same(&whole, &part);
		result_free(&part);
	}
	size_t *every = test_malloc(len * sizeof(size_t) + 1);
	for (size_t i = 0; i < len; i++)
		every[i] = i;
	feed_split(in, len, every, len, max, &part);
	assert_same(&whole, &part);
	result_free(&part);
	test_free(every);
	result_free(&whole);
}

#define LIT(s) s, sizeof(s) - 1

static void test_end_and_unstuffing(void **state)
{
	(void)state;
	static const struct {
		const char *in; size_t in_len;
		const char *out; size_t out_len;
		size_t consumed;
	} vec[] = {
		{ LIT(".\r\n"), LIT(""), 3 },
		{ LIT("\r\n.\r\n"), LIT("\r\n"), 5 },
		{ LIT("a\r\n.\r\n"), LIT("a\r\n"), 6 },
		{ LIT("a\r\n.\r\nQUIT\r\n"), LIT("a\r\n"), 6 },
		{ LIT("..\r\n.\r\n"), LIT(".\r\n"), 7 },
		{ LIT("..foo\r\n.\r\n"), LIT(".foo\r\n"), 10 },
		{ LIT(".foo\r\n.\r\n"), LIT("foo\r\n"), 9 },
		{ LIT("a.b\r\n. \r\n.\r\n"), LIT("a.b\r\n \r\n"), 12 },
		{ LIT("a\r\n...\r\n.\r\n"), LIT("a\r\n..\r\n"), 11 },
		{ LIT("x\r\n.\r\n.\r\n"), LIT("x\r\n"), 6 },
	};
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct result r;
		feed_all(vec[i].in, vec[i].in_len, UINT64_MAX, &r);
		assert_int_equal(r.ret, 1);
		assert_true(r.dec.done);
		assert_int_equal(r.consumed, vec[i].consumed);
		assert_int_equal(r.out.len, vec[i].out_len);
		assert_memory_equal(str_c(&r.out), vec[i].out, vec[i].out_len);
		assert_int_equal(r.dec.errors, 0);
		assert_null(r.dec.error);
		assert_true(r.dec.size == vec[i].out_len);
		/* after the end nothing more is taken */
		size_t used = 99;
		assert_int_equal(smtp_data_decoder_feed(&r.dec, "x", 1, &used), 1);
		assert_int_equal(used, 0);
		result_free(&r);
		check_splits(vec[i].in, vec[i].in_len, UINT64_MAX);
	}

	/* no end yet */
	static const char *const open[] = {
		"", "a", "a\r\n", "a\r\n.", "a\r\n.\r", ".", ".\r", "a\r\n.x\r\n",
	};
	for (size_t i = 0; i < sizeof(open) / sizeof(open[0]); i++) {
		struct result r;
		feed_all(open[i], strlen(open[i]), UINT64_MAX, &r);
		assert_int_equal(r.ret, 0);
		assert_false(r.dec.done);
		assert_true(r.out.len <= strlen(open[i]));
		result_free(&r);
	}
}

/* TESTING.md SMTP item 3: none of these end DATA; the injected commands
 * stay message text; the error is flagged; the real end still works. */
static void test_smuggling(void **state)
{
	(void)state;
	static const struct {
		const char *seq; size_t len;
		unsigned errors; const char *reason;
	} vec[] = {
		{ LIT("\n.\n"), SMTP_DATA_ERR_BARE_LF, "bare LF" },
		{ LIT("\n.\r\n"), SMTP_DATA_ERR_BARE_LF, "bare LF" },
		{ LIT("\r.\r\n"), SMTP_DATA_ERR_BARE_CR, "bare CR" },
		{ LIT("\r\n\0.\r\n"), SMTP_DATA_ERR_NUL, "NUL" },
		{ LIT("\r\n.\r\r\n"), SMTP_DATA_ERR_BARE_CR, "bare CR" },
		{ LIT("\r\n.\n"), SMTP_DATA_ERR_BARE_LF, "bare LF" },
		{ LIT("\r\n.\r.\r\n"), SMTP_DATA_ERR_BARE_CR, "bare CR" },
		{ LIT("\r\n\r.\n"), SMTP_DATA_ERR_BARE_CR, "bare CR" },
	};
	static const char smuggled[] =
		"MAIL FROM:<evil@x.org>\r\nRCPT TO:<victim@y.org>\r\nDATA\r\n"
		"Subject: smuggled\r\n\r\nbad\r\n";
	static const char tail[] = "\r\n.\r\nQUIT\r\n";

	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		str_t in = STR_INIT;
		str_appendz(&in, "Subject: hi\r\n\r\nhello");
		str_append(&in, vec[i].seq, vec[i].len);
		str_appendz(&in, smuggled);
		str_appendz(&in, tail);
		size_t msg_end = in.len - strlen("QUIT\r\n");

		struct result r;
		feed_all(in.data, in.len, UINT64_MAX, &r);
		assert_int_equal(r.ret, 1);
		assert_int_equal(r.consumed, msg_end);
		assert_true((r.dec.errors & vec[i].errors) != 0);
		assert_string_equal(r.dec.error, vec[i].reason);
		assert_non_null(memmem(r.out.data, r.out.len, "MAIL FROM:<evil@x.org>",
				       strlen("MAIL FROM:<evil@x.org>")));
		assert_non_null(memmem(r.out.data, r.out.len, "bad\r\n\r\n", 7));
		result_free(&r);
		check_splits(in.data, in.len, UINT64_MAX);
		str_free(&in);
	}
}

static void test_size_cap(void **state)
{
	(void)state;
	static const char in[] = "0123456789\r\n..abcdefghij\r\n.\r\nNEXT";
	struct result r;
	feed_all(LIT(in), 10, &r);
	assert_int_equal(r.ret, 1);
	assert_int_equal(r.consumed, sizeof(in) - 1 - 4);
	assert_true(r.dec.too_big);
	assert_true(r.dec.size == 25);	/* "0123456789\r\n.abcdefghij\r\n" */
	assert_int_equal(r.out.len, 10);
	assert_memory_equal(r.out.data, "0123456789", 10);
	result_free(&r);
	check_splits(LIT(in), 10);
	check_splits(LIT(in), 13);

	feed_all(LIT(in), 25, &r);
	assert_false(r.dec.too_big);
	assert_int_equal(r.out.len, 25);
	result_free(&r);
	feed_all(LIT(in), 0, &r);
	assert_true(r.dec.too_big);
	assert_int_equal(r.out.len, 0);
	assert_int_equal(r.ret, 1);
	result_free(&r);
}

static void test_line_length_and_8bit(void **state)
{
	(void)state;
	char buf[1100];
	for (size_t n = 997; n <= 1001; n++) {
		memset(buf, 'x', n);
		memcpy(buf + n, "\r\n.\r\n", 5);
		struct result r;
		feed_all(buf, n + 5, UINT64_MAX, &r);
		assert_int_equal(r.ret, 1);
		assert_int_equal(r.dec.long_line, n > 998);
		assert_false(r.dec.eight_bit);
		result_free(&r);
		check_splits(buf, n + 5, UINT64_MAX);
	}
	/* a line of 999 octets where the 999th is a bare CR is still long */
	memset(buf, 'x', 998);
	memcpy(buf + 998, "\r\r\n.\r\n", 6);
	struct result r;
	feed_all(buf, 1004, UINT64_MAX, &r);
	assert_true(r.dec.long_line);
	assert_true((r.dec.errors & SMTP_DATA_ERR_BARE_CR) != 0);
	result_free(&r);

	feed_all(LIT("caf\xc3\xa9\r\n.\r\n"), UINT64_MAX, &r);
	assert_true(r.dec.eight_bit);
	assert_int_equal(r.dec.errors, 0);
	result_free(&r);
}

static void hdr_check(const char *msg, bool date, bool msgid, bool in_header)
{
	str_t in = STR_INIT;
	str_appendz(&in, msg);
	str_appendz(&in, "\r\n.\r\n");
	struct result r;
	feed_all(in.data, in.len, UINT64_MAX, &r);
	assert_int_equal(r.ret, 1);
	if (r.dec.seen_date != date || r.dec.seen_message_id != msgid ||
	    r.dec.in_header != in_header)
		fail_msg("headers of '%s': date=%d msgid=%d in_header=%d", msg,
			 r.dec.seen_date, r.dec.seen_message_id, r.dec.in_header);
	assert_int_equal(smtp_data_seen_date(&r.dec), date);
	assert_int_equal(smtp_data_seen_message_id(&r.dec), msgid);
	result_free(&r);
	check_splits(in.data, in.len, UINT64_MAX);
	str_free(&in);
}

static void test_headers(void **state)
{
	(void)state;
	hdr_check("Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nbody",
		  true, true, false);
	hdr_check("DATE: x\r\nmessage-id: <a@b>", true, true, true);
	hdr_check("Subject: x\r\nDate : x\r\n\r\n", true, false, false);
	hdr_check("Message-Id:<a@b>\r\n\r\nDate: x", false, true, false);
	hdr_check("Subject: a\r\n Date: folded\r\n\r\n", false, false, false);
	hdr_check("X-Date: x\r\nMessage-IDs: y\r\nDat: z\r\n\r\n", false, false, false);
	hdr_check("hello world\r\nDate: x\r\n", false, false, false);
	hdr_check("Subject: x\r\n\r\nDate: x\r\nMessage-ID: y\r\n", false, false, false);
	hdr_check(".Date: x", true, false, true);		/* dot-stuffed */
	hdr_check("..Date: x", false, false, true);	/* ".Date" field */
	hdr_check("", false, false, false);		/* "\r\n": empty line */
	hdr_check("Subject: x\nDate: y", true, false, true);	/* bare LF */
	hdr_check("Subject: x\r\rDate: y", false, false, true);	/* bare CR */
	hdr_check("Subject x\r\nDate: y", false, false, false);
	hdr_check("Veryveryverylongname: x\r\nDate: y", true, false, true);
}

/* The first Message-ID's value is kept for the log (issue 11 item 4). */
static void test_message_id_value(void **state)
{
	(void)state;
	static const struct { const char *in, *want; } vec[] = {
		{ "Message-ID:  <a@b>\r\nMessage-ID: <c@d>\r\n\r\nx\r\n.\r\n", "<a@b>" },
		{ "Subject: x\r\nmessage-id:<z@y>\r\n  <folded@x>\r\n\r\n.\r\n", "<z@y>" },
		{ "Subject: x\r\n\r\nMessage-ID: <body@x>\r\n.\r\n", "" },
	};
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct result r;
		feed_all(vec[i].in, strlen(vec[i].in), UINT64_MAX, &r);
		assert_string_equal(r.dec.message_id, vec[i].want);
		result_free(&r);
		check_splits(vec[i].in, strlen(vec[i].in), UINT64_MAX);
	}
	/* a long one is cut, never overflows */
	str_t in = STR_INIT;
	str_appendz(&in, "Message-ID: <");
	for (int i = 0; i < 300; i++)
		str_appendc(&in, 'a');
	str_appendz(&in, ">\r\n\r\n.\r\n");
	struct result r;
	feed_all(in.data, in.len, UINT64_MAX, &r);
	assert_int_equal(strlen(r.dec.message_id), SMTP_DATA_MSGID_MAX - 1);
	result_free(&r);
	str_free(&in);
}

static void sink_collect(void *context, const char *data, size_t len)
{
	str_append(context, data, len);
}

static void test_sink(void **state)
{
	(void)state;
	static const char in[] = "a\r\n..b\r\n.\r\n";
	struct smtp_data_decoder dec;
	str_t collected = STR_INIT;
	size_t used;
	smtp_data_decoder_init(&dec, SMTP_DATA_MODE_DATA, 4, NULL);
	smtp_data_decoder_set_sink(&dec, sink_collect, &collected);
	assert_int_equal(smtp_data_decoder_feed(&dec, LIT(in), &used), 1);
	assert_int_equal(collected.len, 4);
	assert_memory_equal(collected.data, "a\r\n.", 4);
	assert_true(dec.too_big);
	smtp_data_decoder_deinit(&dec);
	assert_false(dec.done);
	str_free(&collected);

	/* deinit of a never-initialised, zeroed decoder is fine */
	struct smtp_data_decoder zero;
	memset(&zero, 0, sizeof(zero));
	smtp_data_decoder_deinit(&zero);
}

/* Feed BDAT chunks split at the given offsets, then finish. */
static void bdat_feed(enum smtp_data_mode mode, const char *in, size_t len,
		      size_t split, struct result *r)
{
	memset(r, 0, sizeof(*r));
	smtp_data_decoder_init(&r->dec, mode, UINT64_MAX, &r->out);
	if (accept_lf)
		smtp_data_decoder_accept_bare_lf(&r->dec);
	size_t used;
	assert_int_equal(smtp_data_decoder_feed(&r->dec, in, split, &used), 0);
	assert_int_equal(used, split);
	assert_int_equal(smtp_data_decoder_feed(&r->dec, in + split, len - split,
						&used), 0);
	assert_int_equal(used, len - split);
	assert_false(r->dec.done);
	smtp_data_decoder_finish(&r->dec);
	assert_true(r->dec.done);
	r->consumed = len;
}

static void bdat_check(enum smtp_data_mode mode, const char *in, size_t len,
		       unsigned errors, bool date)
{
	struct result whole;
	bdat_feed(mode, in, len, 0, &whole);
	/* no dot handling, nothing dropped */
	assert_int_equal(whole.out.len, len);
	assert_memory_equal(whole.out.data, in, len);
	if (whole.dec.errors != errors)
		fail_msg("BDAT '%.*s': errors %u want %u", (int)len, in,
			 whole.dec.errors, errors);
	assert_int_equal(whole.dec.seen_date, date);
	for (size_t i = 0; i <= len; i++) {
		struct result part;
		bdat_feed(mode, in, len, i, &part);
		assert_same(&whole, &part);
		result_free(&part);
	}
	result_free(&whole);
}

static void test_bdat(void **state)
{
	(void)state;
	enum smtp_data_mode b = SMTP_DATA_MODE_BDAT;
	enum smtp_data_mode bin = SMTP_DATA_MODE_BDAT_BINARY;

	bdat_check(b, LIT("Date: x\r\n\r\n.\r\n..\r\n"), 0, true);
	bdat_check(b, LIT("Subject: x\r\n\r\nbody\r"), SMTP_DATA_ERR_BARE_CR, false);
	bdat_check(b, LIT("Subject: x\r\n\r\na\nb"), SMTP_DATA_ERR_BARE_LF, false);
	bdat_check(b, LIT("Subject: x\r\n\r\na\0b"), SMTP_DATA_ERR_NUL, false);
	bdat_check(b, LIT("a\rb\nc\0"), SMTP_DATA_ERR_BARE_CR | SMTP_DATA_ERR_BARE_LF |
		   SMTP_DATA_ERR_NUL, false);
	/* BINARYMIME: anything goes in the body, not in the header */
	bdat_check(bin, LIT("Date: x\r\n\r\n\0\r\n\r\x01\xff"), 0, true);
	bdat_check(bin, LIT("Date: x\nX: y\r\n\r\n\0"), SMTP_DATA_ERR_BARE_LF, true);
	bdat_check(bin, LIT("Date: \0x\r\n\r\n"), SMTP_DATA_ERR_NUL, true);
}

/* Submission after AUTH (issue 11 item 7): a bare LF is taken as CRLF,
 * in DATA and BDAT alike; a bare CR and NUL stay errors; and still only
 * CRLF "." CRLF ends DATA: a "." line ending in, or following, a bare
 * LF is kept as a "." line. */
static void test_bare_lf_accepted(void **state)
{
	(void)state;
	static const struct {
		const char *in; size_t in_len;
		const char *out; size_t out_len;
	} vec[] = {
		{ LIT("a\nb\r\n.\r\n"), LIT("a\r\nb\r\n") },
		{ LIT("a\n\nb\n\r\n.\r\n"), LIT("a\r\n\r\nb\r\n\r\n") },
		{ LIT("a\n.\nb\r\n.\r\n"), LIT("a\r\n.\r\nb\r\n") },
		{ LIT("a\n.\r\nb\r\n.\r\n"), LIT("a\r\n.\r\nb\r\n") },
		{ LIT("a\r\n.\nb\r\n.\r\n"), LIT("a\r\n.\r\nb\r\n") },
		{ LIT("a\n..x\n..\r\n.\r\n"), LIT("a\r\n.x\r\n.\r\n") },
		{ LIT(".\n\r\n.\r\n"), LIT(".\r\n\r\n") },
		{ LIT("\n\r\n.\r\n"), LIT("\r\n\r\n") },
	};
	accept_lf = true;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		struct result r;
		feed_all(vec[i].in, vec[i].in_len, UINT64_MAX, &r);
		if (r.out.len != vec[i].out_len ||
		    memcmp(str_c(&r.out), vec[i].out, vec[i].out_len) != 0)
			fail_msg("vec %zu: got '%.*s'", i, (int)r.out.len, str_c(&r.out));
		assert_int_equal(r.ret, 1);
		assert_int_equal(r.consumed, vec[i].in_len);
		assert_int_equal(r.dec.errors, 0);
		assert_true(r.dec.size == vec[i].out_len);
		result_free(&r);
		check_splits(vec[i].in, vec[i].in_len, UINT64_MAX);
	}
	/* the smuggling sequences never end DATA; bare CR and NUL stay
	 * refused (TESTING.md SMTP item 3) */
	static const struct {
		const char *in; size_t len; unsigned errors;
	} smug[] = {
		{ LIT("a\n.\nMAIL FROM:<e@x>\r\n.\r\n"), 0 },
		{ LIT("a\n.\r\nMAIL FROM:<e@x>\r\n.\r\n"), 0 },
		{ LIT("a\r.\r\nMAIL FROM:<e@x>\r\n.\r\n"), SMTP_DATA_ERR_BARE_CR },
		{ LIT("a\r\n\0.\r\nMAIL FROM:<e@x>\r\n.\r\n"), SMTP_DATA_ERR_NUL },
		{ LIT("a\r\n.\r\r\nMAIL FROM:<e@x>\r\n.\r\n"), SMTP_DATA_ERR_BARE_CR },
		{ LIT("a\n.\r\r\nMAIL FROM:<e@x>\r\n.\r\n"), SMTP_DATA_ERR_BARE_CR },
	};
	for (size_t i = 0; i < sizeof(smug) / sizeof(smug[0]); i++) {
		struct result r;
		feed_all(smug[i].in, smug[i].len, UINT64_MAX, &r);
		assert_int_equal(r.ret, 1);
		assert_int_equal(r.consumed, smug[i].len);
		assert_int_equal(r.dec.errors, smug[i].errors);
		assert_non_null(memmem(r.out.data, r.out.len, "MAIL FROM:<e@x>\r\n", 17));
		result_free(&r);
		check_splits(smug[i].in, smug[i].len, UINT64_MAX);
	}
	/* BDAT: the same normalisation, no dot handling; BINARYMIME as is */
	struct result r;
	bdat_feed(SMTP_DATA_MODE_BDAT, LIT("Date: x\n\n.\na\r\n"), 3, &r);
	assert_int_equal(r.dec.errors, 0);
	assert_true(r.dec.seen_date);
	assert_int_equal(r.out.len, 17);
	assert_memory_equal(r.out.data, "Date: x\r\n\r\n.\r\na\r\n", 17);
	result_free(&r);
	bdat_feed(SMTP_DATA_MODE_BDAT, LIT("a\rb\n"), 1, &r);
	assert_int_equal(r.dec.errors, SMTP_DATA_ERR_BARE_CR);
	result_free(&r);
	bdat_feed(SMTP_DATA_MODE_BDAT_BINARY, LIT("Date: x\n\r\n"), 2, &r);
	assert_int_equal(r.dec.errors, SMTP_DATA_ERR_BARE_LF);
	result_free(&r);
	accept_lf = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_end_and_unstuffing),
		cmocka_unit_test(test_smuggling),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_line_length_and_8bit),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_message_id_value),
		cmocka_unit_test(test_sink),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_bare_lf_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
