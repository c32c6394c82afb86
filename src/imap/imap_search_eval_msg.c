/* imap_search_eval_msg.c: the content keys of one message for
 * imap_search_eval.c: header keys from the header section alone, BODY
 * and TEXT from the decoded text parts, read a chunk at a time. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_search_eval_private.h"
#include "mime/mime_address.h"
#include "mime/mime_header.h"
#include "mime/mime_parser.h"

#define SEARCH_CHUNK 8192

/* The reader of uid at its start; NULL when it cannot be read (a
 * message gone or unreadable matches no content key). */
static struct store_message_reader *open_message(struct search_run *run,
						 uint32_t uid)
{
	const char *error;
	if (run->open_failed)
		return NULL;
	if (run->reader != NULL) {
		if (store_message_seek(run->reader, 0, &error) == 0)
			return run->reader;
		search_message_close(run);
	}
	run->reader = store_view_message_open(run->view, uid, &error);
	run->open_failed = run->reader == NULL;
	return run->reader;
}

void search_message_close(struct search_run *run)
{
	if (run->reader != NULL)
		store_message_close(&run->reader);
	run->open_failed = false;
}

/* The header section (without the empty line) into run->buf, at most
 * IMAP_SEARCH_HEADER_MAX bytes; false on a read error or stop. */
static bool read_header(struct search_run *run, struct store_message_reader *r)
{
	char chunk[SEARCH_CHUNK];
	const char *error;
	str_clear(&run->buf);
	for (;;) {
		ssize_t n = store_message_read(r, chunk, sizeof(chunk), &error);
		if (n < 0 || !search_account(run, (size_t)(n < 0 ? 0 : n)))
			return false;
		if (n == 0)
			return true;    /* a message that is all header */
		size_t old = run->buf.len;
		str_append(&run->buf, chunk, (size_t)n);
		if (memcmp(run->buf.data, "\r\n", run->buf.len < 2 ? 1 : 2) == 0) {
			if (run->buf.len >= 2) {
				str_truncate(&run->buf, 0);     /* no header */
				return true;
			}
			continue;
		}
		/* RFC 5322 2.1: the header ends at the first empty line */
		size_t from = old > 3 ? old - 3 : 0;
		const char *end = memmem(run->buf.data + from, run->buf.len - from,
					 "\r\n\r\n", 4);
		if (end != NULL) {
			str_truncate(&run->buf, (size_t)(end - run->buf.data) + 2);
			return true;
		}
		if (run->buf.len >= IMAP_SEARCH_HEADER_MAX)
			return true;
	}
}

static bool match_whole(struct mime_match *m, const char *s, size_t len)
{
	mime_match_reset(m);
	mime_match_feed(m, s, len);
	return mime_match_finish(m);
}

/* RFC 5322 3.3 date-time, the date as written ("disregarding time and
 * timezone", RFC 9051 6.4.4): [day-of-week ","] day month year. */
static bool parse_sent_date(const char *s, int64_t *day_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	while (isspace((unsigned char)*s))
		s++;
	if (isalpha((unsigned char)*s)) {
		s = strchr(s, ',');
		if (s == NULL)
			return false;
		s++;
	}
	char *end;
	long day = strtol(s, &end, 10);
	if (end == s || day < 1 || day > 31)
		return false;
	for (s = end; isspace((unsigned char)*s); s++) ;
	const char *mon = NULL;
	for (unsigned i = 0; i < 12 && strlen(s) >= 3; i++) {
		if (strncasecmp(s, months + 3 * i, 3) == 0)
			mon = months + 3 * i;
	}
	if (mon == NULL)
		return false;
	long year = strtol(s + 3, &end, 10);
	if (end == s + 3 || year < 0 || year > 9999)
		return false;
	/* RFC 5322 4.3: obsolete two- and three-digit years */
	if (end - (s + 3) <= 3)
		year += year < 50 ? 2000 : 1900;
	*day_r = search_day_number((int)year, (int)((mon - months) / 3 + 1), (int)day);
	return true;
}

static bool match_addresses(struct search_run *run, struct mime_match *m,
			    const char *value, size_t len, const str_t *decoded)
{
	if (match_whole(m, decoded->data, decoded->len))
		return true;
	struct mime_address *addrs;
	uint32_t n = mime_address_parse(run->tmp, value, len, &addrs);
	for (uint32_t i = 0; i < n; i++) {
		if (addrs[i].mailbox == NULL || addrs[i].host == NULL)
			continue;       /* group markers */
		/* the decoded display form: "Name <mailbox@host>" */
		const char *form = pool_printf(run->tmp, "%s <%s@%s>",
					       addrs[i].name != NULL ? addrs[i].name : "",
					       addrs[i].mailbox, addrs[i].host);
		if (match_whole(m, form, strlen(form)))
			return true;
	}
	return false;
}

static const char *header_key_field(const struct imap_search_node *n)
{
	switch (n->key) {
	case IMAP_SEARCH_FROM: return "From";
	case IMAP_SEARCH_TO: return "To";
	case IMAP_SEARCH_CC: return "Cc";
	case IMAP_SEARCH_BCC: return "Bcc";
	case IMAP_SEARCH_SUBJECT: return "Subject";
	case IMAP_SEARCH_HEADER: return n->field;
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON:
	case IMAP_SEARCH_SENTSINCE: return "Date";
	default: return NULL;
	}
}

/* One header field against every header key naming it. */
static void eval_field(struct search_run *run, const char *name, size_t nlen,
		       const char *value, size_t vlen)
{
	const struct imap_search_program *p = run->prog;
	str_t unfolded = STR_INIT, decoded = STR_INIT;
	mime_header_unfold(value, vlen, &unfolded);
	mime_header_decode(unfolded.data == NULL ? "" : unfolded.data, unfolded.len, &decoded);
	for (unsigned i = 0; i < p->count; i++) {
		const struct imap_search_node *n = &p->nodes[i];
		struct mime_match *m = &run->matchers[i];
		if (run->res[i] == RES_YES)
			continue;
		if (n->key == IMAP_SEARCH_TEXT) {
			/* TEXT: the header as decoded text, field by field */
			const char *line = pool_printf(run->tmp, "%.*s: %s", (int)nlen,
						       name, str_c(&decoded));
			if (match_whole(m, line, strlen(line)))
				run->res[i] = RES_YES;
			continue;
		}
		const char *field = header_key_field(n);
		if (field == NULL || strlen(field) != nlen || strncasecmp(field, name, nlen) != 0)
			continue;
		bool hit;
		int64_t day, want;
		switch (n->key) {
		case IMAP_SEARCH_FROM: case IMAP_SEARCH_TO: case IMAP_SEARCH_CC:
		case IMAP_SEARCH_BCC:
			hit = match_addresses(run, m, str_c(&unfolded), unfolded.len, &decoded);
			break;
		case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON:
		case IMAP_SEARCH_SENTSINCE:
			if (run->res[i] != RES_UNKNOWN || !parse_sent_date(str_c(&unfolded), &day))
				continue;       /* the first Date: field counts */
			want = search_day_number(n->date.year, n->date.month, n->date.day);
			hit = n->key == IMAP_SEARCH_SENTBEFORE ? day < want :
				n->key == IMAP_SEARCH_SENTON ? day == want : day >= want;
			break;
		default:
			/* RFC 9051 6.4.4 HEADER: an empty string matches every
			 * message that has the field */
			hit = match_whole(m, decoded.data == NULL ? "" : decoded.data, decoded.len);
			break;
		}
		run->res[i] = hit ? RES_YES : RES_NO;
	}
	str_free(&unfolded);
	str_free(&decoded);
}

void search_eval_header(struct search_run *run, uint32_t uid)
{
	struct store_message_reader *r = open_message(run, uid);
	if (r == NULL)
		return;
	if (!read_header(run, r))
		return;
	const char *p = run->buf.data == NULL ? "" : run->buf.data;
	const char *end = p + run->buf.len;
	while (p < end) {
		/* a field: its first line and the lines that start with WSP */
		const char *f = p;
		do {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			p = nl == NULL ? end : nl + 1;
		} while (p < end && (*p == ' ' || *p == '\t'));
		const char *colon = memchr(f, ':', (size_t)(p - f));
		if (colon == NULL)
			continue;
		size_t nlen = (size_t)(colon - f);
		while (nlen > 0 && (f[nlen - 1] == ' ' || f[nlen - 1] == '\t'))
			nlen--;
		const char *v = colon + 1;
		while (v < p && (*v == ' ' || *v == '\t'))
			v++;
		size_t vlen = (size_t)(p - v);
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
			vlen--;
		eval_field(run, f, nlen, v, vlen);
	}
	/* header keys whose field is absent do not match; TEXT waits for
	 * the body */
	for (unsigned i = 0; i < run->prog->count; i++) {
		if (search_key_is_header(run->prog->nodes[i].key) &&
		    run->res[i] == RES_UNKNOWN)
			run->res[i] = RES_NO;
	}
}

/* Pass 1: the MIME structure, the message fed through the parser a
 * chunk at a time (the parser keeps the part tree, not the message). */
static struct mime_tree *read_structure(struct search_run *run,
					struct store_message_reader *r)
{
	char chunk[SEARCH_CHUNK];
	const char *error;
	struct mime_parser *parser = mime_parser_create();
	for (;;) {
		ssize_t n = store_message_read(r, chunk, sizeof(chunk), &error);
		if (n < 0 || !search_account(run, (size_t)(n < 0 ? 0 : n))) {
			mime_parser_abort(&parser);
			return NULL;
		}
		if (n == 0)
			return mime_parser_finish(&parser);
		mime_parser_feed(parser, chunk, (size_t)n);
	}
}

/* Decoded UTF-8 of the current part to every body key still open;
 * false once all of them matched. */
static bool feed_matchers(struct search_run *run, const str_t *text)
{
	bool open = false;
	for (unsigned i = 0; i < run->prog->count; i++) {
		if (!search_key_is_body(run->prog->nodes[i].key) || run->res[i] == RES_YES)
			continue;
		if (mime_match_feed(&run->matchers[i], text->data == NULL ? "" : text->data,
				    text->len))
			run->res[i] = RES_YES;
		else
			open = true;
	}
	return open;
}

/* Pass 2: one text part, decoded (RFC 2045 6 transfer encoding, then its
 * charset), streamed to the matchers. False on a read error or stop. */
static bool search_part(struct search_run *run, struct store_message_reader *r,
			const struct mime_part *part)
{
	char chunk[SEARCH_CHUNK];
	const char *error;
	if (store_message_seek(r, part->body_off, &error) < 0)
		return false;
	for (unsigned i = 0; i < run->prog->count; i++) {
		if (search_key_is_body(run->prog->nodes[i].key) && run->res[i] != RES_YES)
			mime_match_reset(&run->matchers[i]);
	}
	struct mime_decoder dec;
	mime_decoder_init(&dec, mime_cte_parse(part->cte));
	struct mime_charset_conv *conv = mime_charset_conv_create(
		mime_param_get(part->params, part->n_params, "charset"));
	uint64_t left = part->body_end - part->body_off;
	bool ok = true, open = true;
	while (left > 0 && open) {
		ssize_t n = store_message_read(r, chunk, left < sizeof(chunk) ?
					       (size_t)(left < 2 ? 2 : left) : sizeof(chunk),
					       &error);
		if (n < 0 || !search_account(run, (size_t)(n < 0 ? 0 : n))) {
			ok = false;
			break;
		}
		if (n == 0)
			break;
		size_t take = (uint64_t)n < left ? (size_t)n : (size_t)left;
		left -= take;
		str_clear(&run->dec);
		str_clear(&run->utf8);
		mime_decoder_feed(&dec, chunk, take, &run->dec);
		mime_charset_conv_feed(conv, run->dec.data, run->dec.len, &run->utf8);
		open = feed_matchers(run, &run->utf8);
	}
	str_clear(&run->dec);
	str_clear(&run->utf8);
	mime_decoder_finish(&dec, &run->dec);
	mime_charset_conv_feed(conv, run->dec.data, run->dec.len, &run->utf8);
	mime_charset_conv_finish(conv, &run->utf8);
	mime_charset_conv_free(&conv);
	if (open)
		feed_matchers(run, &run->utf8);
	for (unsigned i = 0; i < run->prog->count; i++) {
		if (search_key_is_body(run->prog->nodes[i].key) && run->res[i] != RES_YES &&
		    mime_match_finish(&run->matchers[i]))
			run->res[i] = RES_YES;
	}
	return ok;
}

/* RFC 9051 6.4.4 BODY: "in the body of the message": the text parts
 * (type text, and leaf parts of type message such as delivery reports);
 * attachments of other types are not text to search. */
static bool part_is_text(const struct mime_part *part)
{
	if ((part->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE)) != 0)
		return false;
	return strcmp(part->type, "text") == 0 || strcmp(part->type, "message") == 0;
}

void search_eval_body(struct search_run *run, uint32_t uid)
{
	struct store_message_reader *r = open_message(run, uid);
	if (r == NULL)
		return;
	struct mime_tree *tree = read_structure(run, r);
	bool open = true;
	for (uint32_t i = 0; tree != NULL && i < tree->count && open; i++) {
		if (!part_is_text(&tree->parts[i]))
			continue;
		if (!search_part(run, r, &tree->parts[i]))
			break;
		open = false;
		for (unsigned k = 0; k < run->prog->count; k++) {
			if (search_key_is_body(run->prog->nodes[k].key) && run->res[k] != RES_YES)
				open = true;
		}
	}
	mime_tree_free(&tree);
	for (unsigned k = 0; k < run->prog->count; k++) {
		if (search_key_is_body(run->prog->nodes[k].key) && run->res[k] != RES_YES)
			run->res[k] = RES_NO;
	}
}
