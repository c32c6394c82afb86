/* fuzz-imap-search.c: libFuzzer target for imap_search_parse.h.
 *
 * The input is a SEARCH program: "a SEARCH " is put before it and the line
 * goes through imap_parser.h, then imap_search_parse(). Invariants,
 * checked with abort():
 *   - a refusal carries a failure kind and a text with no CR or LF;
 *   - an accepted program stays within the node cap, every child and
 *     sibling link points inside it, NOT has one child and OR two;
 *   - walking the tree from the root visits each node at most once;
 *   - the answer rendered for an accepted program (imap_search_render.h)
 *     is empty or one line: CRLF at its end only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_parser.h"
#include "imap/imap_search_parse.h"
#include "imap/imap_search_render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parser_limits plimits = {
	.max_args = 500, .max_depth = 20, .max_command_size = 8192,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};
static const struct imap_search_limits slimits = {
	.max_depth = 10, .max_nodes = 100, .max_ranges = 20,
};

static unsigned children(const struct imap_search_program *prog, unsigned n)
{
	unsigned count = 0;
	for (unsigned c = prog->nodes[n].child; c != 0; c = prog->nodes[c - 1].next) {
		if (c > prog->count || c - 1 <= n || ++count > prog->count)
			abort();
	}
	return count;
}

static void check_render(const struct imap_search_program *prog, unsigned n)
{
	static const uint32_t nums[] = { 1, 2, 3, 7, 4294967295u };
	for (unsigned rev2 = 0; rev2 < 2; rev2++) {
		str_t out = STR_INIT;
		imap_search_render(&out, prog, "a", rev2 == 1, rev2 == 1, nums, n);
		const char *crlf = out.len == 0 ? NULL : strstr(str_c(&out), "\r\n");
		if (out.len > 0 && (crlf == NULL || crlf != str_c(&out) + out.len - 2 ||
				    memchr(str_c(&out), '\n', out.len - 1) != NULL))
			abort();
		str_free(&out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4000)
		return 0;
	char line[4100] = "a SEARCH ";
	memcpy(line + 9, data, size);
	struct imap_parser *p = imap_parser_create(&plimits);
	struct imap_literal_need need;
	const char *error;
	if (imap_parser_feed_line(p, line, size + 9, &need, &error) == 0) {
		const struct imap_command *cmd = imap_parser_command(p);
		struct imap_search_program prog;
		if (imap_search_parse(cmd->args, 0, cmd->count, &slimits, &prog, &error) < 0) {
			if (error == NULL || strpbrk(error, "\r\n") != NULL ||
			    prog.failure == IMAP_SEARCH_FAIL_NONE || prog.nodes != NULL)
				abort();
		} else {
			if (prog.count == 0 || prog.count > slimits.max_nodes ||
			    prog.nodes[0].key != IMAP_SEARCH_AND)
				abort();
			unsigned links = 0;
			for (unsigned n = 0; n < prog.count; n++) {
				unsigned c = children(&prog, n);
				links += c;
				if ((prog.nodes[n].key == IMAP_SEARCH_NOT && c != 1) ||
				    (prog.nodes[n].key == IMAP_SEARCH_OR && c != 2))
					abort();
			}
			if (links != prog.count - 1)
				abort();
			check_render(&prog, size % 5);
			imap_search_program_free(&prog);
		}
	}
	imap_parser_destroy(&p);
	return 0;
}
