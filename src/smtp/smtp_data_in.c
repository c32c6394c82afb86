/* smtp_data_in.c: DATA (RFC 5321 4.1.1.4) and BDAT (RFC 3030) receipt.
 *
 * The message is kept in memory, or when big in an anonymous spool file
 * that smtp_spool.c writes off the event loop; it arrives through the
 * decoder in smtp_data.c, which alone decides where DATA ends: only
 * CRLF.CRLF. Bare CR, bare LF and NUL make the message refused after its
 * end (SMTP smuggling), never a second message; on submission after AUTH
 * a bare LF is taken as CRLF instead. Over the size limit, the
 * rest is read and dropped, then 552. */
#include "smtp_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/log.h"

#include <string.h>

/* The minimum data rate (Postfix's smtpd_min_data_rate): a DATA or BDAT
 * request gets smtp_timeout, plus one second per smtp_min_data_rate
 * octets received. The idle timer alone restarts on every read, so a
 * byte per idle period would hold the session for ever; a total time
 * would cut off large mail on slow links. */
static void smtp_rate_start(struct smtp_session *s)
{
	const struct config *config = s->base.env->config;
	if (config->smtp_min_data_rate > 0)
		session_request_start(&s->base, config->smtp_timeout * 1000);
}

static void smtp_rate_progress(struct smtp_session *s, size_t octets)
{
	session_request_progress(&s->base, octets,
				 s->base.env->config->smtp_min_data_rate);
}

/* A message is kept in memory up to SMTP_SPOOL_MEM_MAX octets and goes
 * from there straight into its mailbox files; only a bigger one spills into
 * the session's spool file (O_TMPFILE in DATA_DIR/spool, reused by each
 * message): creating and deleting an inode per message is a large share
 * of the kernel's work under load. */
int smtp_spool_open(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	tx->spool_fd = -1;
	tx->spool_size = 0;
	str_clear(&tx->spool_buf);
	return 0;
}

/* Submission (587/465) from a logged-in user takes bare LFs as CRLF
 * (issue 11 item 7; Postfix's smtpd_forbid_bare_newline = normalize):
 * scripts send them. Port 25 keeps refusing them (RFC 5321 2.3.8). */
static void smtp_decoder_start(struct smtp_session *s, enum smtp_data_mode mode)
{
	struct smtp_tx *tx = s->tx;
	smtp_data_decoder_init(&tx->dec, mode, s->base.env->config->message_size_limit,
			       &tx->spool_buf);
	if (s->base.service != SERVICE_SMTP && s->auth_user != NULL)
		smtp_data_decoder_accept_bare_lf(&tx->dec);
}

/* The whole message is in; judge it, then deliver. */
static void smtp_message_complete(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	/* after a spool write comes back, input continues here */
	tx->completing = true;
	if (smtp_spool_flush(s, true))
		return;
	if (tx->spool_fd < 0)
		tx->spool_size = tx->spool_buf.len; /* all of it in memory */
	s->state = SMTP_STATE_COMMAND;
	session_request_stop(&s->base);
	const char *bad = smtp_data_error_reason(&tx->dec);
	if (bad != NULL) {
		log_info("sid=%s event=message_refused ip=%s reason=%s", s->base.sid, s->base.peer_ip,
			 log_str(bad));
		/* RFC 5321 2.3.8: CR and LF only as CRLF */
		smtp_reply(s, 550, "5.6.0", "Message refused: %s (lines must end in CRLF, no NUL)", bad);
		smtp_tx_reset(s);
		return;
	}
	if (tx->dec.too_big) {
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		smtp_tx_reset(s);
		return;
	}
	if (tx->spool_failed) {
		smtp_reply(s, 452, "4.3.1", "Insufficient system storage");
		smtp_tx_reset(s);
		return;
	}
	smtp_deliver(s);
}

void smtp_cmd_data(struct smtp_session *s, const struct smtp_command *cmd)
{
	(void)cmd;
	struct smtp_tx *tx = s->tx;
	if (tx == NULL) {
		smtp_reply(s, 503, "5.5.1", "Need MAIL command");
		return;
	}
	if (tx->bdat_started) {
		/* RFC 3030 2: DATA and BDAT do not mix in one transaction */
		smtp_reply(s, 503, "5.5.1", "DATA not allowed after BDAT");
		return;
	}
	if (tx->rcpt_count == 0) {
		/* RFC 5321 3.3 */
		smtp_reply(s, 554, "5.5.1", "No valid recipients");
		return;
	}
	if (smtp_spool_open(s) < 0) {
		smtp_reply(s, 451, "4.3.0", "Local error in processing");
		return;
	}
	smtp_decoder_start(s, SMTP_DATA_MODE_DATA);
	s->state = SMTP_STATE_DATA;
	smtp_rate_start(s);
	smtp_reply(s, 354, NULL, "End data with <CR><LF>.<CR><LF>");
}

bool smtp_data_input(struct smtp_session *s)
{
	struct smtp_tx *tx = s->tx;
	if (tx->completing) {
		smtp_message_complete(s);
		return true;
	}
	const char *data;
	size_t avail = conn_input_peek(s->base.conn, &data);
	if (avail == 0)
		return false;
	size_t consumed = 0;
	bool end = smtp_data_decoder_feed(&tx->dec, data, avail, &consumed) == 1;
	conn_input_consume(s->base.conn, consumed);
	smtp_rate_progress(s, consumed);
	if (end)
		tx->completing = true; /* what follows is the next command */
	if (smtp_spool_flush(s, false))
		return false;
	if (!end)
		return false;
	smtp_message_complete(s);
	return true;
}

/* Reply after a BDAT chunk that had to be read and thrown away. */
static void smtp_bdat_skip(struct smtp_session *s, uint64_t size, unsigned code,
			   const char *enhanced, const char *text)
{
	s->skip_remaining = size;
	s->skip_reply.code = code;
	s->skip_reply.enhanced = enhanced;
	s->skip_reply.text = text;
	s->state = SMTP_STATE_BDAT_SKIP;
	smtp_rate_start(s);
}

void smtp_cmd_bdat(struct smtp_session *s, const struct smtp_command *cmd)
{
	const struct config *config = s->base.env->config;
	struct smtp_bdat bdat;
	struct smtp_reply_err err;
	/* a chunk may not be larger than the whole message may be */
	if (smtp_parse_bdat(cmd->args, cmd->args_len, config->message_size_limit,
			    &bdat, &err) < 0) {
		/* Without a valid size we cannot know where the chunk ends;
		 * with one far over the limit (BDAT 4294967296), reading it
		 * all just to throw it away is work a client should not be
		 * able to demand: reply and close. A chunk a little over the
		 * limit is read and refused, keeping the session. */
		smtp_tx_reset(s);
		uint64_t limit = config->message_size_limit;
		if (bdat.size_valid && bdat.size <= limit) {
			/* RFC 3030 2: read the chunk, then refuse it */
			smtp_bdat_skip(s, bdat.size, err.code, err.enhanced, err.text);
			return;
		}
		if (bdat.size_valid && bdat.size - limit <= SMTP_BDAT_SKIP_MAX) {
			/* refuse at once, then read and drop the chunk */
			smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
			smtp_bdat_skip(s, bdat.size, 0, NULL, NULL);
			return;
		}
		if (bdat.size_valid)
			smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		else
			smtp_reply_err(s, &err);
		smtp_session_close(s);
		return;
	}
	struct smtp_tx *tx = s->tx;
	if (tx == NULL) {
		smtp_bdat_skip(s, bdat.size, 503, "5.5.1", "Need MAIL command");
		return;
	}
	if (tx->rcpt_count == 0) {
		smtp_bdat_skip(s, bdat.size, 554, "5.5.1", "No valid recipients");
		return;
	}
	if (!tx->bdat_started) {
		if (smtp_spool_open(s) < 0) {
			smtp_tx_reset(s);
			smtp_bdat_skip(s, bdat.size, 451, "4.3.0", "Local error in processing");
			return;
		}
		smtp_decoder_start(s, SMTP_DATA_MODE_BDAT);
		tx->bdat_started = true;
	}
	tx->bdat_remaining = bdat.size;
	tx->bdat_last = bdat.last;
	s->state = SMTP_STATE_BDAT;
	smtp_rate_start(s);
	if (bdat.size == 0)
		smtp_bdat_input(s);
}

bool smtp_bdat_input(struct smtp_session *s)
{
	const char *data;
	size_t avail = conn_input_peek(s->base.conn, &data);
	if (s->state == SMTP_STATE_BDAT_SKIP) {
		size_t n = avail < s->skip_remaining ? avail : (size_t)s->skip_remaining;
		conn_input_consume(s->base.conn, n);
		smtp_rate_progress(s, n);
		s->skip_remaining -= n;
		if (s->skip_remaining > 0)
			return false;
		s->state = SMTP_STATE_COMMAND;
		session_request_stop(&s->base);
		if (s->skip_reply.code != 0) /* 0: the reply went out already */
			smtp_reply_err(s, &s->skip_reply);
		return true;
	}
	struct smtp_tx *tx = s->tx;
	if (tx->completing) {
		smtp_message_complete(s);
		return true;
	}
	size_t n = avail < tx->bdat_remaining ? avail : (size_t)tx->bdat_remaining;
	if (n > 0) {
		size_t consumed = 0;
		smtp_data_decoder_feed(&tx->dec, data, n, &consumed);
		conn_input_consume(s->base.conn, n);
		smtp_rate_progress(s, n);
		tx->bdat_remaining -= n;
		if (smtp_spool_flush(s, false))
			return false;
	}
	if (tx->bdat_remaining > 0)
		return false;
	session_request_stop(&s->base);
	if (tx->bdat_last) {
		smtp_data_decoder_finish(&tx->dec);
		smtp_message_complete(s);
		return true;
	}
	s->state = SMTP_STATE_COMMAND;
	if (tx->dec.too_big) {
		/* RFC 3030 2: refuse now; the transaction is over */
		smtp_reply(s, 552, "5.3.4", "Message size exceeds fixed maximum message size");
		smtp_tx_reset(s);
		return true;
	}
	smtp_reply(s, 250, "2.0.0", "%llu octets received",
		   (unsigned long long)tx->dec.size);
	return true;
}
