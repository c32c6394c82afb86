/* imap_multiappend.c: MULTIAPPEND (RFC 3502): one APPEND carrying several
 * messages, stored all or none.
 *
 * Contract: imap_append.c streams the first message as for a plain
 * APPEND. When the line goes on after a message's literal (RFC 3502 6:
 * append = "APPEND" SP mailbox 1*append-message), imap_multiappend_next()
 * parses the next message's flags, date and literal prefix, checks it
 * (APPENDLIMIT per message: NO [TOOBIG] before its "+", RFC 7889; at most
 * IMAP_MULTIAPPEND_MAX messages and IMAP_MULTIAPPEND_TOTAL_FACTOR x
 * APPENDLIMIT in all: NO [LIMIT]), and in a job sets the finished
 * message's flags and date, keeps its delivery in s->multi and opens the
 * next one. At the line's end imap_multiappend_commit() hands all of them
 * to store_delivery_commit_multi(): one durable step, so the tagged OK
 * (with APPENDUID uidvalidity uid-set, RFC 4315 3) means every message is
 * stored, and any refusal (a bad 3rd message, a NUL, a full disk) or a
 * lost connection (imap_store_close()) or a crash stores none (RFC 3502
 * 3: "If the server ... rejects any message, none are appended"). */
#include "imap/imap_append_private.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "imap/imap_utf8.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void multi_abort_all(struct imap_session *s)
{
	if (s->delivery != NULL)
		store_delivery_abort(&s->delivery);
	for (unsigned i = 0; i < s->multi_count; i++)
		store_delivery_abort(&s->multi[i]);
	free(s->multi);
	s->multi = NULL;
	s->multi_count = 0;
}

static void multi_error(struct imap_append *a, const char *error)
{
	a->result = -1;
	snprintf(a->error, sizeof(a->error), "%s", error != NULL ? error : "?");
}

/* pool thread: drop every message of the command */
static void multi_abort_work(void *ctx, struct store *store)
{
	(void)store;
	multi_abort_all(ctx);
}

static void multi_refuse_done(void *ctx)
{
	struct imap_session *s = ctx;
	if (imap_session_check_gone(s))
		return;
	struct imap_append *a = s->append;
	if (a->refuse_bad)
		imap_cmd_bad(&s->cmd, "%s", a->refuse_text);
	else
		imap_cmd_no(&s->cmd, a->refuse_code, "%s", a->refuse_text);
	imap_append_refused(s);
}

/* Answer the command once every message written so far is gone. */
static void multi_refuse(struct imap_session *s, bool bad, const char *code, const char *text)
{
	struct imap_append *a = s->append;
	a->refuse_bad = bad;
	a->refuse_code = code;
	a->refuse_text = text;
	imap_cmd_wait(&s->cmd);
	imap_store_run(s, multi_abort_work, multi_refuse_done, s);
}

/* pool thread: finish the message just read, open the next */
static void multi_next_work(void *ctx, struct store *store)
{
	struct imap_session *s = ctx;
	struct imap_append *a = s->append;
	const char *error;
	if (store == NULL) {
		multi_error(a, "no store handle");
	} else if (imap_append_set_meta(s, &error) < 0) {
		multi_error(a, error);
	} else {
		s->multi = xrealloc(s->multi, (s->multi_count + 1) * sizeof(*s->multi));
		s->multi[s->multi_count++] = s->delivery;
		s->delivery = store_delivery_begin(store, a->address, a->mailbox, &error);
		if (s->delivery == NULL)
			multi_error(a, error);
	}
	if (a->result != 0)
		multi_abort_all(s);
}

static void multi_next_done(void *ctx)
{
	struct imap_session *s = ctx;
	if (imap_session_check_gone(s))
		return;
	struct imap_append *a = s->append;
	if (a->result != 0) {
		log_error("sid=%s event=append_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(a->error));
		imap_cmd_no(&s->cmd, "SERVERBUG", "Messages not saved");
		imap_append_refused(s);
		return;
	}
	a->flags = a->next_flags;
	a->internaldate = a->next_date;
	imap_append_start_literal(s);
}

/* " [flag-list SP] [date-time SP] literal-prefix": the item's arguments
 * into a (flags, date) through a parser of its own. */
static int multi_parse_item(struct imap_append *a, const char *line, size_t end,
			    const char **error_r)
{
	if (a->item_parser == NULL) {
		struct imap_parser_limits limits = {
			.max_args = IMAP_APPEND_FLAGS_MAX + 8, .max_depth = 2,
			.max_command_size = IMAP_LINE_MAX,
			.literal = { .max_size = 0, .max_nonsync = 0 },
		};
		a->item_parser = imap_parser_create(&limits);
	}
	imap_parser_reset(a->item_parser);
	str_t text = STR_INIT;
	str_appendz(&text, "m APPEND");
	if (end > 1) {
		str_appendz(&text, " ");
		str_append(&text, line + 1, end - 1);
	}
	struct imap_literal_need need;
	int ret = imap_parser_feed_line(a->item_parser, text.data, text.len, &need, error_r);
	str_free(&text);
	if (ret != 0) {
		if (ret > 0)
			*error_r = "Literal inside an APPEND message's arguments";
		return -1;
	}
	const struct imap_command *c = imap_parser_command(a->item_parser);
	return imap_append_parse_item(a, c->args, 0, c->count, error_r);
}

void imap_multiappend_next(struct imap_session *s, const char *line, size_t len)
{
	struct imap_append *a = s->append;
	const uint64_t limit = s->base.env->config->message_size_limit;
	struct literal_limits limits = {
		.max_size = LITERAL_NUMBER64_MAX, .max_nonsync = IMAP_NONSYNC_MAX,
	};
	struct literal_prefix prefix;
	const char *error, *code, *text;
	enum literal_prefix_result r = literal_parse_prefix(line, len, &limits, &prefix, &error);
	if (r != LITERAL_PREFIX_OK && r != LITERAL_PREFIX_TOOBIG) {
		multi_refuse(s, true, NULL, "Expected end of line or another message");
		return;
	}
	/* a refusal from here on drops a {n+}'s octets (imap_append_refused) */
	a->prefix = prefix;
	a->started = false;
	if (r == LITERAL_PREFIX_TOOBIG) {
		multi_refuse(s, true, "TOOBIG", "Non-synchronising literal over 4096 octets");
		return;
	}
	bool utf8;
	size_t end = imap_utf8_append_form(line, &prefix, &utf8);
	while (end > 0 && line[end - 1] == ' ')
		end--;
	a->utf8 = utf8;
	if (utf8 && !s->utf8_accept) {
		multi_refuse(s, true, NULL, "APPEND UTF8 needs ENABLE UTF8=ACCEPT (RFC 6855 4)");
		return;
	}
	struct store_flags_update done_flags = a->flags;
	time_t done_date = a->internaldate;
	if (line[0] != ' ' || multi_parse_item(a, line, end, &error) < 0) {
		multi_refuse(s, true, NULL, line[0] != ' ' ? "Expected SP" : error);
		return;
	}
	struct store_flags_update next_flags = a->flags;
	time_t next_date = a->internaldate;
	a->flags = done_flags;
	a->internaldate = done_date;
	if (imap_append_check_size(s, prefix.size, &code, &text) < 0) {
		multi_refuse(s, false, code, text);
		return;
	}
	if (s->multi_count + 2 > IMAP_MULTIAPPEND_MAX) {
		multi_refuse(s, false, "LIMIT", "Too many messages in one APPEND");
		return;
	}
	if (a->total + prefix.size > IMAP_MULTIAPPEND_TOTAL_FACTOR * limit) {
		multi_refuse(s, false, "LIMIT", "Messages of one APPEND too big together");
		return;
	}
	a->total += prefix.size;
	/* the job gives the finished message a->flags; then these apply */
	a->next_flags = next_flags;
	a->next_date = next_date;
	imap_cmd_wait(&s->cmd);
	imap_store_run(s, multi_next_work, multi_next_done, s);
}

/* "first:last" runs of ascending UIDs, comma-separated (RFC 4315 uid-set) */
static const char *multi_uid_set(pool_t *pool, const uint32_t *uids, unsigned n)
{
	str_t set = STR_INIT;
	for (unsigned i = 0; i < n;) {
		unsigned j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (set.len > 0)
			str_appendz(&set, ",");
		if (j > i)
			str_printf(&set, "%u:%u", uids[i], uids[j]);
		else
			str_printf(&set, "%u", uids[i]);
		i = j + 1;
	}
	const char *ret = pool_strndup(pool, set.data, set.len);
	str_free(&set);
	return ret;
}

void imap_multiappend_commit(struct imap_session *s, struct store *store)
{
	struct imap_append *a = s->append;
	const char *error;
	if (store == NULL) {
		multi_abort_all(s);
		return;
	}
	if (imap_append_set_meta(s, &error) < 0) {
		multi_error(a, error);
		multi_abort_all(s);
		return;
	}
	s->multi = xrealloc(s->multi, (s->multi_count + 1) * sizeof(*s->multi));
	s->multi[s->multi_count++] = s->delivery;
	s->delivery = NULL;
	unsigned n = s->multi_count;
	uint32_t *uids = xcalloc(n, sizeof(*uids));
	if (store_delivery_commit_multi(store, s->multi, n, uids, &error) < 0) {
		multi_error(a, error);
	} else {
		a->uid = uids[0];
		a->uid_set = multi_uid_set(a->pool, uids, n);
	}
	free(uids);
	free(s->multi);
	s->multi = NULL;
	s->multi_count = 0;
}

bool imap_multiappend_discard_more(struct imap_session *s, const char *line, size_t len)
{
	struct imap_append *a = s->append;
	struct literal_limits limits = {
		.max_size = LITERAL_NUMBER64_MAX, .max_nonsync = LITERAL_NUMBER64_MAX,
	};
	struct literal_prefix prefix;
	const char *error;
	if (len == 0 || literal_parse_prefix(line, len, &limits, &prefix, &error) !=
	    LITERAL_PREFIX_OK || !prefix.nonsync)
		return false;
	/* RFC 7888 4: {n+} octets come unasked; they are read and dropped */
	a->prefix = prefix;
	literal_reader_init(&a->reader, &a->prefix);
	a->phase = APPEND_PHASE_LITERAL;
	return true;
}
