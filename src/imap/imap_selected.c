/* imap_selected.c: the state of a selected mailbox kept between
 * commands (struct imap_selected, imap_selected.h): its view, the saved
 * SEARCH result "$" (RFC 5182) and the rev1 \Recent UID ranges this
 * session claimed (RFC 3501 2.3.2). SELECT and EXAMINE are
 * imap_select.c, reporting changes imap_select_sync.c. */
#include "imap_selected.h"
#include "imap/imap_msgset.h"
#include "store/store_view.h"

#include <stdlib.h>
#include <string.h>

void imap_selected_free(struct imap_selected **selp)
{
	struct imap_selected *sel = *selp;
	if (sel == NULL)
		return;
	*selp = NULL;
	free(sel->saved);
	free(sel->recent);
	store_view_close(&sel->view);
	free(sel->name);
	free(sel);
}

void imap_selected_save(struct imap_selected *sel, const uint32_t *uids, unsigned count)
{
	free(sel->saved);
	sel->saved = count > 0 ? xmalloc(count * sizeof(*uids)) : NULL;
	if (count > 0)
		memcpy(sel->saved, uids, count * sizeof(*uids));
	sel->saved_count = count;
}

uint64_t imap_selected_told_modseq(const struct imap_selected *sel)
{
	uint64_t modseq = store_view_modseq(sel->view);
	if (sel->flags_owed && sel->flags_owed_since < modseq)
		modseq = sel->flags_owed_since;
	return modseq;
}

/* rev1 \Recent (RFC 3501 2.3.2): the UID ranges this session claimed */
void imap_selected_recent_add(struct imap_selected *sel, uint32_t first, uint32_t end)
{
	if (first >= end)
		return;
	if (sel->recent_count > 0 && sel->recent[sel->recent_count - 1].end >= first) {
		sel->recent[sel->recent_count - 1].end = end;
		return;
	}
	if (sel->recent_count == IMAP_RECENT_RANGES) {
		/* out of room: widen the last range (a few more \Recent
		 * than claimed, never fewer) */
		sel->recent[sel->recent_count - 1].end = end;
		return;
	}
	sel->recent = xrealloc(sel->recent, (sel->recent_count + 1) * sizeof(*sel->recent));
	sel->recent[sel->recent_count].first = first;
	sel->recent[sel->recent_count].end = end;
	sel->recent_count++;
}

bool imap_selected_is_recent(const struct imap_selected *sel, uint32_t uid)
{
	for (unsigned i = 0; i < sel->recent_count; i++)
		if (uid >= sel->recent[i].first && uid < sel->recent[i].end)
			return true;
	return false;
}

unsigned imap_selected_recent_total(const struct imap_selected *sel)
{
	unsigned n = 0;
	for (unsigned i = 0; i < sel->recent_count; i++)
		n += imap_msgset_view_count_below(sel->view, sel->recent[i].end) -
			imap_msgset_view_count_below(sel->view, sel->recent[i].first);
	return n;
}
