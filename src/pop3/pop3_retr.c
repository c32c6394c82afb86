/* pop3_retr.c: RETR and TOP (RFC 1939 section 7), streamed.
 *
 * The message is read through the store (store_message_read(): wire form,
 * CRLF) one piece at a time, and the next piece only
 * once the connection has written the previous one (conn's output-drained
 * callback), so a 200 MB message costs one piece of memory, not 200 MB.
 * Each piece goes through pop3_msg_filter (dot-stuffing, CRLF, TOP's line
 * limit). Input stays paused from the command until the terminating ".",
 * so pipelined commands are answered after the message. The message is
 * opened on the thread pool. */
#include "pop3_private.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "mime/mime_parser.h"
#include "store/store_view.h"

#include <string.h>

/* store_message_read() fills at most half of it from the file: LF may
 * become CRLF */
#define POP3_READ_CHUNK (128 * 1024)

struct pop3_retr {
	struct store_message_reader *reader;
	bool top;
	uint64_t octets;   /* wire bytes read, for the log */
	struct pop3_msg_filter filter;
};

void pop3_retr_abort(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;
	if (r == NULL)
		return;
	if (s->base.conn != NULL)
		conn_set_output_drained(s->base.conn, NULL, NULL);
	store_message_close(&r->reader);
	free(r);
	s->retr = NULL;
}

static void pop3_retr_finish(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;
	str_t *out = conn_write_begin(s->base.conn);
	if (out != NULL) {
		pop3_msg_filter_finish(&r->filter, out);
		str_append(out, ".\r\n", 3);
		conn_write_end(s->base.conn);
	}
	if (!r->top) {
		s->retrieved++;
		s->retrieved_octets += r->octets;
	}
	pop3_retr_abort(s);
	pop3_session_resume(s);
}

/* Write pieces until the output holds a chunk or the message ends. */
static void pop3_retr_fill(void *ctx)
{
	struct pop3_session *s = ctx;
	struct pop3_retr *r = s->retr;
	char buf[POP3_READ_CHUNK];
	const char *error;
	while (r != NULL && conn_output_pending(s->base.conn) < POP3_STREAM_CHUNK) {
		ssize_t n = store_message_read(r->reader, buf, sizeof(buf), &error);
		if (n < 0) {
			/* a multi-line reply cannot turn into -ERR: end the
			 * connection without the final "." so the client
			 * knows the message is incomplete */
			log_error("sid=%s event=retr_failed error=%s", s->base.sid,
				  log_str(error));
			pop3_retr_abort(s);
			pop3_session_close(s);
			return;
		}
		if (n == 0) {
			pop3_retr_finish(s);
			return;
		}
		r->octets += (uint64_t)n;
		/* filtered straight into the output buffer: no copy between */
		str_t *out = conn_write_begin(s->base.conn);
		if (out == NULL)
			return; /* closed: CLOSED ends the session and the stream */
		bool done = pop3_msg_filter_feed(&r->filter, buf, (size_t)n, out);
		conn_write_end(s->base.conn);
		if (done) {
			pop3_retr_finish(s);
			return;
		}
	}
}

/* Opening the message (by UID in the session's view: the store finds
 * the file, wherever a Maildir reader renamed it) runs on the thread
 * pool: the index may be locked by another process, and nothing may stop
 * the event loop. */
struct pop3_retr_open_job {
	struct pop3_session *s;
	unsigned num;            /* 1-based message number */
	bool top;
	uint64_t lines;
	/* input, owned: the thread may not touch session memory */
	struct store_view *view; /* the session's: idle between jobs */
	uint32_t uid;
	bool utf8;               /* RFC 6856 UTF8 issued: no downgrade */
	struct store_message_info info; /* uid, stored size, hdr_8bit */
	/* output */
	struct store_message_reader *reader;
	char *error;
	bool undowngradable;     /* store_downgrade_error_limit */
};

static void pop3_retr_open_work(void *ctx)
{
	struct pop3_retr_open_job *job = ctx;
	const char *error = NULL;
	job->reader = store_view_message_open(job->view, job->uid, &error);
	/* RFC 6856 2: without UTF8 the RFC 6858 message (store_downgrade.c) */
	if (job->reader != NULL && !job->utf8 && job->info.hdr_8bit != 0) {
		pool_t *pool = pool_create(1024);
		struct mime_tree *tree = NULL;
		int r = store_view_message_hdr_8bit(job->view, job->uid, &job->info, pool,
						    &tree, &error);
		if (r < 0 || (r > 0 && store_view_message_downgrade(job->view, job->uid,
								    &job->info, tree,
								    job->reader, &error) < 0))
			store_message_close(&job->reader);
		mime_tree_free(&tree);
		pool_destroy(&pool);
	}
	if (job->reader == NULL)
		job->error = xstrdup(error != NULL ? error : "message not found");
	job->undowngradable = error == store_downgrade_error_limit;
}

static void pop3_retr_open_done(void *ctx)
{
	struct pop3_retr_open_job *job = ctx;
	struct pop3_session *s = job->s;
	bool streaming = false;
	session_job_end(&s->base);
	if (session_may_free(&s->base) || s->base.closing) {
		/* gone, or timed out meanwhile: nothing more to send */
		store_message_close(&job->reader);
	} else if (job->undowngradable) {
		/* RFC 6856 3: never the raw UTF-8 header; UTF8 reads it */
		pop3_err(s, "Message %u is too large to downgrade; issue UTF8 to read it",
			 job->num);
	} else if (job->reader == NULL) {
		/* removed by another reader since the listing */
		log_error("sid=%s event=retr_open_failed uid=%u error=%s", s->base.sid,
			  job->uid, log_str(job->error));
		pop3_err(s, "[SYS/TEMP] Message %u is no longer available", job->num);
	} else {
		struct pop3_msg *m = &s->maildrop->msgs[job->num - 1];
		struct pop3_retr *r = xcalloc(1, sizeof(*r));
		r->reader = job->reader;
		r->top = job->top;
		pop3_msg_filter_init(&r->filter, job->top, job->lines);
		s->retr = r;
		if (job->top)
			pop3_ok(s, "Top of message %u follows", job->num);
		else
			pop3_ok(s, "%llu octets", (unsigned long long)job->info.size);
		/* RFC 1939 5: LIST and STAT keep what they said at login
		 * (pop3_maildrop.c sized every message that might be 8-bit
		 * then); a difference is a bug, logged */
		if (job->info.size != m->size)
			log_warn("sid=%s event=retr_size_differs uid=%u list=%llu retr=%llu",
				 s->base.sid, job->uid, (unsigned long long)m->size,
				 (unsigned long long)job->info.size);
		conn_set_output_drained(s->base.conn, pop3_retr_fill, s);
		streaming = true;
	}
	free(job->error);
	free(job);
	/* a stream resumes input after its "." (pop3_retr_finish) */
	if (streaming)
		pop3_retr_fill(s);
	else
		pop3_session_resume(s);
}

static void pop3_retr_start(struct pop3_session *s, const char *arg, size_t len,
			    bool top, uint64_t lines)
{
	unsigned num;
	struct pop3_msg *m = pop3_maildrop_msg(s, arg, len, &num);
	if (m == NULL)
		return;
	struct pop3_retr_open_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->num = num;
	job->top = top;
	job->lines = lines;
	job->view = s->maildrop->view;
	job->uid = m->uid;
	job->utf8 = s->utf8;
	job->info.uid = m->uid;
	job->info.size = m->stored_size;
	job->info.hdr_8bit = m->hdr_8bit;
	/* the login sized it (pop3_maildrop.c): known, not written again;
	 * when that failed m->size is the stored size: unknown (0) */
	job->info.dg_size = m->hdr_8bit > 0 && !s->utf8 && m->dg_sized ? m->size : 0;
	session_job_begin(&s->base);
	pop3_session_wait(s);
	threadpool_submit(s->base.env->delivery_pool, pop3_retr_open_work,
			  pop3_retr_open_done, job);
}

void pop3_cmd_retr(struct pop3_session *s, const struct pop3_command *cmd)
{
	pop3_retr_start(s, cmd->args, cmd->args_len, false, 0);
}

void pop3_cmd_top(struct pop3_session *s, const struct pop3_command *cmd)
{
	const char *words[2], *error;
	size_t lens[2];
	uint64_t lines;
	if (pop3_split_args(cmd->args, cmd->args_len, 2, 2, words, lens, &error) < 0) {
		pop3_err_bad(s, "TOP needs a message number and a line count");
		return;
	}
	if (pop3_parse_top_lines(words[1], lens[1], &lines, &error) < 0) {
		pop3_err_bad(s, "%s", error);
		return;
	}
	pop3_retr_start(s, words[0], lens[0], true, lines);
}
