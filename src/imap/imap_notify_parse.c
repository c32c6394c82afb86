/* imap_notify_parse.c: see imap_notify_parse.h. Grammar (RFC 5465 8):
 *   notify-set    = "SET" [SP "STATUS"] SP event-groups
 *   event-group   = "(" filter-mailboxes SP events ")"
 *   filter-mailboxes = "selected" / "selected-delayed" / "inboxes" /
 *                   "personal" / "subscribed" / ("subtree" SP mailboxes) /
 *                   ("mailboxes" SP mailboxes)
 *   events        = ("(" event *(SP event) ")") / "NONE"
 * Everything is read from the flat argument array with indexes; nothing
 * recurses, every loop is bounded by the argument count. */
#include "imap/imap_notify_parse.h"
#include "imap/imap_args.h"

#include <string.h>
#include <strings.h>

struct notify_parse {
	const struct imap_arg *args;
	struct imap_notify_spec *spec;
	enum imap_notify_failure fail;
	const char *error;
};

static int parse_fail(struct notify_parse *p, enum imap_notify_failure fail,
		      const char *error)
{
	p->fail = fail;
	p->error = error;
	return -1;
}

static bool arg_is(const struct imap_arg *arg, const char *word)
{
	return arg->type == IMAP_ARG_ATOM && strcasecmp(arg->str, word) == 0;
}

static const struct {
	const char *name;
	enum imap_notify_filter filter;
} filters[] = {
	{ "SELECTED", IMAP_NOTIFY_SELECTED },
	{ "SELECTED-DELAYED", IMAP_NOTIFY_SELECTED_DELAYED },
	{ "INBOXES", IMAP_NOTIFY_INBOXES },
	{ "PERSONAL", IMAP_NOTIFY_PERSONAL },
	{ "SUBSCRIBED", IMAP_NOTIFY_SUBSCRIBED },
	{ "SUBTREE", IMAP_NOTIFY_SUBTREE },
	{ "MAILBOXES", IMAP_NOTIFY_MAILBOXES },
};

static const struct {
	const char *name;
	unsigned event; /* 0: known, not offered (BADEVENT) */
} events[] = {
	{ "MessageNew", IMAP_NOTIFY_MESSAGE_NEW },
	{ "MessageExpunge", IMAP_NOTIFY_MESSAGE_EXPUNGE },
	{ "FlagChange", IMAP_NOTIFY_FLAG_CHANGE },
	{ "MailboxName", IMAP_NOTIFY_MAILBOX_NAME },
	{ "SubscriptionChange", IMAP_NOTIFY_SUBSCRIPTION_CHANGE },
	/* RFC 5465 5.3, 5.7: need ANNOTATE / METADATA, which we lack */
	{ "AnnotationChange", 0 },
	{ "MailboxMetadataChange", 0 },
	{ "ServerMetadataChange", 0 },
};

/* A mailbox name (astring) for SUBTREE / MAILBOXES. */
static int parse_name(struct notify_parse *p, struct imap_notify_group *g, unsigned i)
{
	const char *s, *error;
	size_t len;
	if (imap_arg_get_astring(&p->args[i], &s, &len, &error) < 0)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Invalid mailbox name");
	if (g->name_count >= IMAP_NOTIFY_MAILBOXES_MAX ||
	    p->spec->name_count >= IMAP_NOTIFY_MAILBOXES_MAX)
		return parse_fail(p, IMAP_NOTIFY_FAIL_LIMIT, "Too many mailboxes");
	g->names[g->name_count++] = &p->args[i];
	p->spec->name_count++;
	return 0;
}

/* SUBTREE / MAILBOXES: one name or a non-empty list; the next index in *i */
static int parse_names(struct notify_parse *p, struct imap_notify_group *g, unsigned *i,
		       unsigned end)
{
	if (*i >= end)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Missing mailbox names");
	const struct imap_arg *arg = &p->args[*i];
	if (arg->type != IMAP_ARG_LIST) {
		if (parse_name(p, g, *i) < 0)
			return -1;
		(*i)++;
		return 0;
	}
	unsigned list_end = imap_arg_next(p->args, *i);
	if (arg->list_len == 0)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Empty mailbox list");
	for (unsigned j = *i + 1; j < list_end; j++) {
		if (p->args[j].type == IMAP_ARG_LIST)
			return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Invalid mailbox name");
		if (parse_name(p, g, j) < 0)
			return -1;
	}
	*i = list_end;
	return 0;
}

/* events: "NONE" or "(" event *(SP event) ")" at args[i] */
static int parse_events(struct notify_parse *p, struct imap_notify_group *g, unsigned i)
{
	const struct imap_arg *arg = &p->args[i];
	if (arg_is(arg, "NONE")) {
		g->events = 0;
		return 0;
	}
	if (arg->type != IMAP_ARG_LIST || arg->list_len == 0)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Expected an event list or NONE");
	unsigned end = imap_arg_next(p->args, i);
	bool badevent = false;
	for (unsigned j = i + 1; j < end; j = imap_arg_next(p->args, j)) {
		if (p->args[j].type != IMAP_ARG_ATOM)
			return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Invalid event");
		size_t k;
		for (k = 0; k < sizeof(events) / sizeof(events[0]); k++)
			if (strcasecmp(p->args[j].str, events[k].name) == 0)
				break;
		if (k == sizeof(events) / sizeof(events[0]) || events[k].event == 0) {
			/* RFC 5465 8: MailboxMetadataChange and AnnotationChange
			 * take no arguments here; an event-ext may: skip a list */
			badevent = true;
			continue;
		}
		if ((g->events & events[k].event) != 0)
			return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Event given twice");
		g->events |= events[k].event;
		if (events[k].event == IMAP_NOTIFY_MESSAGE_NEW && j + 1 < end &&
		    p->args[j + 1].type == IMAP_ARG_LIST) {
			/* RFC 5465 5.1: MessageNew (fetch-att ...) */
			if (p->args[j + 1].list_len == 0)
				return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Empty fetch list");
			g->fetch_first = j + 2;
			g->fetch_end = imap_arg_next(p->args, j + 1);
			j++;
		}
	}
	if (badevent)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BADEVENT, "Unsupported event");
	return 0;
}

/* RFC 5465 5: which event sets make sense where */
static int check_group(struct notify_parse *p, const struct imap_notify_group *g)
{
	unsigned ev = g->events;
	bool new = (ev & IMAP_NOTIFY_MESSAGE_NEW) != 0;
	bool expunge = (ev & IMAP_NOTIFY_MESSAGE_EXPUNGE) != 0;
	bool selected = g->filter == IMAP_NOTIFY_SELECTED ||
		g->filter == IMAP_NOTIFY_SELECTED_DELAYED;
	/* 5.1, 5.2: MessageNew and MessageExpunge go together */
	if (new != expunge)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD,
				  "MessageNew and MessageExpunge must be given together");
	/* 5.3: FlagChange needs both */
	if ((ev & IMAP_NOTIFY_FLAG_CHANGE) != 0 && !new)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD,
				  "FlagChange needs MessageNew and MessageExpunge");
	/* 5.1: fetch attributes only where the mailbox is selected */
	if (g->fetch_first != 0 && !selected)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD,
				  "MessageNew fetch attributes need SELECTED");
	/* 6: mailbox events are not about the selected mailbox */
	if (selected && (ev & ~IMAP_NOTIFY_MESSAGE_EVENTS) != 0)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD,
				  "Mailbox events cannot be given for SELECTED");
	return 0;
}

/* one "(filter events)" group at args[i] */
static int parse_group(struct notify_parse *p, unsigned i)
{
	const struct imap_arg *arg = &p->args[i];
	struct imap_notify_spec *spec = p->spec;
	if (arg->type != IMAP_ARG_LIST || arg->list_len < 2)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Expected (filter events)");
	if (spec->group_count >= IMAP_NOTIFY_GROUPS_MAX)
		return parse_fail(p, IMAP_NOTIFY_FAIL_LIMIT, "Too many event groups");
	struct imap_notify_group *g = &spec->groups[spec->group_count];
	memset(g, 0, sizeof(*g));
	unsigned end = imap_arg_next(p->args, i), j = i + 1;
	size_t k;
	for (k = 0; k < sizeof(filters) / sizeof(filters[0]); k++)
		if (arg_is(&p->args[j], filters[k].name))
			break;
	if (k == sizeof(filters) / sizeof(filters[0]))
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Unknown mailbox filter");
	g->filter = filters[k].filter;
	j++;
	if ((g->filter == IMAP_NOTIFY_SUBTREE || g->filter == IMAP_NOTIFY_MAILBOXES) &&
	    parse_names(p, g, &j, end) < 0)
		return -1;
	if (j >= end || imap_arg_next(p->args, j) != end)
		return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Expected one event list");
	if (parse_events(p, g, j) < 0 || check_group(p, g) < 0)
		return -1;
	for (unsigned n = 0; n < spec->group_count; n++) {
		enum imap_notify_filter f = spec->groups[n].filter;
		bool sel = f == IMAP_NOTIFY_SELECTED || f == IMAP_NOTIFY_SELECTED_DELAYED;
		bool gsel = g->filter == IMAP_NOTIFY_SELECTED ||
			g->filter == IMAP_NOTIFY_SELECTED_DELAYED;
		/* RFC 5465 6: SELECTED and SELECTED-DELAYED once, not both */
		if ((sel && gsel) || (f == g->filter && f != IMAP_NOTIFY_SUBTREE &&
				      f != IMAP_NOTIFY_MAILBOXES))
			return parse_fail(p, IMAP_NOTIFY_FAIL_BAD, "Mailbox filter given twice");
	}
	spec->group_count++;
	return 0;
}

int imap_notify_parse(const struct imap_arg *args, unsigned count,
		      struct imap_notify_spec *spec_r, enum imap_notify_failure *fail_r,
		      const char **error_r)
{
	struct notify_parse p = { .args = args, .spec = spec_r, .fail = IMAP_NOTIFY_FAIL_BAD };
	spec_r->none = false;
	spec_r->status = false;
	spec_r->group_count = 0;
	spec_r->name_count = 0;
	int ret = 0;
	unsigned i = 1;
	if (count == 1 && arg_is(&args[0], "NONE")) {
		spec_r->none = true;
	} else if (count < 2 || !arg_is(&args[0], "SET")) {
		ret = parse_fail(&p, IMAP_NOTIFY_FAIL_BAD, "Expected NOTIFY SET or NOTIFY NONE");
	} else {
		if (arg_is(&args[1], "STATUS")) {
			spec_r->status = true;
			i = 2;
		}
		if (i >= count)
			ret = parse_fail(&p, IMAP_NOTIFY_FAIL_BAD, "Missing event groups");
		for (; ret == 0 && i < count; i = imap_arg_next(args, i))
			ret = parse_group(&p, i);
	}
	if (ret < 0) {
		*fail_r = p.fail;
		*error_r = p.error;
	}
	return ret;
}
