/* imap_append.c: APPEND (RFC 9051 6.3.12) with the message streamed into
 * the store, never held whole.
 *
 * Contract: the session's input loop asks imap_append_prefix() about
 * each line of an APPEND that ends in a literal prefix after the mailbox:
 * that literal is the message. The line goes to the parser without it,
 * so the parser's 64 KiB command limit never sees the message, and
 * imap_cmd_append() runs with the literal still unread. It checks the
 * arguments and the size (over message_size_limit: NO [TOOBIG] before
 * any "+", RFC 7889), opens the delivery in a job ([TRYCREATE] for a
 * missing mailbox), then sends "+" (not for {n+}, RFC 7888) and reads
 * the octets through lib/literal.h into a buffer of about 64 KiB that a
 * job writes to the delivery (store work never runs on the loop). After
 * the literal the line must end; a job sets flags and date and commits,
 * and only then the OK goes out, with [APPENDUID] (RFC 4315 3): the
 * message is durable. A write error (ENOSPC) or a NUL in a {n} literal
 * (RFC 9051 4.3: CHAR8 has no NUL; ~{n} may, RFC 3516 4.4) stores
 * nothing and answers NO / BAD once the octets are read. A connection
 * lost mid-literal leaves nothing: the session's end aborts the delivery
 * (imap_store_close()). A refused {n+} still sends its octets: they are
 * read and dropped. */
#include "imap_commands.h"
#include "imap/imap_append_private.h"
#include "imap/imap_args.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "imap/imap_utf8.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void append_free(struct imap_append **ap)
{
	struct imap_append *a = *ap;
	if (a == NULL)
		return;
	*ap = NULL;
	if (a->item_parser != NULL)
		imap_parser_destroy(&a->item_parser);
	str_free(&a->buf);
	pool_destroy(&a->pool);
	free(a);
}

void imap_append_free(struct imap_session *s)
{
	append_free(&s->append);
}

/* "tag APPEND " at the start of a first line (tag as imap_line_tag()). */
static size_t append_line_start(const char *line, size_t len)
{
	size_t n = 0;
	while (n < len && line[n] > 0x20 && line[n] < 0x7f && strchr("(){%*\"\\+", line[n]) == NULL)
		n++;
	if (n == 0 || n + 8 > len || line[n] != ' ' || strncasecmp(line + n + 1, "APPEND ", 7) != 0)
		return 0;
	return n + 8;
}

bool imap_append_prefix(struct imap_session *s, const char *line, size_t len, size_t *len_r)
{
	bool first = imap_parser_tag(s->parser) == NULL;
	size_t args_start = 0;
	if (first) {
		args_start = append_line_start(line, len);
		s->append_cmd = args_start > 0;
	}
	if (!s->append_cmd || s->state == IMAP_STATE_NOT_AUTH || s->append != NULL)
		return false;
	/* sizes are checked by the command; {n+} over 4096 is the parser's */
	struct literal_limits limits = {
		.max_size = LITERAL_NUMBER64_MAX, .max_nonsync = IMAP_NONSYNC_MAX,
	};
	struct literal_prefix prefix;
	const char *error;
	if (literal_parse_prefix(line, len, &limits, &prefix, &error) != LITERAL_PREFIX_OK)
		return false;
	bool utf8;
	size_t end = imap_utf8_append_form(line, &prefix, &utf8);
	while (end > 0 && line[end - 1] == ' ')
		end--;
	/* on the first line, a literal right after the name is the mailbox */
	if (first && end < args_start)
		return false;
	struct imap_append *a = xcalloc(1, sizeof(*a));
	a->prefix = prefix;
	a->utf8 = utf8;
	a->pool = pool_create(1024);
	s->append = a;
	*len_r = end;
	return true;
}

/* The command is answered; a {n+}'s octets are on their way: drop them. */
void imap_append_refused(struct imap_session *s)
{
	struct imap_append *a = s->append;
	if (a == NULL)
		return;
	if (a->prefix.nonsync && !a->started) {
		a->discard = true;
		literal_reader_init(&a->reader, &a->prefix);
		a->phase = APPEND_PHASE_LITERAL;
		s->input = IMAP_INPUT_APPEND;
		return;
	}
	imap_append_free(s);
}

static void append_no(struct imap_cmd *cmd, const char *code, const char *text)
{
	struct imap_session *s = cmd->s;
	imap_cmd_no(cmd, code, "%s", text);
	imap_append_refused(s);
}

static void append_bad(struct imap_cmd *cmd, const char *text)
{
	struct imap_session *s = cmd->s;
	imap_cmd_bad(cmd, "%s", text);
	imap_append_refused(s);
}

static int append_parse_flags(struct imap_append *a, const char *const *flags, unsigned count,
			      const char **error_r)
{
	static const struct { const char *name; unsigned bit; } sys[] = {
		{ "\\Seen", STORE_FLAG_SEEN }, { "\\Answered", STORE_FLAG_ANSWERED },
		{ "\\Flagged", STORE_FLAG_FLAGGED }, { "\\Deleted", STORE_FLAG_DELETED },
		{ "\\Draft", STORE_FLAG_DRAFT },
	};
	const char **kw = pool_alloc(a->pool, (count + 1) * sizeof(*kw));
	a->flags.sysflags = 0;
	unsigned nkw = 0;
	for (unsigned i = 0; i < count; i++) {
		if (flags[i][0] != '\\') {
			if (store_keyword_check(flags[i], error_r) < 0)
				return -1;
			kw[nkw++] = pool_strdup(a->pool, flags[i]);
			continue;
		}
		unsigned k;
		for (k = 0; k < sizeof(sys) / sizeof(sys[0]); k++)
			if (strcasecmp(flags[i], sys[k].name) == 0)
				break;
		if (k == sizeof(sys) / sizeof(sys[0])) {
			*error_r = "Unknown system flag";
			return -1;
		}
		a->flags.sysflags |= sys[k].bit;
	}
	a->flags.op = STORE_FLAGS_REPLACE;
	a->flags.keywords = kw;
	a->flags.keyword_count = nkw;
	return 0;
}

static void job_error(struct imap_append *a, int result, const char *error)
{
	a->result = result;
	snprintf(a->error, sizeof(a->error), "%s", error != NULL ? error : "?");
}

/* pool thread: open the delivery */
static void append_begin_work(void *ctx, struct store *store)
{
	struct imap_session *s = ctx;
	struct imap_append *a = s->append;
	struct store_mailbox_status st;
	const char *error;
	if (store == NULL) {
		job_error(a, -1, "no store handle");
		return;
	}
	if (store_mailbox_status(store, a->address, a->mailbox, &st, &error) < 0) {
		if (strcmp(a->mailbox, "INBOX") == 0 &&
		    store_user_create(store, a->address, &error) == 0 &&
		    store_mailbox_status(store, a->address, a->mailbox, &st, &error) == 0) {
			/* an account made before its store */
		} else {
			job_error(a, imap_mailbox_exists(store, a->address, a->mailbox) ? -1 : 1, error);
			return;
		}
	}
	a->uidvalidity = st.uidvalidity;
	s->delivery = store_delivery_begin(store, a->address, a->mailbox, &error);
	if (s->delivery == NULL)
		job_error(a, -1, error);
}

static void append_begin_done(void *ctx)
{
	struct imap_session *s = ctx;
	if (imap_session_check_gone(s))
		return;
	struct imap_append *a = s->append;
	struct imap_cmd *cmd = &s->cmd;
	if (a->result != 0) {
		if (a->result < 0)
			log_error("sid=%s event=append_failed user=%s error=%s", s->base.sid,
				  log_str(s->user), log_str(a->error));
		if (a->result > 0)
			/* RFC 9051 6.3.12: the client may CREATE and retry */
			append_no(cmd, "TRYCREATE", "Mailbox doesn't exist");
		else
			append_no(cmd, "UNAVAILABLE", "Mailbox temporarily unavailable");
		return;
	}
	imap_append_start_literal(s);
}

void imap_append_start_literal(struct imap_session *s)
{
	struct imap_append *a = s->append;
	a->started = true;
	a->scan = (struct imap_utf8_scan)IMAP_UTF8_SCAN_INIT;
	literal_reader_init(&a->reader, &a->prefix);
	a->phase = APPEND_PHASE_LITERAL;
	/* RFC 9051 7.5: "+" asks for a synchronising literal's octets */
	if (!a->prefix.nonsync)
		conn_printf(s->base.conn, "+ Ready for message data\r\n");
	s->input = IMAP_INPUT_APPEND;
	conn_input_resume(s->base.conn);
}

int imap_append_parse_item(struct imap_append *a, const struct imap_arg *args, unsigned i,
			   unsigned count, const char **error_r)
{
	const char *flags[IMAP_APPEND_FLAGS_MAX];
	unsigned nflags = 0;
	a->internaldate = 0;
	if (i < count && args[i].type == IMAP_ARG_LIST) {
		if (imap_arg_get_flag_list(args, i, flags, IMAP_APPEND_FLAGS_MAX, &nflags,
					   error_r) < 0)
			return -1;
		i = imap_arg_next(args, i);
	}
	if (i < count && args[i].type == IMAP_ARG_QUOTED) {
		struct imap_date date;
		if (imap_parse_datetime(args[i].str, args[i].len, &date, error_r) < 0)
			return -1;
		a->internaldate = (time_t)imap_date_to_epoch(&date);
		i++;
	}
	if (i != count) {
		*error_r = "Invalid APPEND arguments";
		return -1;
	}
	return append_parse_flags(a, flags, nflags, error_r);
}

int imap_append_check_size(struct imap_session *s, uint64_t size, const char **code_r,
			   const char **text_r)
{
	/* RFC 7889 4: refused from the size alone, before any "+" */
	if (size > s->base.env->config->message_size_limit) {
		*code_r = "TOOBIG";
		*text_r = "Message too big";
		return -1;
	}
	if (size == 0) {
		*code_r = NULL;
		*text_r = "Empty message not saved";
		return -1;
	}
	return 0;
}

void imap_cmd_append(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_append *a = s->append;
	const char *name, *error;
	if (a == NULL) {
		imap_cmd_bad(cmd, "APPEND needs a mailbox and a message literal");
		return;
	}
	if (cmd->count < 1) {
		append_bad(cmd, "APPEND needs a mailbox");
		return;
	}
	if (imap_append_parse_item(a, cmd->args, 1, cmd->count, &error) < 0) {
		append_bad(cmd, error);
		return;
	}
	if (a->utf8 && !s->utf8_accept) {
		append_bad(cmd, "APPEND UTF8 needs ENABLE UTF8=ACCEPT (RFC 6855 4)");
		return;
	}
	const char *code, *text;
	if (imap_append_check_size(s, a->prefix.size, &code, &text) < 0) {
		append_no(cmd, code, text);
		return;
	}
	a->total = a->prefix.size;
	str_t buf = STR_INIT;
	if (imap_mailbox_name_get(&cmd->args[0], s->utf8_accept, &buf, &name, &error) < 0) {
		str_free(&buf);
		append_no(cmd, "CANNOT", error);
		return;
	}
	a->mailbox = pool_strdup(a->pool, name);
	str_free(&buf);
	a->address = s->user;
	imap_cmd_wait(cmd);
	imap_store_run(s, append_begin_work, append_begin_done, s);
}

/* pool thread: write the buffered octets, or finish the delivery */
static void append_write_work(void *ctx, struct store *store)
{
	struct imap_session *s = ctx;
	struct imap_append *a = s->append;
	const char *error;
	(void)store;
	if (!a->write_failed && store_delivery_write(s->delivery, a->buf.data, a->buf.len,
						     &error) < 0) {
		a->write_failed = true;
		job_error(a, -1, error);
	}
}

static void append_write_done(void *ctx)
{
	struct imap_session *s = ctx;
	if (imap_session_check_gone(s))
		return;
	str_truncate(&s->append->buf, 0);
	s->input = IMAP_INPUT_APPEND;
	conn_input_resume(s->base.conn);
}

static bool append_ok(struct imap_append *a)
{
	return !a->write_failed && !a->bad_line && !a->reader.saw_nul &&
		!a->header_8bit_refused;
}

static void append_finish_work(void *ctx, struct store *store)
{
	struct imap_session *s = ctx;
	struct imap_append *a = s->append;
	const char *error;
	(void)store;
	if (!append_ok(a)) {
		store_delivery_abort(&s->delivery);
		imap_multiappend_commit(s, NULL); /* aborts the others */
		return;
	}
	if (s->multi_count > 0) {
		imap_multiappend_commit(s, store);
		return;
	}
	if (imap_append_set_meta(s, &error) < 0) {
		store_delivery_abort(&s->delivery);
		job_error(a, -1, error);
		return;
	}
	if (store_delivery_commit(&s->delivery, &a->uid, &error) < 0)
		job_error(a, -1, error);
}

int imap_append_set_meta(struct imap_session *s, const char **error_r)
{
	struct imap_append *a = s->append;
	return store_delivery_set_meta(s->delivery, &a->flags, a->internaldate, error_r);
}

static void append_reply_ok(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_append *a = s->append;
	char code[128];
	/* RFC 4315 3: APPENDUID <uidvalidity> <uid> */
	const char *set = a->uid_set != NULL ? a->uid_set : t_printf("%u", a->uid);
	snprintf(code, sizeof(code), "APPENDUID %u %s", a->uidvalidity, set);
	imap_append_free(s);
	imap_cmd_ok(cmd, code, "APPEND completed");
}

static void append_finish_done(void *ctx)
{
	struct imap_session *s = ctx;
	if (imap_session_check_gone(s))
		return;
	struct imap_append *a = s->append;
	struct imap_cmd *cmd = &s->cmd;
	s->input = IMAP_INPUT_WAIT; /* the reply resumes the input */
	if (a->reader.saw_nul) {
		imap_append_free(s);
		imap_cmd_bad(cmd, "NUL in a literal; send the message as ~{n} (RFC 3516)");
	} else if (a->header_8bit_refused) {
		imap_append_free(s);
		imap_cmd_no(cmd, NULL, "8-bit header fields need ENABLE UTF8=ACCEPT (RFC 6855 4)");
	} else if (a->bad_line) {
		imap_append_free(s);
		imap_cmd_bad(cmd, "Expected end of line or another message after the message");
	} else if (a->result != 0) {
		log_error("sid=%s event=append_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(a->error));
		imap_append_free(s);
		imap_cmd_no(cmd, "SERVERBUG", "Message not saved");
	} else {
		log_info("sid=%s event=append user=%s mailbox=%s uid=%u size=%llu count=%u",
			 s->base.sid, log_str(s->user), log_str(a->mailbox), a->uid,
			 (unsigned long long)a->total, a->uid_set != NULL ? 2u : 1u);
		/* a selected mailbox reports the new EXISTS (RFC 9051 6.3.12) */
		if (s->sel != NULL)
			imap_select_sync(cmd, append_reply_ok);
		else
			append_reply_ok(cmd);
	}
}

static void append_chunk(void *ctx, const char *data, size_t len)
{
	struct imap_append *a = ctx;
	if (!a->discard && !a->write_failed)
		str_append(&a->buf, data, len);
	if (!a->discard)
		imap_utf8_header_scan(&a->scan, data, len);
}

bool imap_append_input(struct imap_session *s)
{
	struct imap_append *a = s->append;
	if (a->phase == APPEND_PHASE_LITERAL) {
		bool finished = literal_read_conn(&a->reader, s->base.conn, IMAP_INPUT_MAX,
						  append_chunk, a);
		if (a->buf.len >= IMAP_APPEND_CHUNK || (finished && a->buf.len > 0)) {
			imap_cmd_wait(&s->cmd);
			imap_store_run(s, append_write_work, append_write_done, s);
			return true;
		}
		if (!finished)
			return false;
		a->phase = APPEND_PHASE_END;
	}
	const char *line;
	size_t len;
	enum conn_line_result r = conn_read_line(s->base.conn, IMAP_LINE_MAX_AUTH, &line, &len, NULL);
	if (r == CONN_LINE_MORE)
		return false;
	if (a->discard) {
		/* the refused command's line ends here, or goes on to another
		 * {n+} message (RFC 3502) whose octets are dropped too */
		if (r == CONN_LINE_OK && imap_multiappend_discard_more(s, line, len))
			return true;
		imap_append_free(s);
		s->input = IMAP_INPUT_COMMAND;
		return true;
	}
	/* RFC 6855 4: 8-bit header fields only from a client that enabled
	 * UTF-8 (UTF8=ACCEPT or IMAP4rev2) */
	if (a->scan.eight_bit && !s->utf8_accept)
		a->header_8bit_refused = true;
	if (r == CONN_LINE_OK && !imap_utf8_append_end(a->utf8, &line, &len))
		r = CONN_LINE_TOOLONG; /* the UTF8 form's ")" is missing: BAD */
	if (r == CONN_LINE_OK && len > 0 && append_ok(a)) {
		/* RFC 3502 3: the next message of a MULTIAPPEND */
		imap_multiappend_next(s, line, len);
		return true;
	}
	a->bad_line = r == CONN_LINE_TOOLONG || len > 0;
	imap_cmd_wait(&s->cmd);
	imap_store_run(s, append_finish_work, append_finish_done, s);
	return true;
}
