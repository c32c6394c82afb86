/* mime_downgrade_param.c: the MIME parameters of an 8-bit Content-Type
 * or Content-Disposition field made 7-bit for the RFC 6858 downgrade.
 *
 * Contract (mime_downgrade.h, mime_downgrade_params()): the value is read
 * by the MIME parser's own parameter syntax (mime_header_raw_params(),
 * mime_params.c: comments skipped, quoted strings unescaped, RFC 2231
 * sections kept apart), so the downgrade and BODYSTRUCTURE see the same
 * parameters. A parameter (all sections of one name, RFC 2231 3) whose
 * value holds an octet >= 0x80 is written as one RFC 2231 extended value,
 * attribute*N*=charset''%XX... (4, 4.1: continuations numbered from 0,
 * each short enough for its own line), charset UTF-8 or UNKNOWN-8BIT when
 * the octets are not UTF-8 (RFC 1428 3); encoded words are not allowed in
 * a parameter (RFC 2047 5). 7-bit parameters are written again with the
 * same name, section and value (quoted when the value needs it); a plain
 * "name=" and an extended "name*=" of one name (a fallback beside the
 * RFC 2231 form) stay two parameters. An 8-bit attribute name has no
 * 7-bit form: left out. Bounded: MIME_MAX_PARAMS parameters, one pass
 * over each; the output is at most about 3x the value plus the folding. */
#include "mime/mime_downgrade.h"

#include <string.h>

#define LINE_MAX_COLS 76
/* octets of encoded value per continuation (3 per 8-bit octet) */
#define PARAM_CHUNK 48

#include "mime/mime_header.h"

/* RFC 2231 7 attribute-char: what an extended value leaves unencoded */
static bool attr_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("*'%()<>@,;:\\\"/[]?=", c) == NULL;
}

/* RFC 2045 5.1: a value that is not a token is written quoted */
static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f ||
		    strchr("()<>@,;:\\\"/[]?=", *s) != NULL)
			return false;
	return true;
}

/* "; " then text, on the next line when it would pass column 75 (the
 * next item's ';' still fits in 76) */
static void append_item(const char *text, size_t len, const char *eol, size_t *col,
			str_t *out)
{
	str_appendc(out, ';');
	*col += 1;
	if (*col + 1 + len + 1 > LINE_MAX_COLS) {
		str_appendz(out, eol);
		*col = 0;
	}
	str_appendc(out, *col == 0 ? '\t' : ' ');
	str_append(out, text, len);
	*col += 1 + len;
}

/* RFC 2231 4 and 4.1: attr*0*=charset''..., attr*1*=... */
static void append_extended(const char *attr, size_t attr_len, const char *val,
			    size_t len, const char *eol, size_t *col, str_t *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *charset = mime_downgrade_charset(val, len);
	str_t item = STR_INIT;
	unsigned part = 0;
	size_t i = 0;
	/* bounded: every round takes at least one octet */
	do {
		str_clear(&item);
		str_append(&item, attr, attr_len);
		str_printf(&item, "*%u*=", part);
		if (part == 0) {
			str_appendz(&item, charset);
			str_appendz(&item, "''");
		}
		size_t start = item.len;
		while (i < len && item.len - start < PARAM_CHUNK) {
			unsigned char c = (unsigned char)val[i++];
			if (attr_char(c)) {
				str_appendc(&item, (char)c);
			} else {
				str_appendc(&item, '%');
				str_appendc(&item, hex[c >> 4]);
				str_appendc(&item, hex[c & 15]);
			}
		}
		append_item(item.data, item.len, eol, col, out);
		part++;
	} while (i < len);
	str_free(&item);
}

/* One 7-bit parameter section as it was: name[*N][*]=value */
static void append_plain(const struct mime_raw_param *r, const char *eol, size_t *col,
			 str_t *out)
{
	str_t item = STR_INIT;
	str_appendz(&item, r->name);
	if (r->section >= 0)
		str_printf(&item, "*%d", r->section);
	if (r->extended)
		str_appendc(&item, '*');
	str_appendc(&item, '=');
	if (r->extended || is_token(r->value)) {
		str_appendz(&item, r->value);
	} else {
		str_appendc(&item, '"');
		for (const char *v = r->value; *v != '\0'; v++) {
			if (*v == '"' || *v == '\\')
				str_appendc(&item, '\\');
			str_appendc(&item, *v);
		}
		str_appendc(&item, '"');
	}
	append_item(item.data, item.len, eol, col, out);
	str_free(&item);
}

static bool same_param(const struct mime_raw_param *a, const struct mime_raw_param *b)
{
	return strcmp(a->name, b->name) == 0 && (a->section < 0) == (b->section < 0);
}

/* The octets of parameter raw[first]'s sections 0, 1, ... (RFC 2231 3, up
 * to a gap; a plain one alone), extended ones %XX-decoded without their
 * charset'lang' prefix */
static void joined_value(const struct mime_raw_param *raw, uint32_t n, uint32_t first,
			 str_t *out)
{
	const struct mime_raw_param *f = &raw[first];
	if (f->section < 0) {
		str_appendz(out, f->value);
		return;
	}
	/* bounded: n sections at most */
	for (int sec = 0; sec <= (int)n; sec++) {
		const struct mime_raw_param *r = NULL;
		for (uint32_t i = 0; i < n && r == NULL; i++)
			if (raw[i].section == sec && same_param(&raw[i], f))
				r = &raw[i];
		if (r == NULL)
			break;
		const char *v = r->value;
		if (!r->extended) {
			str_appendz(out, v);
			continue;
		}
		const char *q1 = sec == 0 ? strchr(v, '\'') : NULL;
		const char *q2 = q1 != NULL ? strchr(q1 + 1, '\'') : NULL;
		mime_pct_decode(q2 != NULL ? q2 + 1 : v, out);
	}
}

bool mime_downgrade_params(const char *v, size_t len, const char *eol,
			   size_t *col, str_t *out)
{
	pool_t *pool = pool_create(1024);
	struct mime_raw_param raw[MIME_MAX_PARAMS];
	char *type, *subtype;
	uint32_t n;
	/* a Content-Disposition has no subtype: the first token alone */
	const char *slash = memchr(v, '/', strcspn(v, ";"));
	int head = mime_header_raw_params(pool, v, len, slash != NULL, &type, &subtype, raw,
					  &n);
	/* no type, or a subtype the parser refuses (an 8-bit token, RFC
	 * 2045 5.1): no 7-bit form */
	if (type == NULL || (slash != NULL && head < 0) || mime_downgrade_8bit(type, strlen(type)) ||
	    (subtype != NULL && mime_downgrade_8bit(subtype, strlen(subtype)))) {
		pool_destroy(&pool);
		return false;
	}
	str_appendc(out, ' ');
	str_appendz(out, type);
	*col += 1 + strlen(type);
	if (subtype != NULL) {
		str_appendc(out, '/');
		str_appendz(out, subtype);
		*col += 1 + strlen(subtype);
	}
	str_t val = STR_INIT;
	for (uint32_t i = 0; i < n; i++) {
		const struct mime_raw_param *r = &raw[i];
		if (mime_downgrade_8bit(r->name, strlen(r->name)))
			continue; /* no 7-bit form */
		/* whether any section of this parameter is 8-bit (also one
		 * past a gap, which the parser ignores: then left out) and
		 * whether this is its first; a plain 8-bit fallback beside an
		 * RFC 2231 form of the same name is left to that form */
		bool first = true, eight = false, has_extended = false;
		for (uint32_t k = 0; k < n; k++) {
			if (same_param(&raw[k], r)) {
				first = first && k >= i;
				eight = eight || mime_downgrade_8bit(raw[k].value,
								     strlen(raw[k].value));
			} else if (strcmp(raw[k].name, r->name) == 0) {
				has_extended = has_extended || r->section < 0;
			}
		}
		if (!eight) {
			append_plain(r, eol, col, out);
		} else if (first && !has_extended) {
			str_clear(&val);
			joined_value(raw, n, i, &val);
			if (val.len > 0) /* else only sections past a gap */
				append_extended(r->name, strlen(r->name), val.data, val.len,
						eol, col, out);
		}
	}
	str_free(&val);
	pool_destroy(&pool);
	return true;
}
