/* imap_parser.h: one IMAP command (RFC 9051 section 9, RFC 3501 section 9)
 * read line by line into a tag, a command name and a typed argument list.
 *
 * Contract: the session feeds each line without its CRLF. When a line
 * ends in a literal prefix the parser says so (size, sync or not, binary)
 * before anything is allocated for it; a size over the limits, or past
 * number64 ({18446744073709551616}), is refused from the digits, so the
 * session never sends "+" for it. The literal's octets then come through
 * imap_parser_literal_chunk() (a literal_chunk_callback_t, for
 * literal_read_conn()) and the next line continues the command. Nothing
 * recurses: lists are kept flat with a depth cap, and every count (args,
 * depth, bytes held) has a hard limit. A refusal names the line and column.
 * The parser owns the strings it returns until the next reset. */
#ifndef POSTEL_IMAP_PARSER_H
#define POSTEL_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/literal.h"

enum imap_arg_type {
	IMAP_ARG_ATOM,     /* also numbers, sequence sets, flags, BODY[...]<..> */
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,  /* {n} or {n+} */
	IMAP_ARG_LITERAL8, /* ~{n}: may hold NUL (RFC 3516) */
	IMAP_ARG_NIL,
	IMAP_ARG_LIST,     /* the next list_len entries are its contents */
};

struct imap_arg {
	enum imap_arg_type type;
	const char *str;    /* NUL-terminated copy; NULL for lists */
	size_t len;
	unsigned list_len;  /* IMAP_ARG_LIST: entries inside, at any depth */
	unsigned line, col; /* where it started, for error texts */
};

struct imap_parser_limits {
	unsigned max_args;        /* entries, lists included */
	unsigned max_depth;       /* nested parentheses (TESTING.md item 12) */
	size_t max_command_size;  /* all lines and literals together */
	struct literal_limits literal;
};

struct imap_command {
	const char *tag;
	const char *name;         /* upper-cased */
	const struct imap_arg *args;
	unsigned count;           /* top-level and nested entries */
};

struct imap_literal_need {
	uint64_t size;
	bool nonsync; /* {n+}: no "+" to send */
	bool binary;
};

enum imap_parser_failure {
	IMAP_PARSER_FAIL_NONE,
	IMAP_PARSER_FAIL_BAD,     /* answer BAD */
	IMAP_PARSER_FAIL_TOOBIG,  /* literal over the limit: NO/BAD [TOOBIG];
				     a nonsync one's octets are on the way */
};

struct imap_parser;

struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits);
void imap_parser_destroy(struct imap_parser **parser);
/* Forget the command and give every buffer back (an idle session's
 * parser holds its struct only). */
void imap_parser_reset(struct imap_parser *parser);

/* 0: the command is complete (imap_parser_command()); 1: *need_r says a
 * literal follows, feed its octets and then the next line; -1: refused
 * (*error_r, imap_parser_failure()); reset before the next command. */
int imap_parser_feed_line(struct imap_parser *parser, const char *line, size_t len,
			  struct imap_literal_need *need_r, const char **error_r);
/* The octets of the literal announced by the last 1 return. */
void imap_parser_literal_chunk(void *parser, const char *data, size_t len);

const struct imap_command *imap_parser_command(const struct imap_parser *parser);
/* The tag, once read (for the BAD reply of a refused command), or NULL. */
const char *imap_parser_tag(const struct imap_parser *parser);
/* The length of the tag a command line starts with (followed by a
 * space), 0 if it starts with none: for refusing a line the parser never
 * sees (too long) with a tagged BAD. */
size_t imap_line_tag_length(const char *line, size_t len);
enum imap_parser_failure imap_parser_failure(const struct imap_parser *parser);

/* Bytes the parser holds now: small between commands, whatever the
 * largest command was (TESTING.md 22: idle connections cost little). */
size_t imap_parser_memory(const struct imap_parser *parser);

/* Index of the entry after arg (skipping a list's contents). */
static inline unsigned imap_arg_next(const struct imap_arg *args, unsigned i)
{
	return i + 1 + (args[i].type == IMAP_ARG_LIST ? args[i].list_len : 0);
}

#endif
