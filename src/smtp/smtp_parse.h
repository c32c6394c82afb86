/* smtp_parse.h: strict, pure parsers for SMTP command lines (RFC 5321).
 *
 * Contract: every function here works on a byte slice the caller owns and
 * does no I/O. Parsers accept only what the RFC grammar allows (the few
 * deliberate exceptions are listed at the function) and, on refusal, fill a
 * struct smtp_reply_err with the reply the session should send. Reply texts
 * are static strings that never echo client input. Strings returned on
 * success are NUL-terminated copies in the caller's pool (or slices of the
 * caller's line, where said). NUL, CR and LF are refused everywhere.
 *
 * Return convention for parsers: 0 = accepted, -1 = refused (err_r filled).
 *
 * Typical session use:
 *   struct smtp_command cmd;
 *   if (smtp_parse_command(line, len, &cmd, &err) < 0) {
 *           if (cmd.verb == SMTP_CMD_HTTP) disconnect without reply;
 *           else reply err.code err.enhanced err.text;
 *   }
 *   switch (cmd.verb) { case SMTP_CMD_MAIL:
 *           smtp_parse_mail(cmd.args, cmd.args_len, exts, pool, &mail, &err);
 *   ... } */
#ifndef POSTEL_SMTP_PARSE_H
#define POSTEL_SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/mem.h"
#include "lib/str.h"

/* RFC 5321 4.5.3.1 limits, in octets. */
#define SMTP_LOCAL_PART_MAX 64
#define SMTP_DOMAIN_MAX 255
#define SMTP_PATH_MAX 256	/* including "<" and ">" */
#define SMTP_ENVID_MAX 100	/* RFC 3461 4.4, xtext form */
#define SMTP_ORCPT_MAX 500	/* RFC 3461 4.2, value after "ORCPT=" */

/* A refusal: the complete SMTP reply the session should send, e.g.
 * { 501, "5.5.4", "Bad SIZE value" }. Strings are static. */
struct smtp_reply_err {
	unsigned code;
	const char *enhanced;
	const char *text;
};

/* ---- Command line ---- */

enum smtp_cmd_verb {
	SMTP_CMD_UNKNOWN = 0,
	SMTP_CMD_EHLO, SMTP_CMD_HELO, SMTP_CMD_MAIL, SMTP_CMD_RCPT,
	SMTP_CMD_DATA, SMTP_CMD_BDAT, SMTP_CMD_RSET, SMTP_CMD_NOOP,
	SMTP_CMD_QUIT, SMTP_CMD_VRFY, SMTP_CMD_EXPN, SMTP_CMD_HELP,
	SMTP_CMD_STARTTLS, SMTP_CMD_AUTH,
	/* An HTTP request line (GET, POST, HEAD, PUT, CONNECT, OPTIONS,
	 * DELETE, TRACE, PATCH followed by SP): a browser or a cross-protocol
	 * attack (ALPACA). Disconnect at once; never echo the input. */
	SMTP_CMD_HTTP,
};

struct smtp_command {
	enum smtp_cmd_verb verb;
	/* Slice of the caller's line after the single SP following the
	 * verb; NULL/0 when there is none. Not NUL-terminated. */
	const char *args;
	size_t args_len;
};

/* Split a command line into verb and arguments (RFC 5321 4.1.1: verb, then
 * one SP, then arguments). line excludes the CRLF; one trailing CRLF, if
 * present, is ignored. The verb is case-insensitive. Refused (-1):
 *   - SMTP_CMD_HTTP: err_r is {0, NULL, ...}: close the connection, send
 *     nothing (checked first, before any other rule).
 *   - a control character in the verb: 500 5.5.2, verb UNKNOWN.
 *   - an unknown verb: 500 5.5.1, verb UNKNOWN.
 *   - otherwise cmd_r->verb is set, and refusals are 501 5.5.4: wrong
 *     argument count (DATA, RSET, QUIT, STARTTLS take none, even a
 *     trailing SP is refused; NOOP and HELP take optional text; the others
 *     require arguments), more than one SP after the verb, or a control
 *     character (NUL, CR, LF, TAB, DEL...) in the arguments.
 * Bytes >= 0x80 pass here: the address parsers decide about UTF-8. */
int smtp_parse_command(const char *line, size_t len,
		       struct smtp_command *cmd_r, struct smtp_reply_err *err_r);

/* Name of a verb for logs ("MAIL"), "UNKNOWN" or "HTTP". */
const char *smtp_cmd_verb_name(enum smtp_cmd_verb verb);

/* ---- EHLO / HELO ---- */

/* EHLO takes Domain / address-literal, HELO only a Domain (RFC 5321
 * 4.1.1.1). ASCII only (RFC 6531 3.7.1). *domain_r is the argument as
 * given, copied into pool. Refused: 501 5.5.4. */
int smtp_parse_helo(const char *args, size_t len, bool ehlo, pool_t *pool,
		    const char **domain_r, struct smtp_reply_err *err_r);

/* ---- MAIL / RCPT ---- */

/* Extensions the server advertised in its EHLO reply. A parameter of an
 * extension not advertised is refused with 555 5.5.4 (RFC 5321 4.1.1.11). */
enum smtp_ext {
	SMTP_EXT_SIZE = 1u << 0,	/* RFC 1870 */
	SMTP_EXT_8BITMIME = 1u << 1,	/* RFC 6152: BODY=7BIT|8BITMIME */
	SMTP_EXT_BINARYMIME = 1u << 2,	/* RFC 3030: BODY=BINARYMIME */
	SMTP_EXT_SMTPUTF8 = 1u << 3,	/* RFC 6531 */
	SMTP_EXT_DSN = 1u << 4,		/* RFC 3461: RET ENVID NOTIFY ORCPT */
	SMTP_EXT_AUTH = 1u << 5,	/* RFC 4954: AUTH= */
	SMTP_EXT_REQUIRETLS = 1u << 6,	/* RFC 8689: only over TLS */
};
#define SMTP_EXT_ALL 0x7fu

/* A parsed path. All strings are NUL-terminated, in the caller's pool,
 * never NULL. A source route (RFC 5321 4.1.2 A-d-l) is parsed and dropped
 * (RFC 5321 3.6.1, C.). */
struct smtp_address {
	/* Local part in unquoted form: quotes and backslashes removed, so it
	 * may contain any printable byte ("a b", ";x", "|y"). */
	const char *local;
	/* Domain, ASCII letters lowered, or a normalised address literal
	 * "[192.0.2.1]" / "[IPv6:2001:db8::1]". "" for <> and <Postmaster>. */
	const char *domain;
	/* "local@domain" with the local part re-quoted only when it is not a
	 * Dot-string (RFC 5321 4.1.2: no needless quoting). "" for <>,
	 * "postmaster" for <Postmaster>. Reparses to itself inside "<>". */
	const char *canonical;
	bool null_path;		/* MAIL FROM:<> */
	bool postmaster;	/* RCPT TO:<Postmaster> (RFC 5321 4.5.1) */
	bool address_literal;	/* domain is [...] */
	bool utf8;		/* contains non-ASCII (SMTPUTF8 was allowed) */
};

enum smtp_body_type {
	SMTP_BODY_UNSPECIFIED = 0, SMTP_BODY_7BIT, SMTP_BODY_8BITMIME,
	SMTP_BODY_BINARYMIME,
};
enum smtp_dsn_ret { SMTP_DSN_RET_UNSPECIFIED = 0, SMTP_DSN_RET_FULL,
		    SMTP_DSN_RET_HDRS };

struct smtp_mail_params {
	bool has_size;
	uint64_t size;			/* SIZE=, RFC 1870 */
	enum smtp_body_type body;	/* BODY= */
	bool smtputf8;			/* SMTPUTF8, RFC 6531 3.4 */
	/* AUTH=, RFC 4954 5: xtext-decoded; "<>" means unknown submitter.
	 * NULL when absent. Decoded value is printable ASCII. */
	const char *auth;
	enum smtp_dsn_ret ret;		/* RET=, RFC 3461 4.3 */
	const char *envid;		/* ENVID=, decoded; NULL if absent */
	const char *envid_xtext;	/* ENVID= as sent (for relaying) */
	bool requiretls;		/* REQUIRETLS, RFC 8689 4 */
};

struct smtp_mail {
	struct smtp_address from;
	struct smtp_mail_params params;
};

/* RFC 3461 4.1 NOTIFY bits; 0 = parameter absent. */
enum smtp_notify {
	SMTP_NOTIFY_NEVER = 1u << 0, SMTP_NOTIFY_SUCCESS = 1u << 1,
	SMTP_NOTIFY_FAILURE = 1u << 2, SMTP_NOTIFY_DELAY = 1u << 3,
};

struct smtp_rcpt_params {
	unsigned notify;		/* enum smtp_notify bits */
	/* ORCPT=addr-type;value (RFC 3461 4.2, RFC 6533). NULL if absent.
	 * orcpt_type is "rfc822" or "utf-8" (lowered). orcpt_raw is the
	 * value after ';' as sent; orcpt_addr is it decoded for rfc822
	 * (xtext) and unchanged for utf-8 (utf-8-addr-xtext/unitext). */
	const char *orcpt_type;
	const char *orcpt_raw;
	const char *orcpt_addr;
};

struct smtp_rcpt {
	struct smtp_address to;
	struct smtp_rcpt_params params;
};

/* Parse the arguments of MAIL: "FROM:<reverse-path>[ SP params]".
 * args is cmd.args of smtp_parse_command(). "FROM:" is case-insensitive.
 * Interoperability exception: RFC 5321 3.3 forbids spaces around the
 * colon, yet many clients send "MAIL FROM: <a@b>"; like Postfix and Exim
 * we accept exactly one SP after the colon, and nothing else.
 * UTF-8 in the path is accepted only when exts has SMTP_EXT_SMTPUTF8 and
 * the command carries the SMTPUTF8 parameter (RFC 6531 3.4).
 * Refusals: 501 5.5.4 (syntax), 501 5.1.7 (bad sender address), 553 5.6.7
 * (non-ASCII without SMTPUTF8), 555 5.5.4 (unknown/unadvertised param). */
int smtp_parse_mail(const char *args, size_t len, unsigned exts,
		    pool_t *pool, struct smtp_mail *mail_r,
		    struct smtp_reply_err *err_r);

/* Parse the arguments of RCPT: "TO:<forward-path>[ SP params]", or
 * "TO:<Postmaster>" (any case) without a domain (RFC 5321 4.5.1). The
 * null path is refused. tx_smtputf8: the MAIL of this transaction had
 * SMTPUTF8, so UTF-8 is allowed in the path. Same space exception and
 * reply codes as MAIL, with 501 5.1.3 for a bad recipient address. */
int smtp_parse_rcpt(const char *args, size_t len, unsigned exts,
		    bool tx_smtputf8, pool_t *pool, struct smtp_rcpt *rcpt_r,
		    struct smtp_reply_err *err_r);

/* ---- BDAT (RFC 3030 2) ---- */

struct smtp_bdat {
	uint64_t size;
	bool last;
	/* On refusal: true when the chunk size was read (only the limit was
	 * exceeded), so the session knows how many octets follow. When false
	 * the octet count is unknown and the session cannot resynchronise:
	 * it should reply and close the connection. */
	bool size_valid;
};

/* "chunk-size [SP LAST]", chunk-size = 1*DIGIT, LAST any case.
 * A size above max_chunk, or not fitting uint64, is refused: 501 5.5.4. */
int smtp_parse_bdat(const char *args, size_t len, uint64_t max_chunk,
		    struct smtp_bdat *bdat_r, struct smtp_reply_err *err_r);

/* ---- AUTH (RFC 4954 4) ---- */

struct smtp_auth {
	const char *mechanism;	/* upper-cased copy in pool */
	/* Initial response: NULL when absent; "" when sent as "=" (empty);
	 * otherwise the base64 text, syntax-checked, still encoded. */
	const char *initial_response;
};

/* "mechanism [SP initial-response]". Mechanism: 1-20 of A-Z 0-9 - _
 * (RFC 4422 3.1); lower case is accepted and upper-cased. The response
 * must be canonical base64 (padding only at the end) or "=".
 * Refused: 501 5.5.2. */
int smtp_parse_auth(const char *args, size_t len, pool_t *pool,
		    struct smtp_auth *auth_r, struct smtp_reply_err *err_r);

/* ---- xtext (RFC 3461 4) ---- */

/* True if in is xtext: chars 33..126 except '+' and '=', or "+XX" with
 * upper-case hex digits. */
bool smtp_xtext_valid(const char *in, size_t len);
/* Decode xtext, appending to out. -1 with *error_r if not valid xtext. */
int smtp_xtext_decode(const char *in, size_t len, str_t *out,
		      const char **error_r);
/* Encode any bytes as xtext, appending to out. */
void smtp_xtext_encode(const char *in, size_t len, str_t *out);

#endif
