/* imap_copy.c: COPY and MOVE and their UID forms (RFC 9051 6.4.7, 6.4.8,
 * 6.4.9; RFC 6851 MOVE), with UIDPLUS's COPYUID (RFC 4315 3).
 *
 * The set is resolved on the loop; store_view_copy() copies (or moves:
 * copy and expunge in one commit) in a job, durable before the reply,
 * keeping flags and internal dates. COPY answers "OK [COPYUID v src
 * dst]"; MOVE sends "* OK [COPYUID ...]", then the EXPUNGEs through
 * imap_select_sync() (which keeps the view in step), then its tagged OK
 * (RFC 6851 3.3). A destination that does not exist gets NO [TRYCREATE]
 * (RFC 9051 6.4.7); copying into the selected mailbox itself works;
 * moving into it is refused (nothing would change). MOVE on a read-only
 * mailbox is refused with NO, COPY from one works. */
#include "imap_commands.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_msgset.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (imap_mailbox.h) also for SELECT's NONEXISTENT */
bool imap_mailbox_exists(struct store *store, const char *address, const char *name)
{
	const char **names, *error;
	unsigned count;
	pool_t *pool = pool_create(1024);
	bool found = false;
	if (store_mailbox_list(store, address, pool, &names, &count, &error) == 0)
		for (unsigned i = 0; i < count && !found; i++)
			found = strcmp(names[i], name) == 0;
	pool_destroy(&pool);
	return found;
}

struct imap_copy_job {
	struct imap_cmd *cmd;
	const char *dest;         /* canonical name, cmd pool */
	uint32_t *uids;
	unsigned count;
	bool move;
	int result;               /* 0 ok, 1 no such destination, -1 error */
	char error[256];
	struct store_copy_result res;
};

static void imap_copy_work(void *ctx, struct store *store)
{
	struct imap_copy_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	const char *error = NULL;
	if (store != NULL &&
	    store_view_copy(s->sel->view, job->uids, job->count, job->dest, job->move,
			    s->base.cmd_pool, &job->res, &error) == 0)
		return;
	if (store != NULL && !imap_mailbox_exists(store, s->user, job->dest)) {
		job->result = 1;
		return;
	}
	snprintf(job->error, sizeof(job->error), "%s",
		 store == NULL ? "no store handle" : error != NULL ? error : "?");
	job->result = -1;
}

static void imap_move_final(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "%sMOVE completed", cmd->uid ? "UID " : "");
}

static void imap_copy_done(void *ctx)
{
	struct imap_copy_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s)) {
		free(job);
		return;
	}
	const char *name = job->move ? "MOVE" : "COPY";
	if (job->result != 0) {
		if (job->result < 0)
			log_error("sid=%s event=%s_failed user=%s mailbox=%s dest=%s error=%s",
				  s->base.sid, job->move ? "move" : "copy", log_str(s->user),
				  log_str(s->sel->name), log_str(job->dest),
				  log_str(job->error));
		bool missing = job->result > 0;
		free(job);
		if (missing)
			imap_cmd_no(cmd, "TRYCREATE", "Mailbox doesn't exist");
		else
			imap_cmd_no(cmd, "UNAVAILABLE", "%s failed", name);
		return;
	}
	/* RFC 4315 3: COPYUID uidvalidity source-uids dest-uids, both in
	 * ascending order so the n-th of one became the n-th of the other */
	str_t code = STR_INIT;
	if (job->res.count > 0) {
		str_printf(&code, "COPYUID %u ", job->res.dst_uidvalidity);
		imap_msgset_append_uids(&code, job->res.src_uids, job->res.count);
		str_appendc(&code, ' ');
		imap_msgset_append_uids(&code, job->res.dst_uids, job->res.count);
	}
	log_info("sid=%s event=%s user=%s mailbox=%s dest=%s count=%u", s->base.sid,
		 job->move ? "move" : "copy", log_str(s->user), log_str(s->sel->name),
		 log_str(job->dest), job->res.count);
	bool move = job->move;
	free(job);
	if (!move) {
		imap_cmd_ok(cmd, code.len > 0 ? str_c(&code) : NULL, "%sCOPY completed",
			    cmd->uid ? "UID " : "");
		str_free(&code);
		return;
	}
	/* RFC 6851 3.3: the COPYUID untagged, before the EXPUNGEs */
	if (code.len > 0)
		imap_untagged(s, "OK [%s] Moved", str_c(&code));
	str_free(&code);
	imap_select_sync(cmd, imap_move_final);
}

static void imap_copy_start(struct imap_cmd *cmd, bool move)
{
	struct imap_session *s = cmd->s;
	struct imap_copy_job job = { .cmd = cmd, .move = move };
	const char *name, *error;
	if (cmd->count != 2) {
		imap_cmd_bad(cmd, "%s needs a sequence set and a mailbox name", cmd->def->name);
		return;
	}
	if (imap_msgset_uids(s, &cmd->args[0], cmd->uid, s->base.cmd_pool, &job.uids,
			     &job.count, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return;
	}
	str_t buf = STR_INIT;
	if (imap_mailbox_name_get(&cmd->args[1], s->utf8_accept, &buf, &name, &error) < 0) {
		str_free(&buf);
		imap_cmd_no(cmd, "CANNOT", "%s", error);
		return;
	}
	job.dest = pool_strdup(s->base.cmd_pool, name);
	str_free(&buf);
	if (move && s->sel->readonly) {
		imap_cmd_no(cmd, NULL, "Mailbox is read-only (EXAMINE)");
		return;
	}
	if (move && strcmp(job.dest, s->sel->name) == 0) {
		imap_cmd_no(cmd, "CANNOT", "Cannot move messages into the same mailbox");
		return;
	}
	struct imap_copy_job *heap = xmalloc(sizeof(*heap));
	*heap = job;
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_copy_work, imap_copy_done, heap);
}

void imap_cmd_copy(struct imap_cmd *cmd)
{
	imap_copy_start(cmd, false);
}

void imap_cmd_move(struct imap_cmd *cmd)
{
	imap_copy_start(cmd, true);
}
