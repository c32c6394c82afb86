/* local_deliver.c: local delivery (see local_deliver.h for the contract).
 *
 * Two phases: write every copy (and the queue entry), fsync each file on
 * this thread so that concurrent deliveries on other delivery threads
 * overlap their fsyncs, then commit all copies through the worker's group
 * committer (store_committer.h) and the queue entry last, or abort all. */
#include "deliver/local_deliver.h"
#include "deliver/deliver_7bit.h"
#include "smtp/smtp_message.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_committer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* bytes of a message file read at a time while scanning its header */
#define LOCAL_SCAN_CHUNK (64 * 1024)

/* per delivery thread, opened on first use and kept */
static _Thread_local struct store *tl_store;
static _Thread_local struct queue *tl_queue;

typedef int deliver_write_t(void *, const void *, size_t, const char **);
typedef int deliver_write_fd_t(void *, int, uint64_t, uint64_t, const char **);

static int deliver_write_span(struct local_delivery *d, uint64_t off, uint64_t len,
			      deliver_write_t *write, deliver_write_fd_t *write_fd,
			      void *handle, const char **error_r)
{
	if (len == 0)
		return 0;
	if (d->msg_fd < 0)
		return write(handle, d->msg_mem + off, len, error_r);
	return write_fd(handle, d->msg_fd, off, len, error_r);
}

/* The prefix, then the message without the skip ranges (ascending,
 * within the message). */
static int deliver_write(struct local_delivery *d, const str_t *prefix,
			 const struct smtp_message_range *skip, unsigned nskip,
			 deliver_write_t *write, deliver_write_fd_t *write_fd,
			 void *handle, const char **error_r)
{
	uint64_t pos = 0;
	if (write(handle, prefix->data, prefix->len, error_r) < 0)
		return -1;
	for (unsigned i = 0; i < nskip; i++) {
		if (deliver_write_span(d, pos, skip[i].start - pos, write, write_fd,
				       handle, error_r) < 0)
			return -1;
		pos = skip[i].end;
	}
	return deliver_write_span(d, pos, d->msg_size - pos, write, write_fd,
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

static void deliver_fail(struct local_delivery *d, const char *error)
{
	d->failed = true;
	d->storage_full = smtp_message_error_is_storage_full(error);
	d->error = xstrdup(error != NULL ? error : "unknown error");
}

static int local_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

/* A Delivered-To value of the header: mark the local copy it names. */
static void deliver_delivered_to(void *context, const char *value, size_t len)
{
	struct local_delivery *d = context;
	char key[SMTP_MESSAGE_VALUE_MAX + 1];
	const char *keyp = key;
	memcpy(key, value, len);
	key[len] = '\0';
	const char **hit = bsearch(&keyp, d->local, d->nlocal, sizeof(*d->local),
				   local_cmp);
	if (hit != NULL)
		d->looping[hit - d->local] = true;
}

/* Read the header section (the message file a chunk at a time). */
static int deliver_scan(struct local_delivery *d, struct smtp_message_scan *scan,
			const char **error_r)
{
	/* sorted, so each Delivered-To costs a binary search however many
	 * recipients and fields there are */
	qsort(d->local, d->nlocal, sizeof(*d->local), local_cmp);
	d->looping = xcalloc(d->nlocal + 1, sizeof(*d->looping));
	smtp_message_scan_init(scan, deliver_delivered_to, d);
	if (d->msg_fd < 0) {
		(void)smtp_message_scan_feed(scan, d->msg_mem, d->msg_size);
		smtp_message_scan_finish(scan);
		return 0;
	}
	char *buf = xmalloc(LOCAL_SCAN_CHUNK);
	uint64_t off = 0;
	int ret = 0;
	while (off < d->msg_size) {
		uint64_t want = d->msg_size - off;
		ssize_t n = pread(d->msg_fd, buf, want < LOCAL_SCAN_CHUNK ? want :
				  LOCAL_SCAN_CHUNK, (off_t)off);
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
	if (ret == 0 && off >= d->msg_size)
		smtp_message_scan_finish(scan);
	return ret;
}

/* RFC 5321 4.4 and Postfix's local(8): a Delivered-To naming the
 * recipient means this message reached that mailbox before and came back
 * (forwarding aliases in a loop). With one reply for all recipients after
 * DATA, the looping copies are dropped (logged) and the others delivered:
 * nothing is lost, as each dropped copy's mailbox already holds the
 * message, and the non-looping recipients are not refused because of
 * another's loop. When no copy is left to deliver at all, the caller
 * refuses the message (SMTP: 554 5.4.6), as Postfix does. */
static void deliver_drop_loops(struct local_delivery *d)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < d->nlocal; i++) {
		if (!d->looping[i]) {
			d->local[kept++] = d->local[i];
			continue;
		}
		d->looped++;
		log_info("sid=%s event=mail_loop rcpt=%s action=%s", d->sid,
			 log_str(d->local[i]),
			 d->looped == d->nlocal && d->env.recipient_count == 0 ?
			 "refused" : "dropped");
	}
	d->nlocal = kept;
	if (kept == 0 && d->looped > 0 && d->env.recipient_count == 0)
		d->loop = true;
}

/* Phase 1: write every copy, then the queue entry. */
static bool deliver_write_all(struct local_delivery *d, struct smtp_message_scan *scan,
			      struct store_delivery **copies, struct queue_writer **qw_r,
			      const char **error_r)
{
	str_t prefix = STR_INIT;
	bool failed = false;
	for (unsigned i = 0; i < d->nlocal && !failed; i++) {
		str_clear(&prefix);
		/* RFC 5321 4.4: Return-Path at final delivery, in place of any
		 * the message held (left out below) */
		str_printf(&prefix, "Return-Path: <%s>\r\nDelivered-To: %s\r\n",
			   d->sender, d->local[i]);
		str_append(&prefix, d->prefix.data, d->prefix.len);
		copies[i] = store_delivery_begin(tl_store, d->local[i], "INBOX", error_r);
		if (copies[i] == NULL ||
		    deliver_write(d, &prefix, scan->return_paths, scan->return_path_count,
				  store_write_cb, store_write_fd_cb, copies[i], error_r) < 0)
			failed = true;
	}
	if (!failed && d->env.recipient_count > 0) {
		/* RFC 5321 4.4: a relay does not touch Return-Path fields */
		str_clear(&prefix);
		/* signed as queued: the runner sends these bytes, and a crash
		 * after the commit cannot lose the signature */
		/* RFC 6376 5.3: an 8-bit message is signed and queued 7-bit */
		bool seven = d->dkim_sign && deliver_7bit_sign(d, &prefix);
		if (!seven)
			str_append(&prefix, d->prefix.data, d->prefix.len);
		*qw_r = queue_writer_begin(tl_queue, &d->env, error_r);
		if (*qw_r == NULL ||
		    (seven ? deliver_7bit_write(d, &prefix, *qw_r, error_r) :
		     deliver_write(d, &prefix, NULL, 0, queue_write_cb,
				   queue_write_fd_cb, *qw_r, error_r)) < 0)
			failed = true;
	}
	str_free(&prefix);
	/* the slow part that cannot be shared: each file's own fsync, done
	 * here so that the delivery threads overlap them */
	for (unsigned i = 0; i < d->nlocal && !failed; i++) {
		if (store_delivery_sync(copies[i], error_r) < 0)
			failed = true;
	}
	return !failed;
}

void local_deliver_run(struct local_delivery *d)
{
	const char *error = NULL;
	struct smtp_message_scan scan;
	d->queue_id[0] = '\0';
	if (deliver_scan(d, &scan, &error) < 0) {
		smtp_message_scan_deinit(&scan);
		deliver_fail(d, error);
		return;
	}
	deliver_drop_loops(d);
	/* RFC 5322 2.1: the empty line after the added fields when the
	 * message's own first line is no header field */
	if (smtp_message_needs_separator(&scan))
		str_appendz(&d->prefix, "\r\n");
	if (d->loop ||
	    (tl_store == NULL && store_open(d->data_dir, &tl_store, &error) < 0) ||
	    (d->env.recipient_count > 0 && tl_queue == NULL &&
	     queue_open(d->data_dir, &tl_queue, &error) < 0)) {
		if (!d->loop)
			deliver_fail(d, error);
		smtp_message_scan_deinit(&scan);
		return;
	}
	struct store_delivery **copies = xcalloc(d->nlocal + 1, sizeof(*copies));
	struct queue_writer *qw = NULL;
	bool failed = !deliver_write_all(d, &scan, copies, &qw, &error);
	smtp_message_scan_deinit(&scan);
	/* phase 2: commit all, or abort all */
	char *group_error = NULL;
	if (failed) {
		for (unsigned i = 0; i < d->nlocal; i++) {
			if (copies[i] != NULL)
				store_delivery_abort(&copies[i]);
		}
	} else if (d->nlocal > 0 &&
		   store_committer_commit(d->committer, copies, d->nlocal, NULL,
					  &group_error) < 0) {
		failed = true;
		error = t_printf("%s", group_error);
	}
	free(group_error);
	if (qw != NULL) {
		if (failed)
			queue_writer_abort(&qw);
		else if (queue_writer_commit(&qw, d->queue_id, &error) < 0)
			failed = true;
	}
	if (failed)
		deliver_fail(d, error);
	free(copies);
}

void local_delivery_deinit(struct local_delivery *d)
{
	str_free(&d->prefix);
	free(d->looping);
	free(d->error);
	d->looping = NULL;
	d->error = NULL;
}
