/* test-mime-references.c: mime_references.h, the RFC 5256 4 REFERENCES
 * step 1 rule THREAD=REFERENCES and THREADID share: Message-ID's first
 * valid id; References in order, else In-Reply-To's first id; the root
 * and the nearest ancestors past MIME_REFERENCES_MAX; the parent is the
 * last; repeats kept for the tree's loop check; the folded base subject
 * with its reply marker. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_references.h"

static void from_header(const char *hdr, struct mime_references *r)
{
	mime_references_from_header(hdr, strlen(hdr), pool_temp(), r);
}

static void test_references_first(void **state)
{
	(void)state;
	struct mime_references r;
	/* References wins over In-Reply-To, even when In-Reply-To names
	 * another id (RFC 5256 4 1.A) */
	from_header("Message-ID: junk <m@x> <m2@x>\r\nIn-Reply-To: <i@x>\r\n"
		    "References: <a@x>\r\n <b@x> <a@x> <nohost> <m@x>\r\n\r\n"
		    "References: <body@x>\r\n", &r);
	assert_string_equal(r.message_id, "m@x");
	assert_int_equal(r.count, 4); /* repeats and the own id are kept */
	assert_string_equal(r.refs[0], "a@x");
	assert_string_equal(r.refs[1], "b@x");
	assert_string_equal(r.refs[2], "a@x");
	assert_string_equal(r.refs[3], "m@x");
	assert_string_equal(mime_references_parent(&r), "m@x");
}

static void test_in_reply_to(void **state)
{
	(void)state;
	struct mime_references r;
	/* a References field naming nothing valid counts as absent */
	from_header("References: <broken\nIn-Reply-To: Your message of\n"
		    " today <i1@x> and <i2@x>\nMessage-ID: <no at>\n\n", &r);
	assert_null(r.message_id);
	assert_int_equal(r.count, 1);
	assert_string_equal(r.refs[0], "i1@x");
	from_header("Subject: none\n\n", &r);
	assert_null(r.message_id);
	assert_int_equal(r.count, 0);
	assert_null(mime_references_parent(&r));
	mime_references_parse(NULL, 0, NULL, 0, NULL, 0, pool_temp(), &r);
	assert_int_equal(r.count, 0);
}

static void test_root_and_nearest(void **state)
{
	(void)state;
	str_t h = STR_INIT;
	str_appendz(&h, "References:");
	for (unsigned i = 0; i < 250; i++)
		str_printf(&h, " <%u@x>", i);
	struct mime_references r;
	mime_references_parse(NULL, 0, h.data, h.len, "<i@x>", 5, pool_temp(), &r);
	assert_int_equal(r.count, MIME_REFERENCES_MAX);
	assert_string_equal(r.refs[0], "0@x");                 /* the root */
	assert_string_equal(r.refs[1], "151@x");
	assert_string_equal(r.refs[MIME_REFERENCES_MAX - 1], "249@x");
	assert_string_equal(mime_references_parent(&r), "249@x");
	/* exactly MAX: all of them */
	str_truncate(&h, 0);
	for (unsigned i = 0; i < MIME_REFERENCES_MAX; i++)
		str_printf(&h, "<%u@y>", i);
	mime_references_parse(NULL, 0, h.data, h.len, NULL, 0, pool_temp(), &r);
	assert_int_equal(r.count, MIME_REFERENCES_MAX);
	assert_string_equal(r.refs[1], "1@y");
	str_free(&h);
}

static void test_subject(void **state)
{
	(void)state;
	bool reply;
	const char *s = mime_references_subject(" Re: [list] Fwd: Plan\r\n (fwd)", 29,
						pool_temp(), &reply);
	assert_string_equal(s, "plan");
	assert_true(reply);
	s = mime_references_subject(" =?utf-8?q?=C3=84pfel?=", 23, pool_temp(), &reply);
	assert_string_equal(s, "\xc3\xa4pfel");
	assert_false(reply);
	s = mime_references_subject(NULL, 0, pool_temp(), &reply);
	assert_string_equal(s, "");
	assert_false(reply);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_references_first),
		cmocka_unit_test(test_in_reply_to),
		cmocka_unit_test(test_root_and_nearest),
		cmocka_unit_test(test_subject),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);
	pool_clear(pool_temp());
	return ret;
}
