/* fuzz-imap-notify.c: libFuzzer target for imap_notify_parse.h.
 *
 * The input is NOTIFY's arguments: "a NOTIFY " is put before it and the
 * line goes through imap_parser.h, then imap_notify_parse(). Invariants,
 * checked with abort():
 *   - a refusal carries a known failure kind and a text with no CR or LF;
 *   - an accepted spec is NONE with no groups, or SET with 1 to
 *     IMAP_NOTIFY_GROUPS_MAX groups and at most IMAP_NOTIFY_MAILBOXES_MAX
 *     names in all, each name an argument inside the command, events
 *     within the known bits, fetch ranges inside the arguments and only
 *     on SELECTED / SELECTED-DELAYED groups; MessageNew and
 *     MessageExpunge always together (RFC 5465 5.1, 5.2). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_notify_parse.h"
#include "imap/imap_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parser_limits plimits = {
	.max_args = 1000, .max_depth = 20, .max_command_size = 8192,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};

static void check_spec(const struct imap_notify_spec *spec, const struct imap_command *cmd)
{
	if (spec->none) {
		if (spec->group_count != 0)
			abort();
		return;
	}
	if (spec->group_count == 0 || spec->group_count > IMAP_NOTIFY_GROUPS_MAX ||
	    spec->name_count > IMAP_NOTIFY_MAILBOXES_MAX)
		abort();
	unsigned names = 0;
	for (unsigned i = 0; i < spec->group_count; i++) {
		const struct imap_notify_group *g = &spec->groups[i];
		unsigned known = IMAP_NOTIFY_MESSAGE_EVENTS | IMAP_NOTIFY_MAILBOX_NAME |
			IMAP_NOTIFY_SUBSCRIPTION_CHANGE;
		bool selected = g->filter == IMAP_NOTIFY_SELECTED ||
			g->filter == IMAP_NOTIFY_SELECTED_DELAYED;
		if ((g->events & ~known) != 0 ||
		    ((g->events & IMAP_NOTIFY_MESSAGE_NEW) == 0) !=
		    ((g->events & IMAP_NOTIFY_MESSAGE_EXPUNGE) == 0))
			abort();
		if (g->fetch_first != 0 &&
		    (!selected || g->fetch_end <= g->fetch_first || g->fetch_end > cmd->count))
			abort();
		for (unsigned n = 0; n < g->name_count; n++) {
			if (g->names[n] < cmd->args || g->names[n] >= cmd->args + cmd->count ||
			    g->names[n]->str == NULL)
				abort();
		}
		names += g->name_count;
	}
	if (names != spec->name_count)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4000)
		return 0;
	char line[4100] = "a NOTIFY ";
	memcpy(line + 9, data, size);
	struct imap_parser *p = imap_parser_create(&plimits);
	struct imap_literal_need need;
	const char *error;
	if (imap_parser_feed_line(p, line, size + 9, &need, &error) == 0) {
		const struct imap_command *cmd = imap_parser_command(p);
		struct imap_notify_spec *spec = malloc(sizeof(*spec));
		enum imap_notify_failure fail = IMAP_NOTIFY_FAIL_BAD;
		error = NULL;
		if (spec == NULL)
			abort();
		if (imap_notify_parse(cmd->args, cmd->count, spec, &fail, &error) < 0) {
			if (error == NULL || strpbrk(error, "\r\n") != NULL ||
			    (fail != IMAP_NOTIFY_FAIL_BAD && fail != IMAP_NOTIFY_FAIL_BADEVENT &&
			     fail != IMAP_NOTIFY_FAIL_LIMIT))
				abort();
		} else {
			check_spec(spec, cmd);
		}
		free(spec);
	}
	imap_parser_destroy(&p);
	return 0;
}
