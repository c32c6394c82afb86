/* imap_parser.c: the resumable IMAP command tokenizer (see imap_parser.h).
 *
 * Each line is scanned once, left to right, with the list nesting kept in
 * a fixed stack of max_depth entries: no recursion, no unbounded state. A
 * line that ends in a literal prefix is recognised by literal_parse_prefix()
 * (lib/literal.h) before its text is scanned, so an oversized literal is
 * refused whatever precedes it. */
#include "imap/imap_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/str.h"

enum parser_stage { STAGE_TAG, STAGE_NAME, STAGE_ARGS };

struct imap_parser {
	struct imap_parser_limits limits;
	str_t data;             /* every string, NUL after each */
	struct imap_arg *args;  /* cap entries, grown up to max_args */
	size_t *offs;           /* args[i]'s string offset in data */
	unsigned cap;
	unsigned *stack;        /* open lists: index in args */
	unsigned count, depth;
	size_t tag_off, name_off;
	bool have_tag;
	enum parser_stage stage;
	bool need_sep;          /* after a token: SP, ')' or the end */
	bool just_opened;       /* after '(': ')' closes an empty list */
	bool in_literal, literal_nul;
	uint64_t literal_left;
	unsigned literal_arg;
	unsigned line_no;
	size_t total;
	enum imap_parser_failure failure;
	struct imap_command cmd;
	char *error; /* PARSER_ERROR_SIZE, allocated by fail() until reset */
};

/* the longest message with its line and column */
#define PARSER_ERROR_SIZE 160

/* An idle session holds no argument room, no string buffer and no error
 * text: the arrays (up to max_args), the list stack, the strings and the
 * error message are allocated as a command needs them and given back at
 * each reset, so thousands of idle connections (an IDLE command has no
 * arguments) cost the struct. */
/* 4: what SELECT, FETCH n (FLAGS) need; 48 bytes each */
#define PARSER_INITIAL_ARGS 4

static void parser_release(struct imap_parser *p)
{
	str_free(&p->data);
	free(p->args);
	free(p->offs);
	free(p->stack);
	free(p->error);
	p->error = NULL;
	p->args = NULL;
	p->offs = NULL;
	p->stack = NULL;
	p->cap = 0;
}

struct imap_parser *imap_parser_create(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));
	p->limits = *limits;
	if (p->limits.max_args == 0)
		p->limits.max_args = 1;
	imap_parser_reset(p);
	return p;
}

void imap_parser_destroy(struct imap_parser **parser)
{
	struct imap_parser *p = *parser;
	if (p == NULL)
		return;
	*parser = NULL;
	parser_release(p);
	free(p);
}

void imap_parser_reset(struct imap_parser *p)
{
	parser_release(p);
	p->count = p->depth = 0;
	p->have_tag = false;
	p->stage = STAGE_TAG;
	p->need_sep = p->just_opened = false;
	p->in_literal = p->literal_nul = false;
	p->literal_left = 0;
	p->line_no = 0;
	p->total = 0;
	p->failure = IMAP_PARSER_FAIL_NONE;
	memset(&p->cmd, 0, sizeof(p->cmd));
}

static int fail(struct imap_parser *p, size_t pos, const char *what,
		const char **error_r)
{
	if (p->failure == IMAP_PARSER_FAIL_NONE)
		p->failure = IMAP_PARSER_FAIL_BAD;
	if (p->error == NULL)
		p->error = xmalloc(PARSER_ERROR_SIZE);
	snprintf(p->error, PARSER_ERROR_SIZE, "%s (line %u, column %zu)",
		 what, p->line_no, pos + 1);
	*error_r = p->error;
	return -1;
}

/* RFC 9051 9: ATOM-CHAR is any CHAR but atom-specials; '%', '*', '\' and
 * ']' are let through here (list-wildcards, seq-sets, flags, resp-specials)
 * and the typed readers check what each argument allows. */
static bool is_atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' && c != '"';
}

static bool is_tag_char(unsigned char c)
{
	/* tag = 1*<any ASTRING-CHAR except "+"> */
	return is_atom_char(c) && c != '+' && c != '%' && c != '*' && c != '\\';
}

size_t imap_line_tag_length(const char *line, size_t len)
{
	size_t i = 0;
	while (i < len && is_tag_char((unsigned char)line[i]))
		i++;
	return i > 0 && i < len && line[i] == ' ' ? i : 0;
}

static int add_arg(struct imap_parser *p, enum imap_arg_type type, size_t pos,
		   const char **error_r)
{
	if (p->count >= p->limits.max_args)
		return fail(p, pos, "Too many arguments", error_r);
	if (p->count == p->cap) {
		unsigned want = p->cap == 0 ? PARSER_INITIAL_ARGS : p->cap * 2;
		p->cap = want < p->limits.max_args ? want : p->limits.max_args;
		p->args = xrealloc(p->args, p->cap * sizeof(*p->args));
		p->offs = xrealloc(p->offs, p->cap * sizeof(*p->offs));
	}
	struct imap_arg *a = &p->args[p->count];
	memset(a, 0, sizeof(*a));
	a->type = type;
	a->line = p->line_no;
	a->col = (unsigned)(pos + 1);
	p->offs[p->count] = p->data.len;
	p->count++;
	return 0;
}

static void add_string(struct imap_parser *p, const char *s, size_t len)
{
	p->args[p->count - 1].len = len;
	str_append(&p->data, s, len);
	str_appendc(&p->data, '\0');
}

static int read_quoted(struct imap_parser *p, const char *line, size_t end,
		       size_t *pos, const char **error_r)
{
	size_t start = *pos;
	if (add_arg(p, IMAP_ARG_QUOTED, start, error_r) < 0)
		return -1;
	size_t len = 0;
	for (size_t i = start + 1; i < end; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c == '"') {
			p->args[p->count - 1].len = len;
			str_appendc(&p->data, '\0');
			*pos = i + 1;
			return 0;
		}
		/* RFC 9051 9: QUOTED-CHAR excludes CR, LF and NUL; only
		 * quoted-specials may be escaped */
		if (c == '\0' || c == '\r' || c == '\n')
			return fail(p, i, "Invalid character in quoted string", error_r);
		if (c == '\\') {
			if (i + 1 >= end || (line[i + 1] != '"' && line[i + 1] != '\\'))
				return fail(p, i, "Invalid escape in quoted string", error_r);
			c = (unsigned char)line[++i];
		}
		str_appendc(&p->data, (char)c);
		len++;
	}
	return fail(p, start, "Unterminated quoted string", error_r);
}

static int read_atom(struct imap_parser *p, const char *line, size_t end,
		     size_t *pos, const char **error_r)
{
	size_t start = *pos, i = start;
	bool bracket = false;
	/* BODY[HEADER.FIELDS (A B)]<0.10>: inside [...] spaces and
	 * parentheses belong to the atom (RFC 9051 9, section-spec) */
	for (; i < end; i++) {
		unsigned char c = (unsigned char)line[i];
		if (bracket) {
			if (c < 0x20 || c >= 0x7f)
				return fail(p, i, "Invalid character in section", error_r);
			if (c == ']')
				bracket = false;
			else if (c == '[')
				return fail(p, i, "Nested section brackets", error_r);
			continue;
		}
		if (c == ' ' || c == ')')
			break;
		if (!is_atom_char(c))
			return fail(p, i, "Invalid character in atom", error_r);
		if (c == '[')
			bracket = true;
	}
	if (bracket)
		return fail(p, start, "Unterminated section", error_r);
	size_t len = i - start;
	bool nil = len == 3 && strncasecmp(line + start, "NIL", 3) == 0;
	if (add_arg(p, nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM, start, error_r) < 0)
		return -1;
	add_string(p, line + start, len);
	*pos = i;
	return 0;
}

static int read_head(struct imap_parser *p, const char *line, size_t end,
		     size_t *pos, const char **error_r)
{
	size_t i = *pos;
	if (p->stage == STAGE_TAG) {
		while (i < end && is_tag_char((unsigned char)line[i]))
			i++;
		if (i == 0)
			return fail(p, 0, "Missing or invalid tag", error_r);
		p->tag_off = p->data.len;
		str_append(&p->data, line, i);
		str_appendc(&p->data, '\0');
		p->have_tag = true;
		if (i >= end || line[i] != ' ')
			return fail(p, i, "Missing command name", error_r);
		p->stage = STAGE_NAME;
		i++;
	}
	size_t start = i;
	while (i < end && is_atom_char((unsigned char)line[i]) && line[i] != '[')
		i++;
	if (i == start)
		return fail(p, i, "Missing or invalid command name", error_r);
	if (i < end && line[i] != ' ')
		return fail(p, i, "Invalid character in command name", error_r);
	p->name_off = p->data.len;
	for (size_t k = start; k < i; k++) {
		char c = line[k];
		str_appendc(&p->data, c >= 'a' && c <= 'z' ? (char)(c - 32) : c);
	}
	str_appendc(&p->data, '\0');
	p->stage = STAGE_ARGS;
	p->need_sep = true;
	*pos = i;
	return 0;
}

/* Scan line[0..end) as far as the command has got. */
static int scan(struct imap_parser *p, const char *line, size_t end,
		const char **error_r)
{
	size_t pos = 0;
	if (p->stage != STAGE_ARGS && read_head(p, line, end, &pos, error_r) < 0)
		return -1;
	while (pos < end) {
		char c = line[pos];
		if (c == ')') {
			if (p->depth == 0)
				return fail(p, pos, "Unexpected ')'", error_r);
			if (!p->need_sep && !p->just_opened)
				return fail(p, pos, "Space before ')'", error_r);
			unsigned idx = p->stack[--p->depth];
			p->args[idx].list_len = p->count - idx - 1;
			p->need_sep = true;
			p->just_opened = false;
			pos++;
			continue;
		}
		if (p->need_sep) {
			if (c != ' ')
				return fail(p, pos, "Expected a space", error_r);
			p->need_sep = false;
			p->just_opened = false;
			pos++;
			continue;
		}
		p->just_opened = false;
		if (c == ' ')
			return fail(p, pos, "Unexpected space", error_r);
		if (c == '(') {
			if (p->depth >= p->limits.max_depth)
				return fail(p, pos, "Lists nested too deeply", error_r);
			if (add_arg(p, IMAP_ARG_LIST, pos, error_r) < 0)
				return -1;
			if (p->stack == NULL)
				p->stack = xcalloc(p->limits.max_depth + 1, sizeof(*p->stack));
			p->stack[p->depth++] = p->count - 1;
			p->just_opened = true;
			pos++;
			continue;
		}
		int r;
		if (c == '"')
			r = read_quoted(p, line, end, &pos, error_r);
		else if (c == '{' || (c == '~' && pos + 1 < end && line[pos + 1] == '{'))
			return fail(p, pos, "Literal prefix not at the end of the line", error_r);
		else
			r = read_atom(p, line, end, &pos, error_r);
		if (r < 0)
			return -1;
		p->need_sep = true;
	}
	return 0;
}

static void finish(struct imap_parser *p)
{
	for (unsigned i = 0; i < p->count; i++)
		p->args[i].str = p->args[i].type == IMAP_ARG_LIST ? NULL :
			p->data.data + p->offs[i];
	p->cmd.tag = p->data.data + p->tag_off;
	p->cmd.name = p->data.data + p->name_off;
	p->cmd.args = p->args;
	p->cmd.count = p->count;
}

int imap_parser_feed_line(struct imap_parser *p, const char *line, size_t len,
			  struct imap_literal_need *need_r, const char **error_r)
{
	memset(need_r, 0, sizeof(*need_r));
	*error_r = NULL;
	if (p->failure != IMAP_PARSER_FAIL_NONE) {
		*error_r = p->error;
		return -1;
	}
	if (p->in_literal)
		return fail(p, 0, "Line before the literal's end", error_r);
	if (p->cmd.name != NULL)
		return fail(p, 0, "Command already complete (reset first)", error_r);
	p->line_no++;
	if (p->literal_nul)
		return fail(p, 0, "NUL in a literal (use literal8)", error_r);
	if (len > p->limits.max_command_size - p->total || p->line_no > p->limits.max_args + 1)
		return fail(p, 0, "Command too long", error_r);
	p->total += len;

	struct literal_prefix prefix;
	const char *lit_error;
	enum literal_prefix_result res =
		literal_parse_prefix(line, len, &p->limits.literal, &prefix, &lit_error);
	size_t end = res == LITERAL_PREFIX_NONE ? len : prefix.start;
	if (res != LITERAL_PREFIX_NONE) {
		/* refused from the digits, before the text is looked at */
		if (res == LITERAL_PREFIX_INVALID)
			return fail(p, prefix.start, lit_error, error_r);
		if (res == LITERAL_PREFIX_TOOBIG ||
		    prefix.size > p->limits.max_command_size - p->total) {
			p->failure = IMAP_PARSER_FAIL_TOOBIG;
			return fail(p, prefix.start, "Literal too big", error_r);
		}
	}
	if (scan(p, line, end, error_r) < 0)
		return -1;
	if (res == LITERAL_PREFIX_NONE) {
		if (p->stage != STAGE_ARGS)
			return fail(p, len, "Missing command name", error_r);
		if (p->depth > 0)
			return fail(p, len, "Unclosed list", error_r);
		if (!p->need_sep)
			return fail(p, len, "Trailing space", error_r);
		finish(p);
		return 0;
	}
	if (p->stage != STAGE_ARGS || p->need_sep)
		return fail(p, prefix.start, "Literal not at an argument's start", error_r);
	if (add_arg(p, prefix.binary ? IMAP_ARG_LITERAL8 : IMAP_ARG_LITERAL,
		    prefix.start, error_r) < 0)
		return -1;
	p->args[p->count - 1].len = (size_t)prefix.size;
	p->total += (size_t)prefix.size;
	p->literal_arg = p->count - 1;
	p->literal_left = prefix.size;
	p->in_literal = true;
	p->just_opened = false;
	if (prefix.size == 0)
		imap_parser_literal_chunk(p, "", 0);
	need_r->size = prefix.size;
	need_r->nonsync = prefix.nonsync;
	need_r->binary = prefix.binary;
	return 1;
}

void imap_parser_literal_chunk(void *ctx, const char *data, size_t len)
{
	struct imap_parser *p = ctx;
	if (!p->in_literal)
		return;
	if (len > p->literal_left)
		len = (size_t)p->literal_left;
	if (p->args[p->literal_arg].type == IMAP_ARG_LITERAL && memchr(data, '\0', len))
		p->literal_nul = true;
	if (len > 0)
		str_append(&p->data, data, len);
	p->literal_left -= len;
	if (p->literal_left == 0) {
		str_appendc(&p->data, '\0');
		p->in_literal = false;
		p->need_sep = true;
	}
}

const struct imap_command *imap_parser_command(const struct imap_parser *p)
{
	return p->cmd.name != NULL ? &p->cmd : NULL;
}

const char *imap_parser_tag(const struct imap_parser *p)
{
	return p->have_tag ? p->data.data + p->tag_off : NULL;
}

enum imap_parser_failure imap_parser_failure(const struct imap_parser *p)
{
	return p->failure;
}

size_t imap_parser_memory(const struct imap_parser *p)
{
	return p->cap * (sizeof(*p->args) + sizeof(*p->offs)) + p->data.cap +
		(p->stack != NULL ? (p->limits.max_depth + 1) * sizeof(*p->stack) : 0) +
		(p->error != NULL ? PARSER_ERROR_SIZE : 0);
}
