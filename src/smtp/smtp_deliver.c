/* smtp_deliver.c: turns a complete spooled message into local deliveries
 * and an outbound queue entry, then replies.
 *
 * Durability (ARCHITECTURE.md): 250 is sent only after every local copy
 * and the queue entry are committed (fsync'd file, fsync'd directory,
 * committed index). All copies are written first and committed only when
 * every write succeeded, so a write failure (disk full) loses nothing and
 * leaves nothing behind: the client gets 452/451 and retries. */
#include "smtp_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/log.h"
#include "auth/userdb.h"
#include "store/store.h"
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
	const struct config *config = s->worker->config;
	bool v6 = strchr(s->peer_ip, ':') != NULL;
	str_printf(out, "Received: from %s ([%s%s])\r\n", s->helo,
		   v6 ? "IPv6:" : "", s->peer_ip);
	str_printf(out, "\tby %s (Postel) with %s id %s", config->hostname,
		   smtp_with_protocol(s), s->sid);
	if (smtp_session_tls(s))
		str_printf(out, "\r\n\t(version=%s cipher=%s)", conn_tls_version(s->conn),
			   conn_tls_cipher(s->conn));
	if (s->tx->rcpt_count == 1)
		str_printf(out, "\r\n\tfor <%s>", s->tx->rcpts[0].rcpt.to.canonical);
	str_printf(out, ";\r\n\t%s\r\n", smtp_rfc5322_date(time(NULL)));
}

static void smtp_submission_headers(struct smtp_session *s, str_t *out)
{
	const struct smtp_data_decoder *dec = &s->tx->dec;
	if (s->service == SERVICE_SMTP)
		return;
	/* RFC 6409 8.2, 8.3: a submission server may add missing ones */
	if (!smtp_data_seen_date(dec))
		str_printf(out, "Date: %s\r\n", smtp_rfc5322_date(time(NULL)));
	if (!smtp_data_seen_message_id(dec))
		str_printf(out, "Message-ID: <%lld.%s@%s>\r\n", (long long)time(NULL),
			   s->sid, s->worker->config->hostname);
}

struct smtp_local_copy {
	const char *address;
	struct store_delivery *d;
};

static bool smtp_seen_local(struct smtp_local_copy *copies, unsigned n, const char *addr)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(copies[i].address, addr) == 0)
			return true;
	}
	return false;
}

static int smtp_write_copy(struct smtp_session *s, const str_t *prefix,
			   int (*write)(void *, const void *, size_t, const char **),
			   int (*write_fd)(void *, int, uint64_t, uint64_t, const char **),
			   void *handle, const char **error_r)
{
	if (write(handle, prefix->data, prefix->len, error_r) < 0)
		return -1;
	return write_fd(handle, s->tx->spool_fd, 0, s->tx->spool_size, error_r);
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

static unsigned smtp_queue_notify(unsigned notify)
{
	return ((notify & SMTP_NOTIFY_NEVER) ? QUEUE_NOTIFY_NEVER : 0) |
		((notify & SMTP_NOTIFY_SUCCESS) ? QUEUE_NOTIFY_SUCCESS : 0) |
		((notify & SMTP_NOTIFY_FAILURE) ? QUEUE_NOTIFY_FAILURE : 0) |
		((notify & SMTP_NOTIFY_DELAY) ? QUEUE_NOTIFY_DELAY : 0);
}

static struct queue_writer *smtp_queue_begin(struct smtp_session *s, const str_t *prefix,
					     unsigned nremote, const char **error_r)
{
	struct smtp_tx *tx = s->tx;
	struct queue_envelope env = { 0 };
	env.sender = queue_str_c(tx->mail.from.canonical);
	env.auth_user = queue_str_c(s->auth_user);
	env.client_ip = queue_str_c(s->peer_ip);
	env.received = time(NULL);
	env.smtputf8 = tx->mail.params.smtputf8;
	env.body = tx->mail.params.body == SMTP_BODY_8BITMIME ? QUEUE_BODY_8BITMIME :
		QUEUE_BODY_7BIT;
	env.dsn_ret = tx->mail.params.ret == SMTP_DSN_RET_FULL ? QUEUE_DSN_RET_FULL :
		tx->mail.params.ret == SMTP_DSN_RET_HDRS ? QUEUE_DSN_RET_HDRS :
		QUEUE_DSN_RET_NONE;
	env.envid = queue_str_c(tx->mail.params.envid_xtext);
	env.recipients = pool_alloc(tx->pool, nremote * sizeof(*env.recipients));
	for (unsigned i = 0; i < tx->rcpt_count; i++) {
		const struct smtp_rcpt_entry *e = &tx->rcpts[i];
		for (unsigned j = 0; j < e->target_count; j++) {
			if (e->targets[j].local)
				continue;
			struct queue_recipient *r = &env.recipients[env.recipient_count++];
			r->address = queue_str_c(e->targets[j].address);
			r->notify = smtp_queue_notify(e->rcpt.params.notify);
			r->orcpt = queue_str_c(e->rcpt.params.orcpt_raw == NULL ? NULL :
				pool_printf(tx->pool, "%s;%s", e->rcpt.params.orcpt_type,
					    e->rcpt.params.orcpt_raw));
		}
	}
	struct queue_writer *w = queue_writer_begin(s->worker->queue, &env, error_r);
	if (w == NULL)
		return NULL;
	if (smtp_write_copy(s, prefix, queue_write_cb, queue_write_fd_cb, w, error_r) < 0) {
		queue_writer_abort(&w);
		return NULL;
	}
	return w;
}

static void smtp_deliver_reply_error(struct smtp_session *s, const char *error)
{
	bool full = errno == ENOSPC || errno == EDQUOT ||
		(error != NULL && (strstr(error, "space") || strstr(error, "quota")));
	log_error("sid=%s event=delivery_failed error=%s", s->sid, log_str(error));
	if (full)
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
	else
		smtp_reply(s, 451, "4.3.0", "Local error in processing");
}

void smtp_deliver(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	const char *error = NULL;
	str_t common = STR_INIT, prefix = STR_INIT;
	unsigned ntargets = tx->target_total; /* <= SMTP_MAX_TARGETS */
	struct smtp_local_copy *copies = pool_alloc(tx->pool, (ntargets + 1) * sizeof(*copies));
	unsigned ncopies = 0, nremote = 0;
	struct queue_writer *qw = NULL;
	bool failed = false;

	smtp_received_header(s, &common);
	smtp_submission_headers(s, &common);

	/* phase 1: write every copy */
	for (unsigned i = 0; i < tx->rcpt_count && !failed; i++) {
		const struct smtp_rcpt_entry *e = &tx->rcpts[i];
		for (unsigned j = 0; j < e->target_count && !failed; j++) {
			const char *addr = e->targets[j].address;
			if (!e->targets[j].local) {
				nremote++;
				continue;
			}
			if (smtp_seen_local(copies, ncopies, addr))
				continue;
			str_clear(&prefix);
			/* RFC 5321 4.4: Return-Path at final delivery */
			str_printf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
				   tx->mail.from.canonical, addr);
			str_append(&prefix, common.data, common.len);
			struct store_delivery *d = store_delivery_begin(s->worker->store, addr,
									"INBOX", &error);
			if (d == NULL) {
				failed = true;
				break;
			}
			copies[ncopies].address = addr;
			copies[ncopies++].d = d;
			if (smtp_write_copy(s, &prefix, store_write_cb, store_write_fd_cb, d,
					    &error) < 0)
				failed = true;
		}
	}
	if (!failed && nremote > 0) {
		qw = smtp_queue_begin(s, &common, nremote, &error);
		failed = qw == NULL;
	}
	/* phase 2: commit all, or abort all */
	char queue_id[QUEUE_ID_MAX] = "";
	uint32_t last_uid = 0;
	for (unsigned i = 0; i < ncopies; i++) {
		if (failed) {
			store_delivery_abort(&copies[i].d);
		} else if (store_delivery_commit(&copies[i].d, &last_uid, &error) < 0) {
			failed = true;
		}
	}
	if (qw != NULL) {
		if (failed)
			queue_writer_abort(&qw);
		else if (queue_writer_commit(&qw, queue_id, &error) < 0)
			failed = true;
	}
	if (failed) {
		smtp_deliver_reply_error(s, error);
	} else {
		s->messages++;
		log_info("sid=%s event=message ip=%s from=%s rcpts=%u local=%u remote=%u "
			 "size=%llu tls=%s user=%s queue_id=%s result=accepted",
			 s->sid, s->peer_ip, log_str(tx->mail.from.canonical), tx->rcpt_count,
			 ncopies, nremote, (unsigned long long)tx->spool_size,
			 smtp_session_tls(s) ? conn_tls_version(s->conn) : "no",
			 s->auth_user != NULL ? log_str(s->auth_user) : "-",
			 queue_id[0] != '\0' ? queue_id : "-");
		smtp_reply(s, 250, "2.0.0", "OK: queued as %s",
			   queue_id[0] != '\0' ? queue_id : s->sid);
	}
	str_free(&common);
	str_free(&prefix);
	smtp_tx_reset(s);
}
