/* smtp_reply.h: the SMTP client's reply parser (RFC 5321 4.2).
 *
 * Fed one line at a time (without CRLF), it assembles a reply: one code,
 * the RFC 3463 enhanced status code of the first line when it has one
 * whose class matches the code, and the text of every line joined by
 * "\n". Limits (RFC 5321 4.5.3.1.5): a line longer than
 * SMTP_REPLY_LINE_MAX octets, more than max_lines lines, a line that is
 * not "NNN", "NNN-text" or "NNN text", a code outside 200..599 or lines
 * with different codes make the reply malformed: -1 with error_r, which
 * the client treats as a temporary failure. The parser never holds more
 * than max_lines * SMTP_REPLY_LINE_MAX octets. */
#ifndef POSTEL_SMTP_REPLY_H
#define POSTEL_SMTP_REPLY_H

#include "lib/str.h"

#include <stdbool.h>
#include <stddef.h>

#define SMTP_REPLY_LINE_MAX 510 /* 512 with the CRLF */
#define SMTP_REPLY_LINES_DEFAULT 100

struct smtp_reply {
	unsigned code;          /* 200..599 */
	char enhanced[16];      /* "2.1.5", or "" */
	str_t text;             /* each line's text, "\n" between them */
	unsigned lines;
};

struct smtp_reply_parser {
	struct smtp_reply reply;
	unsigned max_lines;
	bool done;              /* reply complete: the next line starts anew */
};

void smtp_reply_parser_init(struct smtp_reply_parser *p, unsigned max_lines);
void smtp_reply_parser_free(struct smtp_reply_parser *p);
/* 1: the reply is complete in p->reply (valid until the next feed);
 * 0: more lines follow; -1: malformed, error_r says why (the parser is
 * reset). */
int smtp_reply_feed(struct smtp_reply_parser *p, const char *line, size_t len,
		    const char **error_r);
/* The i-th line's text of a complete reply; false past the last. */
bool smtp_reply_line(const struct smtp_reply *r, unsigned i,
		     const char **text_r, size_t *len_r);

#endif
