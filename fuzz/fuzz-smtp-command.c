/* fuzz-smtp-command.c: libFuzzer target for smtp_parse.h.
 *
 * The input is one command line. It goes through smtp_parse_command() and
 * then, whatever the verb, through every argument parser (MAIL, RCPT,
 * EHLO, HELO, BDAT, AUTH, xtext) so that each sees hostile bytes.
 * Invariants, checked with abort():
 *   - a refusal always carries a reply text, and a code of 500/501/553/555
 *     (0 only for SMTP_CMD_HTTP);
 *   - accepted addresses hold no NUL/CR/LF, respect the RFC 5321 limits,
 *     and their canonical form parses back to itself;
 *   - xtext: decode(encode(x)) == x, and decode agrees with valid. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "smtp/smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pool_t *pool;

static void check_err(const struct smtp_reply_err *err, bool http)
{
	if (err->text == NULL)
		abort();
	if (http ? err->code != 0 : (err->code < 500 || err->code > 555))
		abort();
}

static void check_clean(const char *s)
{
	if (strpbrk(s, "\r\n") != NULL)
		abort();
}

static void check_address(const struct smtp_address *a, bool rcpt,
			  bool utf8)
{
	check_clean(a->local);
	check_clean(a->domain);
	check_clean(a->canonical);
	if (strlen(a->domain) > SMTP_DOMAIN_MAX ||
	    strlen(a->canonical) + 2 > SMTP_PATH_MAX)
		abort();
	/* The canonical form must reparse to itself. */
	const char *line = pool_printf(pool, "%s:<%s>%s", rcpt ? "TO" : "FROM",
				       a->canonical,
				       utf8 && !rcpt ? " SMTPUTF8" : "");
	struct smtp_reply_err err;
	const char *again;
	if (rcpt) {
		struct smtp_rcpt r;
		if (smtp_parse_rcpt(line, strlen(line), SMTP_EXT_ALL, utf8,
				    pool, &r, &err) < 0)
			abort();
		again = r.to.canonical;
	} else {
		struct smtp_mail m;
		if (smtp_parse_mail(line, strlen(line), SMTP_EXT_ALL, pool,
				    &m, &err) < 0)
			abort();
		again = m.from.canonical;
	}
	if (strcmp(again, a->canonical) != 0)
		abort();
}

static void fuzz_args(const char *args, size_t len)
{
	struct smtp_reply_err err;
	struct smtp_mail mail;
	struct smtp_rcpt rcpt;

	if (smtp_parse_mail(args, len, SMTP_EXT_ALL, pool, &mail, &err) == 0)
		check_address(&mail.from, false, mail.params.smtputf8);
	else
		check_err(&err, false);
	if (smtp_parse_mail(args, len, SMTP_EXT_SIZE, pool, &mail, &err) < 0)
		check_err(&err, false);
	for (int utf8 = 0; utf8 < 2; utf8++) {
		if (smtp_parse_rcpt(args, len, SMTP_EXT_ALL, utf8, pool,
				    &rcpt, &err) == 0)
			check_address(&rcpt.to, true, utf8);
		else
			check_err(&err, false);
	}

	const char *domain;
	for (int ehlo = 0; ehlo < 2; ehlo++) {
		if (smtp_parse_helo(args, len, ehlo, pool, &domain, &err) == 0) {
			if (strlen(domain) != len)
				abort();
		} else {
			check_err(&err, false);
		}
	}
	struct smtp_bdat bdat;
	if (smtp_parse_bdat(args, len, UINT32_MAX, &bdat, &err) == 0) {
		if (bdat.size > UINT32_MAX || !bdat.size_valid)
			abort();
	} else {
		check_err(&err, false);
	}
	struct smtp_auth auth;
	if (smtp_parse_auth(args, len, pool, &auth, &err) == 0) {
		if (strlen(auth.mechanism) == 0 || strlen(auth.mechanism) > 20)
			abort();
	} else {
		check_err(&err, false);
	}

	str_t dec = STR_INIT, enc = STR_INIT, again = STR_INIT;
	const char *error;
	bool valid = smtp_xtext_valid(args, len);
	if ((smtp_xtext_decode(args, len, &dec, &error) == 0) != valid)
		abort();
	smtp_xtext_encode(args, len, &enc);
	if (!smtp_xtext_valid(enc.data, enc.len) ||
	    smtp_xtext_decode(enc.data, enc.len, &again, &error) < 0 ||
	    again.len != len || memcmp(str_c(&again), args, len) != 0)
		abort();
	str_free(&dec);
	str_free(&enc);
	str_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (pool == NULL)
		pool = pool_create(8192);
	pool_clear(pool);

	const char *line = (const char *)data;
	struct smtp_command cmd;
	struct smtp_reply_err err;
	if (smtp_parse_command(line, size, &cmd, &err) == 0) {
		if (cmd.args != NULL &&
		    (cmd.args < line || cmd.args + cmd.args_len > line + size))
			abort();
		if (cmd.args != NULL)
			fuzz_args(cmd.args, cmd.args_len);
	} else {
		check_err(&err, cmd.verb == SMTP_CMD_HTTP);
	}
	/* The raw bytes as arguments too, control characters included. */
	fuzz_args(line, size);
	return 0;
}
