/* imap_idle.c: IDLE (RFC 2177, RFC 9051 6.3.13).
 *
 * Contract: IDLE answers "+ idling" and stays the running command until
 * the client sends "DONE" (tagged OK) or anything else (tagged BAD). With
 * a mailbox selected it watches it (store_watch.h: deliveries, flag
 * changes and expunges by any session in any worker reach this loop);
 * each wake-up syncs the view in a job (imap_select_sync()) and pushes
 * EXISTS / EXPUNGE / FETCH FLAGS at once (RFC 9051 7.5.1 allows EXPUNGE
 * here: no command with sequence numbers runs). Changes arriving during
 * a sync are taken by one more sync after it. A sync starts only once
 * everything sent before is written (drained callback), and its report
 * stops rendering flag changes when the client falls behind
 * (imap_select_sync_net(): a report that had to wait long for the client
 * to read while the mailbox changed again; the report's own unsent
 * output, which the loop writes after it, does not count, so a client
 * that reads is never cut): a client that stops reading costs bounded
 * memory and, when it reads again, gets the net state since what it was
 * last sent, not every change in between. In
 * the authenticated state IDLE just waits. The timer is the session's
 * autologout (imap_timeout, RFC 9051 5.4); a draining server ends the
 * IDLE with BYE. */
#include "imap_commands.h"
#include "imap/imap_notify.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store_watch.h"

#include <stdlib.h>
#include <strings.h>

struct imap_idle {
	struct store_watch *watch;
	bool dirty;        /* a change not reported yet */
	bool wait_drain;   /* waiting for output room */
};

void imap_idle_free(struct imap_session *s)
{
	struct imap_idle *idle = s->idle;
	if (idle == NULL)
		return;
	s->idle = NULL;
	store_watch_remove(&idle->watch);
	if (idle->wait_drain)
		conn_set_output_drained(s->base.conn, NULL, NULL);
	free(idle);
}

static void imap_idle_synced(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	/* what the sync reported is written: a long IDLE must not pile up
	 * each sync's arrays in the command's pool (IDLE keeps nothing there,
	 * so the pool gives its block back too) */
	pool_release(s->base.cmd_pool);
	s->input = IMAP_INPUT_IDLE;
	if (s->idle != NULL && s->sel != NULL && s->sel->flags_owed)
		s->idle->dirty = true; /* the rest once the client has read */
	if (s->base.draining) {
		/* the drain came while the sync ran */
		imap_session_bye(s, "[UNAVAILABLE] Server shutting down");
		return;
	}
	conn_input_resume(s->base.conn);
	imap_idle_kick(s);
	imap_notify_kick(s);
}

/* NOTIFY (RFC 5465 5.2, imap_notify_fetch.c): the new messages' FETCH
 * with MessageNew's attributes follows their EXISTS */
static void imap_idle_reported(struct imap_cmd *cmd)
{
	if (!imap_notify_fetch_start(cmd, imap_idle_synced))
		imap_idle_synced(cmd);
}

static void imap_idle_drained(void *ctx)
{
	struct imap_session *s = ctx;
	if (s->idle == NULL)
		return;
	s->idle->wait_drain = false;
	conn_set_output_drained(s->base.conn, NULL, NULL);
	imap_idle_kick(s);
}

/* Report what changed, if nothing else runs and the output has room. */
void imap_idle_kick(struct imap_session *s)
{
	struct imap_idle *idle = s->idle;
	if (idle == NULL || !idle->dirty || idle->wait_drain || s->sel == NULL ||
	    s->input != IMAP_INPUT_IDLE || s->store_busy || s->base.closing)
		return;
	if (conn_output_pending(s->base.conn) > 0) {
		idle->wait_drain = true;
		conn_set_output_drained(s->base.conn, imap_idle_drained, s);
		return;
	}
	idle->dirty = false;
	imap_notify_fetch_mark(s);
	imap_select_sync_net(&s->cmd, imap_idle_reported);
}

bool imap_idle_changed_since(const struct imap_session *s)
{
	return s->idle != NULL && s->idle->dirty;
}

static void imap_idle_changed(const char *user, const char *mailbox, uint64_t modseq,
			      bool from_peer, void *ctx)
{
	struct imap_session *s = ctx;
	(void)user;
	(void)mailbox;
	log_debug("sid=%s event=idle_wake modseq=%llu peer=%d", s->base.sid,
		  (unsigned long long)modseq, from_peer ? 1 : 0);
	if (s->idle == NULL)
		return;
	s->idle->dirty = true;
	imap_idle_kick(s);
}

void imap_cmd_idle(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "IDLE takes no arguments");
		return;
	}
	struct imap_idle *idle = xcalloc(1, sizeof(*idle));
	s->idle = idle;
	if (s->sel != NULL)
		idle->watch = store_watch_add(s->user, s->sel->name, imap_idle_changed, s);
	conn_printf(s->base.conn, "+ idling\r\n");
	s->input = IMAP_INPUT_IDLE;
	/* RFC 2177 3: what changed since the last command is sent at once */
	idle->dirty = true;
	imap_idle_kick(s);
}

static void imap_idle_done(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "IDLE terminated");
}

void imap_idle_input_line(struct imap_session *s, const char *line, size_t len)
{
	struct imap_cmd *cmd = &s->cmd;
	/* a change still untold (it waited for the client to read, which it
	 * does now): reported before the tagged OK, in full */
	bool untold = s->idle != NULL && s->sel != NULL &&
		(s->idle->dirty || s->sel->flags_owed);
	imap_idle_free(s);
	s->input = IMAP_INPUT_COMMAND;
	if (line == NULL || len != 4 || strncasecmp(line, "DONE", 4) != 0)
		imap_cmd_bad(cmd, "Expected DONE to end IDLE");
	else if (untold)
		imap_select_sync(cmd, imap_idle_done);
	else
		imap_cmd_ok(cmd, NULL, "IDLE terminated");
}
