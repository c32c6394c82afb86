/* smtp_deliver.c: turns a complete spooled message into local deliveries
 * and an outbound queue entry through the local delivery service
 * (deliver/local_deliver.h), then replies.
 *
 * Durability (ARCHITECTURE.md): 250 is sent only after local_deliver_run()
 * reported every local copy and the queue entry committed; on a write
 * failure (disk full) nothing is left behind and the client gets 452/451
 * and retries. Mail loops (Delivered-To) are found there too: when no copy
 * is left, 554 5.4.6.
 *
 * This file adds what only SMTP knows: the Received: trace field, the
 * Date:/Message-ID: a submission server may add, the envelope of the
 * remote recipients. The delivery runs on the worker's delivery thread
 * pool while the session waits with its input paused, so concurrent
 * deliveries fsync in parallel (group commit). When an entry was queued,
 * the worker is told (session_env.queue_committed) so the queue runner
 * can be woken. */
#include "smtp_private.h"
#include "smtp_message.h"
#include "deliver/local_deliver.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "auth/userdb.h"
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	const char *message_id;  /* for the log; "" when there is none */
	struct local_delivery d; /* runs on a delivery thread */
};

/* Runs on a delivery thread. */
static void smtp_job_work(void *ctx)
{
	struct smtp_delivery_job *job = ctx;
	local_deliver_run(&job->d);
}

static void smtp_job_free(struct smtp_delivery_job *job)
{
	local_delivery_deinit(&job->d);
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
	if (job->d.loop) {
		/* RFC 3463 5.4.6: routing loop detected */
		smtp_reply(s, 554, "5.4.6", "Mail loop: Delivered-To already names the recipient");
	} else if (job->d.failed) {
		log_error("sid=%s event=delivery_failed error=%s", s->base.sid, log_str(job->d.error));
		if (job->d.storage_full)
			smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		else
			smtp_reply(s, 451, "4.3.0", "Local error in processing");
	} else {
		s->messages++;
		bool queued = job->d.queue_id[0] != '\0';
		log_info("sid=%s event=message ip=%s from=%s rcpts=%u local=%u remote=%u "
			 "looped=%u size=%llu tls=%s user=%s message_id=%s queue_id=%s "
			 "result=accepted",
			 s->base.sid, s->base.peer_ip, log_str(tx->mail.from.canonical), tx->rcpt_count,
			 job->d.nlocal, job->d.env.recipient_count, job->d.looped,
			 (unsigned long long)tx->spool_size,
			 smtp_session_tls(s) ? conn_tls_version(s->base.conn) : "no",
			 s->auth_user != NULL ? log_str(s->auth_user) : "-",
			 job->message_id[0] != '\0' ? log_str(job->message_id) : "-",
			 queued ? job->d.queue_id : "-");
		if (queued) {
			/* issue 11 item 8: say where it goes from here */
			for (unsigned i = 0; i < job->d.env.recipient_count; i++)
				log_info("sid=%s event=queued queue_id=%s rcpt=%s reason=%s",
					 s->base.sid, job->d.queue_id,
					 log_value(job->d.env.recipients[i].address.data,
						   job->d.env.recipients[i].address.len),
					 s->base.env->config->relay ? "queue_runner" :
					 "\"relay = no\"");
			if (s->base.env->queue_committed != NULL)
				s->base.env->queue_committed(s->base.env->ctx, job->d.queue_id);
			/* the id as the log and "postel queue list" show it */
			smtp_reply(s, 250, "2.0.0", "OK: queued as %s", job->d.queue_id);
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
	struct queue_envelope *env = &job->d.env;
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
	env->requiretls = tx->mail.params.requiretls;
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
	job->d.sid = s->base.sid;
	job->d.data_dir = s->base.env->config->data_dir;
	job->d.committer = s->base.env->committer;
	job->d.msg_fd = tx->spool_fd;
	job->d.msg_size = tx->spool_size;
	/* the session sleeps until the job is done: the buffer stays put */
	job->d.msg_mem = tx->spool_buf.data != NULL ? tx->spool_buf.data : "";
	job->d.sender = tx->mail.from.canonical;
	smtp_received_header(s, &job->d.prefix);
	smtp_submission_headers(s, &job->d.prefix, &job->message_id);

	/* tx->target_total <= SMTP_MAX_TARGETS bounds both lists */
	job->d.local = pool_alloc(tx->pool, (tx->target_total + 1) * sizeof(*job->d.local));
	unsigned nremote = 0;
	for (unsigned i = 0; i < tx->rcpt_count; i++) {
		const struct smtp_rcpt_entry *e = &tx->rcpts[i];
		for (unsigned j = 0; j < e->target_count; j++) {
			const char *addr = e->targets[j].address;
			if (!e->targets[j].local)
				nremote++;
			else if (!smtp_seen(job->d.local, job->d.nlocal, addr))
				job->d.local[job->d.nlocal++] = addr;
		}
	}
	if (nremote > 0)
		smtp_job_envelope(s, job, nremote);
	/* issue 10 item 7: mail of local users is DKIM-signed as queued */
	job->d.dkim_sign = s->auth_user != NULL;

	s->state = SMTP_STATE_WAIT;
	session_job_begin(&s->base);
	conn_input_pause(s->base.conn);
	threadpool_submit(s->base.env->delivery_pool, smtp_job_work, smtp_job_done, job);
}
