/* imap_search_eval.c: the SEARCH run over a view and the cheap keys
 * (imap_search_eval.h). Each message is evaluated three-valued: a
 * content key not yet read is "unknown", and AND/OR/NOT decide without
 * it when they can (a failed flag test in an AND skips the read). */
#include <string.h>
#include <strings.h>

#include "imap/imap_args.h"
#include "imap/imap_search_eval_private.h"

struct search_msg {
	const struct store_message_info *info;
	unsigned seq;          /* 0 until needed */
};

int64_t search_day_number(int year, int month, int day)
{
	struct imap_date d = { .year = year, .month = month, .day = day };
	return imap_date_to_epoch(&d) / 86400;
}

bool search_account(struct search_run *run, size_t n)
{
	const struct imap_search_ctx *ctx = run->ctx;
	run->bytes_read += n;
	if (ctx->max_read_bytes != 0 && run->bytes_read > ctx->max_read_bytes) {
		run->stopped = true;
		run->stop_reason = "SEARCH read limit reached";
	} else if (ctx->cancelled != NULL && ctx->cancelled(ctx->cancel_context)) {
		run->stopped = true;
		run->stop_reason = "SEARCH cancelled";
	}
	return !run->stopped;
}

/* A sorted UID list holds uid (RFC 5182 "$") */
static bool uids_contain(const uint32_t *uids, unsigned count, uint32_t uid)
{
	unsigned lo = 0, hi = count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (uids[mid] == uid)
			return true;
		if (uids[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* RFC 9051 9 seq-range: "*" is the largest number in use, and a range
 * may be given in either order ("*:4" is "4:*"). */
static bool seqset_has(const struct imap_seqset *set, uint32_t n, uint32_t star)
{
	for (unsigned i = 0; i < set->count; i++) {
		uint64_t lo = set->ranges[i].lo == IMAP_SEQ_STAR ? star : set->ranges[i].lo;
		uint64_t hi = set->ranges[i].hi == IMAP_SEQ_STAR ? star : set->ranges[i].hi;
		if (lo > hi) {
			uint64_t t = lo;
			lo = hi;
			hi = t;
		}
		if (n >= lo && n <= hi)
			return true;
	}
	return false;
}

static bool has_keyword(const char *flags, const char *kw)
{
	size_t len = strlen(kw);
	for (const char *p = flags; *p != '\0';) {
		size_t n = strcspn(p, " ");
		/* RFC 9051 2.3.2: flag names are case-insensitive */
		if (n == len && strncasecmp(p, kw, n) == 0)
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static int64_t internal_day(const struct search_run *run, time_t t)
{
	struct tm tm;
	if ((run->ctx->dates_utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)) == NULL)
		return 0;
	return search_day_number(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

static bool is_recent(const struct search_run *run, uint32_t uid)
{
	return uid >= run->ctx->recent_first && uid < run->ctx->recent_end;
}

static enum search_res yes_no(bool b)
{
	return b ? RES_YES : RES_NO;
}

static enum search_res eval_node(struct search_run *run, struct search_msg *m,
				 unsigned idx);

static enum search_res eval_children(struct search_run *run,
				     struct search_msg *m, unsigned idx, bool any)
{
	enum search_res out = any ? RES_NO : RES_YES;
	for (unsigned c = run->prog->nodes[idx].child; c != 0;
	     c = run->prog->nodes[c - 1].next) {
		enum search_res r = eval_node(run, m, c - 1);
		if (r == (any ? RES_YES : RES_NO))
			return r;
		if (r == RES_UNKNOWN)
			out = RES_UNKNOWN;
	}
	return out;
}

static enum search_res eval_node(struct search_run *run, struct search_msg *m,
				 unsigned idx)
{
	const struct imap_search_node *n = &run->prog->nodes[idx];
	const struct store_message_info *info = m->info;
	unsigned f = info->sysflags;
	struct store_view *view = run->view;

	switch (n->key) {
	case IMAP_SEARCH_AND: return eval_children(run, m, idx, false);
	case IMAP_SEARCH_OR: return eval_children(run, m, idx, true);
	case IMAP_SEARCH_NOT: {
		enum search_res r = eval_children(run, m, idx, false);
		return r == RES_UNKNOWN ? r : yes_no(r == RES_NO);
	}
	case IMAP_SEARCH_ALL: return RES_YES;
	case IMAP_SEARCH_SEQSET:
		if (n->set.saved)
			return yes_no(uids_contain(run->ctx->saved, run->ctx->saved_count, info->uid));
		if (m->seq == 0)
			m->seq = store_view_seq(view, info->uid);
		return yes_no(seqset_has(&n->set, m->seq, store_view_count(view)));
	case IMAP_SEARCH_UID:
		if (n->set.saved)
			return yes_no(uids_contain(run->ctx->saved, run->ctx->saved_count, info->uid));
		return yes_no(seqset_has(&n->set, info->uid,
					 store_view_uid(view, store_view_count(view))));
	case IMAP_SEARCH_ANSWERED: return yes_no(f & STORE_FLAG_ANSWERED);
	case IMAP_SEARCH_DELETED: return yes_no(f & STORE_FLAG_DELETED);
	case IMAP_SEARCH_DRAFT: return yes_no(f & STORE_FLAG_DRAFT);
	case IMAP_SEARCH_FLAGGED: return yes_no(f & STORE_FLAG_FLAGGED);
	case IMAP_SEARCH_SEEN: return yes_no(f & STORE_FLAG_SEEN);
	case IMAP_SEARCH_UNANSWERED: return yes_no(!(f & STORE_FLAG_ANSWERED));
	case IMAP_SEARCH_UNDELETED: return yes_no(!(f & STORE_FLAG_DELETED));
	case IMAP_SEARCH_UNDRAFT: return yes_no(!(f & STORE_FLAG_DRAFT));
	case IMAP_SEARCH_UNFLAGGED: return yes_no(!(f & STORE_FLAG_FLAGGED));
	case IMAP_SEARCH_UNSEEN: return yes_no(!(f & STORE_FLAG_SEEN));
	/* RFC 3501 6.4.4: NEW is (RECENT UNSEEN), OLD is NOT RECENT */
	case IMAP_SEARCH_RECENT: return yes_no(is_recent(run, info->uid));
	case IMAP_SEARCH_NEW:
		return yes_no(is_recent(run, info->uid) && !(f & STORE_FLAG_SEEN));
	case IMAP_SEARCH_OLD: return yes_no(!is_recent(run, info->uid));
	case IMAP_SEARCH_KEYWORD: return yes_no(has_keyword(info->flags, n->str));
	case IMAP_SEARCH_UNKEYWORD: return yes_no(!has_keyword(info->flags, n->str));
	/* RFC 9051 6.4.4: RFC822.SIZE larger / smaller than n */
	case IMAP_SEARCH_LARGER: return yes_no(info->size > n->size);
	case IMAP_SEARCH_SMALLER: return yes_no(info->size < n->size);
	case IMAP_SEARCH_MODSEQ: return yes_no(info->modseq >= n->size); /* RFC 7162 3.1.5 */
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE:
	/* RFC 8514 4: the same on the save date (every message has one) */
	case IMAP_SEARCH_SAVEDBEFORE: case IMAP_SEARCH_SAVEDON: case IMAP_SEARCH_SAVEDSINCE: {
		bool saved = n->key == IMAP_SEARCH_SAVEDBEFORE || n->key == IMAP_SEARCH_SAVEDON ||
			n->key == IMAP_SEARCH_SAVEDSINCE;
		int64_t day = internal_day(run, saved ? info->savedate : info->internaldate);
		int64_t want = search_day_number(n->date.year, n->date.month, n->date.day);
		if (n->key == IMAP_SEARCH_BEFORE || n->key == IMAP_SEARCH_SAVEDBEFORE)
			return yes_no(day < want);
		return yes_no(n->key == IMAP_SEARCH_ON || n->key == IMAP_SEARCH_SAVEDON ?
			      day == want : day >= want);
	}
	case IMAP_SEARCH_SAVEDATESUPPORTED: return RES_YES;
	case IMAP_SEARCH_EMAILID: case IMAP_SEARCH_THREADID:
		return yes_no(imap_objectid_search_match(n->key, n->str, n->len, info));
	default:
		/* header and body keys: answered by imap_search_eval_msg.c */
		return (enum search_res)run->res[idx];
	}
}

static void run_init(struct search_run *run, const struct imap_search_program *p,
		     struct store_view *view, const struct imap_search_ctx *ctx)
{
	memset(run, 0, sizeof(*run));
	run->prog = p;
	run->ctx = ctx;
	run->view = view;
	run->matchers = xcalloc(p->count, sizeof(*run->matchers));
	run->res = xcalloc(p->count, 1);
	run->tmp = pool_create(4096);
	for (unsigned i = 0; i < p->count; i++) {
		const struct imap_search_node *n = &p->nodes[i];
		if (search_key_is_header(n->key))
			run->has_header_keys = true;
		if (search_key_is_body(n->key))
			run->has_body_keys = true;
		if (n->key == IMAP_SEARCH_TEXT)   /* TEXT: header and body */
			run->has_header_keys = true;
		if ((search_key_is_header(n->key) || search_key_is_body(n->key)) &&
		    n->str != NULL)
			mime_match_init(&run->matchers[i], n->str, n->len);
	}
}

static void run_deinit(struct search_run *run)
{
	for (unsigned i = 0; i < run->prog->count; i++)
		mime_match_deinit(&run->matchers[i]);
	free(run->matchers);
	free(run->res);
	pool_destroy(&run->tmp);
	str_free(&run->buf);
	str_free(&run->dec);
	str_free(&run->utf8);
}

/* One message: cheap keys, then the header, then the body, each only
 * when the answer is still open. */
static bool eval_message(struct search_run *run, const struct store_message_info *info)
{
	struct search_msg m = { .info = info };
	memset(run->res, RES_UNKNOWN, run->prog->count);
	pool_clear(run->tmp);
	enum search_res r = eval_node(run, &m, 0);
	if (r == RES_UNKNOWN && run->has_header_keys && !info->lost) {
		search_eval_header(run, info->uid);
		r = eval_node(run, &m, 0);
	}
	if (r == RES_UNKNOWN && run->has_body_keys && !info->lost && !run->stopped) {
		search_eval_body(run, info->uid);
		r = eval_node(run, &m, 0);
	}
	search_message_close(run);
	if (r == RES_UNKNOWN) {
		/* unreadable content: every content key still open is false */
		for (unsigned i = 0; i < run->prog->count; i++) {
			if (run->res[i] == RES_UNKNOWN)
				run->res[i] = RES_NO;
		}
		r = eval_node(run, &m, 0);
	}
	return r == RES_YES;
}

/* The rows to evaluate. store_view_list() marks a message whose file is
 * gone (lost) by listing the folder's directories: 50,000 names read and
 * sorted at 50,000 messages, on every SEARCH, SORT and THREAD. Only a
 * program that reads message files (header, body or TEXT keys, downgraded
 * sizes) looks at lost; any other gets the rows of the view's map from
 * the index alone (store_view_list_uids()), and a lost message matches it
 * as before. */
static int list_messages(const struct search_run *run, struct store_view *view, pool_t *pool,
			 struct store_message_info **msgs_r, unsigned *count_r,
			 const char **error_r)
{
	if (run->has_header_keys || run->has_body_keys ||
	    imap_search_downgrade_reads(run->prog, run->ctx))
		return store_view_list(view, pool, msgs_r, count_r, error_r);
	unsigned n = store_view_count(view);
	uint32_t *uids = pool_alloc(pool, ((size_t)n + 1) * sizeof(*uids));
	for (unsigned seq = 1; seq <= n; seq++)
		uids[seq - 1] = store_view_uid(view, seq);
	return store_view_list_uids(view, uids, n, pool, msgs_r, count_r, error_r);
}

int imap_search_run_rows(const struct imap_search_program *p, struct store_view *view,
			 const struct imap_search_ctx *ctx, pool_t *pool,
			 struct store_message_info **rows_r, unsigned *count_r,
			 const char **error_r)
{
	struct store_message_info *msgs;
	unsigned count;
	*rows_r = NULL;
	*count_r = 0;
	imap_objectid_search_backfill(p, view);
	struct search_run run;
	run_init(&run, p, view, ctx);
	if (list_messages(&run, view, pool, &msgs, &count, error_r) < 0) {
		run_deinit(&run);
		return -1;
	}
	imap_search_downgrade_sizes(p, view, ctx, msgs, count);
	unsigned found = 0;
	for (unsigned i = 0; i < count && !run.stopped; i++) {
		if (ctx->cancelled != NULL && ctx->cancelled(ctx->cancel_context)) {
			run.stopped = true;
			run.stop_reason = "SEARCH cancelled";
			break;
		}
		if (eval_message(&run, &msgs[i]))
			msgs[found++] = msgs[i];        /* found <= i: in place */
	}
	int ret = 0;
	if (run.stopped) {
		*error_r = run.stop_reason;
		ret = -2;
	} else {
		*rows_r = msgs;
		*count_r = found;
	}
	run_deinit(&run);
	return ret;
}

int imap_search_run(const struct imap_search_program *p,
		    struct store_view *view, const struct imap_search_ctx *ctx,
		    pool_t *pool, uint32_t **uids_r, unsigned *count_r,
		    const char **error_r)
{
	struct store_message_info *rows;
	unsigned count;
	*uids_r = NULL;
	*count_r = 0;
	int ret = imap_search_run_rows(p, view, ctx, pool, &rows, &count, error_r);
	if (ret < 0)
		return ret;
	*uids_r = imap_search_rows_uids(rows, count, pool);
	*count_r = count;
	return 0;
}

uint32_t *imap_search_rows_uids(const struct store_message_info *rows, unsigned count,
				pool_t *pool)
{
	uint32_t *uids = pool_alloc(pool, ((size_t)count + 1) * sizeof(*uids));
	for (unsigned i = 0; i < count; i++)
		uids[i] = rows[i].uid;
	return uids;
}

uint32_t *imap_search_uids_to_seqs(struct store_view *view,
				   const uint32_t *uids, unsigned count,
				   pool_t *pool)
{
	uint32_t *seqs = pool_alloc(pool, (count + 1) * sizeof(*seqs));
	for (unsigned i = 0; i < count; i++)
		seqs[i] = store_view_seq(view, uids[i]);
	return seqs;
}
