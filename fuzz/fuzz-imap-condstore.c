/* fuzz-imap-condstore.c: libFuzzer target for imap_condstore_parse.h,
 * the RFC 7162 parameters (QRESYNC, CHANGEDSINCE, UNCHANGEDSINCE, SEARCH
 * MODSEQ).
 *
 * The input is a parameter list: "a SELECT INBOX " is put before it and
 * the line goes through imap_parser.h, then every parser of the module
 * takes the same arguments. Invariants, checked with abort():
 *   - a refusal carries a text with no CR or LF and leaves no set behind;
 *   - an accepted QRESYNC has a non-zero UIDVALIDITY and MODSEQ below
 *     2^63, sets without "*" or "$" within the range cap, and seq-match
 *     sets of equal size; CHANGEDSINCE is non-zero, VANISHED only with it;
 *   - every MODSEQ is at most 2^63-1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_condstore_parse.h"
#include "imap/imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parser_limits plimits = {
	.max_args = 500, .max_depth = 20, .max_command_size = 8192,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};
#define MAX_RANGES 20

static void check_error(const char *error)
{
	if (error == NULL || strpbrk(error, "\r\n") != NULL)
		abort();
}

static void check_set(const struct imap_seqset *set)
{
	if (set->saved || set->has_star || set->count > MAX_RANGES)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4000)
		return 0;
	char line[4100] = "a SELECT INBOX ";
	size_t head = strlen(line);
	memcpy(line + head, data, size);
	struct imap_parser *p = imap_parser_create(&plimits);
	struct imap_literal_need need;
	const char *error;
	if (imap_parser_feed_line(p, line, size + head, &need, &error) == 0) {
		const struct imap_command *cmd = imap_parser_command(p);
		struct imap_qresync_params q;
		error = NULL;
		if (imap_qresync_params_parse(cmd->args, 1, cmd->count, MAX_RANGES, &q,
					      &error) < 0) {
			check_error(error);
			if (q.known_uids.ranges != NULL || q.match_seqs.ranges != NULL ||
			    q.match_uids.ranges != NULL)
				abort();
		} else {
			if (q.qresync && (q.uidvalidity == 0 || q.modseq == 0 ||
					  q.modseq > INT64_MAX || !q.condstore))
				abort();
			if (q.has_known_uids)
				check_set(&q.known_uids);
			if (q.has_seq_match) {
				check_set(&q.match_seqs);
				check_set(&q.match_uids);
				if (imap_seqset_count(&q.match_seqs) !=
				    imap_seqset_count(&q.match_uids))
					abort();
			}
			imap_qresync_params_free(&q);
		}
		struct imap_fetch_modifiers m;
		error = NULL;
		if (imap_condstore_fetch_modifiers(cmd->args, 1, cmd->count, &m, &error) < 0)
			check_error(error);
		else if (m.changedsince == 0 || m.changedsince > INT64_MAX)
			abort();
		uint64_t v;
		bool has;
		error = NULL;
		if (imap_condstore_store_modifiers(cmd->args, 1, cmd->count, &v, &has, &error) < 0)
			check_error(error);
		else if (v > INT64_MAX || (!has && v != 0))
			abort();
		unsigned used;
		error = NULL;
		if (imap_condstore_search_modseq(cmd->args, 0, cmd->count, &v, &used, &error) < 0)
			check_error(error);
		else if (v > INT64_MAX || (used != 1 && used != 3) || used > cmd->count)
			abort();
	}
	imap_parser_destroy(&p);
	return 0;
}
