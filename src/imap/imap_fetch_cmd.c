/* imap_fetch_cmd.c: FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9): the
 * command (items, fetch-modifiers) and the loop side that writes each
 * chunk; the lane side (batches, \Seen, rendering) is imap_fetch_job.c.
 *
 * Contract: the sequence set becomes UIDs on the loop (imap_msgset.h,
 * "$" included: the saved SEARCH result, RFC 5182) and the items are parsed
 * there (imap_fetch_parse.h); a sequence number past the mailbox is BAD
 * "Invalid messageset" (as Dovecot answers), a UID that is not there is
 * skipped (6.4.9). The answer is produced on the user's
 * lane in chunks of at most IMAP_FETCH_CHUNK bytes (imap_fetch_render.h
 * streams bodies): one job renders a chunk, the loop writes it as the
 * client reads (imap_output_end) and only then starts the job for the
 * next chunk, so a FETCH of 1:* over many messages or of one huge
 * message holds one chunk, one renderer, the UIDs of the set and the
 * index rows of one batch of at most IMAP_FETCH_BATCH messages
 * (store_view_list_uids()) whatever its size.
 * A body fetch without .PEEK sets \Seen first, durably, in one commit a
 * batch, before any response of the batch (store_view_set_flags), and
 * the FLAGS item is added to the responses
 * of the messages whose flags changed (6.4.5); never in EXAMINE. rev1
 * sessions see \Recent in FLAGS. The view is not synced: no EXPUNGE
 * during FETCH (7.5.1). A message expunged by another session meanwhile
 * is skipped and the command ends NO [EXPUNGEISSUED] (RFC 5530).
 * BINARY (RFC 3516) of a part in an unknown encoding: that message is
 * left out and the command ends NO [UNKNOWN-CTE] (4.3). */
#include "imap_fetch_cmd.h"
#include "imap/imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_fetch_job.h"
#include "imap/imap_fetch_render.h"
#include "imap/imap_msgset.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMAP_FETCH_MAX_ITEMS 64

static void fetch_final(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_fetch_job *job = s->fetch;
	s->fetch = NULL;
	unsigned lost = job->lost, unknown_cte = job->unknown_cte;
	unsigned undowngradable = job->undowngradable;
	void (*final)(struct imap_cmd *cmd) = job->final;
	imap_fetch_job_free(job);
	imap_modseq_pending_report(s);
	if (final != NULL)
		final(cmd);
	else if (unknown_cte > 0)
		imap_cmd_no(cmd, "UNKNOWN-CTE", "Can't decode a part's content-transfer-encoding");
	else if (undowngradable > 0)
		/* RFC 5530 3: never the raw UTF-8 header (RFC 6855 7) */
		imap_cmd_no(cmd, "LIMIT", "A message's header is too large to downgrade;"
			    " ENABLE UTF8=ACCEPT to read it");
	else if (lost > 0)
		/* RFC 5530 3: some of the messages were expunged meanwhile */
		imap_cmd_no(cmd, "EXPUNGEISSUED", "Some of the requested messages no longer exist");
	else
		imap_cmd_ok(cmd, NULL, "%sFETCH completed", cmd->uid ? "UID " : "");
}

static void fetch_done(void *ctx);

static void fetch_next_chunk(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_fetch_job *job = s->fetch;
	s->fetch = NULL; /* the job's own while it runs */
	imap_store_run(s, imap_fetch_job_work, fetch_done, job);
}

static void fetch_done(void *ctx)
{
	struct imap_fetch_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s)) {
		imap_fetch_job_free(job);
		return;
	}
	if (job->result < 0) {
		log_error("sid=%s event=fetch_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
		bool started = job->result == -2 || job->chunk.len > 0 || job->uid_pos > 0;
		void (*final)(struct imap_cmd *cmd) = job->final;
		imap_fetch_job_free(job);
		if (started) /* part of a response is out: the stream cannot go on */
			imap_session_bye(s, "Internal error reading a message");
		else if (final != NULL)
			final(cmd);
		else
			imap_cmd_no(cmd, "UNAVAILABLE", "FETCH failed, try again later");
		return;
	}
	str_t *out = imap_output_begin(s);
	str_free(out);
	*out = job->chunk;
	job->chunk = (str_t)STR_INIT;
	s->fetch = job;
	imap_output_end(cmd, job->finished ? fetch_final : fetch_next_chunk);
}

void imap_fetch_abort(struct imap_session *s)
{
	if (s->fetch == NULL)
		return;
	imap_fetch_job_free(s->fetch);
	s->fetch = NULL;
}

/* req + one more item of kind item, first or last */
static void request_with(struct imap_fetch_request *dst, const struct imap_fetch_request *src,
			 enum imap_fetch_item item, bool first)
{
	dst->atts = xcalloc(src->count + 1, sizeof(*dst->atts));
	memcpy(dst->atts + (first ? 1 : 0), src->atts, src->count * sizeof(*src->atts));
	dst->atts[first ? 0 : src->count].item = item;
	dst->count = src->count + 1;
}

/* The fetch-modifiers list, if the items are followed by one: parsed
 * into job->mods, *items_end_r where the items end. -1: answered BAD. */
static int imap_fetch_cmd_modifiers(struct imap_cmd *cmd, struct imap_fetch_job *job,
				    unsigned *items_end_r)
{
	struct imap_session *s = cmd->s;
	const char *error;
	unsigned next = imap_arg_next(cmd->args, 1);
	if (next >= cmd->count)
		return 0;
	if (imap_arg_next(cmd->args, next) != cmd->count) {
		imap_cmd_bad(cmd, "Unexpected arguments after FETCH items");
		return -1;
	}
	if (imap_condstore_fetch_modifiers(cmd->args, next, cmd->count, &job->mods, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return -1;
	}
	if (job->mods.vanished) {
		/* RFC 7162 3.2.6: UID FETCH only, and only once QRESYNC is on */
		if (!cmd->uid || !s->qresync) {
			imap_cmd_bad(cmd, "VANISHED needs UID FETCH and ENABLE QRESYNC");
			return -1;
		}
		const struct imap_arg *set = &cmd->args[0];
		if (imap_seqset_parse(set->str, set->len, IMAP_MSGSET_MAX_RANGES, &job->uid_set,
				      &error) < 0 || job->uid_set.saved) {
			imap_cmd_bad(cmd, "Invalid UID set for VANISHED");
			return -1;
		}
		uint32_t uidnext = store_view_uidnext(s->sel->view);
		imap_seqset_resolve(&job->uid_set, uidnext > 1 ? uidnext - 1 : 0);
	}
	*items_end_r = next;
	return 0;
}

/* job->req from asked (taken over), with UID if uid, MODSEQ when asked
 * for or implied, and req_flags for \Seen set on the way */
static void fetch_setup(struct imap_fetch_job *job, struct imap_fetch_request asked, bool uid)
{
	struct imap_session *s = job->cmd->s;
	/* RFC 9051 6.4.9: UID FETCH answers carry UID */
	if (uid && !imap_fetch_request_has(&asked, IMAP_FETCH_UID)) {
		request_with(&job->req, &asked, IMAP_FETCH_UID, true);
		imap_fetch_request_free(&asked);
	} else {
		job->req = asked;
	}
	if (imap_fetch_request_has(&job->req, IMAP_FETCH_MODSEQ) || job->mods.changedsince != 0) {
		/* RFC 7162 3.1: a CONDSTORE-enabling command; CHANGEDSINCE
		 * implies the MODSEQ item (3.1.4.1) */
		imap_condstore_activate(job->cmd);
		if (!imap_fetch_request_has(&job->req, IMAP_FETCH_MODSEQ)) {
			struct imap_fetch_request with;
			request_with(&with, &job->req, IMAP_FETCH_MODSEQ, false);
			imap_fetch_request_free(&job->req);
			job->req = with;
		}
	}
	job->sets_seen = imap_fetch_render_sets_seen(&job->req);
	if (imap_fetch_request_has(&job->req, IMAP_FETCH_FLAGS))
		request_with(&job->req_flags, &job->req, IMAP_FETCH_FLAGS, false),
			job->req_flags.count--; /* already there: the same items */
	else
		request_with(&job->req_flags, &job->req, IMAP_FETCH_FLAGS, false);
	if (s->condstore && !imap_fetch_request_has(&job->req_flags, IMAP_FETCH_MODSEQ)) {
		/* RFC 7162 3.2: a FETCH reporting \Seen it set carries MODSEQ
		 * (and UID: 3.1.4.1 with the flags) */
		struct imap_fetch_request with;
		request_with(&with, &job->req_flags, IMAP_FETCH_MODSEQ, false);
		imap_fetch_request_free(&job->req_flags);
		job->req_flags = with;
		if (!imap_fetch_request_has(&job->req_flags, IMAP_FETCH_UID)) {
			request_with(&with, &job->req_flags, IMAP_FETCH_UID, true);
			imap_fetch_request_free(&job->req_flags);
			job->req_flags = with;
		}
	}
	job->needs = imap_fetch_render_needs(&job->req);
}

void imap_cmd_fetch(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	if (cmd->count < 2 || cmd->args[0].type != IMAP_ARG_ATOM) {
		imap_cmd_bad(cmd, "FETCH needs a sequence set and items");
		return;
	}
	struct imap_fetch_job *job = xcalloc(1, sizeof(*job));
	job->cmd = cmd;
	const char *error;
	struct imap_fetch_request asked = { 0 };
	/* "$" (RFC 5182) is the saved result's UIDs still in the view */
	if (imap_msgset_uids(s, &cmd->args[0], cmd->uid, s->base.cmd_pool, &job->uids,
			     &job->uid_count, &error) < 0) {
		/* a number past the mailbox: BAD (RFC 9051 9, as Dovecot) */
		imap_fetch_job_free(job);
		imap_cmd_bad(cmd, "Invalid messageset: %s", error);
		return;
	}
	/* RFC 7162 3.1.4.1 / 3.2.6: fetch-modifiers after the items */
	unsigned items_end = cmd->count;
	if (imap_fetch_cmd_modifiers(cmd, job, &items_end) < 0) {
		imap_fetch_job_free(job);
		return;
	}
	if (imap_fetch_parse(cmd->args, 1, items_end, IMAP_FETCH_MAX_ITEMS, &asked,
			     &error) < 0) {
		char text[200];
		snprintf(text, sizeof(text), "%s", error);
		imap_fetch_job_free(job);
		imap_cmd_bad(cmd, "%s", text);
		return;
	}
	fetch_setup(job, asked, cmd->uid);
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_fetch_job_work, fetch_done, job);
}

void imap_fetch_run_uids(struct imap_cmd *cmd, const uint32_t *uids, unsigned count,
			 const struct imap_fetch_request *req, void (*final)(struct imap_cmd *cmd))
{
	struct imap_session *s = cmd->s;
	struct imap_fetch_job *job = xcalloc(1, sizeof(*job));
	job->cmd = cmd;
	job->final = final;
	job->uids = pool_alloc(s->base.cmd_pool, (count + 1) * sizeof(*job->uids));
	memcpy(job->uids, uids, count * sizeof(*uids));
	job->uid_count = count;
	struct imap_fetch_request asked = { .count = req->count };
	asked.atts = xcalloc(req->count + 1, sizeof(*asked.atts));
	memcpy(asked.atts, req->atts, req->count * sizeof(*req->atts));
	/* RFC 5465 5.2: the new messages' FETCH carries their UID */
	fetch_setup(job, asked, true);
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_fetch_job_work, fetch_done, job);
}
