/* imap_mailbox.h: mailboxes by name, what imap_mailbox.c (CREATE,
 * DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS), imap_list.c (LIST,
 * LSUB) and imap_copy.c give the other commands: the user's mailbox and
 * subscription lists, STATUS items, the special-use attributes. */
#ifndef POSTEL_IMAP_MAILBOX_H
#define POSTEL_IMAP_MAILBOX_H

#include "imap/imap_parser.h"
#include "lib/mem.h"
#include "lib/str.h"

#include <stdbool.h>

struct imap_session;
struct store;
struct store_mailbox_status;

/* imap_mailbox.c */
/* In a job: the user's mailbox names, sorted (an account made before its
 * store gets its folders first); the subscriptions, sorted. */
int imap_mailbox_names(struct store *store, const char *address, pool_t *pool,
		       const char ***names_r, unsigned *count_r, const char **error_r);
int imap_mailbox_subscriptions(struct store *store, const char *address, pool_t *pool,
			       const char ***names_r, unsigned *count_r,
			       const char **error_r);
/* Lookups in a sorted name list: is name there; how many names lie
 * below parent ("parent/..."), from *first_r on. */
int imap_names_cmp(const void *a, const void *b); /* qsort over const char * */
bool imap_names_contain(const char *const *names, unsigned count, const char *name);
unsigned imap_names_below(const char *const *names, unsigned count, const char *parent,
			  unsigned *first_r);
/* STATUS items (RFC 9051 6.3.11, RFC 8438 SIZE, rev1 RECENT) */
enum imap_status_item {
	IMAP_STATUS_MESSAGES = 1u << 0,
	IMAP_STATUS_UIDNEXT = 1u << 1,
	IMAP_STATUS_UIDVALIDITY = 1u << 2,
	IMAP_STATUS_UNSEEN = 1u << 3,
	IMAP_STATUS_DELETED = 1u << 4,
	IMAP_STATUS_SIZE = 1u << 5,
	IMAP_STATUS_RECENT = 1u << 6,
	IMAP_STATUS_HIGHESTMODSEQ = 1u << 7, /* RFC 7162 3.1.6 */
	IMAP_STATUS_MAILBOXID = 1u << 8, /* RFC 8474 4 (OBJECTID) */
	IMAP_STATUS_APPENDLIMIT = 1u << 9, /* RFC 7889 3.2 */
};
/* args[i] the item list: a mask of IMAP_STATUS_*; -1 for BAD. */
int imap_status_items_parse(const struct imap_session *s, const struct imap_arg *args,
			    unsigned i, unsigned *items_r, const char **error_r);
/* "(MESSAGES n ...)"; APPENDLIMIT (RFC 7889 3.2) is the session's
 * message_size_limit, every mailbox alike, as CAPABILITY says */
void imap_status_append(const struct imap_session *s, str_t *out, unsigned items,
			const struct store_mailbox_status *st);

/* imap_list.c: RFC 6154: "\Sent" etc. for the folders every account
 * gets, else NULL */
const char *imap_list_special_use(const char *name);

/* imap_copy.c: the user has a mailbox by this (canonical) name; in a
 * job (NO [NONEXISTENT] or [TRYCREATE] rather than a failure) */
bool imap_mailbox_exists(struct store *store, const char *address, const char *name);

#endif
