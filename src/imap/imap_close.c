/* imap_close.c: leaving the selected state: CLOSE (RFC 9051 6.4.1) and
 * UNSELECT (RFC 3691). The view is handed to a job on the user's lane,
 * which for CLOSE of a read-write mailbox first removes its \Deleted
 * messages; the session is in the authenticated state at once. */
#include "imap_commands.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>

/* CLOSE and UNSELECT: deselect; CLOSE of a read-write mailbox first
 * removes the \Deleted messages, without EXPUNGE responses (6.4.1). */
struct imap_close_job {
	struct imap_cmd *cmd;
	struct imap_selected *sel;
	const char *address;
	bool expunge;
	int result;
	char error[256];
};

static void imap_close_work(void *ctx, struct store *store)
{
	struct imap_close_job *job = ctx;
	struct imap_selected *sel = job->sel;
	if (job->expunge && store != NULL) {
		uint32_t *uids;
		unsigned n, expunged;
		const char *error;
		pool_t *pool = pool_create(1024);
		if (store_view_deleted(sel->view, pool, &uids, &n, &error) < 0 ||
		    (n > 0 && store_mailbox_expunge(store, job->address, sel->name, uids, n,
						    &expunged, &error) < 0)) {
			snprintf(job->error, sizeof(job->error), "%s", error);
			job->result = -1;
		}
		pool_destroy(&pool);
	}
	imap_selected_free(&job->sel);
}

static void imap_close_done(void *ctx)
{
	struct imap_close_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	int result = job->result;
	bool expunge = job->expunge;
	if (result < 0)
		log_error("sid=%s event=close_expunge_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
	free(job);
	if (imap_session_check_gone(s))
		return;
	/* deselected whatever came of the expunge (RFC 9051 6.4.1) */
	if (result < 0)
		imap_cmd_no(cmd, "UNAVAILABLE", "Mailbox closed, but deleted messages "
			    "could not be removed");
	else
		imap_cmd_ok(cmd, NULL, "%s completed", expunge ? "CLOSE" : "UNSELECT");
}

static void imap_close_start(struct imap_cmd *cmd, bool expunge)
{
	struct imap_session *s = cmd->s;
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "%s takes no arguments", cmd->def->name);
		return;
	}
	struct imap_close_job *job = xcalloc(1, sizeof(*job));
	job->cmd = cmd;
	job->sel = s->sel;
	job->address = s->user;
	job->expunge = expunge && !s->sel->readonly;
	s->sel = NULL;
	s->state = IMAP_STATE_AUTH;
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_close_work, imap_close_done, job);
}

void imap_cmd_close(struct imap_cmd *cmd)
{
	imap_close_start(cmd, true);
}

void imap_cmd_unselect(struct imap_cmd *cmd)
{
	imap_close_start(cmd, false);
}
