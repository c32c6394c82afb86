/* test-mime-preview.c: mime_msgid.h (ids of Message-ID, References,
 * In-Reply-To; header field lookup) and mime_preview.h (RFC 8970 3.1:
 * which part, decoded, UTF-8, HTML stripped, white space collapsed, at
 * most 256 characters, never a cut UTF-8 sequence). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_msgid.h"
#include "mime/mime_preview.h"

/* The ids mime_msgid_next() finds in in[0..len), joined by ' ': what
 * mime_references.h reads. */
static const char *msgid_all(const char *in, size_t len)
{
	str_t out = STR_INIT;
	size_t pos = 0, id_len;
	const char *id;
	for (unsigned i = 0; i <= len && mime_msgid_next(in, len, &pos, &id, &id_len); i++) {
		assert_true(id > in && id + id_len < in + len); /* inside, "<>" around */
		assert_true(pos <= len);
		if (out.len > 0)
			str_appendc(&out, ' ');
		str_append(&out, id, id_len);
	}
	assert_int_equal(pos, len); /* none left: at the end */
	const char *ret = t_strndup(out.data != NULL ? out.data : "", out.len);
	str_free(&out);
	return ret;
}

static void test_msgid_next(void **state)
{
	(void)state;
	/* comments skipped, a token with a space, an empty one and one
	 * without "@" are no ids (RFC 5322 3.6.4, RFC 5256 3); a repeat is
	 * kept (mime_references.h leaves it to the tree's loop check) */
	const char *in = " <a@x> (comment <not-id>) \r\n\t<b@y>  <a@x> <bro ken> <> <c@z>";
	assert_string_equal(msgid_all(in, strlen(in)), "a@x b@y a@x c@z");
	assert_string_equal(msgid_all("<a@x", 4), ""); /* unterminated */
	assert_string_equal(msgid_all("<a@x>", 3), ""); /* never past len */
	assert_string_equal(msgid_all("<<a@x>", 6), "a@x");
	/* MIME_MSGID_MAX bytes is an id, one more is ignored */
	char big[MIME_MSGID_MAX + 4];
	memset(big, 'i', sizeof(big));
	big[0] = '<';
	big[1] = '@';
	big[MIME_MSGID_MAX + 1] = '>';
	assert_int_equal(strlen(msgid_all(big, MIME_MSGID_MAX + 2)), MIME_MSGID_MAX);
	big[MIME_MSGID_MAX + 1] = 'i';
	big[MIME_MSGID_MAX + 2] = '>';
	assert_string_equal(msgid_all(big, MIME_MSGID_MAX + 3), "");
}

static void test_header_find(void **state)
{
	(void)state;
	const char *hdr = "Subject: s\nreferences: <a@x>\n <b@x>\nMessage-ID: <m@x>\n\n"
		"Message-ID: <body@x>\n";
	const char *v;
	size_t len;
	assert_true(mime_header_find(hdr, strlen(hdr), "References", &v, &len));
	assert_int_equal(len, strlen(" <a@x>\n <b@x>\n"));
	assert_true(mime_header_find(hdr, strlen(hdr), "message-id", &v, &len));
	assert_memory_equal(v, " <m@x>", 6);
	assert_false(mime_header_find(hdr, strlen(hdr), "In-Reply-To", &v, &len));
	/* a field of the body is not the header's */
	const char *h2 = "Subject: s\r\n\r\nMessage-ID: <body@x>\r\n";
	assert_false(mime_header_find(h2, strlen(h2), "Message-ID", &v, &len));
}

static const char *preview_of(const char *msg)
{
	struct mime_tree *tree = mime_parse(msg, strlen(msg));
	uint32_t i = mime_preview_part(tree);
	const char *ret = NULL;
	if (i != MIME_NONE) {
		const struct mime_part *p = &tree->parts[i];
		str_t out = STR_INIT;
		mime_preview_text(p, msg + p->body_off, (size_t)(p->body_end - p->body_off), &out);
		ret = t_strndup(out.data != NULL ? out.data : "", out.len);
		str_free(&out);
	}
	mime_tree_free(&tree);
	return ret;
}

static void test_preview_plain(void **state)
{
	(void)state;
	assert_string_equal(preview_of("Subject: x\r\n\r\n  Hello,\r\n\r\n\tworld  \r\n"),
			    "Hello, world");
	assert_string_equal(preview_of("Content-Transfer-Encoding: quoted-printable\r\n"
				       "Content-Type: text/plain; charset=iso-8859-1\r\n\r\n"
				       "Gr=FC=DFe aus K=F6ln=\r\n, bis bald\r\n"),
			    "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln, bis bald");
	assert_string_equal(preview_of("Content-Transfer-Encoding: base64\r\n\r\n"
				       "SGVsbG8gYmFzZTY0IHdvcmxk\r\n"), "Hello base64 world");
}

static void test_preview_html_and_alternative(void **state)
{
	(void)state;
	assert_string_equal(preview_of("Content-Type: text/html\r\n\r\n<html><head><title>T"
				       "</title><style>p{}</style></head><body><p>Fish &amp; "
				       "chips</p><script>x()</script><br>today</body></html>\r\n"),
			    "Fish & chips today");
	const char *alt = "Content-Type: multipart/alternative; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: text/html\r\n\r\n<b>html</b>\r\n"
		"--b\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--b--\r\n";
	assert_string_equal(preview_of(alt), "plain text");
	const char *att = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
		"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
		"iVBORw0KGgo=\r\n--b\r\nContent-Type: text/plain\r\n"
		"Content-Disposition: attachment; filename=a.txt\r\n\r\nfile\r\n--b--\r\n";
	assert_null(preview_of(att)); /* no text part: the preview is "" */
}

static void test_preview_limit(void **state)
{
	(void)state;
	str_t msg = STR_INIT;
	str_appendz(&msg, "Content-Type: text/plain; charset=utf-8\r\n\r\n");
	for (unsigned i = 0; i < 300; i++)
		str_appendz(&msg, "\xc3\xa9"); /* é, two bytes */
	str_appendz(&msg, "\r\n");
	const char *p = preview_of(str_c(&msg));
	assert_int_equal(strlen(p), 2 * MIME_PREVIEW_CHARS);
	str_clear(&msg);
	/* a space that would be the 256th character is not kept (no
	 * trailing space: found by fuzz-mime-preview) */
	str_appendz(&msg, "Subject: s\r\n\r\n");
	for (unsigned i = 0; i < MIME_PREVIEW_CHARS - 1; i++)
		str_appendc(&msg, 'a');
	str_appendz(&msg, " b\r\n");
	p = preview_of(str_c(&msg));
	assert_int_equal(strlen(p), MIME_PREVIEW_CHARS - 1);
	assert_int_equal(p[strlen(p) - 1], 'a');
	str_free(&msg);
	/* invalid UTF-8 becomes U+FFFD; control characters are spaces */
	assert_string_equal(preview_of("Content-Type: text/plain; charset=utf-8\r\n\r\n"
				       "a\xff" "b\x01\x02" "c\r\n"), "a\xef\xbf\xbd" "b c");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msgid_next),
		cmocka_unit_test(test_header_find),
		cmocka_unit_test(test_preview_plain),
		cmocka_unit_test(test_preview_html_and_alternative),
		cmocka_unit_test(test_preview_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
