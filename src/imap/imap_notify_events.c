/* imap_notify_events.c: NOTIFY's wake-ups and what they send (RFC 5465 5).
 *
 * Contract: one store watch (store_watch.h) on all of the user's
 * mailboxes, fed by every session in every worker. A change marks work:
 * the selected mailbox (SELECTED: synced and reported with EXISTS,
 * EXPUNGE, FETCH FLAGS between commands, RFC 5465 5.1-5.3, and
 * MessageNew's FETCH, imap_notify_fetch.c; SELECTED-DELAYED sends new
 * messages and flag changes, imap_notify_delayed.c, and leaves expunges
 * to the next command; IDLE reports it itself), another
 * mailbox a group takes (its STATUS, 5.1-5.3: MESSAGES UIDNEXT, and
 * UNSEEN with FlagChange), the list of mailboxes or subscriptions (a job
 * lists both and the difference from the last listing goes out as LIST,
 * imap_notify_list.c). Work starts, deferred, only while no
 * command runs (or IDLE waits) and no job of the session is out; input
 * is held meanwhile, so commands never interleave with it. Unsolicited
 * output starts only with IMAP_NOTIFY_ROOM_MIN free in the output buffer
 * and each line needs room: otherwise, or past IMAP_NOTIFY_PENDING_MAX
 * mailboxes waiting, the session gets "* OK [NOTIFICATIONOVERFLOW]" and
 * NOTIFY is off as after NOTIFY NONE (5.8): memory stays bounded. The
 * LIST lines are written by imap_notify_list.c. */
#include "imap_notify.h"
#include "imap/imap_commands.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notify_job {
	struct imap_session *s;
	struct imap_cmd *cmd;      /* NOTIFY SET (replies), or NULL */
	pool_t *pool;
	enum imap_input prev_input;
	bool list;                 /* list mailboxes and subscriptions */
	bool all_status;           /* NOTIFY SET STATUS */
	bool condstore;            /* the session's, when the job began */
	char *skip;                /* the selected mailbox: never a STATUS */
	char *pending[IMAP_NOTIFY_PENDING_MAX];
	unsigned pending_count;
	const char **names, **subs;
	unsigned name_count, sub_count;
	/* the STATUS to send: names and values */
	const char **st_names;
	struct store_mailbox_status *st;
	unsigned *st_items;
	unsigned st_count;
	int result;
	char error[256];
};

static void notify_kick(struct imap_session *s);

static void notify_job_free(struct notify_job *job)
{
	for (unsigned i = 0; i < job->pending_count; i++)
		free(job->pending[i]);
	free(job->skip);
	pool_destroy(&job->pool);
	free(job);
}

/* RFC 5465 5.8: too much to tell; as NOTIFY NONE */
static void notify_overflow(struct imap_session *s)
{
	log_info("sid=%s event=notify_overflow user=%s pending=%zu", s->base.sid,
		 log_str(s->user), conn_output_pending(s->base.conn));
	imap_notify_free(s);
	if (conn_output_room(s->base.conn) > 128)
		imap_untagged(s, "OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is off");
}

/* ---- the work, on the user's lane ---- */

static void notify_status_add(struct notify_job *job, struct store *store, const char *name,
			      unsigned items)
{
	if (job->skip != NULL && strcmp(name, job->skip) == 0)
		return;
	const char *error;
	struct store_mailbox_status st;
	if (store_mailbox_status(store, job->s->user, name, &st, &error) < 0)
		return; /* gone meanwhile: its LIST tells */
	unsigned i = job->st_count++;
	job->st_names[i] = pool_strdup(job->pool, name);
	job->st[i] = st;
	job->st_items[i] = items;
}

static unsigned notify_status_items(const struct notify_job *job, unsigned events)
{
	unsigned items = IMAP_STATUS_MESSAGES | IMAP_STATUS_UIDNEXT;
	if ((events & IMAP_NOTIFY_FLAG_CHANGE) != 0)
		items |= IMAP_STATUS_UNSEEN;
	/* RFC 5465 5.1 with RFC 7162 3.1.6: once CONDSTORE is enabled the
	 * STATUS sent for a change carries HIGHESTMODSEQ too, so the client
	 * can tell whether it already has every change of the mailbox */
	if (job->condstore)
		items |= IMAP_STATUS_HIGHESTMODSEQ;
	return items;
}

static void notify_work(void *ctx, struct store *store)
{
	struct notify_job *job = ctx;
	const struct imap_notify *n = job->s->notify;
	const char *error;
	if (store == NULL || n == NULL) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "no store handle");
		return;
	}
	if (job->list &&
	    (imap_mailbox_names(store, job->s->user, job->pool, &job->names, &job->name_count,
				&error) < 0 ||
	     imap_mailbox_subscriptions(store, job->s->user, job->pool, &job->subs,
					&job->sub_count, &error) < 0)) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error);
		return;
	}
	/* the subscriptions SUBSCRIBED matches against: the fresh ones */
	const char *const *subs = job->list ? job->subs : (const char *const *)n->subs;
	unsigned sub_count = job->list ? job->sub_count : n->sub_count;
	unsigned max = job->pending_count + (job->all_status ? job->name_count : 0);
	job->st_names = pool_alloc(job->pool, (max + 1) * sizeof(*job->st_names));
	job->st = pool_alloc(job->pool, (max + 1) * sizeof(*job->st));
	job->st_items = pool_alloc(job->pool, (max + 1) * sizeof(*job->st_items));
	for (unsigned i = 0; job->all_status && i < job->name_count; i++) {
		unsigned ev = imap_notify_events_for(n, job->names[i], subs, sub_count);
		/* RFC 5465 3.1: each mailbox the message events are asked for */
		if ((ev & IMAP_NOTIFY_MESSAGE_EVENTS) != 0)
			notify_status_add(job, store, job->names[i],
					  notify_status_items(job, ev) | IMAP_STATUS_UIDVALIDITY |
					  IMAP_STATUS_UNSEEN);
	}
	for (unsigned i = 0; i < job->pending_count; i++) {
		unsigned ev = imap_notify_events_for(n, job->pending[i], subs, sub_count);
		if ((ev & IMAP_NOTIFY_MESSAGE_EVENTS) != 0)
			notify_status_add(job, store, job->pending[i], notify_status_items(job, ev));
	}
}

/* ---- what it sends, on the loop ---- */

static bool notify_write_status(struct imap_session *s, struct notify_job *job, str_t *out)
{
	str_t line = STR_INIT;
	bool ok = true;
	for (unsigned i = 0; ok && i < job->st_count; i++) {
		str_clear(&line);
		str_appendz(&line, "STATUS ");
		imap_append_mailbox(s, &line, job->st_names[i]);
		str_appendc(&line, ' ');
		imap_status_append(s, &line, job->st_items[i], &job->st[i]);
		if (out != NULL) {
			str_printf(out, "* %s\r\n", str_c(&line));
		} else if (imap_notify_room(s, line.len)) {
			imap_untagged(s, "%s", str_c(&line));
		} else {
			ok = false;
		}
	}
	str_free(&line);
	return ok;
}

/* input back as it was; a drain that came meanwhile ends the session */
static void notify_input_restore(struct imap_session *s, enum imap_input prev)
{
	s->input = prev;
	if (s->base.draining) {
		imap_session_bye(s, "[UNAVAILABLE] Server shutting down");
		return;
	}
	conn_input_resume(s->base.conn);
	if (prev == IMAP_INPUT_IDLE)
		imap_idle_kick(s);
	notify_kick(s);
}

static void notify_update_done(void *ctx)
{
	struct notify_job *job = ctx;
	struct imap_session *s = job->s;
	if (imap_session_check_gone(s)) {
		notify_job_free(job);
		return;
	}
	bool ok = true;
	if (job->result < 0)
		log_error("sid=%s event=notify_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
	else if (s->notify != NULL && !s->base.closing) {
		ok = notify_write_status(s, job, NULL);
		if (job->list)
			ok = imap_notify_list_update(s, job->pool, job->names, job->name_count,
						     job->subs, job->sub_count, ok) && ok;
	}
	if (!ok)
		notify_overflow(s);
	enum imap_input prev = job->prev_input;
	notify_job_free(job);
	notify_input_restore(s, prev);
}

static struct notify_job *notify_job_new(struct imap_session *s)
{
	struct notify_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->pool = pool_create(4096);
	job->condstore = s->condstore;
	if (s->sel != NULL)
		job->skip = xstrdup(s->sel->name);
	return job;
}

/* the selected mailbox, reported between commands (RFC 5465 5.1-5.3) */
static void notify_selected_fetched(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	memset(&s->cmd, 0, sizeof(s->cmd));
	session_command_done(&s->base);
	notify_input_restore(s, IMAP_INPUT_COMMAND);
}

/* RFC 5465 5.2: the new messages' FETCH right after their EXISTS */
static void notify_selected_synced(struct imap_cmd *cmd)
{
	if (!imap_notify_fetch_start(cmd, notify_selected_fetched))
		notify_selected_fetched(cmd);
}

static bool notify_quiet(const struct imap_session *s)
{
	if (s->store_busy || s->base.closing || s->out_final != NULL || s->fetch != NULL)
		return false;
	if (s->input == IMAP_INPUT_IDLE)
		return true;
	return s->input == IMAP_INPUT_COMMAND && s->cmd.tag == NULL &&
		imap_parser_tag(s->parser) == NULL;
}

static void notify_run(void *ctx)
{
	struct imap_session *s = ctx;
	struct imap_notify *n = s->notify;
	timeout_remove(&n->kick_to);
	if (!notify_quiet(s))
		return; /* the end of the command or of IDLE's sync kicks again */
	bool selected = n->selected_dirty && s->sel != NULL && s->input == IMAP_INPUT_COMMAND &&
		n->selected_events != 0;
	if (!n->overflow && !n->list_dirty && n->pending_count == 0 && !selected)
		return;
	if (n->overflow || conn_output_room(s->base.conn) < IMAP_NOTIFY_ROOM_MIN) {
		notify_overflow(s);
		return;
	}
	if (n->list_dirty || n->pending_count > 0) {
		struct notify_job *job = notify_job_new(s);
		job->list = n->list_dirty;
		n->list_dirty = false;
		memcpy(job->pending, n->pending, n->pending_count * sizeof(n->pending[0]));
		job->pending_count = n->pending_count;
		n->pending_count = 0;
		job->prev_input = s->input;
		s->input = IMAP_INPUT_WAIT;
		conn_input_pause(s->base.conn);
		imap_store_run(s, notify_work, notify_update_done, job);
		return;
	}
	n->selected_dirty = false;
	if (n->selected_delayed) {
		/* RFC 5465 5.1-5.3, 6: no EXPUNGE now; new messages and
		 * flag changes at once */
		s->input = IMAP_INPUT_WAIT;
		conn_input_pause(s->base.conn);
		if (!imap_notify_delayed_start(s))
			notify_input_restore(s, IMAP_INPUT_COMMAND);
		return;
	}
	s->cmd.s = s;
	imap_notify_fetch_mark(s);
	imap_select_sync_net(&s->cmd, notify_selected_synced); /* net state if behind */
}

void imap_notify_delayed_end(struct imap_session *s, bool ok)
{
	if (!ok)
		notify_overflow(s);
	notify_input_restore(s, IMAP_INPUT_COMMAND);
}

static void notify_kick(struct imap_session *s)
{
	if (s->notify != NULL && s->notify->kick_to == NULL)
		s->notify->kick_to = ioloop_defer(s->base.env->loop, notify_run, s);
}

void imap_notify_kick(struct imap_session *s)
{
	notify_kick(s);
}

static void notify_changed(const char *user, const char *mailbox, uint64_t modseq,
			   bool from_peer, void *ctx)
{
	struct imap_session *s = ctx;
	struct imap_notify *n = s->notify;
	(void)user;
	log_debug("sid=%s event=notify_wake modseq=%llu peer=%d", s->base.sid,
		  (unsigned long long)modseq, from_peer ? 1 : 0);
	if (n == NULL)
		return;
	if (strcmp(mailbox, STORE_WATCH_MAILBOX_LIST) == 0) {
		if (!n->want_list)
			return;
		n->list_dirty = true;
	} else if (s->sel != NULL && strcmp(mailbox, s->sel->name) == 0) {
		if (n->selected_events == 0)
			return;
		n->selected_dirty = true;
	} else {
		/* which group takes it is decided in the job, by the fresh
		 * subscriptions; here only whether any group has message events */
		unsigned i;
		for (i = 0; i < n->pending_count; i++)
			if (strcmp(n->pending[i], mailbox) == 0)
				break;
		if (i == n->pending_count) {
			if (imap_notify_events_for(n, mailbox, (const char *const *)n->subs,
						   n->sub_count) == 0 &&
			    n->selected_events == 0)
				return;
			if (n->pending_count == IMAP_NOTIFY_PENDING_MAX)
				n->overflow = true;
			else
				n->pending[n->pending_count++] = xstrdup(mailbox);
		}
	}
	notify_kick(s);
}

void imap_notify_watch_start(struct imap_session *s)
{
	s->notify->watch = store_watch_add(s->user, NULL, notify_changed, s);
}

static void notify_set_final(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "NOTIFY completed");
}

static void notify_set_done(void *ctx)
{
	struct notify_job *job = ctx;
	struct imap_session *s = job->s;
	struct imap_cmd *cmd = job->cmd;
	if (imap_session_check_gone(s)) {
		notify_job_free(job);
		return;
	}
	if (job->result < 0) {
		log_error("sid=%s event=notify_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
		imap_notify_free(s);
		notify_job_free(job);
		imap_cmd_no(cmd, "SERVERBUG", "NOTIFY failed");
		return;
	}
	imap_notify_list_update(s, job->pool, job->names, job->name_count, job->subs,
				job->sub_count, false);
	str_t *out = imap_output_begin(s);
	notify_write_status(s, job, out);
	notify_job_free(job);
	imap_output_end(cmd, notify_set_final);
}

void imap_notify_set_run(struct imap_cmd *cmd, bool status)
{
	struct imap_session *s = cmd->s;
	struct notify_job *job = notify_job_new(s);
	job->cmd = cmd;
	job->list = true;
	job->all_status = status;
	imap_cmd_wait(cmd);
	imap_store_run(s, notify_work, notify_set_done, job);
}
