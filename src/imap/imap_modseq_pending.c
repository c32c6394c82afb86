/* imap_modseq_pending.c: QRESYNC must never lose an expunge (RFC 7162
 * 3.2, which adopts RFC 5162 erratum 1810): "if the server sends MODSEQ
 * FETCH data items while EXPUNGE (or VANISHED) replies with lower
 * mod-sequences are being delayed, the server MUST send the HIGHESTMODSEQ
 * response code with a lower value than the EXPUNGE's mod-sequence".
 *
 * Expunges are held back during FETCH, STORE and SEARCH/SORT (RFC 9051
 * 7.5.1, RFC 3501 7.4.1: this server holds them for their UID forms too)
 * and between commands under NOTIFY SELECTED-DELAYED (RFC 5465 6), while
 * those send MODSEQs above the view's (RFC 7162 3.1.4.1, 3.1.3, 3.1.5).
 * A client that kept the highest MODSEQ it saw and lost the connection
 * would resync from above the held expunge and never learn it.
 *
 * Contract: imap_modseq_pending_check() runs on the user's lane (in the
 * command's job) after the MODSEQs the command reports were read or
 * set: when QRESYNC is on and the expunge log holds an expunge above the
 * view's MODSEQ (the MODSEQ of its last full sync, store_view.h) of a
 * message the view's map still holds, it notes that MODSEQ: below every
 * pending expunge (each came after that sync), and the map's messages
 * changed since are all above it, so a resync from it (3.2.5) reports
 * them all. imap_modseq_pending_report() runs on the loop before the
 * command's tagged reply (or after a NOTIFY push) and sends the noted
 * "* OK [HIGHESTMODSEQ n]" once. An expunge committed after the check
 * has a MODSEQ above every one the command reported (MODSEQs grow with
 * each commit), so it needs nothing. Nothing is sent when no expunge is
 * pending: the answer is the same as before for every client otherwise.
 * Flag changes an IDLE report left for later (imap_select_sync.c,
 * imap_selected.flags_owed) are kept the same way once CONDSTORE is on:
 * the noted value is then below them (imap_selected_told_modseq()).
 *
 * imap_modseq_pending_status(): STATUS (and LIST-STATUS) of the selected
 * mailbox (RFC 9051 6.3.11 discourages it, clients do it) reads the
 * mailbox's HIGHESTMODSEQ, which is the expunge's own MODSEQ or above
 * while that expunge is held back from this session: the same rule
 * makes it the view's MODSEQ then, a value the client may keep. The
 * expunge log alone is read (store_view_expunge_pending()). */
#include "imap_condstore.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <string.h>

void imap_modseq_pending_check(struct imap_session *s, bool reports_modseq)
{
	if (!reports_modseq || s->sel == NULL || s->sel->view == NULL)
		return;
	struct store_view *view = s->sel->view;
	uint64_t synced = imap_selected_told_modseq(s->sel);
	if (s->condstore && s->sel->flags_owed) {
		/* flag changes an IDLE report left for later
		 * (imap_select_sync.c): the same rule keeps them */
		s->modseq_pending = synced;
		return;
	}
	if (!s->qresync || synced == 0)
		return; /* nothing in the map had a MODSEQ: nothing to lose */
	bool pending;
	const char *error;
	/* the expunge log only: not every message changed since */
	if (store_view_expunge_pending(view, synced, &pending, &error) < 0) {
		/* the view's own MODSEQ is safe either way: say it */
		log_warn("sid=%s event=modseq_pending_unknown error=%s", s->base.sid,
			 log_str(error));
		pending = true;
	}
	if (pending)
		s->modseq_pending = synced;
}

void imap_modseq_pending_report(struct imap_session *s)
{
	if (s->modseq_pending == 0)
		return;
	log_debug("sid=%s event=modseq_pending highestmodseq=%llu", s->base.sid,
		  (unsigned long long)s->modseq_pending);
	/* RFC 7162 3.2: lower than the pending expunges' MODSEQ */
	imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Changes pending",
		      (unsigned long long)s->modseq_pending);
	s->modseq_pending = 0;
}

void imap_modseq_pending_status(struct imap_session *s, const char *name,
				struct store_mailbox_status *st)
{
	if (s->sel == NULL || s->sel->view == NULL || strcmp(s->sel->name, name) != 0)
		return;
	struct store_view *view = s->sel->view;
	uint64_t synced = imap_selected_told_modseq(s->sel);
	bool pending = s->sel->flags_owed;
	const char *error;
	if (st->highestmodseq <= synced || synced == 0)
		return;
	if (!pending && store_view_expunge_pending(view, synced, &pending, &error) < 0) {
		log_warn("sid=%s event=modseq_pending_unknown error=%s", s->base.sid,
			 log_str(error));
		pending = true;
	}
	if (pending) /* RFC 7162 3.2 */
		st->highestmodseq = synced;
}
