/* imap_select.c: the selected state: SELECT and EXAMINE (RFC 9051 6.3.2,
 * 6.3.3, RFC 3501 6.3.1 for rev1's RECENT and UNSEEN; CLOSE and UNSELECT
 * are in imap_close.c), and telling the client what changed in its
 * mailbox (RFC 9051 7.4 EXISTS and EXPUNGE, 7.5.2 FETCH FLAGS, RFC 3501
 * 7.3.2 RECENT): that is imap_select_sync.c; the selected state itself
 * (\Recent ranges, "$") is imap_selected.c.
 *
 * The selected mailbox is a store view (store_view.h): its map fixes the
 * session's sequence numbers until imap_select_sync() applies what
 * changed, which it reports in the same step, so the client's numbers
 * and the map never disagree. */
#include "imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_condstore_parse.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_msgset.h"
#include "imap/imap_reply.h"
#include "imap/imap_rev2.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* keywords named in the FLAGS reply of SELECT; more are still stored */
#define IMAP_SELECT_KEYWORDS_MAX 256
#define IMAP_SYSTEM_FLAGS "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

struct imap_select_job {
	struct imap_cmd *cmd;
	struct imap_selected *old, *sel;
	const char *address;
	bool claim_recent;
	bool rev2;            /* rev2: answer LIST, not RECENT/UNSEEN */
	int result;           /* 0 ok, 1 no such mailbox, -1 error */
	char error[256];
	unsigned first_unseen, recent;
	/* what the reply needs (keywords, LIST attributes) and the message
	 * list they come from: freed with the job, so a selected session
	 * keeps its view's UID map only, not a copy of the mailbox */
	pool_t *pool;
	const char *keywords; /* job->pool */
	const char *list_attrs; /* rev2: job->pool */
	/* RFC 7162: SELECT (CONDSTORE) / (QRESYNC (...)) and its answer */
	struct imap_qresync_params params;
	const char *qresync_text; /* job->pool */
	char mailboxid[STORE_OBJECTID_SIZE]; /* RFC 8474 4 */
};

static void imap_select_job_free(struct imap_select_job *job)
{
	imap_qresync_params_free(&job->params);
	pool_destroy(&job->pool);
	free(job);
}

static void job_error(char *buf, size_t size, int *result, const char *error)
{
	snprintf(buf, size, "%s", error != NULL ? error : "?");
	*result = -1;
}

/* The mailbox's keywords, for FLAGS and PERMANENTFLAGS. */
static const char *keywords_text(pool_t *pool, const char *const *names, unsigned count)
{
	str_t kw = STR_INIT;
	for (unsigned i = 0; i < count; i++) {
		if (i > 0)
			str_appendc(&kw, ' ');
		str_append(&kw, names[i], strlen(names[i]));
	}
	const char *ret = pool_strndup(pool, kw.data != NULL ? kw.data : "", kw.len);
	str_free(&kw);
	return ret;
}

/* The view's first facts; -1 with *error_r. */
static int imap_select_read(struct imap_select_job *job, struct store *store,
			    const char **error_r)
{
	struct imap_selected *sel = job->sel;
	if (job->claim_recent) {
		uint32_t first;
		if (store_view_claim_recent(sel->view, &first, error_r) < 0)
			return -1;
		imap_selected_recent_add(sel, first, store_view_uidnext(sel->view));
		job->recent = imap_selected_recent_total(sel);
	}
	/* rev1 EXAMINE: the mailbox's \Recent count, not claimed; rev2 has
	 * no RECENT response (RFC 9051 Appendix E) */
	struct store_mailbox_status st;
	if (!job->claim_recent && !job->rev2 &&
	    store_mailbox_status(store, job->address, sel->name, &st, error_r) == 0)
		job->recent = st.recent;
	/* from the index's unseen index, keyword list and MAILBOXID: no
	 * read of every message (store_view.h) */
	struct store_view_select_info info;
	if (store_view_select_info(sel->view, IMAP_SELECT_KEYWORDS_MAX, job->pool, &info,
				   error_r) < 0)
		return -1;
	memcpy(job->mailboxid, info.mailboxid, sizeof(job->mailboxid));
	job->first_unseen = info.first_unseen_seq;
	job->keywords = keywords_text(job->pool, info.keywords, info.keyword_count);
	sel->exists = store_view_count(sel->view);
	if (job->params.qresync &&
	    imap_qresync_select(sel->view, &job->params, job->pool,
				&job->qresync_text, error_r) < 0)
		return -1;
	if (job->rev2)
		return imap_rev2_select_attrs(store, job->address, sel->name, job->pool,
					      &job->list_attrs, error_r);
	return 0;
}

static void imap_select_work(void *ctx, struct store *store)
{
	struct imap_select_job *job = ctx;
	struct imap_selected *sel = job->sel;
	const char *error;
	/* views belong to the user's shared handle: opened and closed on
	 * its lane only, so a failed SELECT leaves no view behind */
	imap_selected_free(&job->old);
	if (store == NULL) {
		job_error(job->error, sizeof(job->error), &job->result, "no store handle");
		return;
	}
	int r = store_view_open(store, job->address, sel->name, &sel->view, &error);
	if (r < 0 && strcmp(sel->name, "INBOX") == 0) {
		/* an account made before its store: create the folders */
		if (store_user_create(store, job->address, &error) == 0)
			r = store_view_open(store, job->address, sel->name, &sel->view, &error);
	}
	if (r < 0) {
		if (!imap_mailbox_exists(store, job->address, sel->name))
			job->result = 1;
		else
			job_error(job->error, sizeof(job->error), &job->result, error);
		return;
	}
	if (imap_select_read(job, store, &error) < 0) {
		job_error(job->error, sizeof(job->error), &job->result, error);
		store_view_close(&sel->view);
	}
}

static void imap_select_final(struct imap_cmd *cmd)
{
	bool readonly = cmd->s->sel->readonly;
	imap_cmd_ok(cmd, readonly ? "READ-ONLY" : "READ-WRITE", "%s completed",
		    readonly ? "EXAMINE" : "SELECT");
}

static void imap_select_done(void *ctx)
{
	struct imap_select_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	struct imap_selected *sel = job->sel;
	int result = job->result;
	/* an open view (success only) is the session's from here: if the
	 * session is gone, its end closes the view on the lane */
	if (sel->view != NULL) {
		s->sel = sel;
		job->sel = NULL;
	}
	if (imap_session_check_gone(s)) {
		imap_selected_free(&job->sel); /* no view: nothing of the store */
		imap_select_job_free(job);
		return;
	}
	if (result != 0) {
		if (result < 0)
			log_error("sid=%s event=select_failed user=%s mailbox=%s error=%s",
				  s->base.sid, log_str(s->user), log_str(sel->name),
				  log_str(job->error));
		imap_selected_free(&job->sel);
		imap_select_job_free(job);
		if (result > 0)
			imap_cmd_no(cmd, "NONEXISTENT", "Mailbox doesn't exist");
		else
			imap_cmd_no(cmd, "UNAVAILABLE", "Mailbox temporarily unavailable");
		return;
	}
	/* RFC 9051 6.3.2 and RFC 3501 6.3.1: the untagged data of SELECT */
	const char *kw = job->keywords;
	imap_untagged(s, "FLAGS (" IMAP_SYSTEM_FLAGS "%s%s)", *kw != '\0' ? " " : "", kw);
	imap_untagged(s, "%u EXISTS", sel->exists);
	/* rev2: RFC 9051 6.3.2 has neither RECENT nor [UNSEEN] */
	if (!job->rev2)
		imap_untagged(s, "%u RECENT", job->recent);
	if (job->first_unseen > 0 && !job->rev2)
		imap_untagged(s, "OK [UNSEEN %u] First unseen", job->first_unseen);
	if (sel->readonly)
		imap_untagged(s, "OK [PERMANENTFLAGS ()] No permanent flags permitted");
	else
		imap_untagged(s, "OK [PERMANENTFLAGS (" IMAP_SYSTEM_FLAGS "%s%s \\*)] Flags "
			      "permitted", *kw != '\0' ? " " : "", kw);
	imap_untagged(s, "OK [UIDVALIDITY %u] UIDs valid", store_view_uidvalidity(sel->view));
	imap_untagged(s, "OK [UIDNEXT %u] Predicted next UID", store_view_uidnext(sel->view));
	if (s->condstore) /* RFC 7162 3.1.2.1 */
		imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)
			      imap_condstore_highest(store_view_modseq(sel->view)));
	if (job->mailboxid[0] != '\0') /* RFC 8474 4.3 */
		imap_untagged(s, "OK [MAILBOXID (%s)] Ok", job->mailboxid);
	if (job->rev2) {
		/* rev2: RFC 9051 6.3.2 requires a LIST response for the
		 * mailbox, with accurate attributes */
		str_t line = STR_INIT;
		str_printf(&line, "LIST (%s) \"/\" ", job->list_attrs);
		imap_append_mailbox(s, &line, sel->name);
		imap_untagged(s, "%s", str_c(&line));
		str_free(&line);
	}
	s->state = IMAP_STATE_SELECTED;
	const char *qresync = job->qresync_text;
	if (qresync != NULL && *qresync != '\0') {
		/* RFC 7162 3.2.5.1: VANISHED (EARLIER) and the changed
		 * messages, written as the client reads */
		str_t *out = imap_output_begin(s);
		str_appendz(out, qresync);
		imap_select_job_free(job);
		imap_output_end(cmd, imap_select_final);
		return;
	}
	imap_select_job_free(job);
	imap_select_final(cmd);
}

static void imap_select_start(struct imap_cmd *cmd, bool readonly)
{
	struct imap_session *s = cmd->s;
	const char *name, *error;
	str_t buf = STR_INIT;
	struct imap_qresync_params params = { 0 };
	if (cmd->count < 1 || imap_arg_next(cmd->args, 0) != 1 ||
	    (cmd->count > 1 && imap_qresync_params_parse(cmd->args, 1, cmd->count,
							 IMAP_MSGSET_MAX_RANGES, &params,
							 &error) < 0)) {
		str_free(&buf);
		imap_cmd_bad(cmd, "%s needs one mailbox name and CONDSTORE or QRESYNC "
			     "parameters", cmd->def->name);
		return;
	}
	if (params.qresync && !s->qresync) {
		/* RFC 7162 3.2.5: QRESYNC only after ENABLE QRESYNC */
		imap_qresync_params_free(&params);
		str_free(&buf);
		imap_cmd_bad(cmd, "QRESYNC is not enabled");
		return;
	}
	if (imap_mailbox_name_get(&cmd->args[0], s->utf8_accept, &buf, &name, &error) < 0) {
		imap_qresync_params_free(&params);
		str_free(&buf);
		imap_cmd_no(cmd, "CANNOT", "%s", error);
		return;
	}
	struct imap_select_job *job = xcalloc(1, sizeof(*job));
	job->cmd = cmd;
	job->address = s->user;
	job->params = params;
	if (params.condstore) /* RFC 7162 3.1.8 */
		(void)imap_condstore_enable(s);
	/* RFC 9051 6.3.2: a SELECT first deselects, even if it then fails */
	job->old = s->sel;
	s->sel = NULL;
	s->state = IMAP_STATE_AUTH;
	job->pool = pool_create(1024);
	struct imap_selected *sel = xcalloc(1, sizeof(*sel));
	sel->name = xstrdup(name);
	sel->readonly = readonly;
	str_free(&buf);
	job->sel = sel;
	/* RFC 3501 2.3.2: SELECT claims \Recent; EXAMINE leaves it */
	job->claim_recent = !readonly && !s->rev2;
	job->rev2 = s->rev2;
	/* RFC 9051 6.3.2, RFC 7162 3.2.11 (QRESYNC) */
	if (job->old != NULL && (s->rev2 || s->qresync))
		imap_untagged(s, "OK [CLOSED] Previous mailbox closed");
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_select_work, imap_select_done, job);
}

void imap_cmd_select(struct imap_cmd *cmd)
{
	imap_select_start(cmd, false);
}

void imap_cmd_examine(struct imap_cmd *cmd)
{
	imap_select_start(cmd, true);
}
