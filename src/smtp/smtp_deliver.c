/* smtp_deliver.c: turns a complete spooled message into local deliveries
 * and an outbound queue entry, then replies.
 *
 * Durability (ARCHITECTURE.md): 250 is sent only after every local copy
 * and the queue entry are committed (fsync'd file, fsync'd directory,
 * committed index). All copies are written first and committed only when
 * every write succeeded, so a write failure (disk full) loses nothing and
 * leaves nothing behind: the client gets 452/451 and retries.
 *
 * The writing and fsyncing run on the worker's delivery thread pool, each
 * thread with its own store and queue handles, while the session waits
 * with its input paused. Concurrent deliveries thus fsync in parallel and
 * the filesystem merges their journal commits: group commit without
 * weakening any single message's guarantee. */
#include "smtp_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "auth/userdb.h"
#include "store/store.h"
#include "store/store_committer.h"
#include "queue/queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *smtp_rfc5322_date(time_t t)
{
	struct tm tm;
	char buf[64];
	localtime_r(&t, &tm);
	/* RFC 5322 3.3, in the C locale */
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	long off = tm.tm_gmtoff / 60;
	char sign = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	snprintf(buf, sizeof(buf), "%s, %d %s %04d %02d:%02d:%02d %c%02ld%02ld",
		 days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
		 tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	return t_printf("%s", buf);
}

/* RFC 3848 and RFC 6531 3.7.3 protocol names for the "with" clause */
static const char *smtp_with_protocol(const struct smtp_session *s)
{
	bool utf8 = s->tx->mail.params.smtputf8;
	bool tls = smtp_session_tls(s), auth = s->auth_user != NULL;
	if (!s->esmtp)
		return "SMTP";
	return t_printf("%s%s%s", utf8 ? "UTF8SMTP" : "ESMTP", tls ? "S" : "",
			auth ? "A" : "");
}

/* RFC 5321 4.4 trace header, folded at 78 columns by construction. */
static void smtp_received_header(struct smtp_session *s, str_t *out)
{
	const struct config *config = s->base.env->config;
	bool v6 = strchr(s->base.peer_ip, ':') != NULL;
	str_printf(out, "Received: from %s ([%s%s])\r\n", s->helo,
		   v6 ? "IPv6:" : "", s->base.peer_ip);
	str_printf(out, "\tby %s (Postel) with %s id %s", config->hostname,
		   smtp_with_protocol(s), s->base.sid);
	if (smtp_session_tls(s))
		str_printf(out, "\r\n\t(version=%s cipher=%s)", conn_tls_version(s->base.conn),
			   conn_tls_cipher(s->base.conn));
	if (s->tx->rcpt_count == 1)
		str_printf(out, "\r\n\tfor <%s>", s->tx->rcpts[0].rcpt.to.canonical);
	str_printf(out, ";\r\n\t%s\r\n", smtp_rfc5322_date(time(NULL)));
}

static void smtp_submission_headers(struct smtp_session *s, str_t *out)
{
	const struct smtp_data_decoder *dec = &s->tx->dec;
	if (s->base.service == SERVICE_SMTP)
		return;
	/* RFC 6409 8.2, 8.3: a submission server may add missing ones */
	if (!smtp_data_seen_date(dec))
		str_printf(out, "Date: %s\r\n", smtp_rfc5322_date(time(NULL)));
	if (!smtp_data_seen_message_id(dec))
		str_printf(out, "Message-ID: <%lld.%s@%s>\r\n", (long long)time(NULL),
			   s->base.sid, s->base.env->config->hostname);
}

static unsigned smtp_queue_notify(unsigned notify)
{
	return ((notify & SMTP_NOTIFY_NEVER) ? QUEUE_NOTIFY_NEVER : 0) |
		((notify & SMTP_NOTIFY_SUCCESS) ? QUEUE_NOTIFY_SUCCESS : 0) |
		((notify & SMTP_NOTIFY_FAILURE) ? QUEUE_NOTIFY_FAILURE : 0) |
		((notify & SMTP_NOTIFY_DELAY) ? QUEUE_NOTIFY_DELAY : 0);
}

struct smtp_delivery_job {
	struct smtp_session *s;
	/* input: prepared on the loop thread, read-only for the thread */
	const char *data_dir;
	struct store_committer *committer;
	int spool_fd;            /* -1: the message is spool_mem */
	uint64_t spool_size;
	const char *spool_mem;
	const char *sender;
	str_t common;            /* trace and submission headers */
	const char **local;      /* distinct local mailboxes */
	unsigned nlocal;
	struct queue_envelope env; /* env.recipient_count == 0: none remote */
	/* output: written by the thread, read on the loop after done */
	bool failed, storage_full;
	char *error;
	char queue_id[QUEUE_ID_MAX];
};

/* per delivery thread, opened on first use and kept */
static _Thread_local struct store *tl_store;
static _Thread_local struct queue *tl_queue;

static int smtp_job_write(struct smtp_delivery_job *job, const str_t *prefix,
			  int (*write)(void *, const void *, size_t, const char **),
			  int (*write_fd)(void *, int, uint64_t, uint64_t, const char **),
			  void *handle, const char **error_r)
{
	if (write(handle, prefix->data, prefix->len, error_r) < 0)
		return -1;
	if (job->spool_fd < 0)
		return write(handle, job->spool_mem, job->spool_size, error_r);
	return write_fd(handle, job->spool_fd, 0, job->spool_size, error_r);
}

static int store_write_cb(void *h, const void *data, size_t len, const char **error_r)
{
	return store_delivery_write(h, data, len, error_r);
}

static int store_write_fd_cb(void *h, int fd, uint64_t off, uint64_t len, const char **error_r)
{
	return store_delivery_write_fd(h, fd, off, len, error_r);
}

static int queue_write_cb(void *h, const void *data, size_t len, const char **error_r)
{
	return queue_writer_write(h, data, len, error_r);
}

static int queue_write_fd_cb(void *h, int fd, uint64_t off, uint64_t len, const char **error_r)
{
	return queue_writer_write_fd(h, fd, off, len, error_r);
}

static void smtp_job_fail(struct smtp_delivery_job *job, const char *error)
{
	int err = errno;
	job->failed = true;
	job->storage_full = err == ENOSPC || err == EDQUOT ||
		(error != NULL && (strstr(error, "space") || strstr(error, "quota")));
	job->error = xstrdup(error != NULL ? error : "unknown error");
}

/* Runs on a delivery thread. */
static void smtp_job_work(void *ctx)
{
	struct smtp_delivery_job *job = ctx;
	const char *error = NULL;
	if ((tl_store == NULL && store_open(job->data_dir, &tl_store, &error) < 0) ||
	    (job->env.recipient_count > 0 && tl_queue == NULL &&
	     queue_open(job->data_dir, &tl_queue, &error) < 0)) {
		smtp_job_fail(job, error);
		return;
	}
	struct store_delivery **copies = xcalloc(job->nlocal + 1, sizeof(*copies));
	struct queue_writer *qw = NULL;
	str_t prefix = STR_INIT;
	bool failed = false;

	/* phase 1: write every copy */
	for (unsigned i = 0; i < job->nlocal && !failed; i++) {
		str_clear(&prefix);
		/* RFC 5321 4.4: Return-Path at final delivery */
		str_printf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
			   job->sender, job->local[i]);
		str_append(&prefix, job->common.data, job->common.len);
		copies[i] = store_delivery_begin(tl_store, job->local[i], "INBOX", &error);
		if (copies[i] == NULL ||
		    smtp_job_write(job, &prefix, store_write_cb, store_write_fd_cb,
				   copies[i], &error) < 0)
			failed = true;
	}
	if (!failed && job->env.recipient_count > 0) {
		qw = queue_writer_begin(tl_queue, &job->env, &error);
		if (qw == NULL || smtp_job_write(job, &job->common, queue_write_cb,
						 queue_write_fd_cb, qw, &error) < 0)
			failed = true;
	}
	/* the slow part that cannot be shared: each file's own fsync, done
	 * here so that the delivery threads overlap them */
	for (unsigned i = 0; i < job->nlocal && !failed; i++) {
		if (store_delivery_sync(copies[i], &error) < 0)
			failed = true;
	}
	/* phase 2: commit all, or abort all */
	char *group_error = NULL;
	if (failed) {
		for (unsigned i = 0; i < job->nlocal; i++) {
			if (copies[i] != NULL)
				store_delivery_abort(&copies[i]);
		}
	} else if (job->nlocal > 0 &&
		   store_committer_commit(job->committer, copies, job->nlocal, NULL,
					  &group_error) < 0) {
		failed = true;
		error = t_printf("%s", group_error);
	}
	free(group_error);
	if (qw != NULL) {
		if (failed)
			queue_writer_abort(&qw);
		else if (queue_writer_commit(&qw, job->queue_id, &error) < 0)
			failed = true;
	}
	if (failed)
		smtp_job_fail(job, error);
	free(copies);
	str_free(&prefix);
}

static void smtp_job_free(struct smtp_delivery_job *job)
{
	str_free(&job->common);
	free(job->error);
	free(job);
}

/* Back on the loop thread. */
static void smtp_job_done(void *ctx)
{
	struct smtp_delivery_job *job = ctx;
	struct smtp_session *s = job->s;
	struct smtp_tx *tx = s->tx;
	session_job_end(&s->base);
	s->state = SMTP_STATE_COMMAND;
	if (s->base.destroy_when_done) {
		smtp_job_free(job);
		smtp_session_resume(s);
		return;
	}
	if (job->failed) {
		log_error("sid=%s event=delivery_failed error=%s", s->base.sid, log_str(job->error));
		if (job->storage_full)
			smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		else
			smtp_reply(s, 451, "4.3.0", "Local error in processing");
	} else {
		s->messages++;
		log_info("sid=%s event=message ip=%s from=%s rcpts=%u local=%u remote=%u "
			 "size=%llu tls=%s user=%s queue_id=%s result=accepted",
			 s->base.sid, s->base.peer_ip, log_str(tx->mail.from.canonical), tx->rcpt_count,
			 job->nlocal, job->env.recipient_count,
			 (unsigned long long)tx->spool_size,
			 smtp_session_tls(s) ? conn_tls_version(s->base.conn) : "no",
			 s->auth_user != NULL ? log_str(s->auth_user) : "-",
			 job->queue_id[0] != '\0' ? job->queue_id : "-");
		smtp_reply(s, 250, "2.0.0", "OK: queued as %s.%u",
			   job->queue_id[0] != '\0' ? job->queue_id : s->base.sid, s->messages);
	}
	smtp_job_free(job);
	smtp_tx_reset(s);
	if (s->base.draining && !s->base.closing) {
		smtp_reply(s, 421, "4.3.2", "Service shutting down");
		smtp_session_close(s);
	}
	smtp_session_resume(s);
}

static bool smtp_seen(const char **list, unsigned n, const char *addr)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(list[i], addr) == 0)
			return true;
	}
	return false;
}

static void smtp_job_envelope(struct smtp_session *s, struct smtp_delivery_job *job,
			      unsigned nremote)
{
	struct smtp_tx *tx = s->tx;
	struct queue_envelope *env = &job->env;
	env->sender = queue_str_c(tx->mail.from.canonical);
	env->auth_user = queue_str_c(s->auth_user);
	env->client_ip = queue_str_c(s->base.peer_ip);
	env->received = time(NULL);
	env->smtputf8 = tx->mail.params.smtputf8;
	env->body = tx->mail.params.body == SMTP_BODY_8BITMIME ? QUEUE_BODY_8BITMIME :
		QUEUE_BODY_7BIT;
	env->dsn_ret = tx->mail.params.ret == SMTP_DSN_RET_FULL ? QUEUE_DSN_RET_FULL :
		tx->mail.params.ret == SMTP_DSN_RET_HDRS ? QUEUE_DSN_RET_HDRS :
		QUEUE_DSN_RET_NONE;
	env->envid = queue_str_c(tx->mail.params.envid_xtext);
	env->recipients = pool_alloc(tx->pool, (nremote + 1) * sizeof(*env->recipients));
	for (unsigned i = 0; i < tx->rcpt_count; i++) {
		const struct smtp_rcpt_entry *e = &tx->rcpts[i];
		for (unsigned j = 0; j < e->target_count; j++) {
			if (e->targets[j].local)
				continue;
			struct queue_recipient *r = &env->recipients[env->recipient_count++];
			r->address = queue_str_c(e->targets[j].address);
			r->notify = smtp_queue_notify(e->rcpt.params.notify);
			r->orcpt = queue_str_c(e->rcpt.params.orcpt_raw == NULL ? NULL :
				pool_printf(tx->pool, "%s;%s", e->rcpt.params.orcpt_type,
					    e->rcpt.params.orcpt_raw));
		}
	}
}

void smtp_deliver(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	struct smtp_delivery_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->data_dir = s->base.env->config->data_dir;
	job->committer = s->base.env->committer;
	job->spool_fd = tx->spool_fd;
	job->spool_size = tx->spool_size;
	/* the session sleeps until the job is done: the buffer stays put */
	job->spool_mem = tx->spool_buf.data != NULL ? tx->spool_buf.data : "";
	job->sender = tx->mail.from.canonical;
	smtp_received_header(s, &job->common);
	smtp_submission_headers(s, &job->common);

	/* tx->target_total <= SMTP_MAX_TARGETS bounds both lists */
	job->local = pool_alloc(tx->pool, (tx->target_total + 1) * sizeof(*job->local));
	unsigned nremote = 0;
	for (unsigned i = 0; i < tx->rcpt_count; i++) {
		const struct smtp_rcpt_entry *e = &tx->rcpts[i];
		for (unsigned j = 0; j < e->target_count; j++) {
			const char *addr = e->targets[j].address;
			if (!e->targets[j].local)
				nremote++;
			else if (!smtp_seen(job->local, job->nlocal, addr))
				job->local[job->nlocal++] = addr;
		}
	}
	if (nremote > 0)
		smtp_job_envelope(s, job, nremote);

	s->state = SMTP_STATE_WAIT;
	session_job_begin(&s->base);
	conn_input_pause(s->base.conn);
	threadpool_submit(s->base.env->delivery_pool, smtp_job_work, smtp_job_done, job);
}
