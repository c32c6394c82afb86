/* pop3_retr.c: RETR and TOP (RFC 1939 section 7), streamed.
 *
 * The message is read through the store (store_message_read(): wire form,
 * CRLF) one piece at a time, and the next piece only
 * once the connection has written the previous one (conn's output-drained
 * callback), so a 200 MB message costs one piece of memory, not 200 MB.
 * Each piece goes through pop3_msg_filter (dot-stuffing, CRLF, TOP's line
 * limit). Input stays paused until the terminating ".", so pipelined
 * commands are answered after the message. */
#include "pop3_private.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store.h"

#include <string.h>

/* store_message_read() fills at most half of it from the file: LF may
 * become CRLF */
#define POP3_READ_CHUNK (128 * 1024)

struct pop3_retr {
	struct store_message_reader *reader;
	bool top;
	uint64_t octets;   /* wire bytes read, for the log */
	struct pop3_msg_filter filter;
	str_t out;
};

void pop3_retr_abort(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;
	if (r == NULL)
		return;
	if (s->base.conn != NULL)
		conn_set_output_drained(s->base.conn, NULL, NULL);
	store_message_close(&r->reader);
	str_free(&r->out);
	free(r);
	s->retr = NULL;
}

static void pop3_retr_finish(struct pop3_session *s)
{
	struct pop3_retr *r = s->retr;
	str_clear(&r->out);
	pop3_msg_filter_finish(&r->filter, &r->out);
	str_append(&r->out, ".\r\n", 3);
	conn_write(s->base.conn, r->out.data, r->out.len);
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
		str_clear(&r->out);
		bool done = pop3_msg_filter_feed(&r->filter, buf, (size_t)n, &r->out);
		conn_write(s->base.conn, r->out.data, r->out.len);
		if (done) {
			pop3_retr_finish(s);
			return;
		}
	}
}

static void pop3_retr_start(struct pop3_session *s, const char *arg, size_t len,
			    bool top, uint64_t lines)
{
	unsigned num;
	struct pop3_msg *m = pop3_maildrop_msg(s, arg, len, &num);
	if (m == NULL)
		return;
	/* the store gives the message in wire form (CRLF), a chunk at a
	 * time */
	struct store_message_info info = { .uid = m->uid, .path = m->path };
	const char *error;
	struct store_message_reader *reader = store_message_open(&info, &error);
	if (reader == NULL) {
		/* renamed by another reader since the listing: ask again */
		info.path = pop3_maildrop_find_path(s, m);
		if (info.path != NULL) {
			m->path = info.path;
			reader = store_message_open(&info, &error);
		}
	}
	if (reader == NULL) {
		/* removed by another reader since the listing */
		log_error("sid=%s event=retr_open_failed uid=%u error=%s", s->base.sid, m->uid,
			  log_str(error));
		pop3_err(s, "[SYS/TEMP] Message %u is no longer available", num);
		return;
	}
	struct pop3_retr *r = xcalloc(1, sizeof(*r));
	r->reader = reader;
	r->top = top;
	pop3_msg_filter_init(&r->filter, top, lines);
	s->retr = r;
	if (top)
		pop3_ok(s, "Top of message %u follows", num);
	else
		pop3_ok(s, "%llu octets", (unsigned long long)m->size);
	pop3_session_wait(s);
	conn_set_output_drained(s->base.conn, pop3_retr_fill, s);
	pop3_retr_fill(s);
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
