/* test-mime-parser.c: the streaming parser's offsets, counts, limits and
 * tolerance, and the cache encoding (round trip, hostile input). */
/* the corpus directory is test-mime-corpus's own define (its c_args in
 * meson.build), not one for every file of the project */
#ifdef MIME_CORPUS_DIR
#error "MIME_CORPUS_DIR reaches files that do not need it"
#endif
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/str.h"
#include "mime/mime_cache.h"
#include "mime/mime_parser.h"

static const char multi[] =
	"From: a@b\r\n"
	"Content-Type: multipart/mixed; boundary=\"XX\"\r\n"
	"\r\n"
	"preamble\r\n"
	"--XX\r\n"
	"Content-Type: text/plain; charset=us-ascii\r\n"
	"Content-ID: <id1>\r\n"
	"\r\n"
	"line1\r\n"
	"line2\r\n"
	"\r\n"
	"--XX\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"Subject: inner\r\n"
	"\r\n"
	"inner body\r\n"
	"--XX--\r\n"
	"epilogue\r\n";

static size_t off(const char *needle)
{
	return (size_t)(strstr(multi, needle) - multi);
}

static void test_offsets(void **state)
{
	struct mime_tree *t = mime_parse(multi, strlen(multi));
	(void)state;

	assert_int_equal(t->count, 4);
	const struct mime_part *root = &t->parts[0], *p1 = &t->parts[1],
		*p2 = &t->parts[2], *inner = &t->parts[3];
	assert_true(root->flags & MIME_PART_MULTIPART);
	assert_string_equal(root->subtype, "mixed");
	assert_int_equal(root->body_off, off("preamble"));
	assert_int_equal(root->body_end, strlen(multi));
	/* RFC 2046 5.1.1: the CRLF before the delimiter is not body */
	assert_int_equal(p1->hdr_off, off("Content-Type: text/plain"));
	assert_int_equal(p1->body_off, off("line1"));
	assert_int_equal(p1->body_end, off("\r\n--XX\r\nContent-Type: message"));
	assert_int_equal(mime_part_body_octets(p1), strlen("line1\r\nline2\r\n"));
	assert_int_equal(p1->body_lines, 2);
	assert_string_equal(p1->id, "<id1>");
	assert_string_equal(mime_param_get(p1->params, p1->n_params, "charset"),
			    "us-ascii");
	assert_true(p2->flags & MIME_PART_MESSAGE);
	assert_int_equal(p2->first_child, 3);
	assert_int_equal(inner->hdr_off, off("Subject: inner"));
	assert_int_equal(inner->hdr_off, p2->body_off);
	assert_int_equal(inner->body_off, off("inner body"));
	assert_int_equal(inner->body_end, off("\r\n--XX--"));
	assert_int_equal(p2->body_end, inner->body_end);
	assert_true(inner->flags & MIME_PART_DEFAULT_TYPE);
	assert_int_equal(p1->next_sibling, 2);
	mime_tree_free(&t);
}

static void encode(const char *msg, size_t len, size_t chunk, str_t *out)
{
	struct mime_parser *p = mime_parser_create();

	for (size_t i = 0; i < len; i += chunk)
		mime_parser_feed(p, msg + i, len - i < chunk ? len - i : chunk);
	struct mime_tree *t = mime_parser_finish(&p);
	mime_cache_encode(t, out);
	mime_tree_free(&t);
}

static void test_chunking(void **state)
{
	str_t whole = STR_INIT, part = STR_INIT;
	(void)state;

	encode(multi, strlen(multi), strlen(multi), &whole);
	for (size_t chunk = 1; chunk < 40; chunk++) {
		str_clear(&part);
		encode(multi, strlen(multi), chunk, &part);
		assert_int_equal(part.len, whole.len);
		assert_memory_equal(part.data, whole.data, whole.len);
	}
	str_free(&whole);
	str_free(&part);
}

static void test_bare_lf(void **state)
{
	const char msg[] = "Content-Type: multipart/mixed; boundary=b\n\n"
			   "--b\n\nab\ncd\r\nef\n--b--\n";
	struct mime_tree *t = mime_parse(msg, strlen(msg));
	(void)state;

	assert_int_equal(t->count, 2);
	const struct mime_part *p = &t->parts[1];
	/* body "ab\ncd\r\nef": one bare LF counts as CRLF on the wire */
	assert_int_equal(p->body_end - p->body_off, 9);
	assert_int_equal(p->body_bare_lf, 1);
	assert_int_equal(mime_part_body_octets(p), 10);
	assert_int_equal(p->body_lines, 2);
	assert_int_equal(p->hdr_bare_lf, 1);
	mime_tree_free(&t);
}

static void test_tolerance(void **state)
{
	/* no blank line after the header; inner multipart never closed;
	 * missing final boundary */
	const char msg[] = "Content-Type: multipart/mixed; boundary=o\r\n\r\n"
			   "--o\r\nContent-Type: multipart/alternative; boundary=i\r\n\r\n"
			   "--i\r\nContent-Type: text/plain\r\nthis is body\r\n"
			   "--o\r\nContent-Type: text/html\r\n\r\n<p>";
	struct mime_tree *t = mime_parse(msg, strlen(msg));
	(void)state;

	assert_int_equal(t->count, 4);
	assert_true(t->parts[2].flags & MIME_PART_NO_HDR_SEP);
	assert_int_equal(t->parts[2].body_off,
			 (size_t)(strstr(msg, "this is") - msg));
	assert_int_equal(t->parts[3].parent, 0);
	assert_string_equal(t->parts[3].subtype, "html");
	assert_int_equal(t->parts[3].body_end, strlen(msg));
	mime_tree_free(&t);
}

static void test_mbox_from_line(void **state)
{
	/* corpus 188/192: a message still opening with its mbox separator */
	const char msg[] = "From a@b Tue May 10 11:28:07 2005\r\n"
			   "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
			   "--b\r\n\r\nx\r\n--b--\r\n";
	struct mime_tree *t = mime_parse(msg, strlen(msg));
	(void)state;

	assert_int_equal(t->count, 2);
	assert_true(t->parts[0].flags & MIME_PART_MULTIPART);
	assert_false(t->parts[0].flags & MIME_PART_NO_HDR_SEP);
	mime_tree_free(&t);
}

static void test_depth_limit(void **state)
{
	str_t msg = STR_INIT;
	(void)state;

	for (int i = 0; i < 50; i++)
		str_printf(&msg, "Content-Type: multipart/mixed; boundary=b%d-\r\n\r\n--b%d-\r\n", i, i);
	str_appendz(&msg, "\r\nleaf\r\n");
	struct mime_tree *t = mime_parse(msg.data, msg.len);
	assert_int_equal(t->count, MIME_MAX_DEPTH + 1);
	const struct mime_part *last = &t->parts[t->count - 1];
	assert_int_equal(last->depth, MIME_MAX_DEPTH);
	assert_true(last->flags & MIME_PART_TRUNCATED);
	assert_int_equal(last->body_end, msg.len);
	mime_tree_free(&t);
	str_free(&msg);
}

static void test_parts_limit(void **state)
{
	str_t msg = STR_INIT;
	(void)state;

	str_appendz(&msg, "Content-Type: multipart/mixed; boundary=b\r\n\r\n");
	for (int i = 0; i < MIME_MAX_PARTS + 50; i++)
		str_appendz(&msg, "--b\r\n\r\nx\r\n");
	str_appendz(&msg, "--b--\r\n");
	struct mime_tree *t = mime_parse(msg.data, msg.len);
	assert_int_equal(t->count, MIME_MAX_PARTS);
	assert_true(t->parts[0].flags & MIME_PART_TRUNCATED);
	/* the rest is opaque body of the open multipart, up to the end */
	assert_int_equal(t->parts[0].body_end, msg.len);
	assert_int_equal(t->parts[t->count - 1].parent, 0);
	mime_tree_free(&t);
	str_free(&msg);
}

static void test_digest_default(void **state)
{
	const char msg[] = "Content-Type: multipart/digest; boundary=d\r\n\r\n"
			   "--d\r\n\r\nSubject: x\r\n\r\nbody\r\n--d--\r\n";
	struct mime_tree *t = mime_parse(msg, strlen(msg));
	(void)state;

	/* RFC 2046 5.1.5: digest parts default to message/rfc822 */
	assert_int_equal(t->count, 3);
	assert_string_equal(t->parts[1].type, "message");
	assert_true(t->parts[1].flags & MIME_PART_MESSAGE);
	mime_tree_free(&t);
}

/* A message/rfc822 part whose header runs to the end of the input (no
 * empty line, no body): the enclosed message opened at the end still
 * gets a type (fuzz-imap-fetch-render found a NULL one). */
static void test_message_header_to_the_end(void **state)
{
	const char msg[] = "Content-Type: message/rfc822\r\nMIME-Version: 1.0\r\n"
			   "X-Mailer: x 1.(BOD147";
	(void)state;
	for (size_t cut = 0; cut <= strlen(msg); cut++) {
		struct mime_tree *t = mime_parse(msg, cut);
		for (uint32_t i = 0; i < t->count; i++) {
			assert_non_null(t->parts[i].type);
			assert_non_null(t->parts[i].subtype);
		}
		mime_tree_free(&t);
	}
}

static void test_cache_hostile(void **state)
{
	str_t enc = STR_INIT;
	struct mime_tree *t = mime_parse(multi, strlen(multi)), *d;
	const char *err;
	(void)state;

	mime_cache_encode(t, &enc);
	assert_int_equal(mime_cache_decode(enc.data, enc.len, strlen(multi), &d, &err), 0);
	assert_int_equal(d->count, 4);
	assert_string_equal(d->parts[1].id, "<id1>");
	assert_int_equal(d->parts[0].first_child, 1);
	assert_int_equal(d->parts[2].first_child, 3);
	mime_tree_free(&d);
	/* every truncation fails cleanly */
	for (size_t n = 0; n < enc.len; n++)
		assert_int_equal(mime_cache_decode(enc.data, n, strlen(multi), &d, &err), -1);
	/* a message shorter than the offsets is refused */
	assert_int_equal(mime_cache_decode(enc.data, enc.len, 10, &d, &err), -1);
	/* flipped bytes: must not crash; if accepted, links stay in range */
	for (size_t n = 3; n < enc.len; n++) {
		char save = enc.data[n];
		enc.data[n] = (char)(save ^ 0x41);
		if (mime_cache_decode(enc.data, enc.len, strlen(multi), &d, &err) == 0) {
			for (uint32_t i = 1; i < d->count; i++)
				assert_true(d->parts[i].parent < i);
			mime_tree_free(&d);
		}
		enc.data[n] = save;
	}
	enc.data[3] = 9; /* unknown version */
	assert_int_equal(mime_cache_decode(enc.data, enc.len, strlen(multi), &d, &err), -1);
	mime_tree_free(&t);
	str_free(&enc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offsets),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_bare_lf),
		cmocka_unit_test(test_tolerance),
		cmocka_unit_test(test_mbox_from_line),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_parts_limit),
		cmocka_unit_test(test_digest_default),
		cmocka_unit_test(test_message_header_to_the_end),
		cmocka_unit_test(test_cache_hostile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
