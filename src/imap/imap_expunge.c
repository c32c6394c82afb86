/* imap_expunge.c: EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (RFC 4315
 * 2.1, UIDPLUS): remove the \Deleted messages (for UID EXPUNGE only those
 * of the UID set) and tell the client.
 *
 * The removal is committed in a job (store_mailbox_expunge(): durable
 * before the reply); the untagged EXPUNGE responses then come from
 * imap_select_sync(), which applies them to the view in the same step,
 * highest first, each at its number as the client knows it (RFC 9051
 * 7.4.1), so the view and the client's numbers stay in step. The same
 * sync reports what other sessions changed meanwhile. A read-only
 * mailbox (EXAMINE) refuses with NO. */
#include "imap_commands.h"
#include "imap/imap_msgset.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>

struct imap_expunge_job {
	struct imap_cmd *cmd;
	uint32_t *only;   /* UID EXPUNGE: the UID set, ascending */
	unsigned only_count;
	unsigned expunged;
	int result;
	char error[256];
};

static void imap_expunge_work(void *ctx, struct store *store)
{
	struct imap_expunge_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	uint32_t *deleted;
	unsigned count;
	const char *error;
	if (store == NULL) {
		snprintf(job->error, sizeof(job->error), "no store handle");
		job->result = -1;
		return;
	}
	/* the \Deleted ones from the index's own list (store_view.h) */
	if (store_view_deleted(s->sel->view, s->base.cmd_pool, &deleted, &count, &error) < 0)
		goto fail;
	uint32_t *uids = pool_alloc(s->base.cmd_pool, ((size_t)count + 1) * sizeof(*uids));
	unsigned n = 0, k = 0;
	for (unsigned i = 0; i < count; i++) {
		if (job->only != NULL) {
			/* both ascending: a merge */
			while (k < job->only_count && job->only[k] < deleted[i])
				k++;
			if (k == job->only_count || job->only[k] != deleted[i])
				continue;
		}
		uids[n++] = deleted[i];
	}
	if (n > 0 && store_mailbox_expunge(store, s->user, s->sel->name, uids, n,
					   &job->expunged, &error) < 0)
		goto fail;
	return;
fail:
	snprintf(job->error, sizeof(job->error), "%s", error != NULL ? error : "?");
	job->result = -1;
}

static void imap_expunge_final(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "%sEXPUNGE completed", cmd->uid ? "UID " : "");
}

static void imap_expunge_failed_final(struct imap_cmd *cmd)
{
	imap_cmd_no(cmd, "UNAVAILABLE", "Deleted messages could not all be removed");
}

static void imap_expunge_done(void *ctx)
{
	struct imap_expunge_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	int result = job->result;
	if (imap_session_check_gone(s)) {
		free(job);
		return;
	}
	if (result < 0)
		log_error("sid=%s event=expunge_failed user=%s mailbox=%s error=%s",
			  s->base.sid, log_str(s->user), log_str(s->sel->name),
			  log_str(job->error));
	else
		log_info("sid=%s event=expunge user=%s mailbox=%s count=%u", s->base.sid,
			 log_str(s->user), log_str(s->sel->name), job->expunged);
	free(job);
	if (result < 0) {
		/* some may be gone: the sync reports those, then NO */
		imap_select_sync(cmd, imap_expunge_failed_final);
		return;
	}
	imap_select_sync(cmd, imap_expunge_final);
}

void imap_cmd_expunge(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_expunge_job job = { .cmd = cmd };
	const char *error;
	if (cmd->count != (cmd->uid ? 1u : 0u)) {
		imap_cmd_bad(cmd, cmd->uid ? "UID EXPUNGE needs a UID set" :
			     "EXPUNGE takes no arguments");
		return;
	}
	if (cmd->uid && imap_msgset_uids(s, &cmd->args[0], true, s->base.cmd_pool, &job.only,
					 &job.only_count, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return;
	}
	if (s->sel->readonly) {
		imap_cmd_no(cmd, NULL, "Mailbox is read-only (EXAMINE)");
		return;
	}
	if (cmd->uid && job.only_count == 0) {
		imap_select_sync(cmd, imap_expunge_final);
		return;
	}
	struct imap_expunge_job *heap = xmalloc(sizeof(*heap));
	*heap = job;
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_expunge_work, imap_expunge_done, heap);
}
