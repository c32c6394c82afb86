/* smtp_deliver.c: turns a complete spooled message into local deliveries
 * and an outbound queue entry, then replies.
 *
 * Durability (ARCHITECTURE.md): 250 is sent only after every local copy
 * and the queue entry are committed (fsync'd file, fsync'd directory,
 * committed index). All copies are written first and committed only when
 * every write succeeded, so a write failure (disk full) loses nothing and
 * leaves nothing behind: the client gets 452/451 and retries.
 *
 * Before writing, the delivery thread scans the header section
 * (smtp_message.h): local copies leave out the Return-Path fields the
 * client wrote, copies whose Delivered-To is already in the header are
 * dropped as mail loops, and an empty line follows the added fields when
 * the message's first line is no header field.
 *
 * The writing and fsyncing run on the worker's delivery thread pool, each
 * thread with its own store and queue handles, while the session waits
 * with its input paused. Concurrent deliveries thus fsync in parallel and
 * the filesystem merges their journal commits: group commit without
 * weakening any single message's guarantee. */
#include "smtp_private.h"
#include "smtp_message.h"
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
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* bytes of a spool file read at a time while scanning its header */
#define SMTP_SCAN_CHUNK (64 * 1024)

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
	str_printf(out, ";\r\n\t%s\r\n", smtp_message_date(time(NULL)));
}

/* *msgid_r: the Message-ID added, in tx's pool, or the client's */
static void smtp_submission_headers(struct smtp_session *s, str_t *out,
				    const char **msgid_r)
{
	const struct smtp_data_decoder *dec = &s->tx->dec;
	*msgid_r = dec->message_id;
	if (s->base.service == SERVICE_SMTP)
		return;
	/* RFC 6409 8.2, 8.3: a submission server may add missing ones */
	if (!smtp_data_seen_date(dec))
		str_printf(out, "Date: %s\r\n", smtp_message_date(time(NULL)));
	if (!smtp_data_seen_message_id(dec)) {
		/* unique per message, not per session and second */
		str_appendz(out, "Message-ID: ");
		size_t start = out->len;
		smtp_message_id(out, time(NULL), s->base.sid, s->messages + 1,
				s->base.env->config->hostname);
		*msgid_r = pool_strndup(s->tx->pool, out->data + start, out->len - start);
		str_appendz(out, "\r\n");
	}
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
	const char *message_id;  /* for the log; "" when there is none */
	str_t common;            /* trace and submission headers */
	const char **local;      /* distinct local mailboxes */
	unsigned nlocal;
	bool *looping;           /* per local[]: its Delivered-To is in the header */
	struct queue_envelope env; /* env.recipient_count == 0: none remote */
	/* output: written by the thread, read on the loop after done */
	bool failed, storage_full, loop;
	unsigned looped;         /* local copies dropped as mail loops */
	char *error;
	char queue_id[QUEUE_ID_MAX];
};

/* per delivery thread, opened on first use and kept */
static _Thread_local struct store *tl_store;
static _Thread_local struct queue *tl_queue;

typedef int smtp_write_t(void *, const void *, size_t, const char **);
typedef int smtp_write_fd_t(void *, int, uint64_t, uint64_t, const char **);

static int smtp_job_write_span(struct smtp_delivery_job *job, uint64_t off, uint64_t len,
			       smtp_write_t *write, smtp_write_fd_t *write_fd,
			       void *handle, const char **error_r)
{
	if (len == 0)
		return 0;
	if (job->spool_fd < 0)
		return write(handle, job->spool_mem + off, len, error_r);
	return write_fd(handle, job->spool_fd, off, len, error_r);
}

/* The prefix, then the message without the skip ranges (ascending,
 * within the message). */
static int smtp_job_write(struct smtp_delivery_job *job, const str_t *prefix,
			  const struct smtp_message_range *skip, unsigned nskip,
			  smtp_write_t *write, smtp_write_fd_t *write_fd,
			  void *handle, const char **error_r)
{
	uint64_t pos = 0;
	if (write(handle, prefix->data, prefix->len, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < nskip; i++) {
		if (smtp_job_write_span(job, pos, skip[i].start - pos, write, write_fd,
					handle, error_r) < 0)
			return -1;
		pos = skip[i].end;
	}
	return smtp_job_write_span(job, pos, job->spool_size - pos, write, write_fd,
				   handle, error_r);
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
	job->failed = true;
	job->storage_full = smtp_message_error_is_storage_full(error);
	job->error = xstrdup(error != NULL ? error : "unknown error");
}

static int smtp_local_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* A Delivered-To value of the header: mark the local copy it names. */
static void smtp_job_delivered_to(void *context, const char *value, size_t len)
{
	struct smtp_delivery_job *job = context;
	char key[SMTP_MESSAGE_VALUE_MAX + 1];
	const char *keyp = key;
	memcpy(key, value, len);
	key[len] = '\0';
	const char **hit = bsearch(&keyp, job->local, job->nlocal, sizeof(*job->local),
				   smtp_local_cmp);
	if (hit != NULL)
		job->looping[hit - job->local] = true;
}

/* Read the header section (the spool file a chunk at a time). */
static int smtp_job_scan(struct smtp_delivery_job *job, struct smtp_message_scan *scan,
			 const char **error_r)
{
	/* sorted, so each Delivered-To costs a binary search however many
	 * recipients and fields there are */
	qsort(job->local, job->nlocal, sizeof(*job->local), smtp_local_cmp);
	job->looping = xcalloc(job->nlocal + 1, sizeof(*job->looping));
	smtp_message_scan_init(scan, smtp_job_delivered_to, job);
	if (job->spool_fd < 0) {
		(void)smtp_message_scan_feed(scan, job->spool_mem, job->spool_size);
		smtp_message_scan_finish(scan);
		return 0;
	}
	char *buf = xmalloc(SMTP_SCAN_CHUNK);
	uint64_t off = 0;
	int ret = 0;
	while (off < job->spool_size) {
		uint64_t want = job->spool_size - off;
		ssize_t n = pread(job->spool_fd, buf, want < SMTP_SCAN_CHUNK ? want :
				  SMTP_SCAN_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ? "spool file shorter than the message" :
				t_printf("reading spool file failed: %s", strerror(errno));
			ret = -1;
			break;
		}
		off += (uint64_t)n;
		if (smtp_message_scan_feed(scan, buf, (size_t)n))
			break;
	}
	free(buf);
	if (ret == 0 && off >= job->spool_size)
		smtp_message_scan_finish(scan);
	return ret;
}

/* RFC 5321 4.4 and Postfix's local(8): a Delivered-To naming the
 * recipient means this message reached that mailbox before and came back
 * (forwarding aliases in a loop). With one reply for all recipients after
 * DATA and no bounce path yet, the looping copies are dropped (logged)
 * and the others delivered: nothing is lost, as each dropped copy's
 * mailbox already holds the message, and the non-looping recipients are
 * not refused because of another's loop. When no copy is left to deliver
 * at all, the message is refused with 554 5.4.6, as Postfix does. */
static void smtp_job_drop_loops(struct smtp_delivery_job *job)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < job->nlocal; i++) {
		if (!job->looping[i]) {
			job->local[kept++] = job->local[i];
			continue;
		}
		job->looped++;
		log_info("sid=%s event=mail_loop rcpt=%s action=%s", job->s->base.sid,
			 log_str(job->local[i]),
			 job->looped == job->nlocal && job->env.recipient_count == 0 ?
			 "refused" : "dropped");
	}
	job->nlocal = kept;
	if (kept == 0 && job->looped > 0 && job->env.recipient_count == 0)
		job->loop = true;
}

/* Runs on a delivery thread. */
static void smtp_job_work(void *ctx)
{
	struct smtp_delivery_job *job = ctx;
	const char *error = NULL;
	struct smtp_message_scan scan;
	if (smtp_job_scan(job, &scan, &error) < 0) {
		smtp_message_scan_deinit(&scan);
		smtp_job_fail(job, error);
		return;
	}
	smtp_job_drop_loops(job);
	/* RFC 5322 2.1: the empty line after the added fields when the
	 * message's own first line is no header field */
	if (smtp_message_needs_separator(&scan))
		str_appendz(&job->common, "\r\n");
	if (job->loop ||
	    (tl_store == NULL && store_open(job->data_dir, &tl_store, &error) < 0) ||
	    (job->env.recipient_count > 0 && tl_queue == NULL &&
	     queue_open(job->data_dir, &tl_queue, &error) < 0)) {
		if (!job->loop)
			smtp_job_fail(job, error);
		smtp_message_scan_deinit(&scan);
		return;
	}
	struct store_delivery **copies = xcalloc(job->nlocal + 1, sizeof(*copies));
	struct queue_writer *qw = NULL;
	str_t prefix = STR_INIT;
	bool failed = false;

	/* phase 1: write every copy */
	for (unsigned i = 0; i < job->nlocal && !failed; i++) {
		str_clear(&prefix);
		/* RFC 5321 4.4: Return-Path at final delivery, in place of any
		 * the client wrote (removed from the header section below) */
		str_printf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
			   job->sender, job->local[i]);
		str_append(&prefix, job->common.data, job->common.len);
		copies[i] = store_delivery_begin(tl_store, job->local[i], "INBOX", &error);
		if (copies[i] == NULL ||
		    smtp_job_write(job, &prefix, scan.return_paths, scan.return_path_count,
				   store_write_cb, store_write_fd_cb, copies[i], &error) < 0)
			failed = true;
	}
	if (!failed && job->env.recipient_count > 0) {
		/* RFC 5321 4.4: a relay does not touch Return-Path fields */
		qw = queue_writer_begin(tl_queue, &job->env, &error);
		if (qw == NULL || smtp_job_write(job, &job->common, NULL, 0, queue_write_cb,
						 queue_write_fd_cb, qw, &error) < 0)
			failed = true;
	}
	smtp_message_scan_deinit(&scan);
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
	free(job->looping);
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
	if (job->loop) {
		/* RFC 3463 5.4.6: routing loop detected */
		smtp_reply(s, 554, "5.4.6", "Mail loop: Delivered-To already names the recipient");
	} else if (job->failed) {
		log_error("sid=%s event=delivery_failed error=%s", s->base.sid, log_str(job->error));
		if (job->storage_full)
			smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		else
			smtp_reply(s, 451, "4.3.0", "Local error in processing");
	} else {
		s->messages++;
		bool queued = job->queue_id[0] != '\0';
		log_info("sid=%s event=message ip=%s from=%s rcpts=%u local=%u remote=%u "
			 "looped=%u size=%llu tls=%s user=%s message_id=%s queue_id=%s "
			 "result=accepted",
			 s->base.sid, s->base.peer_ip, log_str(tx->mail.from.canonical), tx->rcpt_count,
			 job->nlocal, job->env.recipient_count, job->looped,
			 (unsigned long long)tx->spool_size,
			 smtp_session_tls(s) ? conn_tls_version(s->base.conn) : "no",
			 s->auth_user != NULL ? log_str(s->auth_user) : "-",
			 job->message_id[0] != '\0' ? log_str(job->message_id) : "-",
			 queued ? job->queue_id : "-");
		if (queued) {
			/* issue 11 item 8: say why it is still here */
			for (unsigned i = 0; i < job->env.recipient_count; i++)
				log_info("sid=%s event=queued queue_id=%s rcpt=%s "
					 "reason=\"outbound delivery not implemented yet\"",
					 s->base.sid, job->queue_id,
					 log_value(job->env.recipients[i].address.data,
						   job->env.recipients[i].address.len));
			/* the id as the log and "postel queue list" show it */
			smtp_reply(s, 250, "2.0.0", "OK: queued as %s", job->queue_id);
		} else {
			smtp_reply(s, 250, "2.0.0", "OK: delivered as %s.%u", s->base.sid,
				   s->messages);
		}
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
	smtp_submission_headers(s, &job->common, &job->message_id);

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
