/* smtp_path.c: MAIL FROM / RCPT TO arguments: the "FROM:"/"TO:" keyword,
 * the Path grammar of RFC 5321 4.1.2 with its 4.5.3.1 length limits, and
 * the hand-off of parameters to smtp_params.c. See smtp_parse.h. */
#include "smtp/smtp_parse.h"
#include "smtp/smtp_parse_private.h"

#include <string.h>

struct path_ctx {
	bool allow_utf8;
	const char *enhanced;	/* "5.1.7" sender, "5.1.3" recipient */
	pool_t *pool;
};

/* RFC 5322 3.2.3 atext, extended by RFC 6531 3.3 with UTF8-non-ascii
 * (handled by the caller). */
static bool smtp_is_atext(unsigned char c)
{
	if (smtp_is_alpha(c) || smtp_is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Length of one atext character (ASCII or UTF-8) at s, 0 if none. */
static size_t atext_len(const char *s, size_t len, bool allow_utf8)
{
	const unsigned char *u = (const unsigned char *)s;
	if (len == 0)
		return 0;
	if (u[0] >= 0x80)
		return allow_utf8 ? smtp_utf8_seq_len(u, len) : 0;
	return smtp_is_atext(u[0]) ? 1 : 0;
}

/* RFC 5321 4.1.2 Dot-string = Atom *("." Atom): true if all of s is one. */
static bool smtp_dot_string_valid(const char *s, size_t len, bool allow_utf8)
{
	bool atom_empty = true;
	for (size_t i = 0; i < len; ) {
		if (s[i] == '.') {
			if (atom_empty)
				return false;
			atom_empty = true;
			i++;
			continue;
		}
		size_t n = atext_len(s + i, len - i, allow_utf8);
		if (n == 0)
			return false;
		atom_empty = false;
		i += n;
	}
	return !atom_empty;
}

/* Parse the Local-part at the start of s. Sets *used_r to its wire
 * length and appends its unquoted form to out. */
static bool local_part_parse(const struct path_ctx *ctx, const char *s,
			     size_t len, size_t *used_r, str_t *out)
{
	size_t i = 0;

	if (len > 0 && s[0] == '"') {
		/* Quoted-string = DQUOTE *QcontentSMTP DQUOTE */
		for (i = 1; i < len; ) {
			unsigned char c = (unsigned char)s[i];
			if (c == '"') {
				*used_r = i + 1;
				return true;
			}
			if (c == '\\') {
				/* quoted-pairSMTP = %d92 %d32-126 */
				if (i + 1 >= len || (unsigned char)s[i + 1] < 32 ||
				    (unsigned char)s[i + 1] > 126)
					return false;
				str_appendc(out, s[i + 1]);
				i += 2;
			} else if (c >= 0x80) {
				size_t n = ctx->allow_utf8 ?
					smtp_utf8_seq_len((const unsigned char *)s + i,
							  len - i) : 0;
				if (n == 0)
					return false;
				str_append(out, s + i, n);
				i += n;
			} else if (c >= 32 && c <= 126) {
				/* qtextSMTP: all printable but '"' and '\' */
				str_appendc(out, (char)c);
				i++;
			} else {
				return false;
			}
		}
		return false;
	}
	/* Dot-string ends at '@' (or the end, for <Postmaster>). */
	while (i < len && s[i] != '@')
		i++;
	if (!smtp_dot_string_valid(s, i, ctx->allow_utf8))
		return false;
	str_append(out, s, i);
	*used_r = i;
	return true;
}

/* Lower the ASCII letters of a domain (RFC 5321 2.4: domains are case
 * insensitive); UTF-8 bytes are left alone. */
static char *domain_lower(pool_t *pool, const char *s, size_t len)
{
	char *d = pool_strndup(pool, s, len);
	for (size_t i = 0; i < len; i++) {
		if (d[i] >= 'A' && d[i] <= 'Z')
			d[i] = (char)(d[i] - 'A' + 'a');
	}
	return d;
}

/* RFC 5321 4.1.2 A-d-l = At-domain *( "," At-domain ), followed by ":".
 * Returns the length consumed including the ':', or 0 on error. */
static size_t source_route_skip(const struct path_ctx *ctx, const char *s,
				size_t len)
{
	const char *colon = memchr(s, ':', len);
	if (colon == NULL)
		return 0;
	size_t adl_len = (size_t)(colon - s), start = 0;
	for (size_t i = 0; i <= adl_len; i++) {
		if (i == adl_len || s[i] == ',') {
			if (i - start < 2 || s[start] != '@' ||
			    !smtp_domain_valid(s + start + 1, i - start - 1,
					       ctx->allow_utf8))
				return 0;
			start = i + 1;
		}
	}
	return adl_len + 1;
}

/* Parse the inside of "<...>" into addr_r. */
static int path_parse(const struct path_ctx *ctx, const char *s, size_t len,
		      bool is_rcpt, struct smtp_address *addr_r,
		      struct smtp_reply_err *err_r)
{
	memset(addr_r, 0, sizeof(*addr_r));
	addr_r->local = addr_r->domain = addr_r->canonical = "";
	if (len == 0) {
		if (is_rcpt)
			return smtp_reply_err_set(err_r, 501, ctx->enhanced,
				"Null path not allowed for a recipient");
		addr_r->null_path = true;
		return 0;
	}
	if (is_rcpt && len == 10 && mem_ieq(s, "postmaster", 10)) {
		/* RFC 5321 4.5.1: <Postmaster>, any case, no domain */
		addr_r->postmaster = true;
		addr_r->local = pool_strndup(ctx->pool, s, len);
		addr_r->canonical = "postmaster";
		return 0;
	}
	if (s[0] == '@') {
		/* RFC 5321 3.6.1, C.: source routes are accepted, ignored */
		size_t n = source_route_skip(ctx, s, len);
		if (n == 0)
			return smtp_reply_err_set(err_r, 501, ctx->enhanced,
				"Invalid source route");
		s += n;
		len -= n;
	}

	str_t local = STR_INIT;
	size_t local_len;
	bool ok = local_part_parse(ctx, s, len, &local_len, &local);
	if (ok && local_len > SMTP_LOCAL_PART_MAX) {
		str_free(&local);
		return smtp_reply_err_set(err_r, 501, ctx->enhanced,
					  "Local part too long");
	}
	if (!ok || local_len >= len || s[local_len] != '@') {
		str_free(&local);
		return smtp_reply_err_set(err_r, 501, ctx->enhanced,
			"Bad address syntax: expected local-part@domain");
	}
	const char *dom = s + local_len + 1;
	size_t dom_len = len - local_len - 1;
	if (dom_len > SMTP_DOMAIN_MAX) {
		str_free(&local);
		return smtp_reply_err_set(err_r, 501, ctx->enhanced,
					  "Domain too long");
	}
	if (dom_len > 0 && dom[0] == '[') {
		ok = smtp_address_literal_parse(dom, dom_len, ctx->pool,
						&addr_r->domain);
		addr_r->address_literal = true;
	} else {
		ok = smtp_domain_valid(dom, dom_len, ctx->allow_utf8);
		if (ok)
			addr_r->domain = domain_lower(ctx->pool, dom, dom_len);
	}
	if (!ok) {
		str_free(&local);
		return smtp_reply_err_set(err_r, 501, ctx->enhanced,
					  "Bad domain or address literal");
	}

	addr_r->local = pool_strndup(ctx->pool, str_c(&local), local.len);
	/* RFC 5321 4.1.2: quote only when the Dot-string form is not
	 * possible; then escape just '"' and '\'. */
	str_t canon = STR_INIT;
	if (smtp_dot_string_valid(local.data, local.len, ctx->allow_utf8)) {
		str_append(&canon, local.data, local.len);
	} else {
		str_appendc(&canon, '"');
		for (size_t i = 0; i < local.len; i++) {
			if (local.data[i] == '"' || local.data[i] == '\\')
				str_appendc(&canon, '\\');
			str_appendc(&canon, local.data[i]);
		}
		str_appendc(&canon, '"');
	}
	str_appendc(&canon, '@');
	str_appendz(&canon, addr_r->domain);
	addr_r->canonical = pool_strndup(ctx->pool, str_c(&canon), canon.len);
	for (size_t i = 0; i < canon.len; i++) {
		if ((unsigned char)canon.data[i] >= 0x80)
			addr_r->utf8 = true;
	}
	str_free(&canon);
	str_free(&local);
	return 0;
}

/* Index of the '>' closing the Path that starts at s[0] == '<', skipping
 * quoted strings (a local part may hold '>'), or 0 if none. */
static size_t path_end(const char *s, size_t len)
{
	bool quoted = false;
	for (size_t i = 1; i < len; i++) {
		if (quoted) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				quoted = false;
		} else if (s[i] == '"') {
			quoted = true;
		} else if (s[i] == '>') {
			return i;
		}
	}
	return 0;
}

/* Common front half of MAIL and RCPT: keyword, optional single SP, the
 * bracketed path. Sets the path slice to the inside of "<>" and the
 * params slice to what follows the SP after '>' (NULL/0 if nothing). */
static int mail_rcpt_split(const char *args, size_t len, const char *keyword,
			   const char **path_r, size_t *path_len_r,
			   const char **params_r, size_t *params_len_r,
			   struct smtp_reply_err *err_r)
{
	size_t kw_len = strlen(keyword);
	const char *syntax = keyword[0] == 'F' ? "Syntax: MAIL FROM:<address>" :
						 "Syntax: RCPT TO:<address>";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)args[i];
		if (c < 0x20 || c == 0x7f)
			return smtp_reply_err_set(err_r, 501, "5.5.4",
				"Invalid character in arguments");
	}
	if (!slice_iprefix(args, len, keyword))
		return smtp_reply_err_set(err_r, 501, "5.5.4", syntax);
	args += kw_len;
	len -= kw_len;
	/* RFC 5321 3.3 forbids this space; accepted once for the clients
	 * that send it anyway (see smtp_parse.h). */
	if (len > 0 && args[0] == ' ') {
		args++;
		len--;
	}
	if (len == 0 || args[0] != '<')
		return smtp_reply_err_set(err_r, 501, "5.5.4", syntax);
	size_t end = path_end(args, len);
	if (end == 0)
		return smtp_reply_err_set(err_r, 501, "5.5.4", syntax);
	if (end + 1 > SMTP_PATH_MAX)
		return smtp_reply_err_set(err_r, 501, "5.5.4", "Path too long");
	*path_r = args + 1;
	*path_len_r = end - 1;
	*params_r = NULL;
	*params_len_r = 0;
	if (end + 1 < len) {
		if (args[end + 1] != ' ' || end + 2 == len)
			return smtp_reply_err_set(err_r, 501, "5.5.4", syntax);
		*params_r = args + end + 2;
		*params_len_r = len - end - 2;
	}
	return 0;
}

static int path_check_8bit(const char *s, size_t len, bool allow_utf8,
			   struct smtp_reply_err *err_r)
{
	if (allow_utf8)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] >= 0x80)
			return smtp_reply_err_set(err_r, 553, "5.6.7",
				"Non-ASCII address requires SMTPUTF8");
	}
	return 0;
}

int smtp_parse_mail(const char *args, size_t len, unsigned exts,
		    pool_t *pool, struct smtp_mail *mail_r,
		    struct smtp_reply_err *err_r)
{
	const char *path, *params;
	size_t path_len, params_len;

	memset(mail_r, 0, sizeof(*mail_r));
	if (mail_rcpt_split(args, len, "FROM:", &path, &path_len,
			    &params, &params_len, err_r) < 0)
		return -1;
	struct path_ctx ctx = {
		.allow_utf8 = smtp_params_has_smtputf8(params, params_len, exts),
		.enhanced = "5.1.7",
		.pool = pool,
	};
	if (path_check_8bit(path, path_len, ctx.allow_utf8, err_r) < 0 ||
	    path_parse(&ctx, path, path_len, false, &mail_r->from, err_r) < 0)
		return -1;
	return smtp_params_parse_mail(params, params_len, exts, pool,
				      &mail_r->params, err_r);
}

int smtp_parse_rcpt(const char *args, size_t len, unsigned exts,
		    bool tx_smtputf8, pool_t *pool, struct smtp_rcpt *rcpt_r,
		    struct smtp_reply_err *err_r)
{
	const char *path, *params;
	size_t path_len, params_len;

	memset(rcpt_r, 0, sizeof(*rcpt_r));
	if (mail_rcpt_split(args, len, "TO:", &path, &path_len,
			    &params, &params_len, err_r) < 0)
		return -1;
	struct path_ctx ctx = {
		.allow_utf8 = tx_smtputf8,
		.enhanced = "5.1.3",
		.pool = pool,
	};
	if (path_check_8bit(path, path_len, ctx.allow_utf8, err_r) < 0 ||
	    path_parse(&ctx, path, path_len, true, &rcpt_r->to, err_r) < 0)
		return -1;
	return smtp_params_parse_rcpt(params, params_len, exts, tx_smtputf8,
				      pool, &rcpt_r->params, err_r);
}
