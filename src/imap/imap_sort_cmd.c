/* imap_sort_cmd.c: SORT, UID SORT (RFC 5256 3, RFC 5957 DISPLAYFROM and
 * DISPLAYTO, RFC 5267 ESORT's RETURN answered with ESEARCH, RFC 5182
 * SAVE) and THREAD, UID THREAD (RFC 5256 4).
 *
 * Like SEARCH (imap_search_cmd.c): parsed on the loop, evaluated on the
 * user's lane (imap_search_run_rows(): the matches' rows), then each
 * match's keys taken from the record the index keeps of them
 * (store_view_sortkeys(), imap_sort_cache.c: one range read for all),
 * or, for a message without a valid record, from its header block read
 * through the message reader at the offsets of its cached MIME structure
 * (as FETCH ENVELOPE does; never the body), and then recorded; sorted or
 * threaded on the lane too; the loop only writes the answer.
 * THREAD=REFERENCES reads every header (records keep no Message-IDs);
 * SORT by ARRIVAL and SIZE reads no message. A message whose header
 * cannot be read sorts as if it had none (empty strings, INTERNALDATE)
 * and gets no record. No EXPUNGE is sent meanwhile
 * (RFC 9051 7.5.1). SORT with a MODSEQ search key is a CONDSTORE
 * enabling command as SEARCH MODSEQ is (RFC 7162 3.1), and its answer
 * ends with the matches' highest MODSEQ: "(MODSEQ n)" after SORT's
 * numbers (RFC 7162 7, sort-data), "MODSEQ n" in ESORT's ESEARCH
 * (3.1.5 with RFC 5267); nothing when nothing matched. THREAD's answer
 * has no place for it (RFC 5256 5): THREAD with MODSEQ changes nothing. */
#include "imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_fetch_render_private.h"
#include "imap/imap_reply.h"
#include "imap/imap_search_cmd.h"
#include "imap/imap_search_eval.h"
#include "imap/imap_search_render.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_sort.h"
#include "imap/imap_store.h"
#include "imap/imap_thread.h"
#include "lib/log.h"
#include "mime/mime_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct imap_sort_job {
	struct imap_cmd *cmd;
	struct imap_sort_program prog;
	struct imap_search_ctx ctx;
	struct imap_sort_msg *msgs;
	unsigned count;
	uint32_t *nums;     /* SORT: the answer in order */
	uint32_t *uids;     /* SORT: the same as UIDs ("$") */
	str_t threads;      /* THREAD: the thread-lists */
	bool uses_modseq;   /* SORT with a MODSEQ key */
	uint64_t modseq;    /* then the matches' highest, or 0 */
	int result;
	char error[256];
};

/* The header block of uid via its cached structure; false: unreadable */
static bool read_header(struct store_view *view, uint32_t uid, pool_t *tmp, str_t *hdr)
{
	const char *error;
	struct mime_tree *tree = NULL;
	if (store_view_message_structure(view, uid, tmp, &tree, &error) < 0)
		return false;
	struct store_message_reader *r = store_view_message_open(view, uid, &error);
	bool ok = r != NULL && tree->count > 0 &&
		store_message_read_header(r, &tree->parts[0], IMAP_FETCH_HEADER_MAX, hdr,
					  &error) == 0;
	if (r != NULL)
		store_message_close(&r);
	mime_tree_free(&tree);
	return ok;
}

/* The keys of the messages the index has no record for (or a stale
 * one), to be stored once the records are read: (uids, blobs) in pool */
struct sort_fresh {
	uint32_t *uids;
	struct store_blob *blobs;
	unsigned count;
};

/* m's keys from its header; with fresh, every key (the cache's program),
 * recorded for the index when the header could be read */
static void fill_from_header(struct imap_sort_job *job, struct store_view *view, pool_t *pool,
			     pool_t *tmp, str_t *hdr, struct sort_fresh *fresh,
			     struct imap_sort_msg *m)
{
	bool have = read_header(view, m->uid, tmp, hdr);
	if (fresh == NULL || !have) {
		imap_sort_msg_fill(fresh != NULL ? &imap_sort_cache_program : &job->prog,
				   have ? hdr->data : NULL, have ? hdr->len : 0, pool, m);
		return;         /* a message not read now may be next time */
	}
	/* Every key is parsed in tmp (a list's To and Cc parse into up to
	 * a thousand addresses each); only the record stays in the command's
	 * pool, and m's keys point into it: a cold SORT of 50,000 messages
	 * keeps their records, not their parsed headers. */
	imap_sort_msg_fill(&imap_sort_cache_program, hdr->data, hdr->len, tmp, m);
	str_t rec = STR_INIT;
	imap_sort_cache_encode(m, &rec);
	void *copy = pool_alloc(pool, rec.len);
	memcpy(copy, rec.data, rec.len);
	if (!imap_sort_cache_decode(copy, rec.len, m))
		panic("sort: a record just encoded does not decode");
	fresh->uids[fresh->count] = m->uid;
	fresh->blobs[fresh->count].data = copy;
	fresh->blobs[fresh->count++].len = rec.len;
	str_free(&rec);
}

/* The index's key records of the n messages (store_view_sortkeys()):
 * *blobs_r NULL when they cannot be read (the headers are then read) */
static struct store_blob *cached_keys(struct store_view *view, pool_t *pool,
				      const struct store_message_info *infos, unsigned n)
{
	uint32_t *uids = pool_alloc(pool, ((size_t)n + 1) * sizeof(*uids));
	for (unsigned i = 0; i < n; i++)
		uids[i] = infos[i].uid;
	struct store_blob *blobs;
	const char *error;
	if (store_view_sortkeys(view, uids, n, pool, &blobs, &error) < 0) {
		log_warn("event=sort_keys_read_failed error=%s", log_str(error));
		return NULL;
	}
	return blobs;
}

/* rows: the search's matches (imap_search_run_rows()), uids theirs */
static int collect(struct imap_sort_job *job, struct store_view *view, pool_t *pool,
		   struct store_message_info *infos, const uint32_t *uids, unsigned n,
		   const char **error_r)
{
	/* SIZE sorts by the stored size; the search's rows hold the RFC 6858
	 * message's where it looked at them: read the rows again then */
	if (imap_search_downgrade_reads(&job->prog.search, &job->ctx) &&
	    store_view_list_uids(view, uids, n, pool, &infos, &n, error_r) < 0)
		return -1;
	job->msgs = pool_alloc(pool, ((size_t)n + 1) * sizeof(*job->msgs));
	bool header = imap_sort_needs_header(&job->prog);
	/* the index's records where they serve (imap_sort_cache.c) */
	struct store_blob *blobs = header && imap_sort_cache_covers(&job->prog) ?
		cached_keys(view, pool, infos, n) : NULL;
	struct sort_fresh fresh = { NULL, NULL, 0 };
	if (blobs != NULL) {
		fresh.uids = pool_alloc(pool, ((size_t)n + 1) * sizeof(*fresh.uids));
		fresh.blobs = pool_alloc(pool, ((size_t)n + 1) * sizeof(*fresh.blobs));
	}
	pool_t *tmp = pool_create(4096);
	str_t hdr = STR_INIT;
	for (unsigned i = 0; i < n; i++) {
		struct imap_sort_msg *m = &job->msgs[i];
		m->uid = infos[i].uid;
		m->seq = store_view_seq(view, infos[i].uid);
		m->size = infos[i].size;
		m->arrival = infos[i].internaldate;
		if (!header)
			imap_sort_msg_fill(&job->prog, NULL, 0, pool, m);
		else if (blobs == NULL ||
			 !imap_sort_cache_decode(blobs[i].data, blobs[i].len, m))
			fill_from_header(job, view, pool, tmp, &hdr,
					 blobs != NULL ? &fresh : NULL, m);
		pool_clear(tmp);
	}
	str_free(&hdr);
	pool_destroy(&tmp);
	job->count = n;
	const char *error;
	if (store_view_set_sortkeys(view, fresh.uids, fresh.blobs, fresh.count, &error) < 0)
		log_warn("event=sort_keys_save_failed count=%u error=%s", fresh.count,
			 log_str(error));
	return 0;
}

static void imap_sort_work(void *ctx, struct store *store)
{
	struct imap_sort_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	struct store_view *view = s->sel->view;
	pool_t *pool = s->base.cmd_pool;
	const char *error = "no store handle";
	struct store_message_info *rows = NULL;
	uint32_t *uids = NULL;
	unsigned count = 0;
	job->result = -1;
	if (store != NULL)
		job->result = imap_search_run_rows(&job->prog.search, view, &job->ctx, pool,
						   &rows, &count, &error);
	if (job->result == 0) {
		uids = imap_search_rows_uids(rows, count, pool);
		job->result = collect(job, view, pool, rows, uids, count, &error);
	}
	if (job->result < 0) {
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	bool uid = job->cmd->uid;
	if (job->prog.thread) {
		struct imap_thread_msg *in = imap_sort_thread_input(job->msgs, job->count, uid, pool);
		struct imap_thread_tree tree;
		if (job->prog.algorithm == IMAP_THREAD_REFERENCES)
			imap_thread_references(in, job->count, pool, &tree);
		else
			imap_thread_orderedsubject(in, job->count, pool, &tree);
		imap_thread_render(&job->threads, &tree, pool);
		return;
	}
	imap_sort_messages(&job->prog, job->msgs, job->count);
	job->nums = pool_alloc(pool, ((size_t)job->count + 1) * sizeof(*job->nums));
	job->uids = pool_alloc(pool, ((size_t)job->count + 1) * sizeof(*job->uids));
	for (unsigned i = 0; i < job->count; i++) {
		job->nums[i] = uid ? job->msgs[i].uid : job->msgs[i].seq;
		job->uids[i] = job->msgs[i].uid;
	}
	if (job->uses_modseq &&
	    imap_condstore_search_highest(view, uids, count, pool, &job->modseq, &error) < 0) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	imap_modseq_pending_check(job->cmd->s, job->modseq != 0); /* RFC 7162 3.2 */
}

static void imap_sort_job_free(struct imap_sort_job *job)
{
	imap_sort_program_free(&job->prog);
	str_free(&job->threads);
	free(job);
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void imap_sort_final(struct imap_cmd *cmd)
{
	imap_modseq_pending_report(cmd->s);
	imap_cmd_ok(cmd, NULL, "%s%s completed", cmd->uid ? "UID " : "", cmd->name);
}

static void imap_sort_render(struct imap_sort_job *job, str_t *out)
{
	struct imap_cmd *cmd = job->cmd;
	if (job->prog.thread) {
		/* RFC 5256 5: thread-data = "THREAD" [SP 1*thread-list] */
		str_appendz(out, "* THREAD");
		if (job->threads.len > 0)
			str_appendc(out, ' ');
		str_append(out, job->threads.data, job->threads.len);
		str_appendz(out, "\r\n");
	} else if (job->prog.search.has_return) {
		/* RFC 5267 3.2: ESEARCH, MIN/MAX the first/last in sort
		 * order, ALL in sort order */
		imap_search_render(out, &job->prog.search, cmd->tag, cmd->uid, cmd->s->rev2,
				   job->nums, job->count);
	} else {
		/* RFC 5256 5: sort-data = "SORT" *(SP nz-number) */
		str_appendz(out, "* SORT");
		for (unsigned i = 0; i < job->count; i++)
			str_printf(out, " %u", job->nums[i]);
		str_appendz(out, "\r\n");
	}
}

static void imap_sort_done(void *ctx)
{
	struct imap_sort_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s)) {
		imap_sort_job_free(job);
		return;
	}
	if (job->result < 0) {
		imap_search_job_failed(cmd, "sort_failed", job->result, job->error);
		imap_sort_job_free(job);
		return;
	}
	if (job->prog.search.return_opts & IMAP_SEARCH_RETURN_SAVE) {
		/* RFC 5182 2.1 with RFC 5267: "$" is the set of UIDs (MIN and
		 * MAX alone: the first and last in sort order) */
		uint32_t *saved;
		unsigned n;
		imap_search_saved_result(&job->prog.search, job->uids, job->count,
					 s->base.cmd_pool, &saved, &n);
		qsort(saved, n, sizeof(*saved), uid_cmp);
		imap_selected_save(s->sel, saved, n);
	}
	str_t *out = imap_output_begin(s);
	size_t start = out->len;
	imap_sort_render(job, out);
	imap_condstore_search_append(out, start, job->modseq);
	imap_sort_job_free(job);
	imap_output_end(cmd, imap_sort_final);
}

static void sort_or_thread(struct imap_cmd *cmd, bool thread)
{
	struct imap_sort_job *job = xcalloc(1, sizeof(*job));
	const char *error = NULL;
	int parsed = imap_sort_parse(cmd->args, 0, cmd->count, thread, &imap_search_cmd_limits,
				     &job->prog, &error);
	if (imap_search_program_start(cmd, parsed, error, &job->prog.search, &job->ctx) < 0) {
		imap_sort_job_free(job);
		return;
	}
	job->cmd = cmd;
	job->uses_modseq = !thread && imap_search_program_uses_modseq(&job->prog.search);
	if (job->uses_modseq)
		imap_condstore_activate(cmd); /* RFC 7162 3.1, as SEARCH */
	imap_cmd_wait(cmd);
	imap_store_run(cmd->s, imap_sort_work, imap_sort_done, job);
}

void imap_cmd_sort(struct imap_cmd *cmd)
{
	sort_or_thread(cmd, false);
}

void imap_cmd_thread(struct imap_cmd *cmd)
{
	sort_or_thread(cmd, true);
}
