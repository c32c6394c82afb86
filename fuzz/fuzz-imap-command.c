/* fuzz-imap-command.c: libFuzzer target for imap_parser.h (whole command
 * lines with literals), imap_args.h and imap_seqset.h.
 *
 * The input is split at CRLF into lines; a line the parser answers with
 * "literal needed" has the next N octets of the input (as far as there
 * are) fed as the literal, in two pieces. Invariants, checked with abort():
 *   - a refusal carries a text with no CR or LF;
 *   - a literal over the limits is never announced;
 *   - a complete command's list lengths stay inside its argument count;
 *   - an accepted sequence set is sorted, merged and within 1..2^32-1/"*";
 *   - an accepted mailbox name is not empty, absolute or with "..";
 *   - APPEND's UTF8 data form (RFC 6855 4, imap_utf8.c) is only found
 *     in front of a literal8 prefix, right before it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_args.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "imap/imap_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parser_limits limits = {
	.max_args = 100, .max_depth = 10, .max_command_size = 8192,
	.literal = { .max_size = 4096, .max_nonsync = 64 },
};

static void check_error(const char *error)
{
	if (error == NULL || strpbrk(error, "\r\n") != NULL)
		abort();
}

static void check_seqset(const char *s, size_t len)
{
	struct imap_seqset set;
	const char *error;
	if (imap_seqset_parse(s, len, 50, &set, &error) < 0) {
		check_error(error);
		return;
	}
	for (unsigned i = 0; i < set.count; i++) {
		if (set.ranges[i].lo == 0 || set.ranges[i].lo > set.ranges[i].hi ||
		    set.ranges[i].hi > IMAP_SEQ_STAR)
			abort();
		if (i > 0 && set.ranges[i].lo <= set.ranges[i - 1].hi + 1)
			abort();
	}
	imap_seqset_resolve(&set, 7);
	struct imap_seqset_iter it;
	uint32_t n;
	unsigned k = 0;
	imap_seqset_iter_init(&it, &set);
	while (imap_seqset_iter_next(&it, &n))
		if (n == 0 || n > 7 || ++k > 7 || !imap_seqset_contains(&set, n))
			abort();
	imap_seqset_free(&set);
}

static void check_command(const struct imap_command *cmd)
{
	for (unsigned i = 0; i < cmd->count; i++) {
		const struct imap_arg *a = &cmd->args[i];
		const char *error, *s;
		size_t len;
		if (a->type == IMAP_ARG_LIST) {
			if (i + a->list_len >= cmd->count + 1)
				abort();
			continue;
		}
		if (a->str == NULL)
			abort();
		if (imap_arg_get_astring(a, &s, &len, &error) < 0)
			check_error(error);
		if (a->type == IMAP_ARG_ATOM)
			check_seqset(a->str, a->len);
		str_t buf = STR_INIT;
		const char *name;
		if (imap_mailbox_name_get(a, (a->len & 1) != 0, &buf, &name, &error) < 0)
			check_error(error);
		else if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL)
			abort();
		str_free(&buf);
		struct imap_date d;
		if (imap_parse_date(a->str, a->len, &d, &error) < 0)
			check_error(error);
		if (imap_parse_datetime(a->str, a->len, &d, &error) < 0)
			check_error(error);
	}
}

static void check_utf8_form(const char *line, size_t len)
{
	static const struct literal_limits any = { .max_size = 1u << 30, .max_nonsync = 4096 };
	struct literal_prefix prefix;
	const char *error;
	bool utf8;
	if (literal_parse_prefix(line, len, &any, &prefix, &error) != LITERAL_PREFIX_OK)
		return;
	size_t end = imap_utf8_append_form(line, &prefix, &utf8);
	if (end > prefix.start || (utf8 && (!prefix.binary || end + 6 != prefix.start ||
					   memcmp(line + prefix.start - 2, " (", 2) != 0)) ||
	    (!utf8 && end != prefix.start))
		abort();
	const char *rest = line;
	size_t rest_len = len;
	if (imap_utf8_append_end(true, &rest, &rest_len) && (rest != line + 1 ||
							     rest_len + 1 != len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct imap_parser *p = imap_parser_create(&limits);
	size_t pos = 0;
	unsigned lines = 0;
	while (pos < size && lines++ < 50) {
		const char *nl = memchr(in + pos, '\n', size - pos);
		size_t end = nl != NULL ? (size_t)(nl - in) : size;
		size_t len = end - pos;
		if (len > 0 && in[end - 1] == '\r')
			len--;
		struct imap_literal_need need;
		const char *error;
		check_utf8_form(in + pos, len);
		int r = imap_parser_feed_line(p, in + pos, len, &need, &error);
		pos = nl != NULL ? end + 1 : size;
		if (r < 0) {
			check_error(error);
			imap_parser_reset(p);
		} else if (r == 0) {
			check_command(imap_parser_command(p));
			imap_parser_reset(p);
		} else {
			if (need.size > (need.nonsync ? limits.literal.max_nonsync :
					 limits.literal.max_size))
				abort();
			size_t take = size - pos < need.size ? size - pos : (size_t)need.size;
			imap_parser_literal_chunk(p, in + pos, take / 2);
			imap_parser_literal_chunk(p, in + pos + take / 2, take - take / 2);
			pos += take;
			if (take < need.size)
				break;
		}
	}
	imap_parser_destroy(&p);
	return 0;
}
