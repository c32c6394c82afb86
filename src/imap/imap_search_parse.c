/* imap_search_parse.c: SEARCH program parsing (see imap_search_parse.h).
 *
 * Recursive descent over the flat argument list, with the recursion
 * bounded by max_depth (NOT NOT NOT ... and "((((" alike) and the nodes
 * by max_nodes, so any input costs bounded stack and memory. */
#include "imap/imap_search_parse.h"
#include "imap/imap_condstore_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"

enum key_arg { ARG_NONE, ARG_STRING, ARG_DATE, ARG_SIZE, ARG_FLAG, ARG_HEADER,
	       ARG_SEQSET, ARG_NOT, ARG_OR, ARG_MODSEQ };

static const struct {
	const char *name;
	enum imap_search_key key;
	enum key_arg arg;
} search_keys[] = {
	{ "ALL", IMAP_SEARCH_ALL, ARG_NONE },
	{ "ANSWERED", IMAP_SEARCH_ANSWERED, ARG_NONE },
	{ "BCC", IMAP_SEARCH_BCC, ARG_STRING },
	{ "BEFORE", IMAP_SEARCH_BEFORE, ARG_DATE },
	{ "BODY", IMAP_SEARCH_BODY, ARG_STRING },
	{ "CC", IMAP_SEARCH_CC, ARG_STRING },
	{ "DELETED", IMAP_SEARCH_DELETED, ARG_NONE },
	{ "DRAFT", IMAP_SEARCH_DRAFT, ARG_NONE },
	{ "FLAGGED", IMAP_SEARCH_FLAGGED, ARG_NONE },
	{ "FROM", IMAP_SEARCH_FROM, ARG_STRING },
	{ "HEADER", IMAP_SEARCH_HEADER, ARG_HEADER },
	{ "KEYWORD", IMAP_SEARCH_KEYWORD, ARG_FLAG },
	{ "LARGER", IMAP_SEARCH_LARGER, ARG_SIZE },
	{ "MODSEQ", IMAP_SEARCH_MODSEQ, ARG_MODSEQ }, /* RFC 7162 3.1.5 */
	{ "NEW", IMAP_SEARCH_NEW, ARG_NONE },
	{ "NOT", IMAP_SEARCH_NOT, ARG_NOT },
	{ "OLD", IMAP_SEARCH_OLD, ARG_NONE },
	{ "ON", IMAP_SEARCH_ON, ARG_DATE },
	{ "OR", IMAP_SEARCH_OR, ARG_OR },
	{ "RECENT", IMAP_SEARCH_RECENT, ARG_NONE },
	{ "SEEN", IMAP_SEARCH_SEEN, ARG_NONE },
	{ "SENTBEFORE", IMAP_SEARCH_SENTBEFORE, ARG_DATE },
	{ "SENTON", IMAP_SEARCH_SENTON, ARG_DATE },
	{ "SENTSINCE", IMAP_SEARCH_SENTSINCE, ARG_DATE },
	{ "SINCE", IMAP_SEARCH_SINCE, ARG_DATE },
	{ "SMALLER", IMAP_SEARCH_SMALLER, ARG_SIZE },
	{ "SUBJECT", IMAP_SEARCH_SUBJECT, ARG_STRING },
	{ "TEXT", IMAP_SEARCH_TEXT, ARG_STRING },
	{ "TO", IMAP_SEARCH_TO, ARG_STRING },
	{ "UID", IMAP_SEARCH_UID, ARG_SEQSET },
	{ "UNANSWERED", IMAP_SEARCH_UNANSWERED, ARG_NONE },
	{ "UNDELETED", IMAP_SEARCH_UNDELETED, ARG_NONE },
	{ "UNDRAFT", IMAP_SEARCH_UNDRAFT, ARG_NONE },
	{ "UNFLAGGED", IMAP_SEARCH_UNFLAGGED, ARG_NONE },
	{ "UNKEYWORD", IMAP_SEARCH_UNKEYWORD, ARG_FLAG },
	{ "UNSEEN", IMAP_SEARCH_UNSEEN, ARG_NONE },
};

struct search_ctx {
	const struct imap_arg *args;
	unsigned end;
	const struct imap_search_limits *limits;
	struct imap_search_program *prog;
	unsigned alloc;
	unsigned at; /* the argument being read, for the error text */
	const char *error;
};

static _Thread_local char search_error[192];

static int search_fail(struct search_ctx *ctx, const char *error)
{
	if (ctx->error != NULL)
		return -1; /* the innermost error stands */
	if (ctx->at < ctx->end)
		snprintf(search_error, sizeof(search_error), "%s (line %u, column %u)",
			 error, ctx->args[ctx->at].line, ctx->args[ctx->at].col);
	else
		snprintf(search_error, sizeof(search_error), "%s (at the end)", error);
	ctx->error = search_error;
	return -1;
}

static int new_node(struct search_ctx *ctx, enum imap_search_key key)
{
	struct imap_search_program *prog = ctx->prog;
	if (prog->count >= ctx->limits->max_nodes)
		return search_fail(ctx, "Search program too large");
	if (prog->count == ctx->alloc) {
		ctx->alloc = ctx->alloc == 0 ? 8 : ctx->alloc * 2;
		if (ctx->alloc > ctx->limits->max_nodes)
			ctx->alloc = ctx->limits->max_nodes;
		prog->nodes = xrealloc(prog->nodes, ctx->alloc * sizeof(*prog->nodes));
	}
	memset(&prog->nodes[prog->count], 0, sizeof(*prog->nodes));
	prog->nodes[prog->count].key = key;
	return (int)prog->count++;
}

static void link_child(struct search_ctx *ctx, unsigned parent, unsigned *last, unsigned child)
{
	struct imap_search_node *nodes = ctx->prog->nodes;
	if (*last == 0)
		nodes[parent].child = child + 1;
	else
		nodes[*last - 1].next = child + 1;
	*last = child + 1;
}

static int parse_key(struct search_ctx *ctx, unsigned *i, unsigned depth);

/* keys args[*i..end) as children of parent */
static int parse_keys(struct search_ctx *ctx, unsigned parent, unsigned *i,
		      unsigned end, unsigned depth)
{
	unsigned last = 0;
	if (*i >= end)
		return search_fail(ctx, "Missing search key");
	while (*i < end) {
		int n = parse_key(ctx, i, depth);
		if (n < 0)
			return -1;
		link_child(ctx, parent, &last, (unsigned)n);
	}
	return 0;
}

static const struct imap_arg *next_arg(struct search_ctx *ctx, unsigned *i)
{
	ctx->at = *i;
	if (*i >= ctx->end || ctx->args[*i].type == IMAP_ARG_LIST)
		return NULL;
	return &ctx->args[(*i)++];
}

static int parse_key_arg(struct search_ctx *ctx, int n, enum key_arg kind,
			 unsigned *i, unsigned depth)
{
	struct imap_search_node *node = &ctx->prog->nodes[n];
	const struct imap_arg *a;
	const char *error;
	if (kind == ARG_NOT || kind == ARG_OR) {
		unsigned last = 0;
		for (int k = kind == ARG_OR ? 2 : 1; k > 0; k--) {
			if (*i >= ctx->end)
				return search_fail(ctx, "Missing search key after NOT/OR");
			int c = parse_key(ctx, i, depth + 1);
			if (c < 0)
				return -1;
			link_child(ctx, (unsigned)n, &last, (unsigned)c);
		}
		return 0;
	}
	if (kind == ARG_MODSEQ) {
		unsigned used;
		ctx->at = *i;
		if (imap_condstore_search_modseq(ctx->args, *i, ctx->end, &node->size, &used,
						 &error) < 0)
			return search_fail(ctx, error);
		*i += used;
		return 0;
	}
	if ((a = next_arg(ctx, i)) == NULL)
		return search_fail(ctx, "Missing search key argument");
	switch (kind) {
	case ARG_HEADER:
		if (imap_arg_get_astring(a, &node->field, &node->field_len, &error) < 0)
			return search_fail(ctx, error);
		if ((a = next_arg(ctx, i)) == NULL)
			return search_fail(ctx, "Missing HEADER value");
		/* fall through */
	case ARG_STRING:
		if (imap_arg_get_astring(a, &node->str, &node->len, &error) < 0)
			return search_fail(ctx, error);
		return 0;
	case ARG_DATE:
		if (a->type == IMAP_ARG_LITERAL8 ||
		    imap_parse_date(a->str, a->len, &node->date, &error) < 0)
			return search_fail(ctx, "Invalid search date (want d-Mon-yyyy)");
		return 0;
	case ARG_SIZE:
		if (imap_arg_get_number64(a, &node->size, &error) < 0)
			return search_fail(ctx, error);
		return 0;
	case ARG_FLAG:
		/* flag-keyword: an atom, no system flag */
		if (a->type != IMAP_ARG_ATOM || a->str[0] == '\\' ||
		    !imap_flag_is_valid(a->str, a->len))
			return search_fail(ctx, "Invalid keyword");
		node->str = a->str;
		node->len = a->len;
		return 0;
	case ARG_SEQSET:
		if (a->type != IMAP_ARG_ATOM ||
		    imap_seqset_parse(a->str, a->len, ctx->limits->max_ranges,
				      &node->set, &error) < 0)
			return search_fail(ctx, a->type != IMAP_ARG_ATOM ?
					   "Invalid UID set" : error);
		return 0;
	default:
		return search_fail(ctx, "Invalid search key");
	}
}

static int parse_key(struct search_ctx *ctx, unsigned *i, unsigned depth)
{
	if (depth >= ctx->limits->max_depth)
		return search_fail(ctx, "Search program nested too deeply");
	ctx->at = *i;
	const struct imap_arg *a = &ctx->args[*i];
	if (a->type == IMAP_ARG_LIST) {
		/* "(" search-key *(SP search-key) ")" */
		int n = new_node(ctx, IMAP_SEARCH_AND);
		if (n < 0)
			return -1;
		unsigned from = *i + 1, to = from + a->list_len;
		*i = from;
		if (parse_keys(ctx, (unsigned)n, i, to, depth + 1) < 0)
			return -1;
		return n;
	}
	if (a->type != IMAP_ARG_ATOM)
		return search_fail(ctx, "Invalid search key");
	char c = a->str[0];
	if ((c >= '0' && c <= '9') || c == '*' || c == '$') {
		int n = new_node(ctx, IMAP_SEARCH_SEQSET);
		const char *error;
		if (n < 0)
			return -1;
		if (imap_seqset_parse(a->str, a->len, ctx->limits->max_ranges,
				      &ctx->prog->nodes[n].set, &error) < 0)
			return search_fail(ctx, error);
		(*i)++;
		return n;
	}
	for (size_t k = 0; k < sizeof(search_keys) / sizeof(*search_keys); k++) {
		if (strlen(search_keys[k].name) != a->len ||
		    strcasecmp(search_keys[k].name, a->str) != 0)
			continue;
		int n = new_node(ctx, search_keys[k].key);
		if (n < 0)
			return -1;
		(*i)++;
		if (search_keys[k].arg != ARG_NONE &&
		    parse_key_arg(ctx, n, search_keys[k].arg, i, depth) < 0)
			return -1;
		return n;
	}
	return search_fail(ctx, "Unknown search key");
}

/* RFC 4731: RETURN (MIN MAX ALL COUNT SAVE); () means ALL */
static int parse_return(struct search_ctx *ctx, unsigned *i)
{
	static const char *const opts[] = { "MIN", "MAX", "ALL", "COUNT", "SAVE" };
	if (*i >= ctx->end || ctx->args[*i].type != IMAP_ARG_LIST)
		return search_fail(ctx, "RETURN needs a list");
	const struct imap_arg *list = &ctx->args[*i];
	unsigned from = *i + 1, to = from + list->list_len;
	ctx->prog->has_return = true;
	for (unsigned k = from; k < to; k++) {
		unsigned bit = 0;
		ctx->at = k;
		for (unsigned o = 0; o < 5; o++)
			if (ctx->args[k].type == IMAP_ARG_ATOM &&
			    strcasecmp(ctx->args[k].str, opts[o]) == 0)
				bit = 1u << o;
		if (bit == 0)
			return search_fail(ctx, "Unknown RETURN option");
		ctx->prog->return_opts |= bit;
	}
	if (ctx->prog->return_opts == 0)
		ctx->prog->return_opts = IMAP_SEARCH_RETURN_ALL;
	*i = to;
	return 0;
}

static bool arg_is(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && strcasecmp(a->str, word) == 0;
}

int imap_search_parse(const struct imap_arg *args, unsigned first, unsigned end,
		      const struct imap_search_limits *limits,
		      struct imap_search_program *prog_r, const char **error_r)
{
	*prog_r = (struct imap_search_program){ 0 };
	struct search_ctx ctx = { .args = args, .end = end, .limits = limits, .prog = prog_r };
	unsigned i = first;
	if (new_node(&ctx, IMAP_SEARCH_AND) < 0)
		goto bad;
	if (i < end && arg_is(&args[i], "RETURN")) {
		ctx.at = ++i;
		if (parse_return(&ctx, &i) < 0)
			goto bad;
	}
	if (i < end && arg_is(&args[i], "CHARSET")) {
		const char *cs;
		size_t len;
		const char *error;
		ctx.at = ++i;
		if (i >= end || imap_arg_get_astring(&args[i], &cs, &len, &error) < 0) {
			search_fail(&ctx, "CHARSET needs a name");
			goto bad;
		}
		/* RFC 9051 6.4.4: UTF-8 and US-ASCII must be supported;
		 * other charsets get NO [BADCHARSET] */
		if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0) {
			prog_r->failure = IMAP_SEARCH_FAIL_BADCHARSET;
			search_fail(&ctx, "Unsupported charset");
			goto bad;
		}
		i++;
	}
	if (parse_keys(&ctx, 0, &i, end, 0) < 0)
		goto bad;
	*error_r = NULL;
	return 0;
bad:
	if (prog_r->failure == IMAP_SEARCH_FAIL_NONE)
		prog_r->failure = IMAP_SEARCH_FAIL_BAD;
	*error_r = ctx.error;
	enum imap_search_failure failure = prog_r->failure;
	imap_search_program_free(prog_r);
	prog_r->failure = failure;
	return -1;
}

void imap_search_program_free(struct imap_search_program *prog)
{
	for (unsigned i = 0; i < prog->count; i++)
		imap_seqset_free(&prog->nodes[i].set);
	free(prog->nodes);
	*prog = (struct imap_search_program){ 0 };
}

bool imap_search_program_uses_modseq(const struct imap_search_program *prog)
{
	for (unsigned i = 0; i < prog->count; i++)
		if (prog->nodes[i].key == IMAP_SEARCH_MODSEQ)
			return true;
	return false;
}

bool imap_search_program_uses_recent(const struct imap_search_program *prog)
{
	for (unsigned i = 0; i < prog->count; i++) {
		enum imap_search_key k = prog->nodes[i].key;
		if (k == IMAP_SEARCH_RECENT || k == IMAP_SEARCH_NEW || k == IMAP_SEARCH_OLD)
			return true;
	}
	return false;
}
