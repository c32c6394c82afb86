/* mime_params.c: Content-Type / Content-Disposition values (RFC 2045 5.1,
 * RFC 2183) with RFC 2231 parameter continuations and charset'lang'
 * values. Tolerant like mime4j: RFC 2047 words inside plain parameter
 * values are decoded too; unparsable pieces are skipped, never fatal. */
#include <ctype.h>
#include <string.h>

#include "mime/mime_header.h"

#define MAX_SECTIONS 100


struct cursor {
	const char *s;
	size_t len, i;
};

static void skip_cfws(struct cursor *c)
{
	int depth = 0;

	while (c->i < c->len) {
		char ch = c->s[c->i];

		if (depth > 0 && ch == '\\' && c->i + 1 < c->len) {
			c->i += 2;
			continue;
		}
		if (ch == '(')
			depth++;
		else if (ch == ')' && depth > 0)
			depth--;
		else if (depth == 0 && ch != ' ' && ch != '\t' && ch != '\r' &&
			 ch != '\n')
			return;
		c->i++;
	}
}

static bool is_tspecial(char ch)
{
	return strchr("()<>@,;:\\\"/[]?=", ch) != NULL;
}

/* token (RFC 2045 5.1) into out; tolerant: stops at tspecials/space. */
static void read_token(struct cursor *c, str_t *out, bool allow_slash)
{
	while (c->i < c->len) {
		char ch = c->s[c->i];

		if ((unsigned char)ch <= ' ' || (is_tspecial(ch) &&
		    !(allow_slash && (ch == '/' || ch == '?' || ch == '=' ||
				      ch == '@' || ch == ':'))))
			break;
		str_appendc(out, ch);
		c->i++;
	}
}

/* quoted-string with quoted-pair unescaped (RFC 5322 3.2.4). */
static void read_quoted(struct cursor *c, str_t *out)
{
	c->i++;
	while (c->i < c->len && c->s[c->i] != '"') {
		if (c->s[c->i] == '\\' && c->i + 1 < c->len)
			c->i++;
		if (c->s[c->i] != '\r' && c->s[c->i] != '\n')
			str_appendc(out, c->s[c->i]);
		c->i++;
	}
	if (c->i < c->len)
		c->i++;
}

static char *lower_dup(pool_t *pool, const char *s, size_t n)
{
	char *d = pool_strndup(pool, s, n);

	for (char *p = d; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

void mime_pct_decode(const char *s, str_t *out)
{
	for (; *s != '\0'; s++) {
		int hi, lo;

		if (s[0] == '%' && (hi = mime_hex_value((unsigned char)s[1])) >= 0 &&
		    (lo = mime_hex_value((unsigned char)s[2])) >= 0) {
			str_appendc(out, (char)(hi << 4 | lo));
			s += 2;
		} else {
			str_appendc(out, *s);
		}
	}
}

/* RFC 2231 section 3/4: join name*0, name*1, ... (stop at a gap) and
 * decode the charset'lang' prefix of the first extended section. */
static char *join_param(pool_t *pool, struct mime_raw_param *raw, uint32_t n,
			const char *name)
{
	str_t bytes = STR_INIT, out = STR_INIT;
	char charset[64] = "";
	bool have_sections = false;

	for (int sec = 0; sec < MAX_SECTIONS; sec++) {
		struct mime_raw_param *r = NULL;

		for (uint32_t i = 0; i < n && r == NULL; i++)
			if (raw[i].section == sec &&
			    strcmp(raw[i].name, name) == 0)
				r = &raw[i];
		if (r == NULL)
			break;
		have_sections = true;
		const char *v = r->value;
		if (r->extended && sec == 0) {
			const char *q1 = strchr(v, '\''), *q2;
			if (q1 != NULL && (q2 = strchr(q1 + 1, '\'')) != NULL) {
				size_t cl = (size_t)(q1 - v);
				if (cl < sizeof(charset)) {
					memcpy(charset, v, cl);
					charset[cl] = '\0';
				}
				v = q2 + 1;
			}
		}
		if (r->extended)
			mime_pct_decode(v, &bytes);
		else
			str_appendz(&bytes, v);
	}
	if (!have_sections) {
		str_free(&bytes);
		return NULL;
	}
	mime_charset_to_utf8(charset, bytes.data != NULL ? bytes.data : "",
			     bytes.len, &out);
	char *ret = pool_strndup(pool, str_c(&out), out.len);
	str_free(&bytes);
	str_free(&out);
	return ret;
}

static void parse_raw(pool_t *pool, struct cursor *c, struct mime_raw_param *raw,
		      uint32_t *n)
{
	str_t name = STR_INIT, val = STR_INIT;

	while (c->i < c->len && *n < MIME_MAX_PARAMS) {
		skip_cfws(c);
		if (c->i < c->len && c->s[c->i] == ';') {
			c->i++;
			continue;
		}
		str_clear(&name);
		str_clear(&val);
		read_token(c, &name, false);
		skip_cfws(c);
		if (name.len == 0 || c->i >= c->len || c->s[c->i] != '=') {
			/* junk: skip to the next ';' */
			while (c->i < c->len && c->s[c->i] != ';')
				c->i++;
			continue;
		}
		c->i++;
		skip_cfws(c);
		if (c->i < c->len && c->s[c->i] == '"')
			read_quoted(c, &val);
		else
			read_token(c, &val, true);
		struct mime_raw_param *r = &raw[(*n)++];
		char *nm = lower_dup(pool, name.data, name.len);
		char *star = strchr(nm, '*');
		r->section = -1;
		r->extended = false;
		if (star != NULL) {
			size_t l = strlen(nm);
			r->extended = nm[l - 1] == '*';
			r->section = 0;
			for (const char *d = star + 1; *d >= '0' && *d <= '9';
			     d++)
				if (r->section <= MAX_SECTIONS)
					r->section = r->section * 10 + (*d - '0');
			*star = '\0';
		}
		r->name = nm;
		r->value = pool_strndup(pool, str_c(&val), val.len);
	}
	str_free(&name);
	str_free(&val);
}

static bool token_8bit(const str_t *tok)
{
	for (size_t i = 0; i < tok->len; i++)
		if ((unsigned char)tok->data[i] >= 0x80)
			return true;
	return false;
}

/* type or disposition, and "/" subtype when want_subtype: -1 when there
 * is no usable one. RFC 2045 5.1 and RFC 2183 2: a token is US-ASCII, so
 * one with an octet >= 0x80 is no type (the caller's default applies,
 * RFC 2045 5.2): an 8-bit type never reaches BODYSTRUCTURE raw. */
static int parse_head(pool_t *pool, struct cursor *c, bool want_subtype, char **type_r,
		      char **subtype_r)
{
	str_t tok = STR_INIT;
	int ret = 0;
	*type_r = NULL;
	if (subtype_r != NULL)
		*subtype_r = NULL;
	skip_cfws(c);
	read_token(c, &tok, false);
	skip_cfws(c);
	if (tok.len > 0 && !token_8bit(&tok))
		*type_r = lower_dup(pool, tok.data, tok.len);
	if (want_subtype) {
		str_clear(&tok);
		if (c->i < c->len && c->s[c->i] == '/') {
			c->i++;
			skip_cfws(c);
			read_token(c, &tok, false);
		}
		if (tok.len > 0 && *type_r != NULL && !token_8bit(&tok))
			*subtype_r = lower_dup(pool, tok.data, tok.len);
		else
			ret = -1;
	} else if (*type_r == NULL) {
		ret = -1;
	}
	str_free(&tok);
	return ret;
}

int mime_header_raw_params(pool_t *pool, const char *in, size_t len, bool want_subtype,
			   char **type_r, char **subtype_r, struct mime_raw_param *raw,
			   uint32_t *n_r)
{
	struct cursor c = { in, len, 0 };
	int ret = parse_head(pool, &c, want_subtype, type_r, subtype_r);
	*n_r = 0;
	parse_raw(pool, &c, raw, n_r);
	return ret;
}

int mime_header_parse_params(pool_t *pool, const char *in, size_t len,
			     bool want_subtype, char **type_r,
			     char **subtype_r, struct mime_param **params_r,
			     uint32_t *n_r)
{
	struct mime_raw_param raw[MIME_MAX_PARAMS];
	uint32_t nraw = 0, n = 0;
	int ret = mime_header_raw_params(pool, in, len, want_subtype, type_r, subtype_r, raw,
					 &nraw);

	struct mime_param *params =
		pool_alloc(pool, sizeof(*params) * (nraw > 0 ? nraw : 1));
	for (uint32_t i = 0; i < nraw; i++) {
		bool seen = false;

		for (uint32_t j = 0; j < n && !seen; j++)
			seen = strcmp(params[j].name, raw[i].name) == 0;
		if (seen)
			continue;
		params[n].name = raw[i].name;
		params[n].value = join_param(pool, raw, nraw, raw[i].name);
		if (params[n].value == NULL) {
			str_t dec = STR_INIT;

			mime_header_decode(raw[i].value, strlen(raw[i].value),
					   &dec);
			params[n].value = pool_strndup(pool, str_c(&dec),
						       dec.len);
			str_free(&dec);
		}
		n++;
	}
	*params_r = params;
	*n_r = n;
	return ret;
}
