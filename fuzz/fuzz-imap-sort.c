/* fuzz-imap-sort.c: libFuzzer target for the SORT and THREAD programs
 * (imap_sort.h) and the threading of imap_thread.h.
 *
 * The first byte picks SORT or THREAD; the rest is the program, put
 * after "a SORT " / "a THREAD " and read by imap_parser.h, then
 * imap_sort_parse(). Invariants, checked with abort():
 *   - a refusal carries a failure kind and a one-line text, and frees
 *     the search program;
 *   - an accepted program has 1..IMAP_SORT_MAX_KEYS keys (SORT) and a
 *     root AND search node;
 *   - the same bytes, read as a header block, fill a sort record whose
 *     strings are non-NULL; a dozen such records threaded both ways
 *     render balanced parentheses naming each message exactly once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_sort.h"
#include "imap/imap_thread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parser_limits plimits = {
	.max_args = 500, .max_depth = 20, .max_command_size = 8192,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 10, .max_nodes = 100, .max_ranges = 20,
};

static void check_threads(const struct imap_sort_msg *recs, unsigned n, pool_t *pool)
{
	struct imap_thread_msg *in = imap_sort_thread_input(recs, n, false, pool);
	for (unsigned algo = 0; algo < 2; algo++) {
		struct imap_thread_tree tree;
		if (algo == 0)
			imap_thread_references(in, n, pool, &tree);
		else
			imap_thread_orderedsubject(in, n, pool, &tree);
		str_t out = STR_INIT;
		imap_thread_render(&out, &tree, pool);
		int depth = 0;
		unsigned seen[16] = { 0 };
		const char *s = str_c(&out);
		for (size_t i = 0; i < out.len; i++) {
			if (s[i] == '(')
				depth++;
			else if (s[i] == ')' && --depth < 0)
				abort();
			else if (s[i] >= '1' && s[i] <= '9' && (i == 0 || s[i - 1] < '0' || s[i - 1] > '9'))
				seen[strtoul(s + i, NULL, 10) % 16]++;
		}
		if (depth != 0 || strstr(s, "()") != NULL)
			abort();
		for (unsigned k = 1; k <= n; k++)
			if (seen[k] != 1)
				abort();
		str_free(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 4000)
		return 0;
	bool thread = (data[0] & 1) != 0;
	char line[4100];
	size_t pre = thread ? 9 : 7;
	memcpy(line, thread ? "a THREAD " : "a SORT ", pre);
	memcpy(line + pre, data + 1, size - 1);
	struct imap_parser *p = imap_parser_create(&plimits);
	struct imap_literal_need need;
	const char *error;
	struct imap_sort_program prog = { 0 };
	bool accepted = false;
	if (imap_parser_feed_line(p, line, size - 1 + pre, &need, &error) == 0) {
		const struct imap_command *cmd = imap_parser_command(p);
		if (imap_sort_parse(cmd->args, 0, cmd->count, thread, &slimits, &prog, &error) < 0) {
			if (error == NULL || strpbrk(error, "\r\n") != NULL ||
			    prog.search.failure == IMAP_SEARCH_FAIL_NONE || prog.search.nodes != NULL)
				abort();
		} else {
			accepted = true;
			if ((!thread && (prog.key_count == 0 || prog.key_count > IMAP_SORT_MAX_KEYS)) ||
			    prog.search.count == 0 || prog.search.nodes[0].key != IMAP_SEARCH_AND)
				abort();
		}
	}
	imap_parser_destroy(&p);
	/* the input as header blocks of a few messages */
	struct imap_sort_program all = { .thread = true, .algorithm = IMAP_THREAD_REFERENCES,
					 .key_count = 4,
					 .keys = { IMAP_SORT_FROM, IMAP_SORT_DISPLAYTO,
						   IMAP_SORT_CC, IMAP_SORT_DATE } };
	pool_t *pool = pool_create(4096);
	enum { RECS = 12 };
	struct imap_sort_msg recs[RECS];
	size_t part = (size_t)(size - 1) / RECS;
	for (unsigned i = 0; i < RECS; i++) {
		memset(&recs[i], 0, sizeof(recs[i]));
		recs[i].seq = recs[i].uid = i + 1;
		recs[i].arrival = (int64_t)(data[0] ^ i);
		/* overlapping slices: each record sees a different header */
		const char *hdr = (const char *)data + 1 + part * i / 2;
		size_t len = (size_t)(size - 1) - part * i / 2;
		imap_sort_msg_fill(&all, hdr, len, pool, &recs[i]);
		if (recs[i].subject == NULL || recs[i].from == NULL || recs[i].dto == NULL ||
		    recs[i].cc == NULL || (recs[i].ids.refs == NULL && recs[i].ids.count > 0))
			abort();
	}
	imap_sort_messages(&all, recs, RECS);
	check_threads(recs, RECS, pool);
	pool_destroy(&pool);
	if (accepted)
		imap_sort_program_free(&prog);
	return 0;
}
