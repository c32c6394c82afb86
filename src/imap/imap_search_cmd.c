/* imap_search_cmd.c: SEARCH and UID SEARCH (RFC 9051 6.4.4, RFC 3501
 * 6.4.4), with ESEARCH's RETURN options (RFC 4731) and SEARCHRES's "$"
 * (RFC 5182).
 *
 * The program is parsed on the loop (imap_search_parse.h, bounded in
 * depth, nodes and ranges), evaluated on the user's lane
 * (imap_search_eval.h: cheap keys first, bodies streamed), and the
 * answer written in pieces no larger than the output room. No EXPUNGE is
 * sent during SEARCH (RFC 9051 7.5.1), so the view is not synced.
 * SORT and THREAD (imap_sort_cmd.c) share the bounds, the start of the
 * program (imap_search_program_start()) and the failure answer. */
#include "imap_search_cmd.h"
#include "imap/imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_reply.h"
#include "imap/imap_search_eval.h"
#include "imap/imap_search_parse.h"
#include "imap/imap_search_render.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 9051 and RFC 5256 leave the program's size to the server */
const struct imap_search_limits imap_search_cmd_limits = {
	.max_depth = IMAP_MAX_DEPTH,
	.max_nodes = 2000,
	.max_ranges = 10000,
};

struct imap_search_job {
	struct imap_cmd *cmd;
	struct imap_search_program prog;
	struct imap_search_ctx ctx;
	uint32_t *uids, *nums;
	unsigned count;
	uint64_t modseq;      /* RFC 7162 3.1.5: the matches' highest, or 0 */
	bool uses_modseq;
	int result;
	char error[256];
};

static void imap_search_work(void *ctx, struct store *store)
{
	struct imap_search_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	const char *error = "no store handle";
	if (store == NULL ||
	    (job->result = imap_search_run(&job->prog, s->sel->view, &job->ctx,
					   s->base.cmd_pool, &job->uids, &job->count,
					   &error)) < 0) {
		if (store == NULL)
			job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	if (job->uses_modseq &&
	    imap_condstore_search_highest(s->sel->view, job->uids, job->count,
					  s->base.cmd_pool, &job->modseq, &error) < 0) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	imap_modseq_pending_check(s, job->modseq != 0); /* RFC 7162 3.2 */
	job->nums = job->cmd->uid ? job->uids :
		imap_search_uids_to_seqs(s->sel->view, job->uids, job->count,
					 s->base.cmd_pool);
}

static void imap_search_job_free(struct imap_search_job *job)
{
	imap_search_program_free(&job->prog);
	free(job);
}

void imap_search_job_failed(struct imap_cmd *cmd, const char *event, int result,
			    const char *error)
{
	struct imap_session *s = cmd->s;
	log_error("sid=%s event=%s cmd=%s user=%s error=%s", s->base.sid, event, cmd->name,
		  log_str(s->user), log_str(error));
	if (result == -2)
		imap_cmd_no(cmd, "LIMIT", "%s too expensive", cmd->name);
	else
		imap_cmd_no(cmd, "UNAVAILABLE", "%s failed, try again later", cmd->name);
}

static void imap_search_done(void *ctx)
{
	struct imap_search_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s)) {
		imap_search_job_free(job);
		return;
	}
	if (job->result < 0) {
		imap_search_job_failed(cmd, "search_failed", job->result, job->error);
		imap_search_job_free(job);
		return;
	}
	if (job->prog.return_opts & IMAP_SEARCH_RETURN_SAVE) {
		/* RFC 5182 2.1: "$" keeps UIDs, whatever the command's form */
		uint32_t *saved;
		unsigned n;
		imap_search_saved_result(&job->prog, job->uids, job->count,
					 s->base.cmd_pool, &saved, &n);
		imap_selected_save(s->sel, saved, n);
	}
	str_t *out = imap_output_begin(s);
	size_t start = out->len;
	imap_search_render(out, &job->prog, cmd->tag, cmd->uid, s->rev2, job->nums,
			   job->count);
	imap_condstore_search_append(out, start, job->modseq);
	imap_search_job_free(job);
	imap_output_end(cmd, imap_search_final);
}

void imap_search_final(struct imap_cmd *cmd)
{
	imap_modseq_pending_report(cmd->s);
	imap_cmd_ok(cmd, NULL, "%sSEARCH completed", cmd->uid ? "UID " : "");
}

int imap_search_program_start(struct imap_cmd *cmd, int parsed, const char *error,
			      const struct imap_search_program *prog,
			      struct imap_search_ctx *ctx_r)
{
	struct imap_session *s = cmd->s;
	if (parsed < 0) {
		/* RFC 9051 6.4.4, RFC 5256 3: an unknown charset is
		 * NO [BADCHARSET] */
		if (prog->failure == IMAP_SEARCH_FAIL_BADCHARSET)
			imap_cmd_no(cmd, "BADCHARSET (UTF-8 US-ASCII)", "%.199s", error);
		else
			imap_cmd_bad(cmd, "%.199s", error);
		return -1;
	}
	/* rev2: RFC 9051 6.4.4 has no RECENT, NEW or OLD (no \Recent) */
	if (s->rev2 && imap_search_program_uses_recent(prog)) {
		imap_cmd_bad(cmd, "%s RECENT, NEW and OLD are not in IMAP4rev2", cmd->name);
		return -1;
	}
	const struct imap_selected *sel = s->sel;
	if (!s->rev2 && sel->recent_count > 0) {
		ctx_r->recent_first = sel->recent[0].first;
		ctx_r->recent_end = sel->recent[sel->recent_count - 1].end;
	}
	ctx_r->downgrade_sizes = !s->utf8_accept; /* RFC 6855 7, RFC 6858 */
	ctx_r->saved = sel->saved;
	ctx_r->saved_count = sel->saved_count;
	return 0;
}

void imap_cmd_search(struct imap_cmd *cmd)
{
	struct imap_search_job *job = xcalloc(1, sizeof(*job));
	const char *error = NULL;
	int parsed = imap_search_parse(cmd->args, 0, cmd->count, &imap_search_cmd_limits,
				       &job->prog, &error);
	if (imap_search_program_start(cmd, parsed, error, &job->prog, &job->ctx) < 0) {
		imap_search_job_free(job);
		return;
	}
	job->cmd = cmd;
	job->uses_modseq = imap_search_program_uses_modseq(&job->prog);
	if (job->uses_modseq)
		imap_condstore_activate(cmd); /* RFC 7162 3.1 */
	imap_cmd_wait(cmd);
	imap_store_run(cmd->s, imap_search_work, imap_search_done, job);
}
