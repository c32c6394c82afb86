/* pop3_parse.c: see pop3_parse.h. */
#include "pop3_parse.h"

#include <string.h>

struct pop3_keyword {
	const char *name;
	enum pop3_verb verb;
};

static const struct pop3_keyword pop3_keywords[] = {
	{ "USER", POP3_CMD_USER }, { "PASS", POP3_CMD_PASS },
	{ "QUIT", POP3_CMD_QUIT }, { "STAT", POP3_CMD_STAT },
	{ "LIST", POP3_CMD_LIST }, { "RETR", POP3_CMD_RETR },
	{ "DELE", POP3_CMD_DELE }, { "NOOP", POP3_CMD_NOOP },
	{ "RSET", POP3_CMD_RSET }, { "TOP", POP3_CMD_TOP },
	{ "UIDL", POP3_CMD_UIDL }, { "CAPA", POP3_CMD_CAPA },
	{ "STLS", POP3_CMD_STLS }, { "AUTH", POP3_CMD_AUTH },
	{ "UTF8", POP3_CMD_UTF8 }, { "APOP", POP3_CMD_APOP },
};

int pop3_parse_command(const char *line, size_t len,
		       struct pop3_command *cmd_r, const char **error_r)
{
	memset(cmd_r, 0, sizeof(*cmd_r));
	cmd_r->args = "";
	if (len == 0) {
		*error_r = "Empty command";
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		*error_r = "NUL in command";
		return -1;
	}
	if (line_is_http_request(line, len)) {
		cmd_r->verb = POP3_CMD_HTTP;
		*error_r = "Not HTTP";
		return -1;
	}
	size_t kw_len = 0;
	while (kw_len < len && line[kw_len] != ' ')
		kw_len++;
	/* RFC 1939 section 3: keywords are three or four characters */
	for (size_t i = 0; kw_len >= 3 && kw_len <= 4 &&
	     i < sizeof(pop3_keywords) / sizeof(*pop3_keywords); i++) {
		const struct pop3_keyword *k = &pop3_keywords[i];
		if (strlen(k->name) == kw_len && mem_ieq(line, k->name, kw_len)) {
			cmd_r->verb = k->verb;
			cmd_r->name = k->name;
			break;
		}
	}
	if (cmd_r->verb == POP3_CMD_UNKNOWN) {
		*error_r = "Unknown command";
		return -1;
	}
	if (kw_len == len)
		return 0;
	/* RFC 1939 section 3: keyword and arguments are separated by a
	 * single space; an empty argument is not an argument */
	if (kw_len + 1 == len) {
		*error_r = "Trailing space after command";
		return -1;
	}
	cmd_r->args = line + kw_len + 1;
	cmd_r->args_len = len - kw_len - 1;
	cmd_r->has_args = true;
	return 0;
}

int pop3_split_args(const char *args, size_t len, unsigned min, unsigned max,
		    const char **words_r, size_t *lens_r, const char **error_r)
{
	unsigned n = 0;
	size_t pos = 0;
	while (pos < len) {
		size_t end = pos;
		while (end < len && args[end] != ' ')
			end++;
		if (end == pos || (end < len && end + 1 == len)) {
			*error_r = "Arguments must be separated by one space";
			return -1;
		}
		if (n == max) {
			*error_r = "Too many arguments";
			return -1;
		}
		words_r[n] = args + pos;
		lens_r[n] = end - pos;
		n++;
		pos = end < len ? end + 1 : end;
	}
	if (n < min) {
		*error_r = "Missing argument";
		return -1;
	}
	return (int)n;
}

int pop3_parse_msgnum(const char *s, size_t len, unsigned count,
		      unsigned *num_r, const char **error_r)
{
	unsigned long long v;
	/* RFC 1939 section 3: a message-number is decimal; parse_uint64
	 * refuses signs, spaces and anything past the bound */
	if (len == 0 || len > 20 || !parse_uint64(s, len, UINT64_MAX, &v)) {
		*error_r = "Invalid message number";
		return -1;
	}
	if (v == 0 || v > count) {
		*error_r = "No such message";
		return -1;
	}
	*num_r = (unsigned)v;
	return 0;
}

int pop3_parse_top_lines(const char *s, size_t len, uint64_t *lines_r,
			 const char **error_r)
{
	unsigned long long v;
	/* RFC 1939 section 7: "a non-negative number of lines" */
	if (len == 0 || !parse_uint64(s, len, UINT64_MAX, &v)) {
		*error_r = "Invalid number of lines";
		return -1;
	}
	*lines_r = v;
	return 0;
}

void pop3_msg_filter_init(struct pop3_msg_filter *f, bool top, uint64_t body_lines)
{
	memset(f, 0, sizeof(*f));
	f->top = top;
	f->lines_left = body_lines;
	f->line_start = true;
}

/* A line ended (its CRLF is already out). */
static void filter_end_line(struct pop3_msg_filter *f)
{
	bool empty = f->line_start;
	f->line_start = true;
	if (!f->in_body) {
		/* RFC 5322 2.1: the first empty line ends the header */
		if (empty) {
			f->in_body = true;
			if (f->top && f->lines_left == 0)
				f->done = true;
		}
		return;
	}
	if (f->top && --f->lines_left == 0)
		f->done = true;
}

bool pop3_msg_filter_feed(struct pop3_msg_filter *f, const char *in, size_t len,
			  str_t *out)
{
	size_t i = 0;
	while (i < len && !f->done) {
		char c = in[i];
		if (f->pending_cr) {
			f->pending_cr = false;
			str_append(out, "\r\n", 2);
			if (c == '\n') {
				i++;
				filter_end_line(f);
				continue;
			}
			/* a bare CR ends a line too: the wire knows only CRLF */
			filter_end_line(f);
			continue;
		}
		if (c == '\r') {
			f->pending_cr = true;
			i++;
			continue;
		}
		if (c == '\n') {
			/* bare LF (a file another program wrote): send CRLF */
			str_append(out, "\r\n", 2);
			i++;
			filter_end_line(f);
			continue;
		}
		if (f->line_start && c == '.')
			str_appendc(out, '.'); /* RFC 1939 section 3: byte-stuff */
		f->line_start = false;
		/* the rest of the line: up to the first CR, or an LF before it */
		const char *cr = memchr(in + i, '\r', len - i);
		size_t limit = cr != NULL ? (size_t)(cr - in) : len;
		const char *lf = memchr(in + i, '\n', limit - i);
		size_t end = lf != NULL ? (size_t)(lf - in) : limit;
		str_append(out, in + i, end - i);
		i = end;
	}
	return f->done;
}

void pop3_msg_filter_finish(struct pop3_msg_filter *f, str_t *out)
{
	if (f->done)
		return;
	if (f->pending_cr || !f->line_start) {
		/* the multi-line terminator must start a line of its own */
		str_append(out, "\r\n", 2);
		f->pending_cr = false;
		filter_end_line(f);
	}
}
