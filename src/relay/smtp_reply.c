/* smtp_reply.c: SMTP reply lines into replies. See smtp_reply.h. */
#include "relay/smtp_reply.h"

#include <string.h>

void smtp_reply_parser_init(struct smtp_reply_parser *p, unsigned max_lines)
{
	memset(p, 0, sizeof(*p));
	p->max_lines = max_lines > 0 ? max_lines : SMTP_REPLY_LINES_DEFAULT;
	p->done = true;
}

void smtp_reply_parser_free(struct smtp_reply_parser *p)
{
	str_free(&p->reply.text);
}

static bool smtp_reply_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 3463 2: class "." subject "." detail, 1-3 digits each after the
 * class; the class must match the reply's first digit (RFC 2034 3). */
static void smtp_reply_enhanced(struct smtp_reply *r, const char *text,
				size_t len)
{
	size_t i = 0, parts = 0, digits = 0;
	if (len < 5 || text[0] != '0' + (char)(r->code / 100) || text[1] != '.')
		return;
	for (i = 2; i < len && i < sizeof(r->enhanced) - 1; i++) {
		if (smtp_reply_digit(text[i])) {
			if (++digits > 3)
				return;
		} else if (text[i] == '.' && digits > 0 && parts == 0) {
			parts++;
			digits = 0;
		} else
			break;
	}
	if (parts != 1 || digits == 0 || (i < len && text[i] != ' '))
		return;
	memcpy(r->enhanced, text, i);
	r->enhanced[i] = '\0';
}

static int smtp_reply_fail(struct smtp_reply_parser *p, const char *why,
			   const char **error_r)
{
	p->done = true;
	str_clear(&p->reply.text);
	*error_r = why;
	return -1;
}

int smtp_reply_feed(struct smtp_reply_parser *p, const char *line, size_t len,
		    const char **error_r)
{
	struct smtp_reply *r = &p->reply;
	if (p->done) {
		str_clear(&r->text);
		r->code = 0;
		r->enhanced[0] = '\0';
		r->lines = 0;
		p->done = false;
	}
	if (len > SMTP_REPLY_LINE_MAX)
		return smtp_reply_fail(p, "reply line too long", error_r);
	if (len < 3 || !smtp_reply_digit(line[0]) || !smtp_reply_digit(line[1]) ||
	    !smtp_reply_digit(line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
		return smtp_reply_fail(p, "malformed reply line", error_r);
	unsigned code = (unsigned)((line[0] - '0') * 100 + (line[1] - '0') * 10 +
				   (line[2] - '0'));
	if (code < 200 || code > 599)
		return smtp_reply_fail(p, "reply code out of range", error_r);
	if (r->lines > 0 && code != r->code)
		return smtp_reply_fail(p, "multiline reply changes its code", error_r);
	if (r->lines >= p->max_lines)
		return smtp_reply_fail(p, "too many reply lines", error_r);
	bool last = len == 3 || line[3] == ' ';
	const char *text = len > 4 ? line + 4 : "";
	size_t text_len = len > 4 ? len - 4 : 0;
	for (size_t i = 0; i < text_len; i++) {
		if (text[i] == '\0' || text[i] == '\r' || text[i] == '\n')
			return smtp_reply_fail(p, "control byte in reply", error_r);
	}
	if (r->lines == 0) {
		r->code = code;
		smtp_reply_enhanced(r, text, text_len);
	} else
		str_appendc(&r->text, '\n');
	str_append(&r->text, text, text_len);
	r->lines++;
	if (!last)
		return 0;
	p->done = true;
	return 1;
}

bool smtp_reply_line(const struct smtp_reply *r, unsigned i,
		     const char **text_r, size_t *len_r)
{
	const char *s = str_c(&r->text), *end = s + r->text.len;
	for (; i > 0; i--) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		if (nl == NULL)
			return false;
		s = nl + 1;
	}
	if (i == 0 && s == end && r->lines == 0)
		return false;
	const char *nl = memchr(s, '\n', (size_t)(end - s));
	*text_r = s;
	*len_r = nl != NULL ? (size_t)(nl - s) : (size_t)(end - s);
	return true;
}
