/* pop3_parse.h: parsing POP3 command lines (RFC 1939, RFC 2449, RFC 2595,
 * RFC 5034, RFC 6856) and transforming a stored message for RETR/TOP.
 *
 * Contract: every function takes a byte slice with an explicit length
 * (the line without its CRLF), never reads past it, allocates nothing,
 * and accepts only what the RFCs allow: keywords are case-insensitive
 * (RFC 1939 section 3), arguments are separated by exactly one space,
 * message numbers are plain decimal in 1..count with no sign, no leading
 * zeros trick and no overflow. A refusal sets *error_r to a constant,
 * client-safe reply text (without "-ERR "). */
#ifndef POSTEL_POP3_PARSE_H
#define POSTEL_POP3_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"

enum pop3_verb {
	POP3_CMD_UNKNOWN,
	POP3_CMD_USER, POP3_CMD_PASS, POP3_CMD_QUIT, POP3_CMD_STAT,
	POP3_CMD_LIST, POP3_CMD_RETR, POP3_CMD_DELE, POP3_CMD_NOOP,
	POP3_CMD_RSET, POP3_CMD_TOP, POP3_CMD_UIDL, POP3_CMD_CAPA,
	POP3_CMD_STLS, POP3_CMD_AUTH, POP3_CMD_UTF8, POP3_CMD_APOP,
	POP3_CMD_HTTP, /* "GET /", "POST /": a cross-protocol request */
};

struct pop3_command {
	enum pop3_verb verb;
	const char *name;  /* the canonical keyword, for logs */
	const char *args;  /* after the single space; "" when none */
	size_t args_len;
	bool has_args;
};

/* -1: empty line, NUL byte, no such keyword, or a separator other than
 * one space. cmd_r->verb is set even on some refusals (HTTP). */
int pop3_parse_command(const char *line, size_t len,
		       struct pop3_command *cmd_r, const char **error_r);

/* A message-number argument: 1..count, decimal. 0 ok, -1 malformed or
 * out of range (error_r says which). */
int pop3_parse_msgnum(const char *s, size_t len, unsigned count,
		      unsigned *num_r, const char **error_r);

/* Split args into at most max words separated by single spaces. Returns
 * the number of words, or -1 when there are more than max, an empty word
 * (double or trailing space), or none when min > 0. */
int pop3_split_args(const char *args, size_t len, unsigned min, unsigned max,
		    const char **words_r, size_t *lens_r, const char **error_r);

/* "TOP msg n": the line count is any decimal up to 2^64-1 (more lines than
 * a message has is the whole body, RFC 1939 section 7). */
int pop3_parse_top_lines(const char *s, size_t len, uint64_t *lines_r,
			 const char **error_r);

/* RETR/TOP output (RFC 1939 section 3): a stored message (CRLF lines, as
 * SMTP delivered it) becomes the multi-line response body: a line that
 * starts with '.' gets one more '.', a bare LF becomes CRLF, a final line
 * without a line end is ended, and TOP stops after the header, the blank
 * line and `body_lines` lines of the body. The terminating ".\r\n" is the
 * caller's. Streaming: feed chunks of any size; state carries over. */
struct pop3_msg_filter {
	bool top;             /* TOP: stop after lines_left body lines */
	uint64_t lines_left;
	bool in_body;
	bool line_start;      /* next byte begins a line */
	bool pending_cr;      /* a CR whose LF may be in the next chunk */
	bool done;            /* TOP limit reached: ignore further input */
};

void pop3_msg_filter_init(struct pop3_msg_filter *f, bool top, uint64_t body_lines);
/* Appends the transformed bytes to out. Returns true once done (TOP). */
bool pop3_msg_filter_feed(struct pop3_msg_filter *f, const char *in, size_t len,
			  str_t *out);
/* End of the file: end an unfinished line. */
void pop3_msg_filter_finish(struct pop3_msg_filter *f, str_t *out);

#endif
