/* imap_notify_parse.h: the arguments of NOTIFY (RFC 5465 8, formal
 * syntax) into a list of event groups.
 *
 * Contract: takes the arguments after "NOTIFY": "NONE", or "SET"
 * ["STATUS"] followed by one or more event groups "(filter events)".
 * Filters: SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED,
 * SUBTREE mailboxes, MAILBOXES mailboxes (one name or a list); events:
 * "NONE" or a list of MessageNew [(fetch-att ...)], MessageExpunge,
 * FlagChange, MailboxName, SubscriptionChange. Answers:
 *   0  the spec is filled (strings and fetch lists point into args);
 *   -1 IMAP_NOTIFY_FAIL_BAD: malformed, or a rule of RFC 5465 5 broken
 *      (MessageNew without MessageExpunge or the other way, FlagChange
 *      without both, fetch attributes outside SELECTED, SELECTED twice,
 *      mailbox events on SELECTED);
 *   -1 IMAP_NOTIFY_FAIL_BADEVENT: an event this server does not offer
 *      (AnnotationChange, MailboxMetadataChange, ServerMetadataChange, an
 *      unknown event-ext): NO [BADEVENT (the supported list)] (RFC 5465 3.1);
 *   -1 IMAP_NOTIFY_FAIL_LIMIT: more than IMAP_NOTIFY_GROUPS_MAX groups or
 *      IMAP_NOTIFY_MAILBOXES_MAX names: NO [LIMIT].
 * Nothing is allocated; the names are not decoded (imap_mailbox_name.h
 * does that with the session's UTF8=ACCEPT state). */
#ifndef POSTEL_IMAP_NOTIFY_PARSE_H
#define POSTEL_IMAP_NOTIFY_PARSE_H

#include <stdbool.h>

#include "imap/imap_parser.h"

/* one session watches at most this many named mailboxes (SUBTREE and
 * MAILBOXES together) and this many event groups */
#define IMAP_NOTIFY_MAILBOXES_MAX 100
#define IMAP_NOTIFY_GROUPS_MAX 16
/* RFC 5465 3.1: the BADEVENT response code lists what is supported */
#define IMAP_NOTIFY_EVENTS_SUPPORTED \
	"MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange"

enum imap_notify_filter {
	IMAP_NOTIFY_SELECTED,
	IMAP_NOTIFY_SELECTED_DELAYED,
	IMAP_NOTIFY_INBOXES,
	IMAP_NOTIFY_PERSONAL,
	IMAP_NOTIFY_SUBSCRIBED,
	IMAP_NOTIFY_SUBTREE,
	IMAP_NOTIFY_MAILBOXES,
};

enum imap_notify_event {
	IMAP_NOTIFY_MESSAGE_NEW = 1u << 0,
	IMAP_NOTIFY_MESSAGE_EXPUNGE = 1u << 1,
	IMAP_NOTIFY_FLAG_CHANGE = 1u << 2,
	IMAP_NOTIFY_MAILBOX_NAME = 1u << 3,
	IMAP_NOTIFY_SUBSCRIPTION_CHANGE = 1u << 4,
};
#define IMAP_NOTIFY_MESSAGE_EVENTS \
	(IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE | IMAP_NOTIFY_FLAG_CHANGE)

enum imap_notify_failure {
	IMAP_NOTIFY_FAIL_BAD,
	IMAP_NOTIFY_FAIL_BADEVENT,
	IMAP_NOTIFY_FAIL_LIMIT,
};

struct imap_notify_group {
	enum imap_notify_filter filter;
	unsigned events;           /* IMAP_NOTIFY_*; 0: NONE */
	/* SUBTREE, MAILBOXES: the name arguments */
	const struct imap_arg *names[IMAP_NOTIFY_MAILBOXES_MAX];
	unsigned name_count;
	/* MessageNew's fetch attributes: args[fetch_first..fetch_end) */
	unsigned fetch_first, fetch_end;
};

struct imap_notify_spec {
	bool none;                 /* NOTIFY NONE */
	bool status;               /* NOTIFY SET STATUS */
	struct imap_notify_group groups[IMAP_NOTIFY_GROUPS_MAX];
	unsigned group_count;
	unsigned name_count;       /* over all groups */
};

int imap_notify_parse(const struct imap_arg *args, unsigned count,
		      struct imap_notify_spec *spec_r, enum imap_notify_failure *fail_r,
		      const char **error_r);

#endif
