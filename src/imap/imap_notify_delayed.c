/* imap_notify_delayed.c: SELECTED-DELAYED between commands (RFC 5465
 * 5.1-5.3, 6): expunges wait for a command that may report them; new
 * messages and flag changes are sent at once.
 *
 * Contract: a wake-up for the selected mailbox under SELECTED-DELAYED
 * with MessageNew or FlagChange runs one job on the user's lane. With
 * MessageNew it takes the new messages into the view's map without its
 * expunges (store_view_sync_added: sequence numbers count the messages
 * whose expunge is pending, which the next command's sync reports with
 * their EXPUNGE at the right number) and claims their \Recent for a rev1
 * session; without it, it reads only the flag changes
 * (store_view_changes_since: the map does not move). Flag changes above
 * the higher of the view's MODSEQ and the last one told go out as
 * "* n FETCH (FLAGS (...))" (UID and MODSEQ once CONDSTORE is on, RFC
 * 7162 3.2) for messages of the map, then "* n EXISTS" (and RECENT for
 * rev1) for new ones, then MessageNew's FETCH (imap_notify_fetch.c,
 * RFC 5465 5.2). The next command's sync may repeat a FETCH FLAGS
 * already sent (harmless: the same flags). A line without room
 * (IMAP_NOTIFY_ROOM_MIN before, each line after) ends NOTIFY with
 * NOTIFICATIONOVERFLOW (5.8) via the caller. */
#include "imap_notify.h"
#include "imap/imap_condstore.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notify_delayed_job {
	struct imap_session *s;
	pool_t *pool;
	uint64_t since;      /* flag changes above it; UINT64_MAX: none */
	bool take_new;       /* MessageNew: new messages join the map */
	bool claim_recent;   /* rev1, not EXAMINE */
	struct store_view_flag_change *rows;
	unsigned row_count, added_count;
	int result;
	char error[256];
};

static void notify_delayed_work(void *ctx, struct store *store)
{
	struct notify_delayed_job *job = ctx;
	struct imap_selected *sel = job->s->sel;
	struct store_view *view = sel != NULL ? sel->view : NULL;
	uint32_t *expunged;
	unsigned expunged_count;
	bool complete;
	struct store_view_changes ch;
	const char *error = "no store handle";
	int ret = -1;
	if (store != NULL && view != NULL && job->take_new) {
		ret = store_view_sync_added(view, job->since, job->pool, &ch, &error);
		job->rows = ch.flag_changes;
		job->row_count = ch.flag_change_count;
		job->added_count = ch.added_count;
	} else if (store != NULL && view != NULL) {
		ret = store_view_changes_since(view, job->since, job->pool, &job->rows,
					       &job->row_count, &expunged, &expunged_count,
					       &complete, &error);
	}
	if (ret < 0) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	imap_modseq_pending_check(job->s, job->row_count > 0); /* RFC 7162 3.2 */
	uint32_t first;
	if (job->claim_recent && job->added_count > 0 &&
	    store_view_claim_recent(view, &first, &error) == 0)
		imap_selected_recent_add(sel, first, store_view_uidnext(view));
}

/* false: out of room */
static bool notify_delayed_write(struct imap_session *s, struct notify_delayed_job *job)
{
	struct imap_notify *n = s->notify;
	struct store_view *view = s->sel->view;
	for (unsigned i = 0; i < job->row_count; i++) {
		const struct store_view_flag_change *fc = &job->rows[i];
		if (fc->modseq > n->delayed_told)
			n->delayed_told = fc->modseq;
		unsigned seq = store_view_seq(view, fc->uid);
		if (seq == 0)
			continue;
		if (!imap_notify_room(s, strlen(fc->flags) + 64))
			return false;
		imap_selected_flags_fetch(s, seq, fc);
	}
	if (job->take_new && job->since != UINT64_MAX &&
	    store_view_read_modseq(view) > n->delayed_told)
		n->delayed_told = store_view_read_modseq(view); /* all told */
	if (job->added_count == 0)
		return true;
	if (!imap_notify_room(s, 64))
		return false;
	/* RFC 5465 5.2: the new messages' EXISTS; the messages whose
	 * expunge is pending still count (RFC 9051 7.5.1) */
	s->sel->exists = store_view_count(view);
	imap_untagged(s, "%u EXISTS", s->sel->exists);
	if (!s->rev2)
		imap_untagged(s, "%u RECENT", imap_selected_recent_total(s->sel));
	return true;
}

/* MessageNew's FETCH is over (or was not wanted) */
static void notify_delayed_fetched(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	memset(&s->cmd, 0, sizeof(s->cmd));
	session_command_done(&s->base);
	imap_notify_delayed_end(s, true);
}

static void notify_delayed_done(void *ctx)
{
	struct notify_delayed_job *job = ctx;
	struct imap_session *s = job->s;
	if (imap_session_check_gone(s)) {
		pool_destroy(&job->pool);
		free(job);
		return;
	}
	bool ok = true, fetch = false;
	if (job->result < 0)
		log_error("sid=%s event=notify_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
	else if (s->notify != NULL && s->sel != NULL && !s->base.closing) {
		ok = notify_delayed_write(s, job);
		if (ok)
			imap_modseq_pending_report(s);
		fetch = ok && job->added_count > 0;
	}
	pool_destroy(&job->pool);
	free(job);
	if (fetch) {
		s->cmd.s = s;
		if (imap_notify_fetch_start(&s->cmd, notify_delayed_fetched))
			return;
		memset(&s->cmd, 0, sizeof(s->cmd));
	}
	imap_notify_delayed_end(s, ok);
}

bool imap_notify_delayed_start(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	bool flags = (n->selected_events & IMAP_NOTIFY_FLAG_CHANGE) != 0;
	bool take_new = (n->selected_events & IMAP_NOTIFY_MESSAGE_NEW) != 0;
	if (s->sel == NULL || s->sel->view == NULL || (!flags && !take_new))
		return false;
	uint64_t since = store_view_modseq(s->sel->view);
	if (n->delayed_told > since)
		since = n->delayed_told;
	if (!flags)
		since = UINT64_MAX;
	else if (since == 0 && !take_new)
		return false; /* nothing in the map yet: nothing to tell */
	struct notify_delayed_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->pool = pool_create(4096);
	job->since = since;
	job->take_new = take_new;
	job->claim_recent = take_new && !s->rev2 && !s->sel->readonly;
	if (take_new)
		imap_notify_fetch_mark(s);
	imap_store_run(s, notify_delayed_work, notify_delayed_done, job);
	return true;
}
