/* imap_store.c: store work of an IMAP session, off the event loop.
 *
 * Issue 9 item 3: a session's store work runs on its user's lane
 * (session/session_user.h): one store handle per user per worker, shared
 * by all of that user's sessions, opened once on the lane and kept a
 * while after the last session (a phone that reconnects does not pay the
 * open again); a user's jobs run one at a time in order, different
 * users' in parallel, never on the loop. A session runs one command at a
 * time and a command at most one job at a time. The selected mailbox's
 * view belongs to the user's handle: it is closed on the lane too. */
#include "imap_store.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "session/session_user.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdlib.h>

struct imap_store_job {
	struct imap_session *s;
	imap_store_work_t *work;
	imap_store_done_t *done;
	void *ctx;
	struct timeout *retry;
	bool retried;
};

static void imap_store_job_work(void *ctx, struct store *store)
{
	struct imap_store_job *job = ctx;
	/* the handle may have been closed and opened again while the
	 * session rested (session_user.h quiet close) */
	if (store != NULL && job->s->sel != NULL && job->s->sel->view != NULL)
		store_view_rebind(job->s->sel->view, store);
	job->work(job->ctx, store);
}

static void imap_store_job_done(void *ctx)
{
	struct imap_store_job *job = ctx;
	struct imap_session *s = job->s;
	imap_store_done_t *done = job->done;
	void *done_ctx = job->ctx;
	free(job);
	s->store_busy = false;
	done(done_ctx);
}

/* A full lane (SESSION_USER_QUEUE_MAX jobs of all the user's sessions)
 * is a moment's congestion: the job is offered again shortly, holding
 * the session meanwhile; nothing runs on the loop. */
#define IMAP_LANE_RETRY_MS 20

static void imap_store_submit(struct imap_store_job *job);

static void imap_store_retry(void *ctx)
{
	struct imap_store_job *job = ctx;
	timeout_remove(&job->retry);
	session_job_end(&job->s->base);
	imap_store_submit(job);
}

static void imap_store_submit(struct imap_store_job *job)
{
	struct imap_session *s = job->s;
	if (session_user_run(s->suser, &s->base, imap_store_job_work, imap_store_job_done,
			     job) == 0)
		return;
	if (!job->retried)
		log_warn("sid=%s event=user_lane_full user=%s", s->base.sid, log_str(s->user));
	job->retried = true;
	session_job_begin(&s->base);
	job->retry = timeout_add(s->base.env->loop, IMAP_LANE_RETRY_MS, imap_store_retry, job);
}

void imap_store_run(struct imap_session *s, imap_store_work_t *work,
		    imap_store_done_t *done, void *ctx)
{
	if (s->store_busy)
		panic("sid=%s event=imap_store_job_overlap", s->base.sid);
	if (s->suser == NULL)
		s->suser = session_user_get(s->base.env, s->user);
	if (s->suser == NULL)
		panic("sid=%s event=imap_store_without_user", s->base.sid);
	/* a command other than IDLE may keep store state across its jobs
	 * (a FETCH's message reader, an APPEND's delivery): the handle
	 * stays open until the command ends (imap_store_release()) */
	if (s->cmd.tag != NULL && s->idle == NULL && !s->lane_held) {
		session_user_hold(s->suser);
		s->lane_held = true;
	}
	struct imap_store_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	s->store_busy = true;
	imap_store_submit(job);
}

struct imap_store_close_job {
	struct imap_session *s;
	struct imap_selected *sel;
	struct store_delivery *delivery; /* an APPEND cut off */
	struct store_delivery **multi;   /* ... and a MULTIAPPEND's others */
	unsigned multi_count;
	void (*done)(struct imap_session *s);
};

static void imap_store_close_work(void *ctx, struct store *store)
{
	struct imap_store_close_job *job = ctx;
	(void)store;
	if (job->delivery != NULL)
		store_delivery_abort(&job->delivery);
	for (unsigned i = 0; i < job->multi_count; i++)
		store_delivery_abort(&job->multi[i]);
	free(job->multi);
	imap_selected_free(&job->sel);
}

void imap_store_release(struct imap_session *s)
{
	if (!s->lane_held)
		return;
	s->lane_held = false;
	session_user_release(s->suser);
}

static void imap_store_close_done(void *ctx)
{
	struct imap_store_close_job *job = ctx;
	struct imap_session *s = job->s;
	void (*done)(struct imap_session *s) = job->done;
	free(job);
	imap_store_release(s);
	session_user_put(&s->suser);
	done(s);
}

void imap_store_close(struct imap_session *s, void (*done)(struct imap_session *s))
{
	if ((s->sel == NULL && s->delivery == NULL && s->multi == NULL) || s->suser == NULL) {
		imap_store_release(s);
		session_user_put(&s->suser);
		done(s);
		return;
	}
	struct imap_store_close_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->sel = s->sel;
	job->delivery = s->delivery;
	job->multi = s->multi;
	job->multi_count = s->multi_count;
	job->done = done;
	s->delivery = NULL;
	s->multi = NULL;
	s->multi_count = 0;
	s->sel = NULL;
	imap_store_run(s, imap_store_close_work, imap_store_close_done, job);
}
