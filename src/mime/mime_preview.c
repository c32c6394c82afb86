/* mime_preview.c: RFC 8970 preview text (see mime_preview.h). */
#include "mime/mime_preview.h"
#include "mime/mime_decode.h"

#include <string.h>
#include <strings.h>

static bool part_is_attachment(const struct mime_part *p)
{
	return p->disposition != NULL &&
		strcasecmp(p->disposition, "attachment") == 0;
}

static bool part_is_text(const struct mime_part *p, const char *subtype)
{
	return (p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) == 0 &&
		strcmp(p->type, "text") == 0 && strcmp(p->subtype, subtype) == 0 &&
		!part_is_attachment(p);
}

/* The first part below (and including) index that is text/subtype,
 * skipping enclosed messages; MIME_NONE if none. */
static uint32_t find_text(const struct mime_tree *tree, uint32_t index,
			  const char *subtype, unsigned depth)
{
	const struct mime_part *p = &tree->parts[index];
	if (part_is_text(p, subtype))
		return index;
	if ((p->flags & MIME_PART_MULTIPART) == 0 || depth > MIME_MAX_DEPTH)
		return MIME_NONE;
	for (uint32_t c = p->first_child; c != MIME_NONE && c < tree->count;
	     c = tree->parts[c].next_sibling) {
		uint32_t found = find_text(tree, c, subtype, depth + 1);
		if (found != MIME_NONE)
			return found;
	}
	return MIME_NONE;
}

uint32_t mime_preview_part(const struct mime_tree *tree)
{
	if (tree == NULL || tree->count == 0)
		return MIME_NONE;
	uint32_t found = find_text(tree, 0, "plain", 0);
	return found != MIME_NONE ? found : find_text(tree, 0, "html", 0);
}

/* HTML to text: tags dropped (style, script, head with their content),
 * a few entities decoded; a tag becomes a space. */
static void html_strip(const char *in, size_t len, str_t *out)
{
	static const char *const skipped[] = { "style", "script", "head" };
	size_t i = 0;
	while (i < len) {
		if (in[i] == '<') {
			const char *end = memchr(in + i, '>', len - i);
			size_t tag_end = end == NULL ? len : (size_t)(end - in) + 1;
			for (size_t k = 0; k < sizeof(skipped) / sizeof(*skipped); k++) {
				size_t n = strlen(skipped[k]);
				if (tag_end - i > n + 1 && strncasecmp(in + i + 1, skipped[k], n) == 0 &&
				    (in[i + 1 + n] == '>' || in[i + 1 + n] == ' ')) {
					/* to the closing tag, or the end */
					const char *close = NULL;
					for (size_t j = tag_end; j + n + 2 < len && close == NULL; j++)
						if (in[j] == '<' && in[j + 1] == '/' &&
						    strncasecmp(in + j + 2, skipped[k], n) == 0)
							close = in + j;
					const char *ce = close == NULL ? NULL :
						memchr(close, '>', len - (size_t)(close - in));
					tag_end = ce == NULL ? len : (size_t)(ce - in) + 1;
				}
			}
			str_appendc(out, ' ');
			i = tag_end;
			continue;
		}
		if (in[i] == '&') {
			static const struct { const char *name; const char *text; } ents[] = {
				{ "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" },
				{ "&quot;", "\"" }, { "&apos;", "'" }, { "&nbsp;", " " },
				{ "&#39;", "'" },
			};
			bool done = false;
			for (size_t k = 0; k < sizeof(ents) / sizeof(*ents) && !done; k++) {
				size_t n = strlen(ents[k].name);
				if (len - i >= n && strncasecmp(in + i, ents[k].name, n) == 0) {
					str_appendz(out, ents[k].text);
					i += n;
					done = true;
				}
			}
			if (done)
				continue;
		}
		str_appendc(out, in[i++]);
	}
}

/* Length of the valid UTF-8 sequence at s[0..len), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t len)
{
	size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2 ? 2 :
		(s[0] & 0xf0) == 0xe0 ? 3 : (s[0] & 0xf8) == 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	if (n == 0 || n > len)
		return 0;
	for (size_t k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* White space collapsed, control characters as spaces, trimmed, at
 * most MIME_PREVIEW_CHARS characters. */
static void collapse(const char *in, size_t len, str_t *out)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned chars = 0;
	bool space = false;
	size_t i = 0;
	while (i < len && chars < MIME_PREVIEW_CHARS) {
		if (s[i] < 0x20 || s[i] == ' ' || s[i] == 0x7f) {
			space = true;
			i++;
			continue;
		}
		/* U+00A0 no-break space is white space too */
		if (s[i] == 0xc2 && i + 1 < len && s[i + 1] == 0xa0) {
			space = true;
			i += 2;
			continue;
		}
		if (space && out->len > 0) {
			/* a space only before a character that fits too */
			if (chars + 1 >= MIME_PREVIEW_CHARS)
				break;
			str_appendc(out, ' ');
			chars++;
		}
		space = false;
		size_t n = utf8_seq(s + i, len - i);
		if (n == 0) {
			str_appendz(out, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
		} else {
			str_append(out, in + i, n);
			i += n;
		}
		chars++;
	}
}

void mime_preview_text(const struct mime_part *part, const void *body,
		       size_t len, str_t *out)
{
	if (len > MIME_PREVIEW_INPUT_MAX)
		len = MIME_PREVIEW_INPUT_MAX;
	str_t dec = STR_INIT, utf8 = STR_INIT, text = STR_INIT;
	struct mime_decoder d;
	mime_decoder_init(&d, mime_cte_parse(part->cte));
	mime_decoder_feed(&d, body, len, &dec);
	mime_decoder_finish(&d, &dec);
	const char *charset = mime_param_get(part->params, part->n_params, "charset");
	struct mime_charset_conv *conv = mime_charset_conv_create(charset != NULL ? charset : "");
	mime_charset_conv_feed(conv, dec.data, dec.len, &utf8);
	mime_charset_conv_finish(conv, &utf8);
	mime_charset_conv_free(&conv);
	const str_t *src = &utf8;
	if (strcmp(part->subtype, "html") == 0) {
		html_strip(utf8.data != NULL ? utf8.data : "", utf8.len, &text);
		src = &text;
	}
	collapse(src->data != NULL ? src->data : "", src->len, out);
	str_free(&dec);
	str_free(&utf8);
	str_free(&text);
}
