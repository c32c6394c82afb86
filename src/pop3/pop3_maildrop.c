/* pop3_maildrop.c: the maildrop of one POP3 login: the user's INBOX in
 * the store SMTP delivers to.
 *
 * Opening (after a login), the UPDATE state's expunge (after QUIT) and
 * closing the store handle (which may checkpoint an index's WAL) run on
 * the worker's delivery thread pool, since they wait for locks and
 * fsync; each session has its own store handle, used by one thread at a
 * time. RFC 1939 section 8: the maildrop is locked for the session's
 * life, across worker processes (store_mailbox_lock); a second session
 * gets -ERR [IN-USE] (RFC 2449 section 8.1.1). The message list is a
 * snapshot: mail delivered later shows up in the next session. */
#include "pop3_private.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "store/store_view.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define POP3_MAILBOX "INBOX"

struct pop3_maildrop_job {
	struct pop3_session *s;
	const char *address;   /* from the session pool: it outlives the job */
	const char *data_dir;
	struct pop3_maildrop *md;
	uint32_t *uids;        /* UPDATE: the messages to expunge */
	unsigned uid_count, expunged;
	int result;            /* 1 ok, 0 in use, -1 error */
	bool utf8;             /* RFC 6856 UTF8 issued (before login) */
	char error[256];
};

void pop3_maildrop_free(struct pop3_maildrop **mdp)
{
	struct pop3_maildrop *md = *mdp;
	if (md == NULL)
		return;
	if (md->lock_fd >= 0)
		close(md->lock_fd);
	store_view_close(&md->view);
	store_close(&md->store);
	pool_destroy(&md->pool);
	free(md);
	*mdp = NULL;
}

struct pop3_maildrop_close_job {
	struct pop3_session *s;
	struct pop3_maildrop *md;
	void (*done)(struct pop3_session *s);
};

static void pop3_maildrop_close_work(void *ctx)
{
	struct pop3_maildrop_close_job *job = ctx;
	pop3_maildrop_free(&job->md);
}

static void pop3_maildrop_close_done(void *ctx)
{
	struct pop3_maildrop_close_job *job = ctx;
	struct pop3_session *s = job->s;
	void (*done)(struct pop3_session *s) = job->done;
	free(job);
	session_job_end(&s->base);
	done(s);
}

void pop3_maildrop_close(struct pop3_session *s, void (*done)(struct pop3_session *s))
{
	struct pop3_maildrop_close_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->md = s->maildrop;
	job->done = done;
	s->maildrop = NULL;
	/* RFC 1939 section 8: the lock goes with the session, at once, so
	 * the next login of the user does not wait for the close */
	if (job->md->lock_fd >= 0) {
		close(job->md->lock_fd);
		job->md->lock_fd = -1;
	}
	session_job_begin(&s->base);
	threadpool_submit(s->base.env->delivery_pool, pop3_maildrop_close_work,
			  pop3_maildrop_close_done, job);
}

static void job_error(struct pop3_maildrop_job *job, const char *error)
{
	snprintf(job->error, sizeof(job->error), "%s", error != NULL ? error : "?");
	job->result = -1;
}

/* Thread pool: lock, then list. */
static void pop3_maildrop_open_list(struct pop3_maildrop_job *job)
{
	struct pop3_maildrop *md = job->md;
	const char *error;
	if (store_open(job->data_dir, &md->store, &error) < 0) {
		job_error(job, error);
		return;
	}
	int r = store_mailbox_lock(md->store, job->address, POP3_MAILBOX,
				   &md->lock_fd, &error);
	if (r < 0) {
		/* an account made before its store: create the folders */
		if (store_user_create(md->store, job->address, &error) < 0) {
			job_error(job, error);
			return;
		}
		r = store_mailbox_lock(md->store, job->address, POP3_MAILBOX,
				       &md->lock_fd, &error);
	}
	if (r <= 0) {
		if (r < 0)
			job_error(job, error);
		job->result = r;
		return;
	}
	struct store_message_info *infos;
	unsigned count;
	if (store_view_open(md->store, job->address, POP3_MAILBOX, &md->view,
			    &error) < 0 ||
	    store_view_list(md->view, md->pool, &infos, &count, &error) < 0) {
		job_error(job, error);
		return;
	}
	md->uidvalidity = store_view_uidvalidity(md->view);
	md->msgs = pool_alloc(md->pool, (count + 1) * sizeof(*md->msgs));
	for (unsigned i = 0; i < count; i++) {
		/* an index row whose file is gone (a crash mid-expunge) is
		 * not a message */
		if (infos[i].lost)
			continue;
		struct pop3_msg *m = &md->msgs[md->count++];
		m->uid = infos[i].uid;
		m->stored_size = infos[i].size;
		/* RFC 1939 5 LIST: the exact size, so the one RETR sends: the
		 * RFC 6858 message's for a client without UTF8 (RFC 6856 2).
		 * Read from the row once known (schema 10 dgsize); computed
		 * once and kept otherwise, also for a row that does not know
		 * whether it is 8-bit (hdr8bit NULL: != 0, as SEARCH asks),
		 * so LIST never changes after a RETR. */
		if (!job->utf8 && infos[i].hdr_8bit != 0) {
			m->dg_sized = store_view_message_downgraded_size(
				md->view, infos[i].uid, &infos[i], &error) == 0;
			if (!m->dg_sized) {
				log_warn("event=downgraded_size_failed uid=%u error=%s",
					 infos[i].uid, log_str(error));
				infos[i].size = m->stored_size;
			}
		}
		m->size = infos[i].size;
		m->hdr_8bit = infos[i].hdr_8bit;
		md->total_octets += m->size;
	}
	job->result = 1;
}

static void pop3_maildrop_open_work(void *ctx)
{
	struct pop3_maildrop_job *job = ctx;
	pop3_maildrop_open_list(job);
	/* not opened: the handle is closed here, off the loop */
	if (job->result <= 0)
		pop3_maildrop_free(&job->md);
}

static void pop3_maildrop_open_done(void *ctx)
{
	struct pop3_maildrop_job *job = ctx;
	struct pop3_session *s = job->s;
	session_job_end(&s->base);
	if (job->result > 0 && s->base.destroy_when_done) {
		/* the client went meanwhile: closed with the session */
		s->maildrop = job->md;
	} else if (job->result > 0) {
		s->maildrop = job->md;
		s->state = POP3_STATE_TRANSACTION;
		log_info("sid=%s event=maildrop_open user=%s messages=%u octets=%llu",
			 s->base.sid, log_str(s->auth_user), s->maildrop->count,
			 (unsigned long long)s->maildrop->total_octets);
		pop3_ok(s, "Logged in, %u messages (%llu octets)", s->maildrop->count,
			(unsigned long long)s->maildrop->total_octets);
	} else {
		if (job->result == 0) {
			log_info("sid=%s event=maildrop_in_use user=%s", s->base.sid,
				 log_str(s->auth_user));
			pop3_err(s, "[IN-USE] Maildrop is locked by another session");
		} else if (job->result < 0) {
			log_error("sid=%s event=maildrop_open_failed user=%s error=%s",
				  s->base.sid, log_str(s->auth_user), log_str(job->error));
			pop3_err(s, "[SYS/TEMP] Unable to open the maildrop");
		}
		/* RFC 1939 section 7: back to AUTHORIZATION */
		s->auth_user = NULL;
	}
	free(job);
	pop3_session_resume(s);
}

void pop3_maildrop_open(struct pop3_session *s)
{
	struct pop3_maildrop_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->address = s->auth_user;
	job->utf8 = s->utf8;
	job->data_dir = s->base.env->config->data_dir;
	job->md = xcalloc(1, sizeof(*job->md));
	job->md->pool = pool_create(4096);
	job->md->lock_fd = -1;
	session_job_begin(&s->base);
	pop3_session_wait(s);
	threadpool_submit(s->base.env->delivery_pool, pop3_maildrop_open_work,
			  pop3_maildrop_open_done, job);
}

static void pop3_maildrop_update_work(void *ctx)
{
	struct pop3_maildrop_job *job = ctx;
	const char *error;
	job->result = store_mailbox_expunge(job->md->store, job->address, POP3_MAILBOX,
					    job->uids, job->uid_count, &job->expunged,
					    &error) < 0 ? -1 : 1;
	if (job->result < 0)
		job_error(job, error);
}

static void pop3_maildrop_update_done(void *ctx)
{
	struct pop3_maildrop_job *job = ctx;
	struct pop3_session *s = job->s;
	session_job_end(&s->base);
	s->expunged = job->expunged;
	log_info("sid=%s event=update user=%s deleted=%u result=%s%s%s", s->base.sid,
		 log_str(s->auth_user), job->expunged, job->result > 0 ? "ok" : "fail",
		 job->result > 0 ? "" : " error=", job->result > 0 ? "" : log_str(job->error));
	/* RFC 1939 section 6: +OK only once the deletions are durable */
	if (job->result > 0)
		pop3_ok(s, "Postel POP3 server signing off (%u messages deleted)",
			job->expunged);
	else
		pop3_err(s, "[SYS/TEMP] Some deleted messages not removed");
	free(job->uids);
	free(job);
	pop3_session_close(s);
	pop3_session_resume(s);
}

void pop3_maildrop_update(struct pop3_session *s)
{
	struct pop3_maildrop *md = s->maildrop;
	s->state = POP3_STATE_UPDATE;
	if (md->deleted == 0) {
		pop3_ok(s, "Postel POP3 server signing off");
		pop3_session_close(s);
		return;
	}
	struct pop3_maildrop_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->address = s->auth_user;
	job->md = md;
	job->uids = xcalloc(md->deleted, sizeof(*job->uids));
	for (unsigned i = 0; i < md->count; i++) {
		if (md->msgs[i].deleted)
			job->uids[job->uid_count++] = md->msgs[i].uid;
	}
	session_job_begin(&s->base);
	pop3_session_wait(s);
	threadpool_submit(s->base.env->delivery_pool, pop3_maildrop_update_work,
			  pop3_maildrop_update_done, job);
}

struct pop3_msg *pop3_maildrop_msg(struct pop3_session *s, const char *arg,
				   size_t len, unsigned *num_r)
{
	struct pop3_maildrop *md = s->maildrop;
	const char *error;
	if (pop3_parse_msgnum(arg, len, md->count, num_r, &error) < 0) {
		pop3_err_bad(s, "%s", error);
		return NULL;
	}
	struct pop3_msg *m = &md->msgs[*num_r - 1];
	if (m->deleted) {
		/* RFC 1939 section 5: deleted messages may not be referenced */
		pop3_err(s, "Message %u already deleted", *num_r);
		return NULL;
	}
	return m;
}
