/* smtp_parse_private.h: helpers shared by smtp_parse.c, smtp_path.c and
 * smtp_params.c. Not for use outside src/smtp/smtp_pa*.c.
 *
 * Contract: pure functions over byte slices; nothing here allocates except
 * where a pool is passed. */
#ifndef POSTEL_SMTP_PARSE_PRIVATE_H
#define POSTEL_SMTP_PARSE_PRIVATE_H

#include "smtp/smtp_parse.h"

static inline int smtp_reply_err_set(struct smtp_reply_err *err_r,
				     unsigned code, const char *enhanced,
				     const char *text)
{
	err_r->code = code;
	err_r->enhanced = enhanced;
	err_r->text = text;
	return -1;
}

static inline bool smtp_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static inline bool smtp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Length of the strict UTF-8 encoding of one non-ASCII code point at s
 * (RFC 3629 4: no overlongs, no surrogates, max U+10FFFF), or 0 if the
 * bytes there are not one. */
size_t smtp_utf8_seq_len(const unsigned char *s, size_t len);

/* RFC 5321 4.1.2 Domain: sub-domains of Let-dig [Ldh-str] joined by '.',
 * at most 255 octets, ASCII labels at most 63 (RFC 1035 2.3.4). With
 * allow_utf8, a label may hold UTF-8 as a U-label (RFC 6531 3.3); IDNA2008
 * rules are not checked beyond strict UTF-8. */
bool smtp_domain_valid(const char *s, size_t len, bool allow_utf8);

/* RFC 5321 4.1.3 address literal, brackets included: "[IPv4]" (Snum
 * 0-255) or "[IPv6:...]" (checked by inet_pton). General-address-literal
 * tags are refused: none is registered. On success, *norm_r (if pool is
 * not NULL) is the literal normalised: "[192.0.2.1]", "[IPv6:2001:db8::1]". */
bool smtp_address_literal_parse(const char *s, size_t len, pool_t *pool,
				const char **norm_r);

/* MAIL/RCPT parameters (smtp_params.c). params excludes the SP after the
 * path; len may be 0 (no parameters). smtputf8_r: MAIL only, whether the
 * SMTPUTF8 parameter is present and advertised, found before anything
 * else is checked so that callers can decide on UTF-8 in the path. */
bool smtp_params_has_smtputf8(const char *params, size_t len, unsigned exts);
int smtp_params_parse_mail(const char *params, size_t len, unsigned exts,
			   pool_t *pool, struct smtp_mail_params *params_r,
			   struct smtp_reply_err *err_r);
int smtp_params_parse_rcpt(const char *params, size_t len, unsigned exts,
			   bool smtputf8, pool_t *pool,
			   struct smtp_rcpt_params *params_r,
			   struct smtp_reply_err *err_r);

#endif
