/* imap_input.c: the session's input loop.
 *
 * Input (RFC 9051 2.2, 4.3): each line goes to the command parser
 * (imap_parser.h); a line ending in a literal prefix gets "+" (unless it
 * is a {n+}, RFC 7888) once the size passed the limits, and the literal's
 * octets go to the parser before the next line. A complete command is
 * checked against the table (state, TLS for logins) and run
 * (imap_dispatch.c); it holds the input until its tagged reply, so
 * pipelined commands (RFC 9051 5.5) are answered in order. Limits: the
 * line length, the arguments held, the literal sizes (much smaller before
 * login), and max_bad_commands; past them BYE. A command in its own input
 * mode (AUTHENTICATE, APPEND's message, IDLE) gets its lines here. */
#include "imap_session_private.h"
#include "imap/imap_commands.h"
#include "lib/conn.h"
#include "lib/log.h"

#include <string.h>

/* The tag of a line the parser refused before scanning it (a literal
 * too big is refused from its digits): RFC 9051 9 tag = 1*<any
 * ASTRING-CHAR except "+">, or NULL. */
static const char *imap_line_tag(struct imap_session *s, const char *line, size_t len)
{
	size_t n = 0;
	while (n < len && n < IMAP_TAG_LOG_MAX && line[n] > 0x20 && line[n] < 0x7f &&
	       strchr("(){%*\"\\+", line[n]) == NULL)
		n++;
	if (n == 0 || n >= len || line[n] != ' ')
		return NULL;
	return pool_strndup(s->base.cmd_pool, line, n);
}

/* A literal over the limit (RFC 7889 / RFC 9051 7.1 TOOBIG). The octets
 * of a {n+} are on their way: they cannot be told apart from commands,
 * so the connection ends (RFC 7888 4). */
static void imap_literal_refused(struct imap_session *s, const struct imap_literal_need *need,
				 const char *line, size_t len)
{
	const char *tag = imap_parser_tag(s->parser);
	if (tag == NULL)
		tag = imap_line_tag(s, line, len);
	/* refused from its digits, the parser filled no need: the line says */
	bool nonsync = need != NULL ? need->nonsync :
		len >= 2 && line[len - 1] == '}' && line[len - 2] == '+';
	if (nonsync) {
		conn_printf(s->base.conn, "%s BAD [TOOBIG] Literal too big\r\n",
			    tag != NULL ? tag : "*");
		imap_session_bye(s, "Non-synchronizing literal too big, closing connection");
		return;
	}
	imap_line_bad(s, tag, "TOOBIG", "Literal too big");
}

static void imap_feed_line(struct imap_session *s, const char *line, size_t len)
{
	struct imap_literal_need need;
	const char *error;
	if (imap_parser_tag(s->parser) == NULL && line_is_http_request(line, len)) {
		/* TESTING.md 9 (ALPACA): a tag "GET" would be echoed; drop */
		log_info("sid=%s event=http_request ip=%s", s->base.sid, s->base.peer_ip);
		session_close(&s->base);
		return;
	}
	/* APPEND's message literal is streamed, not parsed (imap_append.c) */
	size_t append_len = len;
	bool append = imap_append_prefix(s, line, len, &append_len);
	int r = imap_parser_feed_line(s->parser, line, append_len, &need, &error);
	if (append && r != 0) {
		imap_append_free(s);
		if (r > 0) {
			imap_line_bad(s, imap_parser_tag(s->parser), NULL, "Invalid APPEND");
			return;
		}
	}
	if (r < 0) {
		if (imap_parser_failure(s->parser) == IMAP_PARSER_FAIL_TOOBIG) {
			imap_literal_refused(s, NULL, line, len);
			return;
		}
		const char *tag = imap_parser_tag(s->parser);
		imap_line_bad(s, tag != NULL ? tag : imap_line_tag(s, line, len), NULL, "%s", error);
		return;
	}
	if (r == 1) {
		/* TESTING.md 11: before login only small literals (a LOGIN's) */
		if (s->state == IMAP_STATE_NOT_AUTH && need.size > IMAP_PREAUTH_LITERAL_MAX) {
			imap_literal_refused(s, &need, line, len);
			return;
		}
		struct literal_prefix prefix = {
			.size = need.size, .nonsync = need.nonsync, .binary = need.binary,
		};
		literal_reader_init(&s->literal, &prefix);
		s->input = IMAP_INPUT_LITERAL;
		/* RFC 9051 7.5: "+" asks for the octets of a synchronising literal */
		if (!need.nonsync)
			conn_printf(s->base.conn, "+ Ready for literal data\r\n");
		return;
	}
	imap_dispatch(s, imap_parser_command(s->parser));
}

static void imap_check_drain(struct imap_session *s)
{
	if (s->base.draining && s->input == IMAP_INPUT_COMMAND && !s->base.closing &&
	    s->cmd.tag == NULL)
		imap_session_bye(s, "[UNAVAILABLE] Server shutting down");
}

void imap_input_process(struct imap_session *s)
{
	while (!s->base.closing && s->input != IMAP_INPUT_WAIT) {
		if (s->input == IMAP_INPUT_APPEND) {
			if (!imap_append_input(s))
				return;
			continue;
		}
		if (s->input == IMAP_INPUT_LITERAL) {
			if (!literal_read_conn(&s->literal, s->base.conn, IMAP_INPUT_MAX,
					       imap_parser_literal_chunk, s->parser))
				return;
			s->input = IMAP_INPUT_COMMAND;
			continue;
		}
		const char *line;
		size_t len;
		size_t max = s->state == IMAP_STATE_NOT_AUTH ? IMAP_LINE_MAX : IMAP_LINE_MAX_AUTH;
		enum conn_line_result r = conn_read_line(s->base.conn, max, &line, &len, NULL);
		if (r == CONN_LINE_MORE)
			return;
		if (s->input == IMAP_INPUT_IDLE) {
			imap_idle_input_line(s, r == CONN_LINE_TOOLONG ? NULL : line, len);
			continue;
		}
		if (r == CONN_LINE_TOOLONG) {
			if (s->input == IMAP_INPUT_SASL)
				imap_auth_abort(s);
			/* the command it belonged to is lost with it; its tag
			 * gets the BAD (RFC 9051 7.1.5), so a client waiting
			 * for it does not hang */
			const char *tag = imap_parser_tag(s->parser);
			size_t tag_len = line != NULL ? imap_line_tag_length(line, len) : 0;
			if (tag == NULL && tag_len > 0)
				tag = t_strndup(line, tag_len);
			imap_line_bad(s, tag, NULL, "Line too long (at most %zu octets)", max);
			continue;
		}
		if (s->input == IMAP_INPUT_SASL)
			imap_auth_input_line(s, line, len);
		else
			imap_feed_line(s, line, len);
		imap_check_drain(s);
	}
}
