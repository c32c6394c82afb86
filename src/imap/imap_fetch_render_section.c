/* imap_fetch_render_section.c: what BODY[section] names (RFC 9051 6.4.5)
 * as wire octets of the message, its response name, and the HEADER.FIELDS
 * filter.
 *
 * Part numbers (6.4.5): the parts of a multipart are numbered from 1; a
 * message that is not multipart has one part, 1, its body; the parts of
 * a message/rfc822 part are those of the message it encloses. HEADER,
 * HEADER.FIELDS(.NOT) and TEXT with a part number refer to the enclosed
 * message of a message/rfc822 part (else they are missing); MIME is the
 * part's own MIME header. A missing part is answered NIL. */
#include "imap/imap_fetch_render_private.h"

#include <string.h>

static bool is_multipart(const struct mime_part *p)
{
	return strcmp(p->type, "multipart") == 0;
}

static bool has_message(const struct mime_part *p)
{
	return (p->flags & MIME_PART_MESSAGE) != 0 &&
		p->first_child != MIME_NONE;
}

/* Part n (1-based) below node; as_message: node is a message (the root,
 * or the message a message/rfc822 part encloses). MIME_NONE if none. */
static uint32_t subpart(const struct mime_tree *tree, uint32_t node,
			bool as_message, uint32_t n)
{
	for (unsigned hops = 0; hops < 2; hops++) {
		const struct mime_part *p = &tree->parts[node];
		if (is_multipart(p)) {
			uint32_t c = p->first_child;
			for (uint32_t i = 1; c != MIME_NONE && i < n; i++)
				c = tree->parts[c].next_sibling;
			return c;
		}
		if (as_message)
			return n == 1 ? node : MIME_NONE;
		if (!has_message(p))
			return MIME_NONE;
		node = p->first_child;
		as_message = true;
	}
	return MIME_NONE;
}

static void set_range(struct imap_section_target *t, uint64_t start,
		      uint64_t end)
{
	t->kind = IMAP_SECTION_KIND_RANGE;
	t->start = start;
	t->len = end > start ? end - start : 0;
}

void imap_section_resolve(const struct mime_tree *tree, uint64_t msg_size,
			  const struct imap_fetch_att *att,
			  struct imap_section_target *target_r)
{
	memset(target_r, 0, sizeof(*target_r));
	target_r->kind = IMAP_SECTION_KIND_MISSING;
	if (att->part_depth == 0 && att->text == IMAP_SECTION_WHOLE) {
		set_range(target_r, 0, msg_size);
		return;
	}
	if (tree == NULL || tree->count == 0)
		return;
	uint32_t node = 0;
	for (unsigned i = 0; i < att->part_depth; i++) {
		node = subpart(tree, node, i == 0, att->part[i]);
		if (node == MIME_NONE || att->part[i] == 0)
			return;
	}
	const struct mime_part *p = &tree->parts[node];
	if (att->part_depth > 0 && att->text != IMAP_SECTION_WHOLE &&
	    att->text != IMAP_SECTION_MIME) {
		/* HEADER / TEXT of a part: of the message it encloses */
		if (!has_message(p))
			return;
		node = p->first_child;
		p = &tree->parts[node];
	}
	switch (att->text) {
	case IMAP_SECTION_WHOLE:
		set_range(target_r, p->body_off, p->body_end);
		target_r->part = node; /* BINARY decodes by its encoding */
		break;
	case IMAP_SECTION_MIME:
	case IMAP_SECTION_HEADER:
		set_range(target_r, p->hdr_off, p->body_off);
		break;
	case IMAP_SECTION_TEXT:
		set_range(target_r, p->body_off,
			  node == 0 ? msg_size : p->body_end);
		break;
	case IMAP_SECTION_HEADER_FIELDS:
	case IMAP_SECTION_HEADER_FIELDS_NOT:
		target_r->kind = IMAP_SECTION_KIND_FIELDS;
		target_r->part = node;
		break;
	}
}

/* RFC 9051 9 astring: an atom as given, anything else quoted */
static void render_astring(str_t *out, const char *s, size_t len)
{
	bool atom = len > 0;
	for (size_t i = 0; i < len && atom; i++) {
		unsigned char c = (unsigned char)s[i];
		atom = c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
	}
	if (atom)
		str_append(out, s, len);
	else
		imap_render_nstring(out, s, len);
}

void imap_section_name(str_t *out, const struct imap_fetch_att *att)
{
	str_appendz(out, "BODY[");
	for (unsigned i = 0; i < att->part_depth; i++)
		str_printf(out, "%s%u", i > 0 ? "." : "", att->part[i]);
	static const char *const names[] = {
		[IMAP_SECTION_WHOLE] = "",
		[IMAP_SECTION_HEADER] = "HEADER",
		[IMAP_SECTION_HEADER_FIELDS] = "HEADER.FIELDS",
		[IMAP_SECTION_HEADER_FIELDS_NOT] = "HEADER.FIELDS.NOT",
		[IMAP_SECTION_TEXT] = "TEXT",
		[IMAP_SECTION_MIME] = "MIME",
	};
	if (att->text != IMAP_SECTION_WHOLE) {
		if (att->part_depth > 0)
			str_appendc(out, '.');
		str_appendz(out, names[att->text]);
	}
	if (att->text == IMAP_SECTION_HEADER_FIELDS ||
	    att->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		str_appendz(out, " (");
		for (unsigned i = 0; i < att->field_count; i++) {
			if (i > 0)
				str_appendc(out, ' ');
			render_astring(out, att->fields[i].name,
				       att->fields[i].len);
		}
		str_appendc(out, ')');
	}
	str_appendc(out, ']');
	if (att->partial)
		str_printf(out, "<%llu>",
			   (unsigned long long)att->partial_offset);
}

static bool field_listed(const struct imap_fetch_att *att, const char *name,
			 size_t len)
{
	for (unsigned i = 0; i < att->field_count; i++) {
		if (att->fields[i].len == len &&
		    mem_ieq(att->fields[i].name, name, len))
			return true;
	}
	return false;
}

void imap_header_filter(str_t *out, const char *hdr, size_t len,
			const struct imap_fetch_att *att)
{
	bool not = att->text == IMAP_SECTION_HEADER_FIELDS_NOT;
	size_t pos = 0, name_len, field_len;
	const char *name, *field;
	while (imap_header_next_field(hdr, len, &pos, &name, &name_len,
				      &field, &field_len)) {
		if (field_listed(att, name, name_len) == not)
			continue;
		str_append(out, field, field_len);
		/* the last field of a header without the empty line */
		if (field[field_len - 1] != '\n')
			str_appendz(out, "\r\n");
	}
	str_appendz(out, "\r\n");
}
