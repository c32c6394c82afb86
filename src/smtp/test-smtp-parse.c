/* test-smtp-parse.c: unit tests for smtp_parse.h: command split, HTTP
 * detection, EHLO/HELO, BDAT, AUTH, xtext (MAIL and RCPT are in
 * test-smtp-path.c). Covers TESTING.md SMTP items 7 (CR/LF/NUL in
 * arguments, at the command level), 8 (BDAT sizes) and 9 (HTTP request
 * lines). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "smtp/smtp_parse.h"

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

/* ---- command line ---- */

static void cmd_ok(const char *line, enum smtp_cmd_verb verb, const char *args)
{
	struct smtp_command cmd;
	struct smtp_reply_err err;
	if (smtp_parse_command(line, strlen(line), &cmd, &err) != 0)
		fail_msg("command '%s' refused: %u %s", line, err.code, err.text);
	assert_int_equal(cmd.verb, verb);
	if (args == NULL) {
		assert_null(cmd.args);
	} else {
		assert_int_equal(cmd.args_len, strlen(args));
		assert_memory_equal(cmd.args, args, cmd.args_len);
	}
}

static void cmd_bad(const char *line, size_t len, enum smtp_cmd_verb verb,
		    unsigned code, const char *enhanced)
{
	struct smtp_command cmd;
	struct smtp_reply_err err;
	if (smtp_parse_command(line, len, &cmd, &err) != -1)
		fail_msg("command '%.*s' accepted", (int)len, line);
	assert_int_equal(cmd.verb, verb);
	assert_int_equal(err.code, code);
	if (enhanced != NULL)
		assert_string_equal(err.enhanced, enhanced);
	assert_non_null(err.text);
}
#define CMD_BAD(lit, verb, code, enh) cmd_bad(lit, sizeof(lit) - 1, verb, code, enh)

static void test_command(void **state)
{
	(void)state;
	cmd_ok("EHLO example.com", SMTP_CMD_EHLO, "example.com");
	cmd_ok("ehlo example.com\r\n", SMTP_CMD_EHLO, "example.com");
	cmd_ok("HeLo x", SMTP_CMD_HELO, "x");
	cmd_ok("MAIL FROM:<>", SMTP_CMD_MAIL, "FROM:<>");
	cmd_ok("RCPT TO:<a@b>", SMTP_CMD_RCPT, "TO:<a@b>");
	cmd_ok("DATA", SMTP_CMD_DATA, NULL);
	cmd_ok("BDAT 10 LAST", SMTP_CMD_BDAT, "10 LAST");
	cmd_ok("RSET", SMTP_CMD_RSET, NULL);
	cmd_ok("NOOP", SMTP_CMD_NOOP, NULL);
	cmd_ok("NOOP hello there", SMTP_CMD_NOOP, "hello there");
	cmd_ok("QUIT", SMTP_CMD_QUIT, NULL);
	cmd_ok("quit\r\n", SMTP_CMD_QUIT, NULL);
	cmd_ok("VRFY postmaster", SMTP_CMD_VRFY, "postmaster");
	cmd_ok("EXPN list", SMTP_CMD_EXPN, "list");
	cmd_ok("HELP", SMTP_CMD_HELP, NULL);
	cmd_ok("HELP MAIL", SMTP_CMD_HELP, "MAIL");
	cmd_ok("STARTTLS", SMTP_CMD_STARTTLS, NULL);
	cmd_ok("AUTH PLAIN", SMTP_CMD_AUTH, "PLAIN");
	cmd_ok("NOOP \xc3\xa4", SMTP_CMD_NOOP, "\xc3\xa4");

	CMD_BAD("QUIT ", SMTP_CMD_QUIT, 501, "5.5.4");
	CMD_BAD("DATA x", SMTP_CMD_DATA, 501, "5.5.4");
	CMD_BAD("STARTTLS now", SMTP_CMD_STARTTLS, 501, "5.5.4");
	CMD_BAD("RSET ", SMTP_CMD_RSET, 501, "5.5.4");
	CMD_BAD("NOOP ", SMTP_CMD_NOOP, 501, "5.5.4");
	CMD_BAD("EHLO", SMTP_CMD_EHLO, 501, "5.5.4");
	CMD_BAD("EHLO ", SMTP_CMD_EHLO, 501, "5.5.4");
	CMD_BAD("MAIL", SMTP_CMD_MAIL, 501, "5.5.4");
	CMD_BAD("MAIL  FROM:<>", SMTP_CMD_MAIL, 501, "5.5.4");
	CMD_BAD("FOO bar", SMTP_CMD_UNKNOWN, 500, "5.5.1");
	CMD_BAD("", SMTP_CMD_UNKNOWN, 500, "5.5.1");
	CMD_BAD(" QUIT", SMTP_CMD_UNKNOWN, 500, "5.5.1");
	CMD_BAD("QUITX", SMTP_CMD_UNKNOWN, 500, "5.5.1");
	CMD_BAD("MAIL:FROM", SMTP_CMD_UNKNOWN, 500, "5.5.1");
	CMD_BAD("QU\0IT", SMTP_CMD_UNKNOWN, 500, "5.5.2");
	CMD_BAD("QUIT\r", SMTP_CMD_UNKNOWN, 500, "5.5.2");
	CMD_BAD("QUIT\n", SMTP_CMD_UNKNOWN, 500, "5.5.2");
	CMD_BAD("\x7fQUIT", SMTP_CMD_UNKNOWN, 500, "5.5.2");
	CMD_BAD("NOOP a\rb", SMTP_CMD_NOOP, 501, "5.5.4");
	CMD_BAD("NOOP a\tb", SMTP_CMD_NOOP, 501, "5.5.4");
	CMD_BAD("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>", SMTP_CMD_MAIL, 501, "5.5.4");
	/* TESTING.md 7: CR, LF, NUL inside ESMTP parameters: 501 */
	CMD_BAD("MAIL FROM:<a@b> AUTH=a\rb", SMTP_CMD_MAIL, 501, "5.5.4");
	CMD_BAD("MAIL FROM:<a@b> ENVID=a\nb", SMTP_CMD_MAIL, 501, "5.5.4");
	CMD_BAD("RCPT TO:<a@b> ORCPT=rfc822;a\0b", SMTP_CMD_RCPT, 501, "5.5.4");

	/* TESTING.md 9: HTTP request lines: disconnect, code 0 */
	CMD_BAD("GET / HTTP/1.1", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("GET / HTTP/1.1\r\n", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("POST /x HTTP/1.0", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("HEAD / HTTP/1.1", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("PUT /a HTTP/1.1", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("CONNECT mx:25 HTTP/1.1", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("get / http/1.1", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("PRI * HTTP/2.0", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("GET /\0\x01", SMTP_CMD_HTTP, 0, NULL);
	CMD_BAD("GET", SMTP_CMD_UNKNOWN, 500, "5.5.1");

	assert_string_equal(smtp_cmd_verb_name(SMTP_CMD_STARTTLS), "STARTTLS");
	assert_string_equal(smtp_cmd_verb_name(SMTP_CMD_HTTP), "HTTP");
	assert_string_equal(smtp_cmd_verb_name(SMTP_CMD_UNKNOWN), "UNKNOWN");
}

/* ---- EHLO / HELO ---- */

static void helo_check(const char *arg, bool ehlo, bool ok)
{
	const char *domain = NULL;
	struct smtp_reply_err err;
	int ret = smtp_parse_helo(arg, strlen(arg), ehlo, pool, &domain, &err);
	if (ok && ret != 0)
		fail_msg("%s '%s' refused", ehlo ? "EHLO" : "HELO", arg);
	if (!ok && ret != -1)
		fail_msg("%s '%s' accepted", ehlo ? "EHLO" : "HELO", arg);
	if (ok) {
		assert_string_equal(domain, arg);
	} else {
		assert_int_equal(err.code, 501);
		assert_string_equal(err.enhanced, "5.5.4");
	}
}

static void test_helo(void **state)
{
	(void)state;
	char label64[80], long_domain[300];
	memset(label64, 'a', 64);
	memcpy(label64 + 64, ".com", 5);
	memset(long_domain, 0, sizeof(long_domain));
	for (size_t i = 0; i < 256; i += 2)
		memcpy(long_domain + i, "a.", 2);
	long_domain[255] = '\0';	/* 255 octets: "a.a. ... a" */

	static const char *const good[] = {
		"example.com", "a", "localhost", "mx-1.example.org",
		"xn--bcher-kva.example", "1.2.3.4.in-addr.arpa", "A-B.C9",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		helo_check(good[i], true, true);
		helo_check(good[i], false, true);
	}
	helo_check(long_domain, true, true);
	helo_check(label64 + 1, true, true);	/* a 63-octet label */
	helo_check("[192.0.2.1]", true, true);
	helo_check("[IPv6:2001:db8::1]", true, true);
	helo_check("[IPv6:::ffff:192.0.2.1]", true, true);

	static const char *const bad[] = {
		"-a.com", "a-.com", "a..b", ".a", "a.", "a_b.com", "exa mple",
		"example.com x", "ex\xc3\xa4mple.com", "[192.0.2.1]x", "[]",
		"[300.1.1.1]", "[1.2.3]", "[1.2.3.4.5]", "[1.2.3.4", "[01234.1.1.1]",
		"[IPv6:zz::1]", "[IPv6:1:2:3:4:5:6:7:8:9]", "[IPv6:]",
		"[tag:content]", "[::1]", "a@b", "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		helo_check(bad[i], true, false);
	helo_check(label64, true, false);
	long_domain[255] = 'a';
	long_domain[256] = '\0';
	helo_check(long_domain, true, false);
	/* HELO takes a Domain only (RFC 5321 4.1.1.1) */
	helo_check("[192.0.2.1]", false, false);
}

/* ---- BDAT ---- */

static void bdat_check(const char *args, uint64_t max, int want,
		       uint64_t size, bool last, bool size_valid)
{
	struct smtp_bdat bdat;
	struct smtp_reply_err err;
	int ret = smtp_parse_bdat(args, strlen(args), max, &bdat, &err);
	if (ret != want)
		fail_msg("BDAT '%s': got %d want %d", args, ret, want);
	assert_int_equal(bdat.size_valid, size_valid);
	if (size_valid)
		assert_true(bdat.size == size);
	if (ret == 0) {
		assert_int_equal(bdat.last, last);
	} else {
		assert_int_equal(err.code, 501);
		assert_string_equal(err.enhanced, "5.5.4");
	}
}

static void test_bdat(void **state)
{
	(void)state;
	bdat_check("1000", 1u << 20, 0, 1000, false, true);
	bdat_check("0 LAST", 1u << 20, 0, 0, true, true);
	bdat_check("10 last", 1u << 20, 0, 10, true, true);
	bdat_check("007", 1u << 20, 0, 7, false, true);
	bdat_check("0000000000000000000000000000042", 100, 0, 42, false, true);
	bdat_check("4294967295", UINT32_MAX, 0, UINT32_MAX, false, true);
	bdat_check("18446744073709551615", UINT64_MAX, 0, UINT64_MAX, false, true);
	/* TESTING.md 8 */
	bdat_check("4294967296", UINT32_MAX, -1, 4294967296ull, false, true);
	bdat_check("1001", 1000, -1, 1001, false, true);
	bdat_check("1001 LAST", 1000, -1, 1001, false, true);
	bdat_check("18446744073709551616", UINT64_MAX, -1, 0, false, false);
	bdat_check("99999999999999999999999", UINT64_MAX, -1, 0, false, false);
	bdat_check("-1", UINT64_MAX, -1, 0, false, false);
	bdat_check("+1", UINT64_MAX, -1, 0, false, false);
	bdat_check("1 LAST x", UINT64_MAX, -1, 0, false, false);
	bdat_check("1  LAST", UINT64_MAX, -1, 0, false, false);
	bdat_check("1 LASTX", UINT64_MAX, -1, 0, false, false);
	bdat_check("1 ", UINT64_MAX, -1, 0, false, false);
	bdat_check(" 1", UINT64_MAX, -1, 0, false, false);
	bdat_check("", UINT64_MAX, -1, 0, false, false);
	bdat_check("LAST", UINT64_MAX, -1, 0, false, false);
	bdat_check("0x10", UINT64_MAX, -1, 0, false, false);
	bdat_check("1e3", UINT64_MAX, -1, 0, false, false);
}

/* ---- AUTH ---- */

static void test_auth(void **state)
{
	(void)state;
	struct smtp_auth auth;
	struct smtp_reply_err err;

	assert_int_equal(smtp_parse_auth("PLAIN", 5, pool, &auth, &err), 0);
	assert_string_equal(auth.mechanism, "PLAIN");
	assert_null(auth.initial_response);
	assert_int_equal(smtp_parse_auth("plain =", 7, pool, &auth, &err), 0);
	assert_string_equal(auth.mechanism, "PLAIN");
	assert_string_equal(auth.initial_response, "");
	assert_int_equal(smtp_parse_auth("PLAIN AHVzZXIAcGFzcw==", 22, pool, &auth, &err), 0);
	assert_string_equal(auth.initial_response, "AHVzZXIAcGFzcw==");
	assert_int_equal(smtp_parse_auth("SCRAM-SHA-256 biwsbj11c2Vy", 26, pool,
					 &auth, &err), 0);
	assert_string_equal(auth.mechanism, "SCRAM-SHA-256");
	assert_int_equal(smtp_parse_auth("X_Y9 dGVzdA=", 12, pool, &auth, &err), -1);
	assert_int_equal(smtp_parse_auth("X_Y9 dGVzdGE=", 13, pool, &auth, &err), 0);
	assert_int_equal(smtp_parse_auth("ABCDEFGHIJKLMNOPQRST", 20, pool, &auth, &err), 0);

	static const char *const bad[] = {
		"", " PLAIN", "ABCDEFGHIJKLMNOPQRSTU", "PL@IN", "PLAIN ",
		"PLAIN *", "PLAIN dGVzdA=", "PLAIN dG=zdA==", "PLAIN ====",
		"PLAIN dGVzdA== x", "PLAIN  dGVzdA==", "PLAIN ===", "PLAIN ==",
		"PLAIN \xc3\xa4\xc3\xa4", "PLAIN a===",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (smtp_parse_auth(bad[i], strlen(bad[i]), pool, &auth, &err) != -1)
			fail_msg("AUTH '%s' accepted", bad[i]);
		assert_int_equal(err.code, 501);
	}
}

/* ---- xtext ---- */

static void test_xtext(void **state)
{
	(void)state;
	str_t out = STR_INIT;
	const char *error = NULL;

	assert_int_equal(smtp_xtext_decode("abc+2B+3D~!", 11, &out, &error), 0);
	assert_string_equal(str_c(&out), "abc+=~!");
	static const char *const bad[] = {
		"+2b", "+2", "+", "a=b", "a b", "+G0", "\xc3\xa4", "a\rb",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		str_clear(&out);
		error = NULL;
		if (smtp_xtext_decode(bad[i], strlen(bad[i]), &out, &error) != -1)
			fail_msg("xtext '%s' accepted", bad[i]);
		assert_non_null(error);
		assert_false(smtp_xtext_valid(bad[i], strlen(bad[i])));
	}
	assert_true(smtp_xtext_valid("", 0));
	assert_true(smtp_xtext_valid("a+00~", 5));

	str_clear(&out);
	smtp_xtext_encode("a+b=c d\x01\xff", 9, &out);
	assert_string_equal(str_c(&out), "a+2Bb+3Dc+20d+01+FF");

	/* Every byte value survives encode then decode. */
	char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	str_t enc = STR_INIT;
	smtp_xtext_encode(all, sizeof(all), &enc);
	assert_true(smtp_xtext_valid(enc.data, enc.len));
	str_clear(&out);
	assert_int_equal(smtp_xtext_decode(enc.data, enc.len, &out, &error), 0);
	assert_int_equal(out.len, 256);
	assert_memory_equal(out.data, all, 256);
	str_free(&enc);
	str_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_bdat),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_xtext),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
