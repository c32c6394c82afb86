/* test-mime-subject.c: the RFC 5256 2.1 base subject (mime_subject.h):
 * each step on its own, their repetition, RFC 2047 decoding first, and
 * the reply/forward answer REFERENCES step 6 uses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/str.h"
#include "mime/mime_subject.h"

static void check(const char *in, const char *want, bool want_reply)
{
	str_t out = STR_INIT;
	bool reply = mime_base_subject(in, strlen(in), &out);
	if (strcmp(str_c(&out), want) != 0 || reply != want_reply)
		fail_msg("base(%s) = [%s] reply=%d, want [%s] reply=%d", in, str_c(&out),
			 reply, want, want_reply);
	str_free(&out);
}

static void test_plain(void **state)
{
	(void)state;
	check("", "", false);
	check("hello", "hello", false);
	/* step 1: unfolded, white space runs to one space, trimmed */
	check("  multiple   spaces\t here \r\n\tfolded  ", "multiple spaces here folded", false);
	check("Reply: x", "Reply: x", false);
	check("Rex: y", "Rex: y", false);
	check("Re", "Re", false);
}

static void test_leaders(void **state)
{
	(void)state;
	/* step 3: subj-refwd, repeatedly, any case */
	check("Re: hello", "hello", true);
	check("RE:Re:re: hello", "hello", true);
	check("Fwd: Fw: FW: hi", "hi", true);
	check("Re [list]: hi", "hi", true);
	check("Re  [list] : hi", "hi", true);
	check("[a][b] Re: c", "c", true);
	check("Re: ", "", true);
	/* step 4: a leading blob goes if something remains */
	check("[PATCH] fix it", "fix it", false);
	check("[PATCH]", "[PATCH]", false);
	check("[PATCH 1/2] Re: [PATCH 1/2] fix", "fix", true);
	check("[a] [b]", "[b]", false);
}

static void test_trailers_and_fwd(void **state)
{
	(void)state;
	/* step 2: "(fwd)" trailers */
	check("hello (fwd)", "hello", true);
	check("hello (FWD) (fwd)  ", "hello", true);
	/* step 5: "[fwd: ...]" and again from step 2 */
	check("[Fwd: Re: x]", "x", true);
	check("[fwd: [fwd: y (fwd)]]", "y", true);
	check("[fwd: z", "[fwd: z", false);
	check("Re: [Fwd: w]", "w", true);
}

static void test_encoded(void **state)
{
	(void)state;
	/* step 1 decodes RFC 2047 before anything is removed */
	check("=?utf-8?q?Re=3A_caf=C3=A9?=", "caf\xc3\xa9", true);
	check("Re: =?iso-8859-1?q?Gr=FC=DFe?=", "Gr\xc3\xbc\xc3\x9f" "e", true);
	check("=?utf-8?b?W1BBVENIXQ==?= x", "x", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_leaders),
		cmocka_unit_test(test_trailers_and_fwd),
		cmocka_unit_test(test_encoded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
