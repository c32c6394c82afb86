/* imap_notify.h: NOTIFY's session state, shared by imap_notify.c (the
 * command, which mailboxes a change concerns), imap_notify_events.c (the
 * wake-ups from store_watch.h, the jobs, STATUS and the selected mailbox)
 * and imap_notify_list.c (LIST responses for mailbox changes).
 *
 * Contract: a session with NOTIFY SET has one struct imap_notify (heap)
 * holding its event groups with canonical names, one store watch on all
 * of the user's mailboxes, at most IMAP_NOTIFY_PENDING_MAX mailboxes whose
 * STATUS is due, and a sorted snapshot of the user's mailboxes and
 * subscriptions to tell what a STORE_WATCH_MAILBOX_LIST change was. */
#ifndef POSTEL_IMAP_NOTIFY_H
#define POSTEL_IMAP_NOTIFY_H

#include "imap/imap_fetch_parse.h"
#include "imap/imap_notify_parse.h"
#include "lib/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imap_cmd;
struct imap_session;

/* distinct mailboxes waiting for their STATUS; one more is an overflow
 * (RFC 5465 5.8) */
#define IMAP_NOTIFY_PENDING_MAX 64
/* unsolicited output starts only with this much room in the output
 * buffer; less means the client stopped reading: NOTIFICATIONOVERFLOW */
#define IMAP_NOTIFY_ROOM_MIN (256 * 1024)

struct timeout;
struct store_watch;

struct imap_notify_filter_names {
	enum imap_notify_filter filter;
	unsigned events;
	char **names; /* SUBTREE, MAILBOXES: canonical, heap */
	unsigned name_count;
};

struct imap_notify {
	struct imap_notify_filter_names groups[IMAP_NOTIFY_GROUPS_MAX];
	unsigned group_count;
	unsigned selected_events;  /* SELECTED / SELECTED-DELAYED group's */
	bool selected_delayed;
	bool want_list;            /* MailboxName, SubscriptionChange, SUBSCRIBED */
	struct store_watch *watch;
	char *pending[IMAP_NOTIFY_PENDING_MAX];
	unsigned pending_count;
	bool list_dirty, selected_dirty, overflow;
	/* the last listing: sorted, heap; have_list false until the first */
	char **names, **subs;
	unsigned name_count, sub_count;
	bool have_list;
	struct timeout *kick_to;
	/* MessageNew's fetch attributes (imap_notify_fetch.c): the request
	 * (count 0: none), its header field names, the last UID before the
	 * selected mailbox's sync */
	struct imap_fetch_request fetch;
	char *fetch_names;
	uint32_t fetch_after;
	/* SELECTED-DELAYED (imap_notify_delayed.c): the highest MODSEQ whose
	 * flag change went out between commands */
	uint64_t delayed_told;
};

/* imap_notify.c: events of the first group that takes this mailbox (not
 * the selected one); subs: the subscriptions, sorted. Any thread. */
unsigned imap_notify_events_for(const struct imap_notify *n, const char *name,
				const char *const *subs, unsigned sub_count);
void imap_notify_state_free(struct imap_notify **n);
/* frees a heap array of heap names, sets it to NULL and the count to 0 */
void imap_notify_names_free(char ***names, unsigned *count);
/* imap_notify_list.c: room for a line of len; the LIST responses for a
 * fresh listing (sorted) if report, then it is the session's; false: no
 * room left (overflow) */
bool imap_notify_room(struct imap_session *s, size_t len);
bool imap_notify_list_update(struct imap_session *s, pool_t *pool, const char **names,
			     unsigned name_count, const char **subs, unsigned sub_count,
			     bool report);
/* imap_notify_events.c */
void imap_notify_watch_start(struct imap_session *s);
/* NOTIFY SET: list, and with STATUS send the STATUS of every mailbox the
 * groups take, then the tagged OK */
void imap_notify_set_run(struct imap_cmd *cmd, bool status);

/* imap_notify_fetch.c: keep takes req over; mark before the selected
 * mailbox's sync; start after it: true if a FETCH of the new messages
 * runs and calls final(cmd) at its end */
void imap_notify_fetch_keep(struct imap_notify *n, struct imap_fetch_request *req);
void imap_notify_fetch_free(struct imap_notify *n);
void imap_notify_fetch_mark(struct imap_session *s);
bool imap_notify_fetch_start(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));
/* imap_notify_delayed.c: SELECTED-DELAYED's new messages and flag
 * changes between commands: true if a job runs, which ends in imap_notify_delayed_end
 * (imap_notify_events.c: overflow unless ok, input back) */
bool imap_notify_delayed_start(struct imap_session *s);
void imap_notify_delayed_end(struct imap_session *s, bool ok);

#endif
