/* imap_fetch_cmd.c: FETCH and UID FETCH (RFC 9051 6.4.5, 6.4.9).
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
#include "imap_private.h"
#include "imap/imap_condstore_parse.h"
#include "imap/imap_fetch_parse.h"
#include "imap/imap_fetch_render.h"
#include "imap/imap_msgset.h"
#include "imap/imap_seqset.h"
#include "lib/log.h"
#include "mime/mime_parser.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the response held in memory at once (the brief's ~256 KiB bound) */
#define IMAP_FETCH_CHUNK (128 * 1024)
#define IMAP_FETCH_MAX_ITEMS 64
/* messages whose index rows are read at once */
#define IMAP_FETCH_BATCH 256

struct imap_fetch_job {
	struct imap_cmd *cmd;
	struct imap_fetch_request req;       /* as asked (+UID for UID FETCH) */
	struct imap_fetch_request req_flags; /* + FLAGS, for \Seen just set */
	uint32_t *uids;                      /* the messages, ascending (cmd pool) */
	unsigned uid_count, uid_pos;
	unsigned needs;
	bool sets_seen;

	unsigned batch_end;                  /* uids[uid_pos..batch_end) listed */
	pool_t *batch_pool;                  /* infos and seen_now */
	struct store_message_info *infos;    /* the batch, UID order */
	bool *seen_now;                      /* \Seen set by this FETCH */
	unsigned info_count, info_pos;

	struct imap_fetch_render *render;
	struct store_message_reader *reader;
	struct mime_tree *tree;
	pool_t *msg_pool;
	struct store_message_info cur;

	str_t chunk;
	bool finished;
	unsigned lost;
	unsigned unknown_cte; /* BINARY of a part in an unknown encoding */
	int result;   /* 0, -1: failed before any output, -2: mid-response */
	char error[256];
	/* RFC 7162: (CHANGEDSINCE n) leaves out messages not changed since;
	 * VANISHED first reports the set's UIDs expunged since (3.2.6) */
	struct imap_fetch_modifiers mods;
	struct imap_seqset uid_set;          /* VANISHED: the set as given */
	bool condstore;                      /* MODSEQ with implicit \Seen */
	/* imap_fetch_run_uids (NOTIFY): in place of the tagged reply */
	void (*final)(struct imap_cmd *cmd);
};

static bool request_has(const struct imap_fetch_request *req, enum imap_fetch_item item);

static void fetch_message_end(struct imap_fetch_job *job)
{
	imap_fetch_render_free(&job->render);
	if (job->reader != NULL)
		store_message_close(&job->reader);
	mime_tree_free(&job->tree);
	if (job->msg_pool != NULL)
		pool_destroy(&job->msg_pool);
}

static void fetch_job_free(struct imap_fetch_job *job)
{
	fetch_message_end(job);
	imap_fetch_request_free(&job->req);
	imap_fetch_request_free(&job->req_flags);
	imap_seqset_free(&job->uid_set);
	str_free(&job->chunk);
	if (job->batch_pool != NULL)
		pool_destroy(&job->batch_pool);
	free(job);
}

/* The next batch of the set (uids[uid_pos..]) as the index holds it
 * now, and \Seen set on those a body fetch marks (one durable commit,
 * before any response of the batch). No message may be rendering. */
static int fetch_batch(struct imap_fetch_job *job, const char **error_r)
{
	struct imap_session *s = job->cmd->s;
	struct store_view *view = s->sel->view;
	if (job->batch_pool != NULL)
		pool_destroy(&job->batch_pool);
	job->batch_pool = pool_create(16384);
	pool_t *pool = job->batch_pool;
	unsigned n_uids = job->uid_count - job->uid_pos;
	if (n_uids > IMAP_FETCH_BATCH)
		n_uids = IMAP_FETCH_BATCH;
	const uint32_t *batch = job->uids + job->uid_pos;
	job->batch_end = job->uid_pos + n_uids;
	job->info_pos = 0;
	job->seen_now = NULL;
	if (store_view_list_uids(view, batch, n_uids, pool, &job->infos, &job->info_count,
				 error_r) < 0)
		return -1;
	if (!job->sets_seen || s->sel->readonly || job->info_count == 0)
		return 0;
	job->seen_now = pool_alloc(pool, job->info_count * sizeof(bool));
	uint32_t *uids = pool_alloc(pool, job->info_count * sizeof(uint32_t));
	unsigned n = 0;
	for (unsigned i = 0; i < job->info_count; i++) {
		struct store_message_info *info = &job->infos[i];
		if (info->lost || (info->sysflags & STORE_FLAG_SEEN) != 0)
			continue;
		uids[n++] = info->uid;
		job->seen_now[i] = true;
	}
	if (n == 0)
		return 0;
	struct store_flags_update update = { .op = STORE_FLAGS_ADD,
					     .sysflags = STORE_FLAG_SEEN };
	struct store_view_flag_change *results;
	unsigned result_count, r = 0;
	if (store_view_set_flags_result(view, uids, n, &update, pool, &results, &result_count,
					error_r) < 0)
		return -1;
	for (unsigned i = 0; i < job->info_count; i++) {
		if (!job->seen_now[i])
			continue;
		job->infos[i].flags = store_flags_text_apply(job->infos[i].flags, &update, pool);
		job->infos[i].sysflags |= STORE_FLAG_SEEN;
		/* RFC 7162 3.1.4.1: the MODSEQ the change gave it */
		while (r < result_count && results[r].uid < job->infos[i].uid)
			r++;
		if (r < result_count && results[r].uid == job->infos[i].uid)
			job->infos[i].modseq = results[r].modseq;
	}
	return 0;
}

/* Start the renderer on the next wanted message: 1, or 0 when none is
 * left, -1 when the index could not be read. */
static int fetch_message_next(struct imap_fetch_job *job, const char **error_r)
{
	struct imap_session *s = job->cmd->s;
	struct store_view *view = s->sel->view;
	while (job->uid_pos < job->uid_count) {
		if (job->uid_pos == job->batch_end && fetch_batch(job, error_r) < 0)
			return -1;
		uint32_t uid = job->uids[job->uid_pos++];
		uint32_t seq = store_view_seq(view, uid);
		while (job->info_pos < job->info_count && job->infos[job->info_pos].uid < uid)
			job->info_pos++;
		const struct store_message_info *info = job->info_pos < job->info_count ?
			&job->infos[job->info_pos] : NULL;
		const char *error = NULL;
		if (info == NULL || info->uid != uid || info->lost) {
			job->lost++; /* expunged meanwhile by another session */
			continue;
		}
		bool seen_now = job->seen_now != NULL && job->seen_now[job->info_pos];
		if (job->mods.changedsince != 0 && info->modseq <= job->mods.changedsince &&
		    !seen_now)
			continue; /* RFC 7162 3.1.4.1: unchanged since */
		job->msg_pool = pool_create(4096);
		job->cur = *info;
		if (!s->rev2 && imap_selected_is_recent(s->sel, uid))
			job->cur.flags = pool_printf(job->msg_pool, "%s%s\\Recent", info->flags,
						     *info->flags != '\0' ? " " : "");
		if ((job->needs & IMAP_FETCH_NEEDS_READER) != 0 &&
		    (job->reader = store_view_message_open(view, uid, &error)) == NULL)
			goto lost;
		if (((job->needs & IMAP_FETCH_NEEDS_TREE) != 0 &&
		     store_view_message_structure(view, uid, job->msg_pool, &job->tree, &error) < 0) ||
		    imap_fetch_downgrade(s, &job->req, view, uid, &job->cur, &job->tree,
					 job->msg_pool, &job->reader, &error) < 0)
			goto lost;
		bool flags_added = job->seen_now != NULL && job->seen_now[job->info_pos];
		job->render = imap_fetch_render_begin(flags_added ? &job->req_flags : &job->req,
						      seq, &job->cur, job->tree, job->reader,
						      &error);
		if (job->render != NULL && request_has(&job->req, IMAP_FETCH_PREVIEW)) {
			const char *preview;
			if (imap_preview_get(view, uid, job->msg_pool, &preview, &error) < 0)
				goto lost;
			imap_fetch_render_set_preview(job->render, preview);
		}
		if (job->render != NULL)
			return 1;
		if (error == imap_fetch_error_unknown_cte) {
			/* RFC 3516 4.3: not answered; NO [UNKNOWN-CTE] at the end */
			fetch_message_end(job);
			job->unknown_cte++;
			continue;
		}
	lost:
		log_warn("sid=%s event=fetch_message_skipped uid=%u error=%s", s->base.sid, uid,
			 log_str(error));
		fetch_message_end(job);
		job->lost++;
	}
	return 0;
}

static void fetch_work(void *ctx, struct store *store)
{
	struct imap_fetch_job *job = ctx;
	const char *error = "no store handle";
	str_clear(&job->chunk);
	if (store == NULL) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	if (job->mods.vanished && job->uid_pos == 0 && job->render == NULL) {
		/* RFC 7162 3.2.6: VANISHED (EARLIER) before the FETCHes */
		const char *line;
		pool_t *pool = pool_create(4096);
		if (imap_qresync_fetch_vanished(job->cmd->s->sel->view, job->mods.changedsince,
						&job->uid_set, pool, &line, &error) < 0) {
			pool_destroy(&pool);
			job->result = -1;
			snprintf(job->error, sizeof(job->error), "%s", error);
			return;
		}
		str_appendz(&job->chunk, line);
		pool_destroy(&pool);
		job->mods.vanished = false;
	}
	while (job->chunk.len + IMAP_FETCH_RENDER_MIN_CHUNK <= IMAP_FETCH_CHUNK) {
		int next = job->render != NULL ? 1 : fetch_message_next(job, &error);
		if (next < 0) {
			/* before any output (-1) only if nothing was rendered */
			job->result = job->uid_pos == 0 && job->chunk.len == 0 ? -1 : -2;
			snprintf(job->error, sizeof(job->error), "%s", error);
			return;
		}
		if (next == 0) {
			job->finished = true;
			return;
		}
		enum imap_fetch_render_result r =
			imap_fetch_render_next(job->render, &job->chunk,
					       IMAP_FETCH_CHUNK - job->chunk.len, &error);
		if (r == IMAP_FETCH_RENDER_ERROR) {
			job->result = -2;
			snprintf(job->error, sizeof(job->error), "uid=%u %s", job->cur.uid,
				 error);
			return;
		}
		if (r == IMAP_FETCH_RENDER_DONE)
			fetch_message_end(job);
	}
}

static void fetch_final(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_fetch_job *job = s->fetch;
	s->fetch = NULL;
	unsigned lost = job->lost, unknown_cte = job->unknown_cte;
	void (*final)(struct imap_cmd *cmd) = job->final;
	fetch_job_free(job);
	if (final != NULL)
		final(cmd);
	else if (unknown_cte > 0)
		imap_cmd_no(cmd, "UNKNOWN-CTE", "Can't decode a part's content-transfer-encoding");
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
	imap_store_run(s, fetch_work, fetch_done, job);
}

static void fetch_done(void *ctx)
{
	struct imap_fetch_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s)) {
		fetch_job_free(job);
		return;
	}
	if (job->result < 0) {
		log_error("sid=%s event=fetch_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
		bool started = job->result == -2 || job->chunk.len > 0 || job->uid_pos > 0;
		void (*final)(struct imap_cmd *cmd) = job->final;
		fetch_job_free(job);
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
	fetch_job_free(s->fetch);
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

static bool request_has(const struct imap_fetch_request *req, enum imap_fetch_item item)
{
	for (unsigned i = 0; i < req->count; i++)
		if (req->atts[i].item == item)
			return true;
	return false;
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
	if (uid && !request_has(&asked, IMAP_FETCH_UID)) {
		request_with(&job->req, &asked, IMAP_FETCH_UID, true);
		imap_fetch_request_free(&asked);
	} else {
		job->req = asked;
	}
	if (request_has(&job->req, IMAP_FETCH_MODSEQ) || job->mods.changedsince != 0) {
		/* RFC 7162 3.1: a CONDSTORE-enabling command; CHANGEDSINCE
		 * implies the MODSEQ item (3.1.4.1) */
		imap_condstore_activate(job->cmd);
		if (!request_has(&job->req, IMAP_FETCH_MODSEQ)) {
			struct imap_fetch_request with;
			request_with(&with, &job->req, IMAP_FETCH_MODSEQ, false);
			imap_fetch_request_free(&job->req);
			job->req = with;
		}
	}
	job->sets_seen = imap_fetch_render_sets_seen(&job->req);
	if (request_has(&job->req, IMAP_FETCH_FLAGS))
		request_with(&job->req_flags, &job->req, IMAP_FETCH_FLAGS, false),
			job->req_flags.count--; /* already there: the same items */
	else
		request_with(&job->req_flags, &job->req, IMAP_FETCH_FLAGS, false);
	if (s->condstore && !request_has(&job->req_flags, IMAP_FETCH_MODSEQ)) {
		/* RFC 7162 3.2: a FETCH reporting \Seen it set carries MODSEQ
		 * (and UID: 3.1.4.1 with the flags) */
		struct imap_fetch_request with;
		request_with(&with, &job->req_flags, IMAP_FETCH_MODSEQ, false);
		imap_fetch_request_free(&job->req_flags);
		job->req_flags = with;
		if (!request_has(&job->req_flags, IMAP_FETCH_UID)) {
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
		fetch_job_free(job);
		imap_cmd_bad(cmd, "Invalid messageset: %s", error);
		return;
	}
	/* RFC 7162 3.1.4.1 / 3.2.6: fetch-modifiers after the items */
	unsigned items_end = cmd->count;
	if (imap_fetch_cmd_modifiers(cmd, job, &items_end) < 0) {
		fetch_job_free(job);
		return;
	}
	if (imap_fetch_parse(cmd->args, 1, items_end, IMAP_FETCH_MAX_ITEMS, &asked,
			     &error) < 0) {
		char text[200];
		snprintf(text, sizeof(text), "%s", error);
		fetch_job_free(job);
		imap_cmd_bad(cmd, "%s", text);
		return;
	}
	fetch_setup(job, asked, cmd->uid);
	imap_cmd_wait(cmd);
	imap_store_run(s, fetch_work, fetch_done, job);
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
	imap_store_run(s, fetch_work, fetch_done, job);
}
