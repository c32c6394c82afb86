/* test-smtp-path.c: unit tests for the MAIL and RCPT parsers of
 * smtp_parse.h: the Path grammar and its limits (RFC 5321 4.1.2,
 * 4.5.3.1), UTF-8 with SMTPUTF8 (RFC 6531), and the ESMTP parameters
 * (SIZE, BODY, SMTPUTF8, AUTH, RET, ENVID, NOTIFY, ORCPT). Covers
 * TESTING.md SMTP items 6 (hostile paths) and 7 (CR/LF/NUL in
 * parameters). */
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

/* ---- MAIL ---- */

#define EXTS SMTP_EXT_ALL

static const struct smtp_mail *mail_ok(const char *args, unsigned exts)
{
	static struct smtp_mail mail;
	struct smtp_reply_err err;
	if (smtp_parse_mail(args, strlen(args), exts, pool, &mail, &err) != 0)
		fail_msg("MAIL '%s' refused: %u %s %s", args, err.code,
			 err.enhanced, err.text);
	return &mail;
}

static void mail_bad_len(const char *args, size_t len, unsigned exts,
			 unsigned code, const char *enhanced)
{
	struct smtp_mail mail;
	struct smtp_reply_err err;
	if (smtp_parse_mail(args, len, exts, pool, &mail, &err) != -1)
		fail_msg("MAIL '%.*s' accepted", (int)len, args);
	if (err.code != code || strcmp(err.enhanced, enhanced) != 0)
		fail_msg("MAIL '%.*s': got %u %s %s, want %u %s", (int)len,
			 args, err.code, err.enhanced, err.text, code, enhanced);
}
#define MAIL_BAD(lit, code, enh) mail_bad_len(lit, sizeof(lit) - 1, EXTS, code, enh)
#define MAIL_BAD_EXTS(lit, exts, code, enh) mail_bad_len(lit, sizeof(lit) - 1, exts, code, enh)

static void mail_canon(const char *args, const char *canonical)
{
	assert_string_equal(mail_ok(args, EXTS)->from.canonical, canonical);
}

static void test_mail_path(void **state)
{
	(void)state;
	const struct smtp_mail *m = mail_ok("FROM:<>", EXTS);
	assert_true(m->from.null_path);
	assert_string_equal(m->from.canonical, "");

	m = mail_ok("from:<User.Name@Example.COM>", EXTS);
	assert_false(m->from.null_path);
	assert_string_equal(m->from.local, "User.Name");
	assert_string_equal(m->from.domain, "example.com");
	assert_string_equal(m->from.canonical, "User.Name@example.com");

	mail_canon("FROM: <a@b.example>", "a@b.example");	/* one SP: ok */
	mail_canon("FROM:<@a.example,@b.example:u@c.example>", "u@c.example");
	mail_canon("FROM:<@a.example:u@c.example>", "u@c.example");
	mail_canon("FROM:<\"abc\"@x.org>", "abc@x.org");
	mail_canon("FROM:<\"a\\bc\"@x.org>", "abc@x.org");
	mail_canon("FROM:<\"a.b\"@x.org>", "a.b@x.org");
	mail_canon("FROM:<\"a..b\"@x.org>", "\"a..b\"@x.org");
	mail_canon("FROM:<\"\"@x.org>", "\"\"@x.org");
	mail_canon("FROM:<\"a\\\"b\\\\\"@x.org>", "\"a\\\"b\\\\\"@x.org");
	mail_canon("FROM:<a!#$%&'*+-/=?^_`{|}~@x.org>", "a!#$%&'*+-/=?^_`{|}~@x.org");
	/* Quoted local parts may hold shell metacharacters (RFC 5321 4.1.2);
	 * keeping them away from shells is the delivery side's job. */
	m = mail_ok("FROM:<\";sleep 66;\"@x.org>", EXTS);
	assert_string_equal(m->from.local, ";sleep 66;");
	assert_string_equal(m->from.canonical, "\";sleep 66;\"@x.org");
	m = mail_ok("FROM:<\"john doe\"@x.org>", EXTS);
	assert_string_equal(m->from.local, "john doe");
	m = mail_ok("FROM:<\"a>b\"@x.org>", EXTS);
	assert_string_equal(m->from.local, "a>b");

	m = mail_ok("FROM:<a@[192.0.2.1]>", EXTS);
	assert_true(m->from.address_literal);
	assert_string_equal(m->from.domain, "[192.0.2.1]");
	mail_canon("FROM:<a@[010.0.0.1]>", "a@[10.0.0.1]");
	mail_canon("FROM:<a@[IPv6:2001:DB8:0:0:0:0:0:1]>", "a@[IPv6:2001:db8::1]");
	mail_canon("FROM:<a@[ipv6:::1]>", "a@[IPv6:::1]");

	/* RFC 5321 4.5.3.1: 64 / 255 / 256 octet limits */
	const char *buf;
	char local[70];
	memset(local, 'l', 64);
	local[64] = '\0';
	buf = pool_printf(pool, "FROM:<%s@x.org>", local);
	mail_ok(buf, EXTS);
	buf = pool_printf(pool, "FROM:<l%s@x.org>", local);
	mail_bad_len(buf, strlen(buf), EXTS, 501, "5.1.7");
	buf = pool_printf(pool, "FROM:<\"%.62s\"@x.org>", local);
	mail_ok(buf, EXTS);
	buf = pool_printf(pool, "FROM:<\"%.63s\"@x.org>", local);
	mail_bad_len(buf, strlen(buf), EXTS, 501, "5.1.7");

	char dom[300];
	for (size_t i = 0; i < 256; i += 2)
		memcpy(dom + i, "d.", 2);
	dom[253] = '\0';	/* 253 octets: path = 1+1+1+253+1 = 257 */
	buf = pool_printf(pool, "FROM:<a@%s>", dom);
	mail_bad_len(buf, strlen(buf), EXTS, 501, "5.5.4");	/* path */
	dom[251] = '\0';	/* path = 255 */
	buf = pool_printf(pool, "FROM:<a@%s>", dom);
	mail_ok(buf, EXTS);
	dom[251] = 'd';
	dom[255] = '\0';	/* domain 255 in a path of 259 */
	buf = pool_printf(pool, "FROM:<a@%s>", dom);
	mail_bad_len(buf, strlen(buf), EXTS, 501, "5.5.4");

	/* TESTING.md 6: hostile paths */
	MAIL_BAD("FROM:<;sleep 66;>", 501, "5.1.7");
	MAIL_BAD("FROM:<|/bin/sh>", 501, "5.1.7");
	MAIL_BAD("FROM:<`id`>", 501, "5.1.7");
	MAIL_BAD("FROM:<$(id)@x.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<a b@x.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<../../etc/passwd>", 501, "5.1.7");
	MAIL_BAD("FROM:<Postmaster>", 501, "5.1.7");	/* RCPT only */
	MAIL_BAD("FROM:<a..b@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<.a@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<a.@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<a@>", 501, "5.1.7");
	MAIL_BAD("FROM:<a@b@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<a@-b.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<a@b.org.>", 501, "5.1.7");
	MAIL_BAD("FROM:<a@[1.2.3.256]>", 501, "5.1.7");
	MAIL_BAD("FROM:<a@[x:y]>", 501, "5.1.7");
	MAIL_BAD("FROM:<\"unterminated@x.org>", 501, "5.5.4");
	MAIL_BAD("FROM:<\"a\\\"@x.org>", 501, "5.5.4");
	MAIL_BAD("FROM:<@a.org:>", 501, "5.1.7");
	MAIL_BAD("FROM:<@a.org,b.org:u@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<@:u@c.org>", 501, "5.1.7");
	MAIL_BAD("FROM:<\"a\x01\"@x.org>", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org\rc>", 501, "5.5.4");
	MAIL_BAD("FROM:<a\0@b.org>", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org\n>", 501, "5.5.4");

	/* keyword and brackets */
	MAIL_BAD("FROM:a@b.org", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org", 501, "5.5.4");
	MAIL_BAD("FROM:  <a@b.org>", 501, "5.5.4");
	MAIL_BAD("FROM :<a@b.org>", 501, "5.5.4");
	MAIL_BAD("FROM<a@b.org>", 501, "5.5.4");
	MAIL_BAD("TO:<a@b.org>", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org>x", 501, "5.5.4");
	MAIL_BAD("FROM:<<a@b.org>>", 501, "5.5.4");
	MAIL_BAD("FROM:", 501, "5.5.4");
}

static void test_mail_utf8(void **state)
{
	(void)state;
	/* RFC 6531 3.3: UTF-8 only with SMTPUTF8 */
	MAIL_BAD("FROM:<\xc3\xbcser@x.org>", 553, "5.6.7");
	MAIL_BAD("FROM:<u@ex\xc3\xa4mple.org>", 553, "5.6.7");
	MAIL_BAD_EXTS("FROM:<\xc3\xbc@x.org> SMTPUTF8", EXTS & ~SMTP_EXT_SMTPUTF8, 553, "5.6.7");

	const struct smtp_mail *m =
		mail_ok("FROM:<\xc3\xbcser@Ex\xc3\xa4mple.ORG> SMTPUTF8", EXTS);
	assert_true(m->params.smtputf8);
	assert_true(m->from.utf8);
	assert_string_equal(m->from.local, "\xc3\xbcser");
	assert_string_equal(m->from.domain, "ex\xc3\xa4mple.org");
	assert_string_equal(m->from.canonical, "\xc3\xbcser@ex\xc3\xa4mple.org");
	m = mail_ok("FROM:<\"\xe2\x82\xac x\"@x.org> smtputf8", EXTS);
	assert_string_equal(m->from.local, "\xe2\x82\xac x");
	m = mail_ok("FROM:<\xf0\x9f\x93\xa7@x.org> SMTPUTF8", EXTS);
	assert_false(mail_ok("FROM:<a@b.org> SMTPUTF8", EXTS)->from.utf8);

	/* strict UTF-8: overlong, surrogate, > U+10FFFF, truncated, stray */
	MAIL_BAD("FROM:<\xc0\xaf@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\xe0\x80\xaf@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\xed\xa0\x80@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\xf4\x90\x80\x80@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\xf5\x80\x80\x80@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\xc3@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\x80@x.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<u@\xc3.org> SMTPUTF8", 501, "5.1.7");
	MAIL_BAD("FROM:<\"\xc3\"@x.org> SMTPUTF8", 501, "5.1.7");
}

static void test_mail_params(void **state)
{
	(void)state;
	const struct smtp_mail *m = mail_ok("FROM:<a@b.org> SIZE=1000 BODY=8BITMIME", EXTS);
	assert_true(m->params.has_size);
	assert_true(m->params.size == 1000);
	assert_int_equal(m->params.body, SMTP_BODY_8BITMIME);
	assert_false(m->params.smtputf8);
	assert_null(m->params.auth);
	assert_null(m->params.envid);
	assert_int_equal(m->params.ret, SMTP_DSN_RET_UNSPECIFIED);

	m = mail_ok("FROM:<> size=18446744073709551615 body=7bit", EXTS);
	assert_true(m->params.size == UINT64_MAX);
	assert_int_equal(m->params.body, SMTP_BODY_7BIT);
	m = mail_ok("FROM:<a@b.org> BODY=BINARYMIME", EXTS);
	assert_int_equal(m->params.body, SMTP_BODY_BINARYMIME);
	m = mail_ok("FROM:<a@b.org> AUTH=<>", EXTS);
	assert_string_equal(m->params.auth, "<>");
	m = mail_ok("FROM:<a@b.org> AUTH=e+2Bf@x.org", EXTS);
	assert_string_equal(m->params.auth, "e+f@x.org");
	m = mail_ok("FROM:<a@b.org> RET=HDRS ENVID=QQ314159+2B1", EXTS);
	assert_int_equal(m->params.ret, SMTP_DSN_RET_HDRS);
	assert_string_equal(m->params.envid, "QQ314159+1");
	assert_string_equal(m->params.envid_xtext, "QQ314159+2B1");
	m = mail_ok("FROM:<a@b.org> ret=full", EXTS);
	assert_int_equal(m->params.ret, SMTP_DSN_RET_FULL);

	char envid[140] = "FROM:<a@b.org> ENVID=";
	size_t base = strlen(envid);
	memset(envid + base, 'e', 100);
	envid[base + 100] = '\0';
	mail_ok(envid, EXTS);
	envid[base + 100] = 'e';
	envid[base + 101] = '\0';
	mail_bad_len(envid, strlen(envid), EXTS, 501, "5.5.4");

	/* unknown, unadvertised, RCPT-only: 555 */
	MAIL_BAD("FROM:<a@b.org> FOO=bar", 555, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> X-EXT", 555, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> NOTIFY=NEVER", 555, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> BODY=9BIT", 555, "5.5.4");
	MAIL_BAD_EXTS("FROM:<a@b.org> SIZE=1", EXTS & ~SMTP_EXT_SIZE, 555, "5.5.4");
	MAIL_BAD_EXTS("FROM:<a@b.org> BODY=BINARYMIME", EXTS & ~SMTP_EXT_BINARYMIME, 555, "5.5.4");
	MAIL_BAD_EXTS("FROM:<a@b.org> AUTH=<>", EXTS & ~SMTP_EXT_AUTH, 555, "5.5.4");
	MAIL_BAD_EXTS("FROM:<a@b.org> RET=FULL", EXTS & ~SMTP_EXT_DSN, 555, "5.5.4");
	MAIL_BAD_EXTS("FROM:<a@b.org> SMTPUTF8", EXTS & ~SMTP_EXT_SMTPUTF8, 555, "5.5.4");

	/* syntax, duplicates, bad values: 501 */
	MAIL_BAD("FROM:<a@b.org> SIZE=1 SIZE=2", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=1 size=1", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=abc", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=-1", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=18446744073709551616", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=1=2", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=1  BODY=7BIT", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=1 ", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> =1", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> -X=1", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> X_Y=1", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> BODY", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SMTPUTF8=yes", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> RET=NONE", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> RET", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> AUTH=", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> AUTH=a+2b", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> AUTH=a+2", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> AUTH=a+", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ENVID=\xc3\xa4", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ENVID=\xc3\xa4 SMTPUTF8", 501, "5.5.4");
	/* TESTING.md 7: raw or xtext-encoded CR, LF, NUL: 501 */
	MAIL_BAD("FROM:<a@b.org> AUTH=a\rb@c", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> AUTH=a+0D+0AMAIL", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> AUTH=a+00b", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ENVID=x\ny", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ENVID=x+0Ay", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ENVID=x\0y", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> ENVID=x+7Fy", 501, "5.5.4");
	MAIL_BAD("FROM:<a@b.org> SIZE=1\r", 501, "5.5.4");
}

/* ---- RCPT ---- */

static const struct smtp_rcpt *rcpt_ok(const char *args, bool utf8)
{
	static struct smtp_rcpt rcpt;
	struct smtp_reply_err err;
	if (smtp_parse_rcpt(args, strlen(args), EXTS, utf8, pool, &rcpt, &err) != 0)
		fail_msg("RCPT '%s' refused: %u %s %s", args, err.code,
			 err.enhanced, err.text);
	return &rcpt;
}

static void rcpt_bad_len(const char *args, size_t len, unsigned exts,
			 bool utf8, unsigned code, const char *enhanced)
{
	struct smtp_rcpt rcpt;
	struct smtp_reply_err err;
	if (smtp_parse_rcpt(args, len, exts, utf8, pool, &rcpt, &err) != -1)
		fail_msg("RCPT '%.*s' accepted", (int)len, args);
	if (err.code != code || strcmp(err.enhanced, enhanced) != 0)
		fail_msg("RCPT '%.*s': got %u %s %s, want %u %s", (int)len,
			 args, err.code, err.enhanced, err.text, code, enhanced);
}
#define RCPT_BAD(lit, code, enh) rcpt_bad_len(lit, sizeof(lit) - 1, EXTS, false, code, enh)
#define RCPT_BAD_EXTS(lit, exts, code, enh) rcpt_bad_len(lit, sizeof(lit) - 1, exts, false, code, enh)

static void test_rcpt(void **state)
{
	(void)state;
	const struct smtp_rcpt *r = rcpt_ok("TO:<Postmaster>", false);
	assert_true(r->to.postmaster);
	assert_string_equal(r->to.canonical, "postmaster");
	assert_string_equal(r->to.domain, "");
	assert_true(rcpt_ok("to:<POSTMASTER>", false)->to.postmaster);
	r = rcpt_ok("TO:<postmaster@Example.org>", false);
	assert_false(r->to.postmaster);
	assert_string_equal(r->to.canonical, "postmaster@example.org");
	r = rcpt_ok("TO: <a@b.org>", false);
	assert_string_equal(r->to.canonical, "a@b.org");
	assert_int_equal(r->params.notify, 0);
	assert_null(r->params.orcpt_type);
	r = rcpt_ok("TO:<@relay.org:a@b.org>", false);
	assert_string_equal(r->to.canonical, "a@b.org");

	r = rcpt_ok("TO:<a@b.org> NOTIFY=SUCCESS,failure,DELAY ORCPT=rfc822;a+40b.org", false);
	assert_int_equal(r->params.notify, SMTP_NOTIFY_SUCCESS | SMTP_NOTIFY_FAILURE |
			 SMTP_NOTIFY_DELAY);
	assert_string_equal(r->params.orcpt_type, "rfc822");
	assert_string_equal(r->params.orcpt_addr, "a@b.org");
	assert_string_equal(r->params.orcpt_raw, "a+40b.org");
	r = rcpt_ok("TO:<a@b.org> NOTIFY=never ORCPT=RFC822;x", false);
	assert_int_equal(r->params.notify, SMTP_NOTIFY_NEVER);
	assert_string_equal(r->params.orcpt_type, "rfc822");
	r = rcpt_ok("TO:<a@b.org> ORCPT=utf-8;a\\x{20}b\\x{E9}@x.org", false);
	assert_string_equal(r->params.orcpt_type, "utf-8");
	assert_string_equal(r->params.orcpt_addr, "a\\x{20}b\\x{E9}@x.org");
	r = rcpt_ok("TO:<\xc3\xa9@x.org> ORCPT=utf-8;\xc3\xa9@x.org", true);
	assert_true(r->to.utf8);
	assert_string_equal(r->params.orcpt_raw, "\xc3\xa9@x.org");

	RCPT_BAD("TO:<>", 501, "5.1.3");
	RCPT_BAD("TO:<Postmaster@>", 501, "5.1.3");
	RCPT_BAD("TO:<Postmaster>x", 501, "5.5.4");
	RCPT_BAD("TO:<postmasters>", 501, "5.1.3");
	RCPT_BAD("TO:<|/bin/sh>", 501, "5.1.3");
	RCPT_BAD("TO:<;sleep 66;>", 501, "5.1.3");
	RCPT_BAD("FROM:<a@b.org>", 501, "5.5.4");
	RCPT_BAD("TO:<\xc3\xa9@x.org>", 553, "5.6.7");
	RCPT_BAD("TO:<a@b.org> SIZE=10", 555, "5.5.4");
	RCPT_BAD("TO:<a@b.org> FOO", 555, "5.5.4");
	RCPT_BAD_EXTS("TO:<a@b.org> NOTIFY=NEVER", EXTS & ~SMTP_EXT_DSN, 555, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=NEVER,SUCCESS", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=DELAY,NEVER", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=SUCCESS,,DELAY", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=SUCCESS,", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=ALWAYS", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> NOTIFY=NEVER NOTIFY=NEVER", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=rfc822;", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=rfc822", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=x400;abc", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=;abc", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=rfc822;a+0Db", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=rfc822;a+0D+0A.+0D+0A", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=rfc822;a\rb", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=rfc822;a\0b", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{41}", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{D800}", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{0E9}", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{D}", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{110000}", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{e9}", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\\x{E9", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;a+b", 501, "5.5.4");
	RCPT_BAD("TO:<a@b.org> ORCPT=utf-8;\xc3\xa9", 501, "5.5.4");

	char orcpt[600] = "TO:<a@b.org> ORCPT=";
	size_t base = strlen(orcpt);
	memcpy(orcpt + base, "rfc822;", 7);
	memset(orcpt + base + 7, 'o', 493);
	orcpt[base + 500] = '\0';
	rcpt_ok(orcpt, false);
	orcpt[base + 500] = 'o';
	orcpt[base + 501] = '\0';
	rcpt_bad_len(orcpt, strlen(orcpt), EXTS, false, 501, "5.5.4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mail_path),
		cmocka_unit_test(test_mail_utf8),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_rcpt),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
