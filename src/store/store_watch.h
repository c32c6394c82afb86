/* store_watch.h: "watch this mailbox", backend-neutral.
 *
 * The store calls store_notify_changed() after each committed change to
 * a mailbox (a delivery, an expunge): from any thread. In a process that
 * attached a loop (store_watch_attach(), a worker), the change is handed
 * to that loop and there
 *   - wakes every local watcher of the mailbox (from_peer false), and
 *   - goes to the publish hook, which the worker uses to tell the master,
 *     which tells the other workers; their store_watch_peer_changed()
 *     wakes their own watchers (from_peer true), never publishing again.
 * A PostgreSQL backend can feed store_watch_peer_changed() from
 * LISTEN/NOTIFY the same way. Without an attached loop (the CLI, unit
 * tests of the store) a notification costs a mutex and is dropped.
 * Promises: at most STORE_WATCH_PENDING_MAX distinct mailboxes wait at a
 * time (repeats of one mailbox fold into one, keeping the higher modseq);
 * beyond that a change is dropped and counted, never queued without
 * limit. Watchers and the hook run on the loop thread only; a watcher may
 * remove any watcher, itself included, from its callback.
 * The user's set of mailboxes (create, delete, rename) and of
 * subscriptions is signalled as a change to the pseudo mailbox
 * STORE_WATCH_MAILBOX_LIST, which no real mailbox name can equal: a
 * watcher of one mailbox never sees it, a watcher of any (NULL) does and
 * lists again what it needs (IMAP NOTIFY, RFC 5465 5.4, 5.5). */
#ifndef POSTEL_STORE_WATCH_H
#define POSTEL_STORE_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#define STORE_WATCH_PENDING_MAX 256
/* the mailbox name of a change to the list of mailboxes or subscriptions */
#define STORE_WATCH_MAILBOX_LIST "/" /* a name never starts with "/" */

struct ioloop;
struct store_watch;

/* user is "local@domain", mailbox its canonical name; modseq 0: unknown */
typedef void store_watch_callback_t(const char *user, const char *mailbox,
				    uint64_t modseq, bool from_peer, void *ctx);
typedef void store_watch_publish_t(const char *user, const char *mailbox,
				   uint64_t modseq, void *ctx);

/* Watch user's mailbox; NULL user or mailbox matches any. Loop thread. */
struct store_watch *store_watch_add(const char *user, const char *mailbox,
				    store_watch_callback_t *cb, void *ctx);
void store_watch_remove(struct store_watch **w);

/* Route this process's notifications to loop (publish may be NULL). */
void store_watch_attach(struct ioloop *loop, store_watch_publish_t *publish,
			void *ctx);
/* Drops pending notifications and every watcher still registered. */
void store_watch_detach(void);

/* Any thread: a committed change to user's mailbox. */
void store_notify_changed(const char *user, const char *mailbox, uint64_t modseq);
/* Loop thread: a change made in another process. */
void store_watch_peer_changed(const char *user, const char *mailbox, uint64_t modseq);
/* Changes dropped because STORE_WATCH_PENDING_MAX were waiting. */
uint64_t store_watch_dropped(void);

#endif
