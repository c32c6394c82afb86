/* imap_fetch_parse.c: FETCH item parsing (see imap_fetch_parse.h). */
#include "imap/imap_fetch_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_args.h"
#include "lib/mem.h"

struct simple_item {
	const char *name;
	enum imap_fetch_item item;
};

static const struct simple_item simple_items[] = {
	{ "FLAGS", IMAP_FETCH_FLAGS },
	{ "INTERNALDATE", IMAP_FETCH_INTERNALDATE },
	{ "RFC822", IMAP_FETCH_RFC822 },
	{ "RFC822.HEADER", IMAP_FETCH_RFC822_HEADER },
	{ "RFC822.SIZE", IMAP_FETCH_RFC822_SIZE },
	{ "RFC822.TEXT", IMAP_FETCH_RFC822_TEXT },
	{ "ENVELOPE", IMAP_FETCH_ENVELOPE },
	{ "BODY", IMAP_FETCH_BODY },
	{ "BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE },
	{ "UID", IMAP_FETCH_UID },
	{ "MODSEQ", IMAP_FETCH_MODSEQ }, /* RFC 7162 3.1.4 */
};

struct section_item {
	const char *prefix; /* up to the '[' */
	enum imap_fetch_item item;
	bool peek;
};

static const struct section_item section_items[] = {
	{ "BODY", IMAP_FETCH_BODY_SECTION, false },
	{ "BODY.PEEK", IMAP_FETCH_BODY_SECTION, true },
	{ "BINARY", IMAP_FETCH_BINARY, false },
	{ "BINARY.PEEK", IMAP_FETCH_BINARY, true },
	{ "BINARY.SIZE", IMAP_FETCH_BINARY_SIZE, false },
};

/* RFC 9051 6.4.5: the macros, alone and not in a list */
static const struct {
	const char *name;
	unsigned count;
	enum imap_fetch_item items[5];
} macros[] = {
	{ "ALL", 4, { IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		      IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE } },
	{ "FAST", 3, { IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		       IMAP_FETCH_RFC822_SIZE } },
	{ "FULL", 5, { IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE,
		       IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY } },
};

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

static bool prefix_is(const char *s, size_t len, const char *word)
{
	size_t n = strlen(word);
	return len >= n && strncasecmp(s, word, n) == 0;
}

/* header-list = "(" header-fld-name *(SP header-fld-name) ")" */
static int parse_header_list(const char *s, size_t len, struct imap_fetch_att *att,
			     const char **error_r)
{
	*error_r = "Invalid header field list";
	if (len < 3 || s[0] != '(' || s[len - 1] != ')')
		return -1;
	size_t i = 1, end = len - 1;
	while (i < end) {
		const char *name = s + i;
		size_t n = 0;
		if (s[i] == '"') {
			name++;
			for (i++; i < end && s[i] != '"'; i++, n++)
				if (s[i] == '\\')
					return -1;
			if (i >= end)
				return -1;
			i++;
		} else {
			for (; i < end && s[i] != ' '; i++, n++)
				if (strchr("(){%*\"\\]", s[i]) != NULL)
					return -1;
		}
		/* RFC 5322 2.2: field names are printable ASCII without ':' */
		if (n == 0 || memchr(name, ':', n) != NULL)
			return -1;
		if (att->field_count >= IMAP_SECTION_MAX_FIELDS) {
			*error_r = "Too many header fields";
			return -1;
		}
		att->fields[att->field_count++] = (struct imap_header_field){ name, n };
		if (i < end) {
			if (s[i] != ' ' || i + 1 >= end)
				return -1;
			i++;
		}
	}
	*error_r = NULL;
	return 0;
}

/* section-spec between the brackets */
static int parse_section(const char *s, size_t len, bool binary,
			 struct imap_fetch_att *att, const char **error_r)
{
	size_t i = 0;
	/* section-part = nz-number *("." nz-number) */
	while (i < len && s[i] >= '1' && s[i] <= '9') {
		size_t start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		uint64_t n;
		if (imap_parse_number64(s + start, i - start, UINT32_MAX, &n) < 0) {
			*error_r = "Section part number out of range";
			return -1;
		}
		if (att->part_depth >= IMAP_SECTION_MAX_DEPTH) {
			*error_r = "Section part path too deep";
			return -1;
		}
		att->part[att->part_depth++] = (uint32_t)n;
		if (i == len)
			return 0;
		if (s[i] != '.') {
			*error_r = "Invalid section part";
			return -1;
		}
		i++;
		if (i == len || !(s[i] >= '1' && s[i] <= '9'))
			break;
	}
	if (i == len && att->part_depth == 0)
		return 0;
	/* RFC 9051 6.4.5: BINARY takes only part numbers */
	if (binary || i == len) {
		*error_r = "Invalid section";
		return -1;
	}
	const char *t = s + i;
	size_t tl = len - i;
	if (word_is(t, tl, "HEADER"))
		att->text = IMAP_SECTION_HEADER;
	else if (word_is(t, tl, "TEXT"))
		att->text = IMAP_SECTION_TEXT;
	else if (word_is(t, tl, "MIME") && att->part_depth > 0)
		att->text = IMAP_SECTION_MIME;
	else if (prefix_is(t, tl, "HEADER.FIELDS.NOT ")) {
		att->text = IMAP_SECTION_HEADER_FIELDS_NOT;
		return parse_header_list(t + 18, tl - 18, att, error_r);
	} else if (prefix_is(t, tl, "HEADER.FIELDS ")) {
		att->text = IMAP_SECTION_HEADER_FIELDS;
		return parse_header_list(t + 14, tl - 14, att, error_r);
	} else {
		*error_r = "Invalid section";
		return -1;
	}
	return 0;
}

/* partial = "<" number64 "." nz-number64 ">" (RFC 9051 9) */
static int parse_partial(const char *s, size_t len, struct imap_fetch_att *att,
			 const char **error_r)
{
	*error_r = "Invalid partial <offset.length>";
	const char *dot = memchr(s, '.', len);
	if (len < 5 || s[0] != '<' || s[len - 1] != '>' || dot == NULL)
		return -1;
	size_t off_len = (size_t)(dot - s) - 1, n_len = len - 3 - off_len;
	if (imap_parse_number64(s + 1, off_len, INT64_MAX, &att->partial_offset) < 0 ||
	    imap_parse_number64(dot + 1, n_len, INT64_MAX, &att->partial_length) < 0 ||
	    att->partial_length == 0)
		return -1;
	att->partial = true;
	*error_r = NULL;
	return 0;
}

int imap_fetch_parse_att(const char *s, size_t len, struct imap_fetch_att *att_r,
			 const char **error_r)
{
	memset(att_r, 0, sizeof(*att_r));
	*error_r = NULL;
	for (size_t i = 0; i < sizeof(simple_items) / sizeof(*simple_items); i++)
		if (word_is(s, len, simple_items[i].name)) {
			att_r->item = simple_items[i].item;
			return 0;
		}
	const char *open = memchr(s, '[', len);
	const char *close = open != NULL ? memchr(open, ']', len - (size_t)(open - s)) : NULL;
	if (open == NULL || close == NULL) {
		*error_r = prefix_is(s, len, "MODSEQ") ? "MODSEQ is not supported" :
			"Unknown FETCH item";
		return -1;
	}
	size_t plen = (size_t)(open - s);
	const struct section_item *it = NULL;
	for (size_t i = 0; i < sizeof(section_items) / sizeof(*section_items); i++)
		if (word_is(s, plen, section_items[i].prefix))
			it = &section_items[i];
	if (it == NULL) {
		*error_r = "Unknown FETCH item";
		return -1;
	}
	att_r->item = it->item;
	att_r->peek = it->peek;
	if (parse_section(open + 1, (size_t)(close - open) - 1,
			  it->item != IMAP_FETCH_BODY_SECTION, att_r, error_r) < 0)
		return -1;
	size_t rest = len - (size_t)(close + 1 - s);
	if (rest == 0)
		return 0;
	/* RFC 3516: BINARY.SIZE has no partial */
	if (it->item == IMAP_FETCH_BINARY_SIZE) {
		*error_r = "BINARY.SIZE takes no partial";
		return -1;
	}
	return parse_partial(close + 1, rest, att_r, error_r);
}

static _Thread_local char fetch_error[160];

int imap_fetch_parse(const struct imap_arg *args, unsigned first, unsigned end,
		     unsigned max_items, struct imap_fetch_request *req_r,
		     const char **error_r)
{
	*req_r = (struct imap_fetch_request){ 0 };
	*error_r = NULL;
	if (first >= end || imap_arg_next(args, first) != end) {
		*error_r = first >= end ? "Missing FETCH items" :
			"FETCH modifiers are not supported";
		return -1;
	}
	const struct imap_arg *a = &args[first];
	if (a->type == IMAP_ARG_ATOM) {
		for (size_t m = 0; m < sizeof(macros) / sizeof(*macros); m++) {
			if (!word_is(a->str, a->len, macros[m].name))
				continue;
			req_r->atts = xcalloc(macros[m].count, sizeof(*req_r->atts));
			for (unsigned k = 0; k < macros[m].count; k++)
				req_r->atts[k].item = macros[m].items[k];
			req_r->count = macros[m].count;
			return 0;
		}
	}
	unsigned from = first, to = first + 1;
	if (a->type == IMAP_ARG_LIST) {
		from = first + 1;
		to = from + a->list_len;
		if (from == to) {
			*error_r = "Empty FETCH item list";
			return -1;
		}
	}
	if (to - from > max_items) {
		*error_r = "Too many FETCH items";
		return -1;
	}
	req_r->atts = xcalloc(to - from, sizeof(*req_r->atts));
	for (unsigned i = from; i < to; i++) {
		if (args[i].type != IMAP_ARG_ATOM) {
			*error_r = "Invalid FETCH item";
			goto bad;
		}
		if (imap_fetch_parse_att(args[i].str, args[i].len,
					 &req_r->atts[req_r->count], error_r) < 0) {
			snprintf(fetch_error, sizeof(fetch_error), "%s (line %u, column %u)",
				 *error_r, args[i].line, args[i].col);
			*error_r = fetch_error;
			goto bad;
		}
		req_r->count++;
	}
	return 0;
bad:
	imap_fetch_request_free(req_r);
	return -1;
}

void imap_fetch_request_free(struct imap_fetch_request *req)
{
	free(req->atts);
	req->atts = NULL;
	req->count = 0;
}
