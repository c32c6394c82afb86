/* imap_fetch_render_body.c: RFC 9051 7.5.2 BODY and BODYSTRUCTURE from
 * the MIME tree (mime_parser.h, wire offsets).
 *
 * A leaf: (type subtype params id description encoding size), then for
 * text/ the body's lines, for message/rfc822 the enclosed message's
 * envelope, body and the lines; BODYSTRUCTURE adds md5, disposition,
 * language, location. A multipart: its parts, then the subtype;
 * BODYSTRUCTURE adds params, disposition, language, location. A multipart
 * without any part (a broken message) is given one empty text/plain part:
 * the grammar needs at least one. Types are the parser's (lower case);
 * a part without Content-Type is text/plain; charset=us-ascii (RFC 2045
 * 5.2), and a text part without a charset gets charset=us-ascii (the
 * RFC 2045 5.2 default, as Dovecot writes it). Lines are the body's line
 * ends (the CRLF before a delimiter belongs to it, RFC 2046 5.1.1, so it
 * is not counted, as in Dovecot). A message/rfc822 part whose message
 * is not parsed (base64 or quoted-printable encoded) still gets the
 * envelope and body the grammar requires for it: all NIL and an empty
 * text/plain part, as Dovecot does.
 * Recursion is bounded by MIME_MAX_DEPTH (the parser's limit). */
#include "imap/imap_fetch_render_private.h"

#include <string.h>

#define EMPTY_TEXT_PART \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)"
#define EMPTY_TEXT_PART_EXT \
	"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0" \
	" NIL NIL NIL NIL)"

static void render_params_with(str_t *out, const struct mime_param *params,
			       uint32_t n, const char *first)
{
	if (n == 0 && first == NULL) {
		str_appendz(out, "NIL");
		return;
	}
	str_appendc(out, '(');
	if (first != NULL)
		str_appendz(out, first);
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0 || first != NULL)
			str_appendc(out, ' ');
		imap_render_nstring_z(out, params[i].name);
		str_appendc(out, ' ');
		imap_render_nstring_7bit(out, params[i].value);
	}
	str_appendc(out, ')');
}

static void render_params(str_t *out, const struct mime_param *params,
			  uint32_t n)
{
	render_params_with(out, params, n, NULL);
}

static void render_body_params(str_t *out, const struct mime_part *p)
{
	bool add_charset = strcmp(p->type, "text") == 0 &&
		mime_param_get(p->params, p->n_params, "charset") == NULL;
	render_params_with(out, p->params, p->n_params,
			   add_charset ? "\"charset\" \"us-ascii\"" : NULL);
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void render_ext_tail(str_t *out, const struct mime_part *p)
{
	str_appendc(out, ' ');
	if (p->disposition == NULL) {
		str_appendz(out, "NIL");
	} else {
		str_appendc(out, '(');
		imap_render_nstring_z(out, p->disposition);
		str_appendc(out, ' ');
		render_params(out, p->disp_params, p->n_disp_params);
		str_appendc(out, ')');
	}
	str_appendc(out, ' ');
	/* RFC 3282: a comma-separated list of tags */
	const char *lang = p->language;
	if (lang == NULL || strchr(lang, ',') == NULL) {
		imap_render_nstring_z(out, lang);
	} else {
		str_appendc(out, '(');
		bool first = true;
		for (const char *s = lang; *s != '\0';) {
			while (*s == ',' || *s == ' ' || *s == '\t')
				s++;
			size_t n = strcspn(s, ", \t");
			if (n > 0) {
				if (!first)
					str_appendc(out, ' ');
				imap_render_nstring(out, s, n);
				first = false;
			}
			s += n;
		}
		str_appendc(out, ')');
	}
	str_appendc(out, ' ');
	imap_render_nstring_z(out, p->location);
}

static unsigned long long body_lines(const struct mime_part *p)
{
	return (unsigned long long)p->body_lines;
}

static bool is_message_type(const struct mime_part *p)
{
	return strcmp(p->type, "message") == 0 &&
		(strcmp(p->subtype, "rfc822") == 0 ||
		 strcmp(p->subtype, "global") == 0);
}

static int render_leaf(str_t *out, const struct mime_tree *tree,
		       uint32_t index, bool extended,
		       struct store_message_reader *reader, str_t *hdr,
		       const char **error_r)
{
	const struct mime_part *p = &tree->parts[index];
	str_appendc(out, '(');
	imap_render_nstring_z(out, p->type);
	str_appendc(out, ' ');
	imap_render_nstring_z(out, p->subtype);
	str_appendc(out, ' ');
	render_body_params(out, p);
	str_appendc(out, ' ');
	imap_render_nstring_z(out, p->id);
	str_appendc(out, ' ');
	imap_render_nstring_7bit(out, p->description);
	str_appendc(out, ' ');
	imap_render_nstring_z(out, p->cte != NULL ? p->cte : "7bit");
	str_printf(out, " %llu",
		   (unsigned long long)mime_part_body_octets(p));
	if ((p->flags & MIME_PART_MESSAGE) != 0 &&
	    p->first_child != MIME_NONE) {
		const struct mime_part *m = &tree->parts[p->first_child];
		if (store_message_read_header(reader, m, IMAP_FETCH_HEADER_MAX, hdr, error_r) < 0)
			return -1;
		str_appendc(out, ' ');
		imap_render_envelope(out, hdr->data == NULL ? "" : hdr->data,
				     hdr->len);
		str_appendc(out, ' ');
		if (imap_render_body(out, tree, p->first_child, extended,
				     reader, hdr, error_r) < 0)
			return -1;
		str_printf(out, " %llu", body_lines(p));
	} else if (is_message_type(p)) {
		str_printf(out, " (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) %s %llu",
			   extended ? EMPTY_TEXT_PART_EXT : EMPTY_TEXT_PART,
			   body_lines(p));
	} else if (strcmp(p->type, "text") == 0) {
		str_printf(out, " %llu", body_lines(p));
	}
	if (extended) {
		str_appendc(out, ' ');
		imap_render_nstring_z(out, p->md5);
		render_ext_tail(out, p);
	}
	str_appendc(out, ')');
	return 0;
}

int imap_render_body(str_t *out, const struct mime_tree *tree,
		     uint32_t index, bool extended,
		     struct store_message_reader *reader, str_t *hdr,
		     const char **error_r)
{
	const struct mime_part *p = &tree->parts[index];
	if (strcmp(p->type, "multipart") != 0)
		return render_leaf(out, tree, index, extended, reader, hdr,
				   error_r);
	str_appendc(out, '(');
	uint32_t c = p->first_child;
	if (c == MIME_NONE)
		str_appendz(out, extended ? EMPTY_TEXT_PART_EXT : EMPTY_TEXT_PART);
	for (; c != MIME_NONE; c = tree->parts[c].next_sibling) {
		if (imap_render_body(out, tree, c, extended, reader, hdr,
				     error_r) < 0)
			return -1;
	}
	str_appendc(out, ' ');
	imap_render_nstring_z(out, p->subtype);
	if (extended) {
		str_appendc(out, ' ');
		render_params(out, p->params, p->n_params);
		render_ext_tail(out, p);
	}
	str_appendc(out, ')');
	return 0;
}
