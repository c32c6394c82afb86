/* smtp_params.c: ESMTP parameters of MAIL and RCPT (RFC 5321 4.1.2
 * esmtp-param), with SIZE (RFC 1870), BODY (RFC 6152, RFC 3030), SMTPUTF8
 * (RFC 6531), AUTH (RFC 4954 5) and DSN's RET, ENVID, NOTIFY, ORCPT
 * (RFC 3461 4, RFC 6533). Unknown or unadvertised keywords: 555 5.5.4;
 * syntax errors, duplicates and control characters: 501 5.5.4. */
#include "smtp/smtp_parse.h"
#include "smtp/smtp_parse_private.h"

#include <string.h>

struct esmtp_param {
	const char *key, *value;
	size_t key_len, value_len;
	bool has_value;
};

struct param_ctx {
	unsigned exts;
	bool smtputf8;
	pool_t *pool;
};

typedef int param_handler_t(const struct esmtp_param *p,
			    const struct param_ctx *ctx, void *params,
			    struct smtp_reply_err *err_r);

struct param_def {
	const char *keyword;
	unsigned ext;			/* must have been advertised */
	param_handler_t *handler;
};

static bool param_is(const struct esmtp_param *p, const char *keyword)
{
	return p->key_len == strlen(keyword) && mem_ieq(p->key, keyword, p->key_len);
}

static bool value_is(const struct esmtp_param *p, const char *word)
{
	return p->value_len == strlen(word) && mem_ieq(p->value, word, p->value_len);
}

static int bad_value(struct smtp_reply_err *err_r, const char *text)
{
	return smtp_reply_err_set(err_r, 501, "5.5.4", text);
}

/* Split off the next SP-separated esmtp-param and check its grammar:
 * esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
 * esmtp-value = 1*(%d33-60 / %d62-126), plus UTF-8 with SMTPUTF8. */
static int param_next(const char **s, size_t *len, bool smtputf8,
		      struct esmtp_param *p_r, struct smtp_reply_err *err_r)
{
	const char *sp = memchr(*s, ' ', *len);
	size_t tok_len = sp != NULL ? (size_t)(sp - *s) : *len;
	const char *tok = *s;

	if (sp != NULL && tok_len + 1 == *len)
		return bad_value(err_r, "Syntax error in parameters");
	*s += sp != NULL ? tok_len + 1 : tok_len;
	*len -= sp != NULL ? tok_len + 1 : tok_len;

	memset(p_r, 0, sizeof(*p_r));
	const char *eq = memchr(tok, '=', tok_len);
	p_r->key = tok;
	p_r->key_len = eq != NULL ? (size_t)(eq - tok) : tok_len;
	if (p_r->key_len == 0)
		return bad_value(err_r, "Syntax error in parameters");
	for (size_t i = 0; i < p_r->key_len; i++) {
		unsigned char c = (unsigned char)tok[i];
		if (!smtp_is_alpha(c) && !smtp_is_digit(c) && (c != '-' || i == 0))
			return bad_value(err_r, "Invalid parameter keyword");
	}
	if (eq == NULL)
		return 0;
	p_r->has_value = true;
	p_r->value = eq + 1;
	p_r->value_len = tok_len - p_r->key_len - 1;
	if (p_r->value_len == 0)
		return bad_value(err_r, "Empty parameter value");
	const unsigned char *v = (const unsigned char *)p_r->value;
	for (size_t i = 0; i < p_r->value_len; ) {
		if (v[i] >= 0x80) {
			size_t n = smtputf8 ?
				smtp_utf8_seq_len(v + i, p_r->value_len - i) : 0;
			if (n == 0)
				return bad_value(err_r,
					"Invalid character in parameter value");
			i += n;
		} else if (v[i] < 33 || v[i] > 126 || v[i] == '=') {
			return bad_value(err_r,
				"Invalid character in parameter value");
		} else {
			i++;
		}
	}
	return 0;
}

/* Decode xtext into a pool string whose bytes must all be printable
 * ASCII (RFC 3461 4.4 for ENVID, 4.2 for ORCPT; RFC 4954 5 for AUTH is
 * an addr-spec or "<>"): "+0D+0A" must not smuggle CR LF. */
static const char *xtext_decode_printable(pool_t *pool, const char *s,
					  size_t len)
{
	str_t out = STR_INIT;
	const char *error;
	const char *ret = NULL;
	if (smtp_xtext_decode(s, len, &out, &error) == 0 && out.len > 0) {
		ret = pool_strndup(pool, str_c(&out), out.len);
		for (size_t i = 0; i < out.len; i++) {
			if ((unsigned char)out.data[i] < 32 ||
			    (unsigned char)out.data[i] > 126)
				ret = NULL;
		}
	}
	str_free(&out);
	return ret;
}

static int param_size(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	(void)ctx;
	struct smtp_mail_params *mp = params;
	unsigned long long size;
	/* RFC 1870: size-value ::= 1*20DIGIT */
	if (!p->has_value || !parse_uint64(p->value, p->value_len,
					   UINT64_MAX, &size))
		return bad_value(err_r, "Bad SIZE value");
	mp->has_size = true;
	mp->size = size;
	return 0;
}

static int param_body(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	struct smtp_mail_params *mp = params;
	if (!p->has_value)
		return bad_value(err_r, "Bad BODY value");
	if (value_is(p, "7BIT"))
		mp->body = SMTP_BODY_7BIT;
	else if (value_is(p, "8BITMIME") && (ctx->exts & SMTP_EXT_8BITMIME) != 0)
		mp->body = SMTP_BODY_8BITMIME;
	else if (value_is(p, "BINARYMIME") && (ctx->exts & SMTP_EXT_BINARYMIME) != 0)
		mp->body = SMTP_BODY_BINARYMIME;
	else
		return smtp_reply_err_set(err_r, 555, "5.5.4",
					  "Unsupported BODY value");
	return 0;
}

static int param_smtputf8(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	(void)ctx;
	struct smtp_mail_params *mp = params;
	if (p->has_value)	/* RFC 6531 3.4: no value */
		return bad_value(err_r, "SMTPUTF8 takes no value");
	mp->smtputf8 = true;
	return 0;
}

static int param_requiretls(const struct esmtp_param *p,
			    const struct param_ctx *ctx, void *params,
			    struct smtp_reply_err *err_r)
{
	(void)ctx;
	struct smtp_mail_params *mp = params;
	if (p->has_value)	/* RFC 8689 4: no value */
		return bad_value(err_r, "REQUIRETLS takes no value");
	mp->requiretls = true;
	return 0;
}

static int param_auth(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	struct smtp_mail_params *mp = params;
	mp->auth = p->has_value ?
		xtext_decode_printable(ctx->pool, p->value, p->value_len) : NULL;
	if (mp->auth == NULL)
		return bad_value(err_r, "Bad AUTH value");
	return 0;
}

static int param_ret(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	(void)ctx;
	struct smtp_mail_params *mp = params;
	if (p->has_value && value_is(p, "FULL"))
		mp->ret = SMTP_DSN_RET_FULL;
	else if (p->has_value && value_is(p, "HDRS"))
		mp->ret = SMTP_DSN_RET_HDRS;
	else
		return bad_value(err_r, "Bad RET value");
	return 0;
}

static int param_envid(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	struct smtp_mail_params *mp = params;
	if (!p->has_value || p->value_len > SMTP_ENVID_MAX ||
	    (mp->envid = xtext_decode_printable(ctx->pool, p->value,
						p->value_len)) == NULL)
		return bad_value(err_r, "Bad ENVID value");
	mp->envid_xtext = pool_strndup(ctx->pool, p->value, p->value_len);
	return 0;
}

static int param_notify(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	(void)ctx;
	struct smtp_rcpt_params *rp = params;
	static const struct { const char *word; unsigned bit; } words[] = {
		{ "NEVER", SMTP_NOTIFY_NEVER },
		{ "SUCCESS", SMTP_NOTIFY_SUCCESS },
		{ "FAILURE", SMTP_NOTIFY_FAILURE },
		{ "DELAY", SMTP_NOTIFY_DELAY },
	};
	if (!p->has_value)
		return bad_value(err_r, "Bad NOTIFY value");
	size_t start = 0;
	for (size_t i = 0; i <= p->value_len; i++) {
		if (i < p->value_len && p->value[i] != ',')
			continue;
		unsigned bit = 0;
		for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++) {
			if (i - start == strlen(words[w].word) &&
			    mem_ieq(p->value + start, words[w].word, i - start))
				bit = words[w].bit;
		}
		if (bit == 0)
			return bad_value(err_r, "Bad NOTIFY value");
		rp->notify |= bit;
		start = i + 1;
	}
	/* RFC 3461 4.1: NEVER must appear alone */
	if ((rp->notify & SMTP_NOTIFY_NEVER) != 0 &&
	    rp->notify != SMTP_NOTIFY_NEVER)
		return bad_value(err_r, "NOTIFY=NEVER must appear alone");
	return 0;
}

static int hex_value(unsigned char c)
{
	if (smtp_is_digit(c))
		return c - '0';
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* RFC 6533 4: utf-8-addr-xtext / utf-8-addr-unitext: QCHAR, UTF-8 (only
 * with SMTPUTF8), or EmbeddedUnicodeChar "\x{HEXPOINT}". HEXPOINT is
 * checked by meaning: upper-case hex, no leading zero, a scalar value
 * that needs escaping (SP, '+', '=', '\', or non-ASCII); controls are
 * refused like CR LF in every other parameter. */
static bool orcpt_utf8_valid(const char *s, size_t len, bool smtputf8)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len; ) {
		if (u[i] >= 0x80) {
			size_t n = smtputf8 ? smtp_utf8_seq_len(u + i, len - i) : 0;
			if (n == 0)
				return false;
			i += n;
		} else if (u[i] == '\\') {
			if (len - i < 5 || u[i + 1] != 'x' || u[i + 2] != '{' ||
			    u[i + 3] == '0')
				return false;
			unsigned long cp = 0;
			size_t j = i + 3, digits = 0;
			for (; j < len && u[j] != '}'; j++, digits++) {
				int h = hex_value(u[j]);
				if (h < 0 || digits == 6)
					return false;
				cp = cp * 16 + (unsigned long)h;
			}
			if (j == len || digits == 0 || cp > 0x10ffff ||
			    (cp >= 0xd800 && cp <= 0xdfff) ||
			    !(cp == ' ' || cp == '+' || cp == '=' ||
			      cp == '\\' || cp >= 0x80))
				return false;
			i = j + 1;
		} else if (u[i] < 0x21 || u[i] > 0x7e || u[i] == '+' || u[i] == '=') {
			return false;
		} else {
			i++;
		}
	}
	return len > 0;
}

static int param_orcpt(const struct esmtp_param *p,
			const struct param_ctx *ctx, void *params,
			struct smtp_reply_err *err_r)
{
	struct smtp_rcpt_params *rp = params;
	/* RFC 3461 4.2: ORCPT=addr-type ";" xtext, at most 500 chars */
	if (!p->has_value || p->value_len > SMTP_ORCPT_MAX)
		return bad_value(err_r, "Bad ORCPT value");
	const char *semi = memchr(p->value, ';', p->value_len);
	if (semi == NULL)
		return bad_value(err_r, "Bad ORCPT value");
	size_t type_len = (size_t)(semi - p->value);
	const char *addr = semi + 1;
	size_t addr_len = p->value_len - type_len - 1;

	if (type_len == 6 && mem_ieq(p->value, "rfc822", 6)) {
		rp->orcpt_type = "rfc822";
		rp->orcpt_addr = xtext_decode_printable(ctx->pool, addr, addr_len);
		if (rp->orcpt_addr == NULL)
			return bad_value(err_r, "Bad ORCPT value");
	} else if (type_len == 5 && mem_ieq(p->value, "utf-8", 5)) {
		rp->orcpt_type = "utf-8";
		if (!orcpt_utf8_valid(addr, addr_len, ctx->smtputf8))
			return bad_value(err_r, "Bad ORCPT value");
		rp->orcpt_addr = pool_strndup(ctx->pool, addr, addr_len);
	} else {
		return bad_value(err_r, "Unsupported ORCPT address type");
	}
	rp->orcpt_raw = pool_strndup(ctx->pool, addr, addr_len);
	return 0;
}

static const struct param_def mail_params[] = {
	{ "SIZE", SMTP_EXT_SIZE, param_size },
	{ "BODY", SMTP_EXT_8BITMIME | SMTP_EXT_BINARYMIME, param_body },
	{ "SMTPUTF8", SMTP_EXT_SMTPUTF8, param_smtputf8 },
	{ "AUTH", SMTP_EXT_AUTH, param_auth },
	{ "RET", SMTP_EXT_DSN, param_ret },
	{ "ENVID", SMTP_EXT_DSN, param_envid },
	{ "REQUIRETLS", SMTP_EXT_REQUIRETLS, param_requiretls },
};

static const struct param_def rcpt_params[] = {
	{ "NOTIFY", SMTP_EXT_DSN, param_notify },
	{ "ORCPT", SMTP_EXT_DSN, param_orcpt },
};

static int params_parse(const struct param_def *defs, size_t n_defs,
			const char *s, size_t len, unsigned exts,
			bool smtputf8, pool_t *pool, void *params,
			struct smtp_reply_err *err_r)
{
	const struct param_ctx ctx = { exts, smtputf8, pool };
	unsigned seen = 0;

	while (len > 0) {
		struct esmtp_param p;
		if (param_next(&s, &len, smtputf8, &p, err_r) < 0)
			return -1;
		size_t i;
		for (i = 0; i < n_defs; i++) {
			if (param_is(&p, defs[i].keyword) &&
			    (exts & defs[i].ext) != 0)
				break;
		}
		if (i == n_defs)
			return smtp_reply_err_set(err_r, 555, "5.5.4",
				"Unsupported parameter");
		if ((seen & (1u << i)) != 0)
			return bad_value(err_r, "Duplicate parameter");
		seen |= 1u << i;
		if (defs[i].handler(&p, &ctx, params, err_r) < 0)
			return -1;
	}
	return 0;
}

bool smtp_params_has_smtputf8(const char *params, size_t len, unsigned exts)
{
	if ((exts & SMTP_EXT_SMTPUTF8) == 0)
		return false;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || params[i] == ' ') {
			if (i - start == 8 && mem_ieq(params + start, "SMTPUTF8", 8))
				return true;
			start = i + 1;
		}
	}
	return false;
}

int smtp_params_parse_mail(const char *params, size_t len, unsigned exts,
			   pool_t *pool, struct smtp_mail_params *params_r,
			   struct smtp_reply_err *err_r)
{
	memset(params_r, 0, sizeof(*params_r));
	bool smtputf8 = smtp_params_has_smtputf8(params, len, exts);
	return params_parse(mail_params, sizeof(mail_params) /
			    sizeof(mail_params[0]), params, len, exts,
			    smtputf8, pool, params_r, err_r);
}

int smtp_params_parse_rcpt(const char *params, size_t len, unsigned exts,
			   bool smtputf8, pool_t *pool,
			   struct smtp_rcpt_params *params_r,
			   struct smtp_reply_err *err_r)
{
	memset(params_r, 0, sizeof(*params_r));
	return params_parse(rcpt_params, sizeof(rcpt_params) /
			    sizeof(rcpt_params[0]), params, len, exts,
			    smtputf8, pool, params_r, err_r);
}
