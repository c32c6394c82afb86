/* imap_notify.c: the NOTIFY command (RFC 5465 3) and which mailboxes a
 * group takes (RFC 5465 6).
 *
 * Contract: NOTIFY NONE ends notifications (RFC 5465 3.2); NOTIFY SET
 * replaces the session's groups as a whole: parsed (imap_notify_parse.h),
 * names decoded as the session's UTF8=ACCEPT state says, MessageNew's
 * fetch attributes parsed as FETCH's and kept (imap_notify_fetch.c sends
 * them after the EXISTS); then a job lists the user's mailboxes
 * and subscriptions and, with STATUS, sends each mailbox's STATUS (3.1)
 * before the tagged OK. A mailbox is taken by the first group whose
 * filter matches it (RFC 5465 6 lets the server order them; the client's
 * order is the natural one): INBOXES is INBOX (where delivery puts mail),
 * PERSONAL every mailbox of the user, SUBSCRIBED the subscribed ones,
 * SUBTREE a name and all below it, MAILBOXES exactly the names. The
 * selected mailbox is the SELECTED (or SELECTED-DELAYED) group's only. */
#include "imap_notify.h"
#include "imap/imap_commands.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_session_private.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "store/store_watch.h"

#include <stdlib.h>
#include <string.h>

static bool notify_sorted_contains(const char *const *names, unsigned count, const char *name)
{
	unsigned lo = 0, hi = count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c = strcmp(names[mid], name);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static bool notify_group_takes(const struct imap_notify_filter_names *g, const char *name,
			       const char *const *subs, unsigned sub_count)
{
	switch (g->filter) {
	case IMAP_NOTIFY_SELECTED:
	case IMAP_NOTIFY_SELECTED_DELAYED:
		return false;
	case IMAP_NOTIFY_INBOXES:
		return strcmp(name, "INBOX") == 0;
	case IMAP_NOTIFY_PERSONAL:
		return true;
	case IMAP_NOTIFY_SUBSCRIBED:
		return notify_sorted_contains(subs, sub_count, name);
	case IMAP_NOTIFY_SUBTREE:
		for (unsigned i = 0; i < g->name_count; i++) {
			size_t len = strlen(g->names[i]);
			if (strncmp(name, g->names[i], len) == 0 &&
			    (name[len] == '\0' || name[len] == '/'))
				return true;
		}
		return false;
	case IMAP_NOTIFY_MAILBOXES:
		for (unsigned i = 0; i < g->name_count; i++)
			if (strcmp(name, g->names[i]) == 0)
				return true;
		return false;
	}
	return false;
}

unsigned imap_notify_events_for(const struct imap_notify *n, const char *name,
				const char *const *subs, unsigned sub_count)
{
	for (unsigned i = 0; i < n->group_count; i++) {
		if (notify_group_takes(&n->groups[i], name, subs, sub_count))
			return n->groups[i].events;
	}
	return 0;
}

void imap_notify_names_free(char ***names, unsigned *count)
{
	for (unsigned i = 0; i < *count; i++)
		free((*names)[i]);
	free(*names);
	*names = NULL;
	*count = 0;
}

void imap_notify_state_free(struct imap_notify **np)
{
	struct imap_notify *n = *np;
	if (n == NULL)
		return;
	*np = NULL;
	store_watch_remove(&n->watch);
	timeout_remove(&n->kick_to);
	imap_notify_fetch_free(n);
	for (unsigned i = 0; i < n->group_count; i++)
		imap_notify_names_free(&n->groups[i].names, &n->groups[i].name_count);
	for (unsigned i = 0; i < n->pending_count; i++)
		free(n->pending[i]);
	imap_notify_names_free(&n->names, &n->name_count);
	imap_notify_names_free(&n->subs, &n->sub_count);
	free(n);
}

void imap_notify_free(struct imap_session *s)
{
	imap_notify_state_free(&s->notify);
}

/* The parsed groups with decoded names, for the session; -1: BAD sent */
static struct imap_notify *notify_build(struct imap_cmd *cmd, const struct imap_notify_spec *spec)
{
	struct imap_notify *n = xcalloc(1, sizeof(*n));
	str_t buf = STR_INIT;
	for (unsigned i = 0; i < spec->group_count; i++) {
		const struct imap_notify_group *pg = &spec->groups[i];
		struct imap_notify_filter_names *g = &n->groups[n->group_count++];
		g->filter = pg->filter;
		g->events = pg->events;
		if (pg->filter == IMAP_NOTIFY_SELECTED || pg->filter == IMAP_NOTIFY_SELECTED_DELAYED) {
			n->selected_events = pg->events;
			n->selected_delayed = pg->filter == IMAP_NOTIFY_SELECTED_DELAYED;
		}
		if (pg->filter == IMAP_NOTIFY_SUBSCRIBED ||
		    (pg->events & (IMAP_NOTIFY_MAILBOX_NAME | IMAP_NOTIFY_SUBSCRIPTION_CHANGE)) != 0)
			n->want_list = true;
		if (pg->name_count > 0)
			g->names = xcalloc(pg->name_count, sizeof(*g->names));
		for (unsigned j = 0; j < pg->name_count; j++) {
			const char *name, *error;
			str_clear(&buf);
			if (imap_mailbox_name_get(pg->names[j], cmd->s->utf8_accept, &buf, &name,
						  &error) < 0) {
				str_free(&buf);
				imap_notify_state_free(&n);
				imap_cmd_bad(cmd, "Invalid mailbox name: %s", error);
				return NULL;
			}
			g->names[g->name_count++] = xstrdup(name);
		}
		if (pg->fetch_first != 0) {
			/* RFC 5465 5.1: FETCH's own attribute syntax; the list
			 * (the argument before its first element) as one */
			struct imap_fetch_request req;
			const char *error;
			if (imap_fetch_parse(cmd->args, pg->fetch_first - 1, pg->fetch_end, 64, &req,
					     &error) < 0) {
				str_free(&buf);
				imap_notify_state_free(&n);
				imap_cmd_bad(cmd, "Invalid MessageNew fetch attributes: %s", error);
				return NULL;
			}
			imap_notify_fetch_keep(n, &req);
		}
	}
	str_free(&buf);
	return n;
}

void imap_cmd_notify(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_notify_spec *spec = pool_alloc(s->base.cmd_pool, sizeof(*spec));
	enum imap_notify_failure fail;
	const char *error;
	if (imap_notify_parse(cmd->args, cmd->count, spec, &fail, &error) < 0) {
		switch (fail) {
		case IMAP_NOTIFY_FAIL_BADEVENT:
			/* RFC 5465 3.1: the events supported, in the code */
			imap_cmd_no(cmd, "BADEVENT (" IMAP_NOTIFY_EVENTS_SUPPORTED ")", "%s", error);
			return;
		case IMAP_NOTIFY_FAIL_LIMIT:
			imap_cmd_no(cmd, "LIMIT", "%s", error);
			return;
		case IMAP_NOTIFY_FAIL_BAD:
			break;
		}
		imap_cmd_bad(cmd, "%s", error);
		return;
	}
	if (spec->none) {
		/* RFC 5465 3.2 */
		imap_notify_free(s);
		imap_cmd_ok(cmd, NULL, "NOTIFY completed");
		return;
	}
	struct imap_notify *n = notify_build(cmd, spec);
	if (n == NULL)
		return;
	imap_notify_free(s);
	s->notify = n;
	log_debug("sid=%s event=notify_set groups=%u names=%u status=%d", s->base.sid,
		  n->group_count, spec->name_count, spec->status ? 1 : 0);
	imap_notify_watch_start(s);
	imap_notify_set_run(cmd, spec->status);
}
