/* imap_msgset.h: a command's sequence set (RFC 9051 section 9
 * sequence-set) against the selected mailbox, as the UIDs it names, for
 * STORE, COPY, MOVE, UID EXPUNGE and (next) FETCH and SEARCH.
 *
 * Contract: sequence numbers are those of the session's view map as the
 * client knows them (they move only in imap_select_sync()); a number past
 * the mailbox's count, and "*" in an empty mailbox, is refused (RFC 9051
 * 9: "the server should respond with a tagged BAD"). UIDs that are not in
 * the map are left out, and "n:*" always includes the highest UID even
 * when n is above it (RFC 9051 6.4.9); an empty mailbox gives an empty
 * set, not an error. The result is ascending without repeats; the work is
 * O(ranges * log(messages) + result), never a walk of the whole map. Call
 * on the loop when no job runs, or inside the command's own job. */
#ifndef POSTEL_IMAP_MSGSET_H
#define POSTEL_IMAP_MSGSET_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"
#include "lib/mem.h"
#include "lib/str.h"

struct imap_session;
struct store_view;

/* ranges of one set: more is refused (TESTING.md item 14) */
#define IMAP_MSGSET_MAX_RANGES 10000

/* The UID at sequence number seq (1..count) of an ascending map. */
typedef uint32_t imap_msgset_uid_at_t(const void *ctx, unsigned seq);

/* set (parsed, not resolved; resolved here) against a map of count
 * messages. -1: *error_r says why (answer BAD). */
int imap_msgset_resolve(struct imap_seqset *set, bool uid, unsigned count,
			imap_msgset_uid_at_t *uid_at, const void *ctx, pool_t *pool,
			uint32_t **uids_r, unsigned *count_r, const char **error_r);

/* How many UIDs of the map are below uid (a binary search); over the
 * selected view for the second. */
unsigned imap_msgset_count_below(imap_msgset_uid_at_t *uid_at, const void *ctx,
				 unsigned count, uint64_t uid);
unsigned imap_msgset_view_count_below(const struct store_view *view, uint32_t uid);

/* arg (an atom) against the session's selected view. */
int imap_msgset_uids(struct imap_session *s, const struct imap_arg *arg, bool uid,
		     pool_t *pool, uint32_t **uids_r, unsigned *count_r,
		     const char **error_r);

/* Ascending UIDs as a compact uid-set ("3:5,9"), as COPYUID wants
 * (RFC 4315 3); appended to out. */
void imap_msgset_append_uids(str_t *out, const uint32_t *uids, unsigned count);

#endif
