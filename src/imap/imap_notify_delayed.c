/* imap_notify_delayed.c: SELECTED-DELAYED between commands (RFC 5465
 * 5.1-5.3, 6): expunges wait for a command that may report them; flag
 * changes are sent at once.
 *
 * Contract: a wake-up for the selected mailbox under SELECTED-DELAYED
 * with FlagChange runs one job on the user's lane that reads the flag
 * changes above the higher of the view's MODSEQ and the last one told
 * (store_view_changes_since: the map is not moved, so sequence numbers
 * stay those the client has and no EXPUNGE or EXISTS goes out), and
 * writes "* n FETCH (FLAGS (...))" for each message still in the map,
 * with UID and MODSEQ once CONDSTORE is on (RFC 7162 3.2). New messages
 * and expunges are left to the next command's sync, which may repeat a
 * FETCH already sent (harmless: the same flags). A line without room
 * (IMAP_NOTIFY_ROOM_MIN before, each line after) ends NOTIFY with
 * NOTIFICATIONOVERFLOW (5.8) via the caller. */
#include "imap_notify.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notify_delayed_job {
	struct imap_session *s;
	pool_t *pool;
	uint64_t since;
	struct store_view_flag_change *rows;
	unsigned row_count;
	int result;
	char error[256];
};

static void notify_delayed_work(void *ctx, struct store *store)
{
	struct notify_delayed_job *job = ctx;
	struct store_view *view = job->s->sel != NULL ? job->s->sel->view : NULL;
	uint32_t *expunged;
	unsigned expunged_count;
	bool complete;
	const char *error = "no store handle";
	if (store == NULL || view == NULL ||
	    store_view_changes_since(view, job->since, job->pool, &job->rows, &job->row_count,
				     &expunged, &expunged_count, &complete, &error) < 0) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
	}
}

/* false: out of room */
static bool notify_delayed_write(struct imap_session *s, struct notify_delayed_job *job)
{
	struct imap_notify *n = s->notify;
	for (unsigned i = 0; i < job->row_count; i++) {
		const struct store_view_flag_change *fc = &job->rows[i];
		if (fc->modseq > n->delayed_told)
			n->delayed_told = fc->modseq;
		unsigned seq = s->sel != NULL ? store_view_seq(s->sel->view, fc->uid) : 0;
		if (seq == 0)
			continue;
		if (!imap_notify_room(s, strlen(fc->flags) + 64))
			return false;
		imap_selected_flags_fetch(s, seq, fc);
	}
	return true;
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
	bool ok = true;
	if (job->result < 0)
		log_error("sid=%s event=notify_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
	else if (s->notify != NULL && !s->base.closing)
		ok = notify_delayed_write(s, job);
	pool_destroy(&job->pool);
	free(job);
	imap_notify_delayed_end(s, ok);
}

bool imap_notify_delayed_start(struct imap_session *s)
{
	struct imap_notify *n = s->notify;
	if (s->sel == NULL || s->sel->view == NULL ||
	    (n->selected_events & IMAP_NOTIFY_FLAG_CHANGE) == 0)
		return false;
	uint64_t since = store_view_modseq(s->sel->view);
	if (n->delayed_told > since)
		since = n->delayed_told;
	if (since == 0)
		return false; /* nothing in the map yet: nothing to tell */
	struct notify_delayed_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->pool = pool_create(4096);
	job->since = since;
	imap_store_run(s, notify_delayed_work, notify_delayed_done, job);
	return true;
}
