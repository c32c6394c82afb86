/* test-mime-downgrade.c: RFC 6858 header downgrading (mime_downgrade.h):
 * 7-bit headers untouched, unstructured 8-bit text as encoded words that
 * decode back (mime_header_decode), the 75/76 limits, address fields
 * (encoded display names, empty groups for 8-bit addresses), msg-id
 * fields left out, and the 8-bit header flag of the MIME parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/str.h"
#include "lib/utf8.h"
#include "mime/mime_cache.h"
#include "mime/mime_downgrade.h"
#include "mime/mime_header.h"
#include "mime/mime_parser.h"

static void assert_7bit_lines(const str_t *s)
{
	size_t col = 0;
	for (size_t i = 0; i < s->len; i++) {
		assert_true((unsigned char)s->data[i] < 0x80);
		if (s->data[i] == '\n') {
			col = 0;
			continue;
		}
		if (s->data[i] != '\r' && ++col > 76)
			fail_msg("line longer than 76: %s", str_c(s));
	}
}

/* The value of the first field called name in a downgraded header,
 * unfolded and RFC 2047 decoded. */
static char *decoded_field(const str_t *hdr, const char *name)
{
	const char *p = strstr(str_c(hdr), name);
	assert_non_null(p);
	p += strlen(name);
	const char *end = p;
	while ((end = strstr(end, "\r\n")) != NULL && (end[2] == ' ' || end[2] == '\t'))
		end += 2;
	assert_non_null(end);
	str_t dec = STR_INIT;
	str_t unf = STR_INIT;
	mime_header_unfold(p, (size_t)(end - p), &unf);
	mime_header_decode(unf.data, unf.len, &dec);
	char *r = strdup(str_c(&dec));
	str_free(&unf);
	str_free(&dec);
	return r;
}

static void test_7bit_untouched(void **state)
{
	(void)state;
	const char *h = "Subject: plain\r\nFrom: a@b.example\r\n\r\n";
	str_t out = STR_INIT;
	assert_false(mime_downgrade_header(h, strlen(h), &out));
	assert_int_equal(out.len, 0);
	str_free(&out);
}

static void test_subject(void **state)
{
	(void)state;
	const char *subj = "Grüße aus Köln — and a rather long tail of plain words "
			   "that must be folded over several lines 日本語のテキスト";
	char *h = strdup(t_printf("Date: Sun, 6 Dec 2026 10:00:00 +0000\r\n"
				  "Subject: %s\r\nX-Plain: kept\r\n\r\n", subj));
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	assert_non_null(strstr(str_c(&out), "Date: Sun, 6 Dec 2026 10:00:00 +0000\r\n"));
	assert_non_null(strstr(str_c(&out), "\r\nX-Plain: kept\r\n\r\n"));
	assert_non_null(strstr(str_c(&out), "=?UTF-8?"));
	char *dec = decoded_field(&out, "Subject:");
	assert_string_equal(dec + (dec[0] == ' '), subj);
	free(dec);
	/* every encoded word is at most 75 characters */
	for (const char *w = strstr(str_c(&out), "=?"); w != NULL; w = strstr(w + 2, "=?")) {
		const char *e = strstr(w + 10, "?=");
		assert_non_null(e);
		assert_true(e + 2 - w <= 75);
		w = e;
	}
	str_free(&out);
	free(h);
}

static void test_q_and_lf(void **state)
{
	(void)state;
	/* mostly ASCII: Q is shorter; bare LF input keeps LF */
	const char *h = "Subject: caf\xc3\xa9 au lait\n\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_string_equal(str_c(&out), "Subject: =?UTF-8?Q?caf=C3=A9_au_lait?=\n\n");
	str_free(&out);
}

static void test_addresses(void **state)
{
	(void)state;
	const char *h = "From: J\xc3\xb6rg M\xc3\xbcller <joerg@example.com>\r\n"
			"To: \xe7\x94\xb0\xe4\xb8\xad <tanaka@\xe4\xbe\x8b\xe3\x81\x88.jp>, "
			"plain@example.org, \xc3\xbc@x.example\r\n"
			"Cc: \"Doe, J\" <j@d.example>\r\n"
			"Message-ID: <\xc3\xa9t\xc3\xa9@x.example>\r\n"
			"In-Reply-To: <ascii@x.example>\r\n\r\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	const char *o = str_c(&out);
	assert_non_null(strstr(o, "From: =?UTF-8?"));
	assert_non_null(strstr(o, "<joerg@example.com>\r\n"));
	char *from = decoded_field(&out, "From:");
	assert_string_equal(from, " Jörg Müller <joerg@example.com>");
	free(from);
	/* 8-bit addresses: empty groups named by the display name, or by
	 * the address itself */
	char *to = decoded_field(&out, "To:");
	assert_string_equal(to, " 田中 :;, plain@example.org, ü@x.example :;");
	free(to);
	assert_non_null(strstr(o, "Cc: \"Doe, J\" <j@d.example>\r\n"));
	/* an 8-bit msg-id has no 7-bit form: the field is left out */
	assert_null(strstr(o, "Message-ID"));
	assert_non_null(strstr(o, "In-Reply-To: <ascii@x.example>\r\n\r\n"));
	str_free(&out);
}

static void test_junk_and_groups(void **state)
{
	(void)state;
	const char *h = "\xff\xfe junk line\r\n"
			"To: Team \xc3\xa9: a@b.example, \xc3\xa9@c.example;\r\n"
			"\r\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	char *to = decoded_field(&out, "To:");
	/* RFC 6858 3: the 8-bit member follows the group as an empty group
	 * named by it (before: it vanished) */
	assert_string_equal(to, " Team é: a@b.example;, é@c.example :;");
	free(to);
	assert_int_equal(strncmp(str_c(&out), "To:", 3), 0);
	str_free(&out);
	h = "Cc: Team: J\xc3\xb6rg <j@\xc3\xa9.example>, b@b.example;, z@z.example\r\n\r\n";
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	char *cc = decoded_field(&out, "Cc:");
	assert_string_equal(cc, " Team: b@b.example;, Jörg :;, z@z.example");
	free(cc);
	str_free(&out);
}

/* Structured fields (RFC 2047 5: no encoded word in an addr-spec or
 * msg-id): References keeps its ASCII ids, trace and other structured
 * fields with no 7-bit form are left out, X- fields are text */
static void test_structured(void **state)
{
	(void)state;
	const char *h = "Received: from \xe4\xbe\x8b.jp by mx.example; Sun, 6 Dec 2026\r\n"
			"References: <a@x.example> <\xc3\xa9@x.example>\r\n"
			" <b@x.example>\r\n"
			"In-Reply-To: <\xc3\xa9@x.example>\r\n"
			"Content-Language: d\xc3\xa9\r\n"
			"X-Note: caf\xc3\xa9 <x@y>\r\n"
			"Subject: s\r\n\r\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	const char *o = str_c(&out);
	assert_null(strstr(o, "Received"));
	assert_null(strstr(o, "In-Reply-To"));
	assert_null(strstr(o, "Content-Language"));
	assert_non_null(strstr(o, "References: <a@x.example> <b@x.example>\r\n"));
	char *x = decoded_field(&out, "X-Note:");
	assert_string_equal(x, " café <x@y>");
	free(x);
	assert_non_null(strstr(o, "Subject: s\r\n\r\n"));
	str_free(&out);
	/* many ids: folded, each line within 76 */
	str_t big = STR_INIT;
	str_appendz(&big, "References:");
	for (int i = 0; i < 20; i++)
		str_printf(&big, " <id%d.%s@x.example>", i, i % 3 == 0 ? "\xc3\xa9" : "a");
	str_appendz(&big, "\r\n\r\n");
	assert_true(mime_downgrade_header(big.data, big.len, &out));
	assert_7bit_lines(&out);
	assert_non_null(strstr(str_c(&out), "<id1.a@x.example>"));
	assert_null(strstr(str_c(&out), "<id0."));
	str_free(&out);
	str_free(&big);
}

/* The downgrade reads parameters with the MIME parser's syntax
 * (mime_header_raw_params): a comment after the type is no part of it,
 * and the 8-bit sections of one RFC 2231 parameter become one extended
 * value (before: the field was dropped for the comment; each section was
 * encoded as a section 0 of its own) */
static void test_params_one_parser(void **state)
{
	(void)state;
	const char *h = "Content-Type: text/plain (f\xc3\xbcr dich); charset=utf-8;\r\n"
			" name*0=\"r\xc3\xa9\"; name*1=\"sum\xc3\xa9.pdf\"; x=\"a b\"\r\n\r\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	const char *o = str_c(&out);
	assert_non_null(strstr(o, "Content-Type: text/plain; charset=utf-8;"));
	assert_non_null(strstr(o, "name*0*=UTF-8''r%C3%A9sum%C3%A9.pdf"));
	assert_null(strstr(o, "name*1"));
	assert_non_null(strstr(o, "x=\"a b\""));
	struct mime_tree *t = mime_parse(out.data, out.len);
	assert_string_equal(t->parts[0].subtype, "plain");
	assert_string_equal(mime_param_get(t->parts[0].params, t->parts[0].n_params, "name"),
			    "r\xc3\xa9sum\xc3\xa9.pdf");
	assert_string_equal(mime_param_get(t->parts[0].params, t->parts[0].n_params, "x"),
			    "a b");
	mime_tree_free(&t);
	str_free(&out);
	/* an 8-bit plain fallback beside the RFC 2231 form: left to it (not a
	 * second filename*0*); an 8-bit section past a gap: left out */
	h = "Content-Disposition: attachment; filename*=UTF-8''caf%C3%A9;"
	    " filename=\"caf\xc3\xa9\"; n*1=\"\xc3\xa9\"\r\n\r\n";
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	assert_string_equal(str_c(&out),
			    "Content-Disposition: attachment; filename*0*=UTF-8''caf%C3%A9\r\n\r\n");
	str_free(&out);
}

static void test_parser_flag(void **state)
{
	(void)state;
	const char *m = "Subject: caf\xc3\xa9\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
			"--b\r\nContent-Type: text/plain\r\n\r\nbody \xc3\xa9\r\n--b--\r\n";
	struct mime_tree *t = mime_parse(m, strlen(m));
	assert_true(t->count >= 2);
	assert_true((t->parts[0].flags & MIME_PART_HDR_8BIT) != 0);
	/* an 8-bit body does not mark its part's header */
	assert_true((t->parts[1].flags & MIME_PART_HDR_8BIT) == 0);
	/* the flag survives the structure cache */
	str_t enc = STR_INIT;
	mime_cache_encode(t, &enc);
	struct mime_tree *t2;
	const char *err;
	assert_int_equal(mime_cache_decode(enc.data, enc.len, strlen(m), &t2, &err), 0);
	assert_true((t2->parts[0].flags & MIME_PART_HDR_8BIT) != 0);
	mime_tree_free(&t2);
	/* a version 1 record (no flag yet) is parsed again, as no damage */
	enc.data[3] = 1;
	assert_int_equal(mime_cache_decode(enc.data, enc.len, strlen(m), &t2, &err), -1);
	assert_ptr_equal(err, mime_cache_error_version);
	mime_tree_free(&t);
	str_free(&enc);
	const char *plain = "Subject: x\r\n\r\nbody \xc3\xa9\r\n";
	t = mime_parse(plain, strlen(plain));
	assert_true((t->parts[0].flags & MIME_PART_HDR_8BIT) == 0);
	mime_tree_free(&t);
}

/* RFC 2045 5.1: a type or subtype token is US-ASCII; an 8-bit one is no
 * type, so the part is text/plain (5.2) and never shows the 8-bit token
 * in BODYSTRUCTURE; the downgrade leaves such a field out (before: the
 * parser kept "t\xc3\xa9xt"/"pl\xc3\xa1in" as the type) */
static void test_8bit_type_refused(void **state)
{
	(void)state;
	static const char *const heads[] = {
		"Content-Type: t\xc3\xa9xt/pl\xc3\xa1in; charset=utf-8\r\n",
		"Content-Type: text/pl\xc3\xa1in; charset=utf-8\r\n",
		"Content-Type: t\xc3\xa9xt/plain\r\n",
		"Content-Type: multipart/m\xc3\xafxed; boundary=b\r\n",
	};
	for (size_t i = 0; i < sizeof(heads) / sizeof(*heads); i++) {
		str_t m = STR_INIT, out = STR_INIT;
		str_printf(&m, "%s\r\n--b\r\nx\r\n--b--\r\n", heads[i]);
		struct mime_tree *t = mime_parse(m.data, m.len);
		assert_string_equal(t->parts[0].type, "text");
		assert_string_equal(t->parts[0].subtype, "plain");
		assert_true((t->parts[0].flags & MIME_PART_DEFAULT_TYPE) != 0);
		assert_int_equal(t->count, 1);
		mime_tree_free(&t);
		assert_true(mime_downgrade_header(heads[i], strlen(heads[i]), &out));
		assert_null(strstr(str_c(&out), "Content-Type"));
		str_free(&out);
		str_free(&m);
	}
	/* a tree of cache version 2 may hold such a type: parsed again */
	const char *m = "Subject: x\r\n\r\nb\r\n";
	struct mime_tree *t = mime_parse(m, strlen(m)), *t2;
	str_t enc = STR_INIT;
	const char *err;
	mime_cache_encode(t, &enc);
	enc.data[3] = 2;
	assert_int_equal(mime_cache_decode(enc.data, enc.len, strlen(m), &t2, &err), -1);
	assert_ptr_equal(err, mime_cache_error_version);
	mime_tree_free(&t);
	str_free(&enc);
}

/* RFC 5322 3.2.2: an 8-bit comment is no reason to leave out a field
 * whose value is ASCII; comments nest and quote, RFC 2045 4 reads
 * "1.(c)0" as 1.0 (before: these fields were dropped, and a base64 part
 * showed as 7BIT) */
static void test_comments_stripped(void **state)
{
	(void)state;
	const char *h = "Content-Transfer-Encoding: base64 (encod\xc3\xa9 (a \\) \xc3\xa9) b)\r\n"
			"MIME-Version: 1.(g\xc3\xa9n\xc3\xa9r\xc3\xa9)0\r\n"
			"Date: Sun, 6 Dec 2026 10:00:00 +0100 (heure d'\xc3\xa9t\xc3\xa9)\r\n"
			"Resent-Date: Sun, 6 Dec 2026 (x) d\xc3\xa9\r\n"
			"Date: (\xc3\xa9)\r\n\r\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	assert_string_equal(str_c(&out), "Content-Transfer-Encoding: base64\r\n"
					 "MIME-Version: 1.0\r\n"
					 "Date: Sun, 6 Dec 2026 10:00:00 +0100\r\n\r\n");
	struct mime_tree *t = mime_parse(out.data, out.len);
	assert_string_equal(t->parts[0].cte, "base64");
	mime_tree_free(&t);
	str_free(&out);
}

/* RFC 6858 / RFC 2231: an 8-bit file name in Content-Type and
 * Content-Disposition becomes an extended parameter (with continuations)
 * that the MIME parser decodes back; 7-bit parameters stay as written;
 * before, the whole field became encoded words (no type left). */
static void test_mime_params(void **state)
{
	(void)state;
	const char *name = "r\xc3\xa9sum\xc3\xa9 of J\xc3\xb6rg M\xc3\xbcller, a long file name "
			   "that needs two continuations \xe6\x97\xa5\xe6\x9c\xac.pdf";
	char *h = strdup(t_printf("Content-Type: application/pdf; name=\"%s\"; x=\"a;b\"\r\n"
				  "Content-Disposition: attachment;\r\n filename=\"%s\"\r\n"
				  "Content-Type: t\xc3\xa9xt/plain\r\n\r\n", name, name));
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	const char *o = str_c(&out);
	assert_null(strstr(o, "=?"));
	assert_non_null(strstr(o, "Content-Type: application/pdf;"));
	assert_non_null(strstr(o, "name*0*=UTF-8''r%C3%A9sum%C3%A9%20of%20J%C3%B6rg"));
	assert_non_null(strstr(o, "; x=\"a;b\""));
	assert_non_null(strstr(o, "Content-Disposition: attachment;"));
	assert_non_null(strstr(o, "name*1*="));
	/* an 8-bit type has no 7-bit form: that field is left out */
	assert_null(strstr(o, "t\xc3\xa9xt"));
	assert_null(strstr(o, "Content-Type: =?"));
	/* the server's own parser reads the file name back */
	const char *cd = strstr(o, "Content-Disposition:") + 20;
	const char *end = strstr(cd, "\r\nContent-Type") ;
	if (end == NULL)
		end = strstr(cd, "\r\n\r\n");
	assert_non_null(end);
	str_t unf = STR_INIT;
	mime_header_unfold(cd, (size_t)(end - cd), &unf);
	pool_t *pool = pool_create(1024);
	char *type, *sub;
	struct mime_param *params;
	uint32_t n;
	assert_int_equal(mime_header_parse_params(pool, unf.data, unf.len, false, &type, &sub,
						  &params, &n), 0);
	assert_string_equal(type, "attachment");
	assert_int_equal(n, 1);
	assert_string_equal(params[0].value, name);
	pool_destroy(&pool);
	str_free(&unf);
	str_free(&out);
	free(h);
}

/* Header octets that are not UTF-8 (raw latin1, as corpus message 163)
 * are labelled UNKNOWN-8BIT (RFC 1428 3), not claimed to be UTF-8;
 * valid UTF-8 keeps charset UTF-8. */
static void test_unknown_8bit(void **state)
{
	(void)state;
	const char *h = "Subject: caf\xe9 cr\xe8me br\xfbl\xe9" "e\r\n"
			"From: Andr\xe9 <andre@example.com>\r\n"
			"Content-Disposition: inline; filename=\"d\xe9j\xe0.txt\"\r\n"
			"X-Ok: caf\xc3\xa9\r\n\r\n";
	str_t out = STR_INIT;
	assert_true(mime_downgrade_header(h, strlen(h), &out));
	assert_7bit_lines(&out);
	const char *o = str_c(&out);
	/* B is shorter here: base64 of the latin1 octets as they are */
	assert_non_null(strstr(o, "Subject: =?UNKNOWN-8BIT?B?Y2Fm6SBjcuhtZSBicvts6WU=?=\r\n"));
	/* the address parser already made the stray octet U+FFFD: valid
	 * UTF-8, and no latin1 octet is labelled UTF-8 */
	assert_non_null(strstr(o, "From: =?UTF-8?B?QW5kcu+/vQ==?= <andre@example.com>\r\n"));
	assert_non_null(strstr(o, "filename*0*=UNKNOWN-8BIT''d%E9j%E0.txt"));
	assert_non_null(strstr(o, "X-Ok: =?UTF-8?B?Y2Fmw6k=?=\r\n"));
	assert_false(utf8_valid("\xc0\xaf", 2)); /* overlong */
	assert_false(utf8_valid("\xed\xa0\x80", 3)); /* surrogate */
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));
	str_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_7bit_untouched),
		cmocka_unit_test(test_subject),
		cmocka_unit_test(test_q_and_lf),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_junk_and_groups),
		cmocka_unit_test(test_structured),
		cmocka_unit_test(test_params_one_parser),
		cmocka_unit_test(test_parser_flag),
		cmocka_unit_test(test_mime_params),
		cmocka_unit_test(test_unknown_8bit),
		cmocka_unit_test(test_8bit_type_refused),
		cmocka_unit_test(test_comments_stripped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
