/* imap_sort.c: SORT and THREAD program parsing, the comparison of sort
 * records and the sort itself (imap_sort.h). */
#include "imap/imap_sort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	enum imap_sort_key key;
} sort_keys[] = {
	{ "ARRIVAL", IMAP_SORT_ARRIVAL }, { "CC", IMAP_SORT_CC },
	{ "DATE", IMAP_SORT_DATE }, { "FROM", IMAP_SORT_FROM },
	{ "SIZE", IMAP_SORT_SIZE }, { "SUBJECT", IMAP_SORT_SUBJECT },
	{ "TO", IMAP_SORT_TO },
	/* RFC 5957 */
	{ "DISPLAYFROM", IMAP_SORT_DISPLAYFROM }, { "DISPLAYTO", IMAP_SORT_DISPLAYTO },
};

static bool arg_is(const struct imap_arg *a, const char *word)
{
	return a->type == IMAP_ARG_ATOM && strcasecmp(a->str, word) == 0;
}

static _Thread_local char sort_error[160];

static int sort_fail(struct imap_sort_program *prog, enum imap_search_failure failure,
		     const struct imap_arg *at, const char *text, const char **error_r)
{
	if (at != NULL)
		snprintf(sort_error, sizeof(sort_error), "%s (line %u, column %u)", text,
			 at->line, at->col);
	else
		snprintf(sort_error, sizeof(sort_error), "%s (at the end)", text);
	imap_sort_program_free(prog);
	prog->search.failure = failure;
	*error_r = sort_error;
	return -1;
}

/* RFC 5267 3.2: RETURN (MIN MAX COUNT ALL), with RFC 5182 SAVE */
static int parse_return(const struct imap_arg *args, unsigned *i, unsigned end,
			struct imap_sort_program *prog, const char **error_r)
{
	static const char *const opts[] = { "MIN", "MAX", "ALL", "COUNT", "SAVE" };
	const struct imap_arg *list = &args[*i];
	if (*i >= end || list->type != IMAP_ARG_LIST)
		return sort_fail(prog, IMAP_SEARCH_FAIL_BAD, *i < end ? list : NULL,
				 "RETURN needs a list", error_r);
	unsigned from = *i + 1, to = from + list->list_len;
	prog->search.has_return = true;
	for (unsigned k = from; k < to; k++) {
		unsigned bit = 0;
		for (unsigned o = 0; o < 5; o++)
			if (arg_is(&args[k], opts[o]))
				bit = 1u << o;
		if (bit == 0)
			return sort_fail(prog, IMAP_SEARCH_FAIL_BAD, &args[k],
					 "Unknown RETURN option", error_r);
		prog->search.return_opts |= bit;
	}
	if (prog->search.return_opts == 0)
		prog->search.return_opts = IMAP_SEARCH_RETURN_ALL;
	*i = to;
	return 0;
}

/* RFC 5256 5: sort-criteria = "(" sort-criterion *(SP sort-criterion) ")" */
static int parse_criteria(const struct imap_arg *args, unsigned *i, unsigned end,
			  struct imap_sort_program *prog, const char **error_r)
{
	const struct imap_arg *list = &args[*i];
	if (*i >= end || list->type != IMAP_ARG_LIST || list->list_len == 0)
		return sort_fail(prog, IMAP_SEARCH_FAIL_BAD, *i < end ? list : NULL,
				 "SORT needs a list of sort criteria", error_r);
	unsigned from = *i + 1, to = from + list->list_len;
	bool reverse = false;
	for (unsigned k = from; k < to; k++) {
		if (arg_is(&args[k], "REVERSE") && !reverse) {
			reverse = true;
			continue;
		}
		unsigned s = 0;
		while (s < sizeof(sort_keys) / sizeof(sort_keys[0]) &&
		       !arg_is(&args[k], sort_keys[s].name))
			s++;
		if (s == sizeof(sort_keys) / sizeof(sort_keys[0]))
			return sort_fail(prog, IMAP_SEARCH_FAIL_BAD, &args[k],
					 "Unknown sort criterion", error_r);
		if (prog->key_count == IMAP_SORT_MAX_KEYS)
			return sort_fail(prog, IMAP_SEARCH_FAIL_BAD, &args[k],
					 "Too many sort criteria", error_r);
		prog->keys[prog->key_count] = sort_keys[s].key;
		prog->reverse[prog->key_count++] = reverse;
		reverse = false;
	}
	if (reverse)
		return sort_fail(prog, IMAP_SEARCH_FAIL_BAD, &args[to - 1],
				 "REVERSE needs a sort key after it", error_r);
	*i = to;
	return 0;
}

int imap_sort_parse(const struct imap_arg *args, unsigned first, unsigned end, bool thread,
		    const struct imap_search_limits *limits,
		    struct imap_sort_program *prog_r, const char **error_r)
{
	memset(prog_r, 0, sizeof(*prog_r));
	prog_r->thread = thread;
	unsigned i = first;
	if (thread) {
		/* RFC 5256 5: thread-alg, then the charset */
		if (i < end && arg_is(&args[i], "REFERENCES"))
			prog_r->algorithm = IMAP_THREAD_REFERENCES;
		else if (i < end && arg_is(&args[i], "ORDEREDSUBJECT"))
			prog_r->algorithm = IMAP_THREAD_ORDEREDSUBJECT;
		else
			return sort_fail(prog_r, IMAP_SEARCH_FAIL_BAD, i < end ? &args[i] : NULL,
					 "Unknown threading algorithm", error_r);
		i++;
	} else {
		if (i < end && arg_is(&args[i], "RETURN")) {
			i++;
			if (parse_return(args, &i, end, prog_r, error_r) < 0)
				return -1;
		}
		if (parse_criteria(args, &i, end, prog_r, error_r) < 0)
			return -1;
	}
	const char *cs;
	size_t len;
	const char *error;
	if (i >= end || imap_arg_get_astring(&args[i], &cs, &len, &error) < 0)
		return sort_fail(prog_r, IMAP_SEARCH_FAIL_BAD, i < end ? &args[i] : NULL,
				 "A charset is needed", error_r);
	if (i + 1 >= end)
		return sort_fail(prog_r, IMAP_SEARCH_FAIL_BAD, NULL, "Missing search key", error_r);
	/* RFC 5256 3: UTF-8 and US-ASCII must be supported; another is
	 * NO [BADCHARSET] */
	if (strcasecmp(cs, "UTF-8") != 0 && strcasecmp(cs, "US-ASCII") != 0)
		return sort_fail(prog_r, IMAP_SEARCH_FAIL_BADCHARSET, &args[i],
				 "Unsupported charset", error_r);
	i++;
	bool has_return = prog_r->search.has_return;
	unsigned opts = prog_r->search.return_opts;
	if (imap_search_parse(args, i, end, limits, &prog_r->search, error_r) < 0)
		return -1;
	/* RFC 5256 5: the search keys follow the charset; a RETURN there
	 * (the SEARCH parser takes one) is not SORT syntax */
	if (prog_r->search.has_return)
		return sort_fail(prog_r, IMAP_SEARCH_FAIL_BAD, &args[i],
				 "RETURN goes before the sort criteria", error_r);
	prog_r->search.has_return = has_return;
	prog_r->search.return_opts = opts;
	return 0;
}

void imap_sort_program_free(struct imap_sort_program *prog)
{
	imap_search_program_free(&prog->search);
}

bool imap_sort_needs_header(const struct imap_sort_program *prog)
{
	if (prog->thread)
		return true;
	for (unsigned k = 0; k < prog->key_count; k++) {
		if (prog->keys[k] != IMAP_SORT_ARRIVAL && prog->keys[k] != IMAP_SORT_SIZE)
			return true;
	}
	return false;
}

static int cmp_num(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int imap_sort_compare(const struct imap_sort_program *prog, const struct imap_sort_msg *a,
		      const struct imap_sort_msg *b)
{
	for (unsigned k = 0; k < prog->key_count; k++) {
		int c = 0;
		switch (prog->keys[k]) {
		case IMAP_SORT_ARRIVAL: c = cmp_num(a->arrival, b->arrival); break;
		case IMAP_SORT_DATE: c = cmp_num(a->date, b->date); break;
		case IMAP_SORT_SIZE: c = a->size < b->size ? -1 : a->size > b->size; break;
		case IMAP_SORT_CC: c = strcmp(a->cc, b->cc); break;
		case IMAP_SORT_FROM: c = strcmp(a->from, b->from); break;
		case IMAP_SORT_TO: c = strcmp(a->to, b->to); break;
		case IMAP_SORT_SUBJECT: c = strcmp(a->subject, b->subject); break;
		case IMAP_SORT_DISPLAYFROM: c = strcmp(a->dfrom, b->dfrom); break;
		case IMAP_SORT_DISPLAYTO: c = strcmp(a->dto, b->dto); break;
		}
		if (c != 0)
			return prog->reverse[k] ? -c : c;
	}
	/* RFC 5256 3: exact matches keep mailbox order (REVERSE does not
	 * apply to it) */
	return cmp_num(a->seq, b->seq);
}

static _Thread_local const struct imap_sort_program *sort_prog;

static int sort_cmp(const void *a, const void *b)
{
	return imap_sort_compare(sort_prog, a, b);
}

void imap_sort_messages(const struct imap_sort_program *prog, struct imap_sort_msg *msgs,
			unsigned count)
{
	/* qsort has no context argument: a thread-local holds it */
	sort_prog = prog;
	qsort(msgs, count, sizeof(*msgs), sort_cmp);
	sort_prog = NULL;
}

struct imap_thread_msg *imap_sort_thread_input(const struct imap_sort_msg *msgs, unsigned count,
					       bool uid, pool_t *pool)
{
	struct imap_thread_msg *out = pool_alloc(pool, ((size_t)count + 1) * sizeof(*out));
	for (unsigned i = 0; i < count; i++) {
		out[i].id = uid ? msgs[i].uid : msgs[i].seq;
		out[i].date = msgs[i].date;
		out[i].subject = msgs[i].subject;
		out[i].reply = msgs[i].reply;
		out[i].ids = msgs[i].ids;
	}
	return out;
}
