/* store_view_private.h: the inside of a view (store_view.h), shared by
 * store_view.c (open, sync, the map), store_view_added.c (taking new
 * messages while expunges wait, RFC 5465 6 SELECTED-DELAYED),
 * store_view_read.c and store_view_write.c (messages through a view).
 * Not for callers outside src/store/.
 *
 * Contract: uids[0..count) is the map, ascending; modseq is the MODSEQ of
 * the last full sync (store_view_sync() reads expunges and flag changes
 * above it); read_modseq >= modseq is the HIGHESTMODSEQ of the last read
 * of any kind, so every message with a UID at or above uidnext has a
 * MODSEQ above read_modseq. */
#ifndef POSTEL_STORE_VIEW_PRIVATE_H
#define POSTEL_STORE_VIEW_PRIVATE_H

#include "store/store_private.h"

#include <string.h>

struct store_view {
	struct store *store;
	/* the owner's address as "local\0domain\0", not a struct
	 * store_address (321 bytes): an idle selected session keeps its view
	 * for as long as it stays selected (issue 9 item 15) */
	char *addr;
	char *mailbox;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq, read_modseq;
	uint32_t added_from;
	uint64_t added_told;
	uint32_t *uids;
	unsigned count, cap;
};

/* The owner's address for a backend call; tmp lives as long as the
 * caller's block (VIEW_ADDR). */
static inline const struct store_address *view_addr(const struct store_view *view,
					     struct store_address *tmp)
{
	size_t local_len = strlen(view->addr);
	memcpy(tmp->local, view->addr, local_len + 1);
	memcpy(tmp->domain, view->addr + local_len + 1,
	       strlen(view->addr + local_len + 1) + 1);
	return tmp;
}

#define VIEW_ADDR(view) view_addr((view), &(struct store_address){ 0 })

static inline char *view_addr_pack(const struct store_address *addr)
{
	size_t local_len = strlen(addr->local), domain_len = strlen(addr->domain);
	char *packed = xmalloc(local_len + domain_len + 2);
	memcpy(packed, addr->local, local_len + 1);
	memcpy(packed + local_len + 1, addr->domain, domain_len + 1);
	return packed;
}

/* qsort() order of uint32_t UIDs */
static inline int store_view_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* uid goes at the end of the map (callers keep it ascending) */
void store_view_map_append(struct store_view *view, uint32_t uid);

/* The rows of delta (UID order) into the map and changes (pool): those
 * at or above UIDNEXT are added; those of the map above flags_above are
 * flag changes, less what added_told covers. */
struct store_view_changes;
void store_view_take_rows(struct store_view *view, const struct store_view_delta *delta,
			  uint64_t flags_above, pool_t *pool,
			  struct store_view_changes *changes);

#endif
