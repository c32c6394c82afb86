/* imap_search_parse.h: the SEARCH program (RFC 9051 6.4.4 and section 9
 * search-key, RFC 3501 6.4.4 incl. NEW/OLD/RECENT, RFC 4731 RETURN
 * options, RFC 5182 "$") into a tree of nodes.
 *
 * Contract: takes the arguments after "SEARCH" (or "UID SEARCH"):
 * [RETURN (opts)] [CHARSET cs] key *(SP key). Nesting (parentheses, NOT,
 * OR) is capped at max_depth, the tree at max_nodes, each sequence set at
 * max_ranges; a charset other than UTF-8 or US-ASCII fails with
 * IMAP_SEARCH_FAIL_BADCHARSET (answer NO [BADCHARSET (UTF-8 US-ASCII)]),
 * anything else malformed with IMAP_SEARCH_FAIL_BAD. Strings point into
 * the parser's arguments: the program lives no longer than the command. */
#ifndef POSTEL_IMAP_SEARCH_PARSE_H
#define POSTEL_IMAP_SEARCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_args.h"
#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"

enum imap_search_key {
	IMAP_SEARCH_AND,        /* children: all must match (the program, "(...)") */
	IMAP_SEARCH_OR,         /* two children */
	IMAP_SEARCH_NOT,        /* one child */
	IMAP_SEARCH_ALL, IMAP_SEARCH_SEQSET, IMAP_SEARCH_UID,
	IMAP_SEARCH_ANSWERED, IMAP_SEARCH_DELETED, IMAP_SEARCH_DRAFT,
	IMAP_SEARCH_FLAGGED, IMAP_SEARCH_SEEN, IMAP_SEARCH_RECENT,
	IMAP_SEARCH_NEW, IMAP_SEARCH_OLD,
	IMAP_SEARCH_UNANSWERED, IMAP_SEARCH_UNDELETED, IMAP_SEARCH_UNDRAFT,
	IMAP_SEARCH_UNFLAGGED, IMAP_SEARCH_UNSEEN,
	IMAP_SEARCH_KEYWORD, IMAP_SEARCH_UNKEYWORD,
	IMAP_SEARCH_BCC, IMAP_SEARCH_BODY, IMAP_SEARCH_CC, IMAP_SEARCH_FROM,
	IMAP_SEARCH_SUBJECT, IMAP_SEARCH_TEXT, IMAP_SEARCH_TO, IMAP_SEARCH_HEADER,
	IMAP_SEARCH_BEFORE, IMAP_SEARCH_ON, IMAP_SEARCH_SINCE,
	IMAP_SEARCH_SENTBEFORE, IMAP_SEARCH_SENTON, IMAP_SEARCH_SENTSINCE,
	IMAP_SEARCH_LARGER, IMAP_SEARCH_SMALLER,
	IMAP_SEARCH_MODSEQ,     /* RFC 7162 3.1.5: MODSEQ >= size */
};

struct imap_search_node {
	enum imap_search_key key;
	unsigned child, next;   /* node indices + 1; 0 = none */
	const char *str;        /* strings, KEYWORD; HEADER: the value */
	size_t len;
	const char *field;      /* HEADER: the field name */
	size_t field_len;
	struct imap_date date;
	uint64_t size;          /* LARGER, SMALLER; MODSEQ: the MODSEQ */
	struct imap_seqset set; /* SEQSET, UID (may be "$") */
};

enum imap_search_return {
	IMAP_SEARCH_RETURN_MIN = 1, IMAP_SEARCH_RETURN_MAX = 2,
	IMAP_SEARCH_RETURN_ALL = 4, IMAP_SEARCH_RETURN_COUNT = 8,
	IMAP_SEARCH_RETURN_SAVE = 16,
};

enum imap_search_failure {
	IMAP_SEARCH_FAIL_NONE, IMAP_SEARCH_FAIL_BAD, IMAP_SEARCH_FAIL_BADCHARSET,
};

struct imap_search_limits {
	unsigned max_depth, max_nodes, max_ranges;
};

struct imap_search_program {
	struct imap_search_node *nodes; /* nodes[0]: the root AND */
	unsigned count;
	bool has_return;                /* RETURN given: answer ESEARCH */
	unsigned return_opts;           /* enum imap_search_return bits */
	enum imap_search_failure failure;
};

/* args[first..end): 0 ok, -1 with prog_r->failure and *error_r. */
int imap_search_parse(const struct imap_arg *args, unsigned first, unsigned end,
		      const struct imap_search_limits *limits,
		      struct imap_search_program *prog_r, const char **error_r);
void imap_search_program_free(struct imap_search_program *prog);
/* The program has MODSEQ (RFC 7162 3.1.5: CONDSTORE-enabling; the
 * answer carries the highest MODSEQ of the matches). */
bool imap_search_program_uses_modseq(const struct imap_search_program *prog);
/* The program has RECENT, NEW or OLD (rev1 only: RFC 9051 6.4.4). */
bool imap_search_program_uses_recent(const struct imap_search_program *prog);

#endif
