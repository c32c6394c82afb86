/* imap_fetch_job.c: the lane side of FETCH (imap_fetch_job.h): the
 * set's UIDs read from the index a batch of at most IMAP_FETCH_BATCH at
 * a time (store_view_list_uids()), \Seen set for a body fetch without
 * .PEEK in one durable commit a batch before any of its responses, then
 * one message at a time through the renderer (imap_fetch_render.h)
 * until a chunk of IMAP_FETCH_CHUNK bytes is full. A message expunged
 * meanwhile counts in job->lost, one whose part has an unknown encoding
 * in job->unknown_cte (RFC 3516 4.3); imap_fetch_cmd.c ends the command
 * by them. */
#include "imap/imap_fetch_job.h"
#include "imap/imap_condstore.h"
#include "imap/imap_fetch_cmd.h"
#include "imap/imap_fetch_render.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "lib/log.h"
#include "mime/mime_parser.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fetch_message_end(struct imap_fetch_job *job)
{
	imap_fetch_render_free(&job->render);
	if (job->reader != NULL)
		store_message_close(&job->reader);
	mime_tree_free(&job->tree);
	if (job->msg_pool != NULL)
		pool_destroy(&job->msg_pool);
}

void imap_fetch_job_free(struct imap_fetch_job *job)
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
		if (info->lost || (info->sysflags & STORE_FLAG_SEEN) != 0 ||
		    imap_fetch_downgrade_refused(s, &job->req, view, info))
			continue; /* NO [LIMIT] sends nothing: not seen */
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
		/* \Seen set by this fetch: FLAGS go along (RFC 9051 6.4.5) */
		job->render = imap_fetch_render_begin(seen_now ? &job->req_flags : &job->req,
						      seq, &job->cur, job->tree, job->reader,
						      &error);
		if (job->render != NULL && imap_fetch_request_has(&job->req, IMAP_FETCH_PREVIEW)) {
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
		if (error == store_downgrade_error_limit) {
			fetch_message_end(job);
			job->undowngradable++;
			continue;
		}
		log_warn("sid=%s event=fetch_message_skipped uid=%u error=%s", s->base.sid, uid,
			 log_str(error));
		fetch_message_end(job);
		job->lost++;
	}
	return 0;
}

void imap_fetch_job_work(void *ctx, struct store *store)
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
	if (job->uid_pos == 0 && job->render == NULL &&
	    imap_fetch_request_has(&job->req, IMAP_FETCH_THREADID))
		imap_objectid_thread_backfill(job->cmd->s->sel->view);
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
			imap_modseq_pending_check(job->cmd->s, job->sets_seen ||
						  imap_fetch_request_has(&job->req, IMAP_FETCH_MODSEQ));
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
