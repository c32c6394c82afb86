/* imap_store.c: store work of an IMAP session, off the event loop.
 *
 * Each session has its own store handle, opened in its first job and
 * used by one job at a time (a session runs one command at a time, and
 * a command at most one job at a time), so store.h's one-thread rule
 * holds. Jobs run on the worker's delivery pool; their done callbacks
 * come back on the loop, where the session's job count keeps it alive
 * until then. Closing the view and the handle (an index close may
 * checkpoint its WAL: writes and fsync) is a job too. */
#include "imap_private.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdlib.h>

struct imap_store_job {
	struct imap_session *s;
	imap_store_work_t *work;
	imap_store_done_t *done;
	void *ctx;
	const char *data_dir;
	char error[256];
};

static void imap_store_job_work(void *ctx)
{
	struct imap_store_job *job = ctx;
	struct imap_session *s = job->s;
	if (s->store == NULL) {
		const char *error;
		if (store_open(job->data_dir, &s->store, &error) < 0) {
			log_error("sid=%s event=store_open_failed error=%s", s->base.sid,
				  log_str(error));
			s->store = NULL;
		}
	}
	job->work(job->ctx, s->store);
}

static void imap_store_job_done(void *ctx)
{
	struct imap_store_job *job = ctx;
	struct imap_session *s = job->s;
	imap_store_done_t *done = job->done;
	void *done_ctx = job->ctx;
	free(job);
	s->store_busy = false;
	session_job_end(&s->base);
	done(done_ctx);
}

void imap_store_run(struct imap_session *s, imap_store_work_t *work,
		    imap_store_done_t *done, void *ctx)
{
	if (s->store_busy)
		panic("sid=%s event=imap_store_job_overlap", s->base.sid);
	struct imap_store_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->work = work;
	job->done = done;
	job->ctx = ctx;
	job->data_dir = s->base.env->config->data_dir;
	s->store_busy = true;
	session_job_begin(&s->base);
	threadpool_submit(s->base.env->delivery_pool, imap_store_job_work,
			  imap_store_job_done, job);
}

struct imap_store_close_job {
	struct imap_session *s;
	struct imap_selected *sel;
	struct store_delivery *delivery; /* an APPEND cut off */
	struct store *store;
	void (*done)(struct imap_session *s);
};

static void imap_store_close_work(void *ctx)
{
	struct imap_store_close_job *job = ctx;
	if (job->delivery != NULL)
		store_delivery_abort(&job->delivery);
	imap_selected_free(&job->sel);
	store_close(&job->store);
}

static void imap_store_close_done(void *ctx)
{
	struct imap_store_close_job *job = ctx;
	struct imap_session *s = job->s;
	void (*done)(struct imap_session *s) = job->done;
	free(job);
	session_job_end(&s->base);
	done(s);
}

void imap_store_close(struct imap_session *s, void (*done)(struct imap_session *s))
{
	struct imap_store_close_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->sel = s->sel;
	job->store = s->store;
	job->delivery = s->delivery;
	job->done = done;
	s->delivery = NULL;
	s->sel = NULL;
	s->store = NULL;
	session_job_begin(&s->base);
	threadpool_submit(s->base.env->delivery_pool, imap_store_close_work,
			  imap_store_close_done, job);
}
