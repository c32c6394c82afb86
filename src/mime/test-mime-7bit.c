/* test-mime-7bit.c: the 8-bit to 7-bit conversion of
 * mime_7bit.c (RFC 6152 3, RFC 2045 6.7): exact output for a plain
 * message, a multipart with nested message/rfc822 and a digest, the same
 * output whatever the read size (1, 7, 8192 octets), long lines softly
 * broken within 76 characters, every output octet 7-bit, and nesting too
 * deep to convert reported as an error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_7bit.h"

struct mem_source {
	const char *data;
	size_t len, pos, chunk;
};

static ssize_t mem_read(void *ctx, void *buf, size_t size)
{
	struct mem_source *m = ctx;
	size_t n = m->len - m->pos;
	if (n > m->chunk)
		n = m->chunk;
	if (n > size)
		n = size;
	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* The converted message, read out size octets at a time; NULL (and
 * *error_r) when the converter refused. */
static char *convert(const char *in, size_t chunk, size_t out_size, const char **error_r)
{
	struct mem_source m = { in, strlen(in), 0, chunk };
	struct mime_7bit *c = mime_7bit_new(mem_read, &m);
	str_t out = STR_INIT;
	char buf[8192];
	ssize_t n;
	unsigned guard = 0;
	while ((n = mime_7bit_read(c, buf, out_size)) > 0 && guard++ < 10000000)
		str_append(&out, buf, (size_t)n);
	char *ret = NULL;
	*error_r = mime_7bit_error(c);
	if (n == 0)
		ret = xstrdup(str_c(&out));
	else
		assert_non_null(*error_r);
	mime_7bit_free(&c);
	str_free(&out);
	return ret;
}

static void assert_7bit_short_lines(const char *s)
{
	size_t col = 0;
	for (; *s != '\0'; s++) {
		assert_true((unsigned char)*s < 0x80);
		if (*s == '\n') {
			assert_true(col <= 77);   /* 76 and the CR */
			col = 0;
		} else {
			col++;
		}
	}
}

static void check_all_chunks(const char *in, const char *want)
{
	static const size_t chunks[] = { 1, 7, 8192 };
	static const size_t outs[] = { 1, 5, 8192 };
	for (unsigned i = 0; i < 3; i++) {
		const char *error;
		char *got = convert(in, chunks[i], outs[i], &error);
		assert_non_null(got);
		assert_string_equal(got, want);
		assert_7bit_short_lines(got);
		free(got);
	}
}

static void test_plain_message(void **state)
{
	(void)state;
	check_all_chunks(
		"Subject: caf\n"
		"Content-Transfer-Encoding: 8bit\n"
		"Content-Type: text/plain; charset=utf-8\n"
		"\n"
		"caf\xc3\xa9 = ok \n"
		".dot\ttab\t\n"
		"\n"
		"--not a boundary\n"
		"end",
		"Subject: caf\r\n"
		"Content-Type: text/plain; charset=utf-8\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"MIME-Version: 1.0\r\n"
		"\r\n"
		"caf=C3=A9 =3D ok=20\r\n"
		".dot\ttab=09\r\n"
		"\r\n"
		"--not a boundary\r\n"
		"end");
}

static void test_multipart_nested(void **state)
{
	(void)state;
	check_all_chunks(
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed;\r\n boundary=\"outer b\"\r\n"
		"Content-Transfer-Encoding: 8bit\r\n"
		"\r\n"
		"preamble\r\n"
		"--outer b\r\n"
		"Content-Type: text/plain\r\n"
		"\r\n"
		"\xff\r\n"
		"--outer b\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AAAA\r\n"
		"--outer b  \r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 8BIT\r\n"
		"\r\n"
		"Subject: inner\r\n"
		"Content-Type: multipart/digest; boundary=d\r\n"
		"\r\n"
		"--d\r\n"
		"\r\n"
		"Subject: digest part\r\n"
		"\r\n"
		"\xc3\xa4\r\n"
		"--d--\r\n"
		"--outer b--\r\n"
		"epilogue\r\n",
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/mixed;\r\n boundary=\"outer b\"\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"preamble\r\n"
		"--outer b\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=FF\r\n"
		"--outer b\r\n"
		"Content-Type: text/plain\r\n"
		"Content-Transfer-Encoding: base64\r\n"
		"\r\n"
		"AAAA\r\n"
		"--outer b  \r\n"
		"Content-Type: message/rfc822\r\n"
		"Content-Transfer-Encoding: 7bit\r\n"
		"\r\n"
		"Subject: inner\r\n"
		"Content-Type: multipart/digest; boundary=d\r\n"
		"\r\n"
		"--d\r\n"
		"\r\n"
		"Subject: digest part\r\n"
		"Content-Transfer-Encoding: quoted-printable\r\n"
		"\r\n"
		"=C3=A4\r\n"
		"--d--\r\n"
		"--outer b--\r\n"
		"epilogue\r\n");
}

static void test_long_lines_soft_broken(void **state)
{
	(void)state;
	/* 10000 octets: longer than MIME_7BIT_LINE_MAX, and "-" at
	 * every place a soft break may fall */
	str_t in = STR_INIT, want = STR_INIT;
	str_appendz(&in, "Content-Type: text/plain\n\n");
	for (unsigned i = 0; i < 10000; i++)
		str_appendc(&in, i % 3 == 0 ? '-' : (char)0xe9);
	str_appendz(&in, "\nx\n");
	const char *error;
	char *got = convert(str_c(&in), 8192, 8192, &error);
	assert_non_null(got);
	assert_7bit_short_lines(got);
	/* decoded again, it is what went in */
	const char *body = strstr(got, "\r\n\r\n") + 4;
	str_appendz(&want, "Content-Type: text/plain\n\n");
	for (const char *p = body; *p != '\0'; p++) {
		if (p[0] == '=' && p[1] == '\r') {
			p += 2;
			continue;
		}
		if (p[0] == '=') {
			unsigned v = 0;
			for (unsigned k = 1; k <= 2; k++)
				v = v * 16 + (unsigned)(p[k] <= '9' ? p[k] - '0' : p[k] - 'A' + 10);
			str_appendc(&want, (char)v);
			p += 2;
			continue;
		}
		/* a soft-broken segment never starts with "-" */
		if (p[0] == '-')
			assert_true(p[-1] != '\n' || p[-2] != '\r' || p[-3] != '=');
		if (p[0] != '\r')
			str_appendc(&want, *p);
	}
	assert_string_equal(str_c(&want), str_c(&in));
	free(got);
	str_free(&in);
	str_free(&want);
}

static void test_too_deep_is_an_error(void **state)
{
	(void)state;
	str_t in = STR_INIT;
	for (unsigned i = 0; i < MIME_7BIT_DEPTH_MAX + 1; i++)
		str_printf(&in, "Content-Type: multipart/mixed; boundary=b%u\n\n--b%u\n", i, i);
	str_appendz(&in, "\n\xff\n");
	const char *error;
	char *got = convert(str_c(&in), 8192, 8192, &error);
	assert_null(got);
	assert_non_null(strstr(error, "too deep"));
	str_free(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_message),
		cmocka_unit_test(test_multipart_nested),
		cmocka_unit_test(test_long_lines_soft_broken),
		cmocka_unit_test(test_too_deep_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
