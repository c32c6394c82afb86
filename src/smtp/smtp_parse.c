/* smtp_parse.c: command line split, EHLO/HELO, BDAT, AUTH and xtext
 * parsers, and the domain / address-literal / UTF-8 checks shared with
 * smtp_path.c. See smtp_parse.h for the contract. */
#include "smtp/smtp_parse.h"
#include "smtp/smtp_parse_private.h"

#include <arpa/inet.h>
#include <string.h>

enum smtp_cmd_args { ARGS_NONE, ARGS_OPTIONAL, ARGS_REQUIRED };

static const struct smtp_cmd_def {
	const char *name;
	enum smtp_cmd_verb verb;
	enum smtp_cmd_args args;
} smtp_cmd_table[] = {
	{ "EHLO", SMTP_CMD_EHLO, ARGS_REQUIRED },
	{ "HELO", SMTP_CMD_HELO, ARGS_REQUIRED },
	{ "MAIL", SMTP_CMD_MAIL, ARGS_REQUIRED },
	{ "RCPT", SMTP_CMD_RCPT, ARGS_REQUIRED },
	{ "DATA", SMTP_CMD_DATA, ARGS_NONE },
	{ "BDAT", SMTP_CMD_BDAT, ARGS_REQUIRED },
	{ "RSET", SMTP_CMD_RSET, ARGS_NONE },
	{ "NOOP", SMTP_CMD_NOOP, ARGS_OPTIONAL },
	{ "QUIT", SMTP_CMD_QUIT, ARGS_NONE },
	{ "VRFY", SMTP_CMD_VRFY, ARGS_REQUIRED },
	{ "EXPN", SMTP_CMD_EXPN, ARGS_REQUIRED },
	{ "HELP", SMTP_CMD_HELP, ARGS_OPTIONAL },
	{ "STARTTLS", SMTP_CMD_STARTTLS, ARGS_NONE },
	{ "AUTH", SMTP_CMD_AUTH, ARGS_REQUIRED },
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

const char *smtp_cmd_verb_name(enum smtp_cmd_verb verb)
{
	if (verb == SMTP_CMD_HTTP)
		return "HTTP";
	for (size_t i = 0; i < N_ELEMENTS(smtp_cmd_table); i++) {
		if (smtp_cmd_table[i].verb == verb)
			return smtp_cmd_table[i].name;
	}
	return "UNKNOWN";
}

int smtp_parse_command(const char *line, size_t len,
		       struct smtp_command *cmd_r, struct smtp_reply_err *err_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	if (len >= 2 && line[len - 2] == '\r' && line[len - 1] == '\n')
		len -= 2;

	/* Before anything else, so that a browser is dropped, not answered. */
	if (line_is_http_request(line, len)) {
		cmd_r->verb = SMTP_CMD_HTTP;
		return smtp_reply_err_set(err_r, 0, NULL, "HTTP request");
	}
	const char *sp = len > 0 ? memchr(line, ' ', len) : NULL;
	size_t verb_len = sp != NULL ? (size_t)(sp - line) : len;
	for (size_t i = 0; i < verb_len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			return smtp_reply_err_set(err_r, 500, "5.5.2",
				"Invalid character in command");
	}
	const struct smtp_cmd_def *def = NULL;
	for (size_t i = 0; i < N_ELEMENTS(smtp_cmd_table); i++) {
		if (strlen(smtp_cmd_table[i].name) == verb_len &&
		    mem_ieq(line, smtp_cmd_table[i].name, verb_len)) {
			def = &smtp_cmd_table[i];
			break;
		}
	}
	if (def == NULL)
		return smtp_reply_err_set(err_r, 500, "5.5.1",
					  "Command unrecognized");
	cmd_r->verb = def->verb;
	if (sp != NULL) {
		cmd_r->args = sp + 1;
		cmd_r->args_len = len - verb_len - 1;
	}

	/* RFC 5321 4.1.1: exactly one SP before the arguments, and none
	 * after a command that takes no arguments. */
	switch (def->args) {
	case ARGS_NONE:
		if (sp != NULL)
			return smtp_reply_err_set(err_r, 501, "5.5.4",
				"Syntax error: no arguments allowed");
		break;
	case ARGS_OPTIONAL:
		if (sp != NULL && cmd_r->args_len == 0)
			return smtp_reply_err_set(err_r, 501, "5.5.4",
				"Syntax error: trailing space");
		break;
	case ARGS_REQUIRED:
		if (cmd_r->args_len == 0)
			return smtp_reply_err_set(err_r, 501, "5.5.4",
				"Syntax error: argument required");
		break;
	}
	if (cmd_r->args_len > 0 && cmd_r->args[0] == ' ')
		return smtp_reply_err_set(err_r, 501, "5.5.4",
			"Syntax error: one space after the command");
	/* NUL, CR, LF and other controls are allowed by no argument grammar
	 * (RFC 5321 4.1.2; xtext and base64 exclude them too). */
	for (size_t i = 0; i < cmd_r->args_len; i++) {
		unsigned char c = (unsigned char)cmd_r->args[i];
		if (c < 0x20 || c == 0x7f)
			return smtp_reply_err_set(err_r, 501, "5.5.4",
				"Invalid character in arguments");
	}
	return 0;
}

size_t smtp_utf8_seq_len(const unsigned char *s, size_t len)
{
	if (len == 0)
		return 0;
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf;	/* range of the 2nd byte */

	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (c == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;	/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else {
		return 0;
	}
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

static bool smtp_domain_label_valid(const char *s, size_t len,
				    bool allow_utf8)
{
	const unsigned char *u = (const unsigned char *)s;
	bool ascii = true;

	if (len == 0 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (size_t i = 0; i < len; ) {
		if (u[i] >= 0x80) {
			size_t n = allow_utf8 ? smtp_utf8_seq_len(u + i, len - i) : 0;
			if (n == 0)
				return false;
			ascii = false;
			i += n;
			continue;
		}
		if (!smtp_is_alpha(u[i]) && !smtp_is_digit(u[i]) && u[i] != '-')
			return false;
		i++;
	}
	/* An A-label must fit 63 octets; a U-label's A-label form is not
	 * computed here. */
	return !ascii || len <= 63;
}

bool smtp_domain_valid(const char *s, size_t len, bool allow_utf8)
{
	if (len == 0 || len > SMTP_DOMAIN_MAX)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (!smtp_domain_label_valid(s + start, i - start,
						     allow_utf8))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* IPv4-address-literal = Snum 3("." Snum), Snum = 1*3DIGIT, 0-255. */
static bool smtp_ipv4_literal_parse(const char *s, size_t len,
				    unsigned octets_r[4])
{
	size_t i = 0;
	for (unsigned part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= len || s[i] != '.')
				return false;
			i++;
		}
		unsigned v = 0, digits = 0;
		while (i < len && smtp_is_digit((unsigned char)s[i]) &&
		       digits < 3) {
			v = v * 10 + (unsigned)(s[i] - '0');
			digits++;
			i++;
		}
		if (digits == 0 || v > 255)
			return false;
		octets_r[part] = v;
	}
	return i == len;
}

bool smtp_address_literal_parse(const char *s, size_t len, pool_t *pool,
				const char **norm_r)
{
	if (len < 3 || s[0] != '[' || s[len - 1] != ']')
		return false;
	s++;
	len -= 2;

	if (slice_iprefix(s, len, "IPv6:")) {
		char buf[INET6_ADDRSTRLEN];
		unsigned char addr[16];
		s += 5;
		len -= 5;
		if (len == 0 || len >= sizeof(buf))
			return false;
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			if (!smtp_is_digit(c) && c != ':' && c != '.' &&
			    !(c >= 'a' && c <= 'f') && !(c >= 'A' && c <= 'F'))
				return false;
		}
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (inet_pton(AF_INET6, buf, addr) != 1)
			return false;
		if (pool != NULL) {
			if (inet_ntop(AF_INET6, addr, buf, sizeof(buf)) == NULL)
				return false;
			*norm_r = pool_printf(pool, "[IPv6:%s]", buf);
		}
		return true;
	}
	/* RFC 5321 4.1.3 General-address-literal: Standardized-tag ":" ...
	 * No tag besides IPv6 is registered, so anything else is refused. */
	unsigned o[4];
	if (!smtp_ipv4_literal_parse(s, len, o))
		return false;
	if (pool != NULL)
		*norm_r = pool_printf(pool, "[%u.%u.%u.%u]",
				      o[0], o[1], o[2], o[3]);
	return true;
}

int smtp_parse_helo(const char *args, size_t len, bool ehlo, pool_t *pool,
		    const char **domain_r, struct smtp_reply_err *err_r)
{
	bool ok;

	/* RFC 5321 4.1.1.1: ehlo = "EHLO" SP ( Domain / address-literal ),
	 * helo = "HELO" SP Domain. RFC 6531 3.7.1: ASCII only. */
	if (ehlo && len > 0 && args[0] == '[')
		ok = smtp_address_literal_parse(args, len, NULL, NULL);
	else
		ok = smtp_domain_valid(args, len, false);
	if (!ok)
		return smtp_reply_err_set(err_r, 501, "5.5.4",
			ehlo ? "Syntax: EHLO domain or address literal" :
			       "Syntax: HELO domain");
	*domain_r = pool_strndup(pool, args, len);
	return 0;
}

int smtp_parse_bdat(const char *args, size_t len, uint64_t max_chunk,
		    struct smtp_bdat *bdat_r, struct smtp_reply_err *err_r)
{
	memset(bdat_r, 0, sizeof(*bdat_r));
	const char *sp = len > 0 ? memchr(args, ' ', len) : NULL;
	size_t size_len = sp != NULL ? (size_t)(sp - args) : len;

	/* RFC 3030 2: bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] */
	if (sp != NULL) {
		size_t rest = len - size_len - 1;
		if (rest != 4 || !mem_ieq(sp + 1, "LAST", 4))
			return smtp_reply_err_set(err_r, 501, "5.5.4",
				"Syntax: BDAT chunk-size [LAST]");
		bdat_r->last = true;
	}
	if (size_len == 0)
		return smtp_reply_err_set(err_r, 501, "5.5.4",
					  "Syntax: BDAT chunk-size [LAST]");
	/* chunk-size = 1*DIGIT: leading zeros are legal, skip them so that
	 * parse_uint64's 20-digit cap counts significant digits only. */
	while (size_len > 1 && args[0] == '0') {
		args++;
		size_len--;
	}
	unsigned long long size;
	if (!parse_uint64(args, size_len, UINT64_MAX, &size)) {
		for (size_t i = 0; i < size_len; i++) {
			if (!smtp_is_digit((unsigned char)args[i]))
				return smtp_reply_err_set(err_r, 501, "5.5.4",
					"Syntax: BDAT chunk-size [LAST]");
		}
		return smtp_reply_err_set(err_r, 501, "5.5.4",
					  "BDAT chunk size too large");
	}
	bdat_r->size = size;
	if (size > max_chunk) {
		bdat_r->size_valid = true;
		return smtp_reply_err_set(err_r, 501, "5.5.4",
					  "BDAT chunk size exceeds the limit");
	}
	bdat_r->size_valid = true;
	return 0;
}

static bool smtp_base64_valid(const char *s, size_t len)
{
	if (len == 0 || len % 4 != 0)
		return false;
	size_t pad = 0;
	if (s[len - 1] == '=')
		pad = s[len - 2] == '=' ? 2 : 1;
	for (size_t i = 0; i < len - pad; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!smtp_is_alpha(c) && !smtp_is_digit(c) && c != '+' && c != '/')
			return false;
	}
	return true;
}

int smtp_parse_auth(const char *args, size_t len, pool_t *pool,
		    struct smtp_auth *auth_r, struct smtp_reply_err *err_r)
{
	memset(auth_r, 0, sizeof(*auth_r));
	const char *sp = len > 0 ? memchr(args, ' ', len) : NULL;
	size_t mech_len = sp != NULL ? (size_t)(sp - args) : len;

	/* RFC 4422 3.1: sasl-mech = 1*20mech-char */
	if (mech_len == 0 || mech_len > 20)
		return smtp_reply_err_set(err_r, 501, "5.5.2",
					  "Invalid mechanism name");
	char *mech = pool_strndup(pool, args, mech_len);
	for (size_t i = 0; i < mech_len; i++) {
		unsigned char c = (unsigned char)mech[i];
		if (c >= 'a' && c <= 'z')
			mech[i] = (char)(c - 'a' + 'A');
		else if (!smtp_is_alpha(c) && !smtp_is_digit(c) &&
			 c != '-' && c != '_')
			return smtp_reply_err_set(err_r, 501, "5.5.2",
						  "Invalid mechanism name");
	}
	auth_r->mechanism = mech;
	if (sp == NULL)
		return 0;

	/* RFC 4954 4: initial-response = base64 / "=" */
	const char *resp = sp + 1;
	size_t resp_len = len - mech_len - 1;
	if (resp_len == 1 && resp[0] == '=') {
		auth_r->initial_response = "";
		return 0;
	}
	if (!smtp_base64_valid(resp, resp_len))
		return smtp_reply_err_set(err_r, 501, "5.5.2",
					  "Invalid base64 in initial response");
	auth_r->initial_response = pool_strndup(pool, resp, resp_len);
	return 0;
}

static int smtp_xtext_hex(unsigned char c)
{
	/* RFC 3461 4: hexchar uses upper-case hex digits only. */
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool smtp_xtext_xchar(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

int smtp_xtext_decode(const char *in, size_t len, str_t *out,
		      const char **error_r)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '+') {
			if (len - i < 3 ||
			    smtp_xtext_hex((unsigned char)in[i + 1]) < 0 ||
			    smtp_xtext_hex((unsigned char)in[i + 2]) < 0) {
				*error_r = "Invalid xtext hex escape";
				return -1;
			}
			str_appendc(out, (char)(
				smtp_xtext_hex((unsigned char)in[i + 1]) * 16 +
				smtp_xtext_hex((unsigned char)in[i + 2])));
			i += 2;
			continue;
		}
		if (!smtp_xtext_xchar(c)) {
			*error_r = "Invalid character in xtext";
			return -1;
		}
		str_appendc(out, (char)c);
	}
	return 0;
}

bool smtp_xtext_valid(const char *in, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c == '+') {
			if (len - i < 3 ||
			    smtp_xtext_hex((unsigned char)in[i + 1]) < 0 ||
			    smtp_xtext_hex((unsigned char)in[i + 2]) < 0)
				return false;
			i += 2;
		} else if (!smtp_xtext_xchar(c)) {
			return false;
		}
	}
	return true;
}

void smtp_xtext_encode(const char *in, size_t len, str_t *out)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (smtp_xtext_xchar(c)) {
			str_appendc(out, (char)c);
		} else {
			char esc[3] = { '+', hex[c >> 4], hex[c & 0xf] };
			str_append(out, esc, sizeof(esc));
		}
	}
}
