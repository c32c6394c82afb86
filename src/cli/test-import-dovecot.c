/* test-import-dovecot.c: unit tests for the Dovecot parsers of `postel
 * import maildir` (import_dovecot.h): dovecot-uidlist v3 and v1 (header
 * fields, extension fields, bad lines counted not dropped, UIDNEXT
 * never below a listed UID), dovecot-keywords, file-name flags, the
 * HIGHESTMODSEQ bound from a dovecot.index.log, and folder and
 * subscription names (modified UTF-7, '.' and TAB separators). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "cli/import_dovecot.h"
#include "store/store_view.h"

static pool_t *pool;

static int setup(void **state)
{
	(void)state;
	pool = pool_create(4096);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pool_destroy(&pool);
	return 0;
}

static void test_uidlist_v3(void **state)
{
	(void)state;
	static const char data[] =
		"3 V1700000000 N7 G3085f01b7f11094c501100008c4a11c1\n"
		"1 :1700000001.M1P1.host,S=100,W=102\n"
		"3 G0123abcd W2000 :1700000003.M3P1.host\n"
		"2 :out.of.order\n"
		"x :no.uid\n"
		"5 no.colon\n"
		"\n"
		"9 :1700000009.M9P1.host";
	struct import_uidlist l;
	const char *error;
	assert_int_equal(import_uidlist_parse(data, sizeof(data) - 1, pool, &l, &error), 0);
	assert_int_equal(l.version, 3);
	assert_int_equal(l.uidvalidity, 1700000000u);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.entries[0].uid, 1);
	assert_string_equal(l.entries[0].base, "1700000001.M1P1.host,S=100,W=102");
	assert_int_equal(l.entries[1].uid, 3);
	assert_string_equal(l.entries[1].base, "1700000003.M3P1.host");
	assert_int_equal(l.entries[2].uid, 9);
	/* N7 is below a listed UID: Dovecot's next is at least 10 */
	assert_int_equal(l.uidnext, 10);
	assert_int_equal(l.bad_lines, 3);
	assert_string_equal(l.first_bad, "line 4: UID not above the previous line's");
}

static void test_uidlist_v1_and_bad_headers(void **state)
{
	(void)state;
	static const char v1[] = "1 1234 5\n000 zero.uid\n1 a.host\n4 b.host\n";
	struct import_uidlist l;
	const char *error;
	assert_int_equal(import_uidlist_parse(v1, sizeof(v1) - 1, pool, &l, &error), 0);
	assert_int_equal(l.version, 1);
	assert_int_equal(l.uidvalidity, 1234);
	assert_int_equal(l.uidnext, 5);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.entries[1].base, "b.host");
	assert_int_equal(l.bad_lines, 1); /* UID 0 */
	assert_int_equal(import_uidlist_parse("", 0, pool, &l, &error), -1);
	assert_int_equal(import_uidlist_parse("2 V1 N2\n", 8, pool, &l, &error), -1);
	assert_int_equal(import_uidlist_parse("3 Vx N2\n", 8, pool, &l, &error), -1);
	assert_int_equal(import_uidlist_parse("1 12\n", 5, pool, &l, &error), -1);
	/* an empty mailbox: just the header, no newline */
	assert_int_equal(import_uidlist_parse("3 V77 N1 Gab", 12, pool, &l, &error), 0);
	assert_int_equal(l.uidvalidity, 77);
	assert_int_equal(l.uidnext, 1);
	assert_int_equal(l.count, 0);
}

static void test_keywords(void **state)
{
	(void)state;
	static const char data[] = "0 $Label1\n1 Junk\n3 $Forwarded\n30 Far\n"
		"2 bad\\name\nnope\n25 Last";
	struct import_keywords kw;
	import_keywords_parse(data, sizeof(data) - 1, pool, &kw);
	assert_string_equal(kw.names[0], "$Label1");
	assert_string_equal(kw.names[1], "Junk");
	assert_null(kw.names[2]);
	assert_string_equal(kw.names[3], "$Forwarded");
	assert_string_equal(kw.names[25], "Last");
	assert_int_equal(kw.bad_lines, 2);
	assert_string_equal(kw.first_bad, "line 5: not a valid keyword");
}

static void test_filename(void **state)
{
	(void)state;
	struct import_filename fn;
	import_filename_parse("123.M1P2.host,S=10:2,DFPRSTad", &fn);
	assert_int_equal(fn.base_len, strlen("123.M1P2.host,S=10"));
	assert_int_equal(fn.sysflags, STORE_FLAG_DRAFT | STORE_FLAG_FLAGGED |
			 STORE_FLAG_ANSWERED | STORE_FLAG_SEEN | STORE_FLAG_DELETED);
	assert_int_equal(fn.keyword_bits, 1u | 1u << 3);
	import_filename_parse("123.M1P2.host", &fn);
	assert_int_equal(fn.base_len, strlen("123.M1P2.host"));
	assert_int_equal(fn.sysflags, 0);
	assert_int_equal(fn.keyword_bits, 0);
}

/* Dovecot's mail_index_uint32_to_offset(), byte by byte */
static void put_size(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(0x80 | ((v >> 23) & 0x7f));
	p[1] = (unsigned char)(0x80 | ((v >> 16) & 0x7f));
	p[2] = (unsigned char)(0x80 | ((v >> 9) & 0x7f));
	p[3] = (unsigned char)(0x80 | ((v >> 2) & 0x7f));
}

static void put_u32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void test_modseq_bound(void **state)
{
	(void)state;
	unsigned char log[40 + 12 + 20 + 7];
	uint64_t bound;
	const char *error;
	memset(log, 0, sizeof(log));
	log[0] = 1;  /* major */
	log[1] = 3;  /* minor */
	log[2] = 40; /* hdr_size */
	put_u32(log + 24, 100); /* initial_modseq */
	put_size(log + 40, 12); /* a flag update */
	put_u32(log + 44, 0x4);
	put_size(log + 52, 20); /* MODSEQ_UPDATE uid 1 -> modseq 500 */
	put_u32(log + 56, 0x8000);
	put_u32(log + 60, 1);
	put_u32(log + 64, 500);
	/* 2 records, then a 7-byte tail it cannot read */
	assert_int_equal(import_modseq_bound(log, 72, &bound, &error), 0);
	assert_int_equal(bound, 500 + 2 + 1);
	assert_int_equal(import_modseq_bound(log, sizeof(log), &bound, &error), 0);
	assert_int_equal(bound, 500 + 2 + 1);
	put_u32(log + 64, 50); /* an explicit MODSEQ below the log's start */
	assert_int_equal(import_modseq_bound(log, 72, &bound, &error), 0);
	assert_int_equal(bound, 100 + 2 + 1);
	/* a broken size: 8 bytes per record from there */
	log[40] = 0;
	assert_int_equal(import_modseq_bound(log, 72, &bound, &error), 0);
	assert_int_equal(bound, 100 + 32 / 8 + 1);
	put_u32(log + 28, 0x80000000u); /* initial_modseq 2^63: damaged */
	assert_int_equal(import_modseq_bound(log, 72, &bound, &error), -1);
	log[0] = 2;
	assert_int_equal(import_modseq_bound(log, 72, &bound, &error), -1);
	assert_int_equal(import_modseq_bound(log, 10, &bound, &error), -1);
}

static void check_folder(const char *dir, const char *expect)
{
	str_t out = STR_INIT;
	const char *error = NULL;
	int ret = import_folder_name(dir, &out, &error);
	if (expect == NULL) {
		assert_int_equal(ret, -1);
		assert_non_null(error);
	} else {
		assert_int_equal(ret, 0);
		assert_string_equal(str_c(&out), expect);
	}
	str_free(&out);
}

static void test_folder_names(void **state)
{
	(void)state;
	check_folder(".Sent", "Sent");
	check_folder(".Work.Projects", "Work/Projects");
	check_folder(".&AMQ-pfel.B&APw-ro", "\xc3\x84pfel/B\xc3\xbcro");
	check_folder(".A&-B", "A&B");
	check_folder(".a&AC8-b", NULL);  /* '/' inside a component */
	check_folder("..x", NULL);       /* empty component */
	check_folder(".x.", NULL);
	check_folder(".&AOQ", NULL);     /* unterminated base64 */
	check_folder("Sent", NULL);      /* not ".Name" */
	check_folder(".", NULL);

	str_t out = STR_INIT;
	const char *error;
	assert_int_equal(import_subscription_name("Work\tProjects", 13, true,
						  &out, &error), 0);
	assert_string_equal(str_c(&out), "Work/Projects");
	str_clear(&out);
	assert_int_equal(import_subscription_name("Work.Projects", 13, false,
						  &out, &error), 0);
	assert_string_equal(str_c(&out), "Work/Projects");
	str_clear(&out);
	assert_int_equal(import_subscription_name("a\0b", 3, true, &out, &error), -1);
	str_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uidlist_v3),
		cmocka_unit_test(test_uidlist_v1_and_bad_headers),
		cmocka_unit_test(test_keywords),
		cmocka_unit_test(test_filename),
		cmocka_unit_test(test_modseq_bound),
		cmocka_unit_test(test_folder_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
