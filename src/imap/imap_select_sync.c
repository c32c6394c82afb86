/* imap_select_sync.c: telling the client what changed in its selected
 * mailbox (RFC 9051 7.4 EXISTS and EXPUNGE, 7.5.2 FETCH FLAGS, RFC 3501
 * 7.3.2 RECENT, RFC 7162 3.2.10 VANISHED): imap_select_sync() brings the
 * view up to date on the user's lane and reports what it applied in the
 * same step, so the client's sequence numbers and the view's map never
 * disagree; a report larger than the output buffer waits for the client
 * to read. A mailbox deleted under the session ends it (7.1.5).
 *
 * Catching up (imap_select_sync_net(): IDLE, and NOTIFY's reports
 * between commands, RFC 5465 5.1-5.3): a client that stopped
 * reading is not sent every intermediate flag change. Once more than
 * IMAP_SYNC_NET_PENDING octets wait unsent, the report waits for the
 * loop to write them; if that wait was long (IMAP_SYNC_STALL_MS: the
 * client is behind, not merely reading) and the mailbox changed again
 * (sync_changed_since()), what is left is stale: it stops rendering
 * FETCH FLAGS and notes what is owed (imap_selected.flags_owed: UIDs
 * from one up, changes since a MODSEQ); the next sync of any kind reads
 * the messages changed since that MODSEQ and reports each owed one once,
 * in its current state (RFC 9051 7.5.2 lets the server send the flags
 * as they are; RFC 7162 3.2 their MODSEQ as it is). EXPUNGE, VANISHED
 * and EXISTS are never coalesced: they wait for room as before. Memory
 * stays one row per changed message of the map. */
#include "imap_selected.h"
#include "imap/imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_msgset.h"
#include "imap/imap_notify.h"
#include "imap/imap_reply.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <string.h>

/* Sync: bring the view up to date and report it. The job lives in the
 * command's pool: a report larger than the output buffer waits for the
 * client to read (conn_set_output_drained()), and if the connection
 * ends meanwhile the session's end frees it. */
struct imap_sync_job {
	struct imap_cmd *cmd;
	void (*final)(struct imap_cmd *cmd);
	struct store_view_changes ch;
	bool claim_recent;
	int result;
	char error[256];
	unsigned expunge_next, flag_next; /* reporting: how far it got */
	unsigned vanished_next;
	bool exists_done;
	bool gone;            /* the mailbox was deleted by another session */
	bool net;             /* imap_select_sync_net(): may stop early */
	bool stalled;         /* net: the last wait for the client was long */
	uint64_t wait_from;   /* ms the report began to wait; 0: not waiting */
	uint64_t flags_since; /* the flag changes are those above it */
	/* owed flags (see imap_sync_owed()): as they were when this sync
	 * began, and the view's MODSEQ after it */
	uint32_t owed_uid;    /* 0: nothing owed, the rows are in UID order */
	uint64_t owed_all_since, after;
	bool owed_kept;       /* the owed ones could not be read: still owed */
};

/* unsent output past which a net report waits for the client to read */
#define IMAP_SYNC_NET_PENDING (16 * 1024)

/* A net report that waited this long for its output to be written has a
 * client that is behind. conn_write() only appends and the loop writes
 * after the report returns, so unsent output during a pass is this
 * report's own and says nothing about the client: a fast reader's wait
 * ends in the next loop iteration (the kernel takes up to
 * IMAP_NOTSENT_LOWAT at once, imap_session.c). */
#define IMAP_SYNC_STALL_MS 250

#define IMAP_SYNC_LINE_SPARE 256 /* room for a line beyond its flags */

/* a wake-up for the selected mailbox came since this sync began */
static bool sync_changed_since(const struct imap_session *s)
{
	return imap_idle_changed_since(s) || (s->notify != NULL && s->notify->selected_dirty);
}

static void sync_failed(struct imap_sync_job *job, const char *error)
{
	snprintf(job->error, sizeof(job->error), "%s", error != NULL ? error : "?");
	job->result = -1;
}

/* What a sync after a cut-short report tells: the owed ones (UID from
 * flags_owed_uid changed since flags_owed_since; any UID changed since
 * flags_owed_all_since, which covers the sync's own flag changes), each
 * once with its flags as they are now. The order starts at
 * flags_owed_uid and wraps around (UIDs from it, then those below), so
 * a report cut again moves on from where the last one stopped: under
 * constant changes every UID is reached in turn (the owed range never
 * restarts from the lowest changed UID). */
static int imap_sync_owed(struct imap_sync_job *job, struct imap_selected *sel,
			  uint64_t before, const char **error_r)
{
	struct store_view_flag_change *rows;
	uint32_t *expunged;
	unsigned row_count, expunged_count, out = 0;
	bool complete;
	uint64_t all_since = sel->flags_owed_all_since;
	if (store_view_changes_since(sel->view, sel->flags_owed_since, job->cmd->s->base.cmd_pool,
				     &rows, &row_count, &expunged, &expunged_count, &complete,
				     error_r) < 0)
		return -1;
	/* the messages this sync added are told by EXISTS (all above the
	 * map's UIDs before it) */
	uint32_t added_from = job->ch.added_count > 0 ? job->ch.added[0] : UINT32_MAX;
	for (unsigned i = 0; i < row_count; i++) {
		if (rows[i].uid >= added_from)
			break;
		if (rows[i].uid >= sel->flags_owed_uid ||
		    rows[i].modseq > (all_since < before ? all_since : before))
			rows[out++] = rows[i];
	}
	unsigned low = 0; /* rows below flags_owed_uid: told last */
	while (low < out && rows[low].uid < sel->flags_owed_uid)
		low++;
	if (low > 0 && low < out) {
		struct store_view_flag_change *rot =
			pool_alloc(job->cmd->s->base.cmd_pool, out * sizeof(*rot));
		memcpy(rot, rows + low, (out - low) * sizeof(*rot));
		memcpy(rot + (out - low), rows, low * sizeof(*rot));
		rows = rot;
	}
	log_debug("sid=%s event=sync_flags_owed since=%llu uid=%u rows=%u told=%u",
		  job->cmd->s->base.sid, (unsigned long long)sel->flags_owed_since,
		  sel->flags_owed_uid, row_count, out);
	job->ch.flag_changes = rows;
	job->ch.flag_change_count = out;
	sel->flags_owed = false;
	return 0;
}

static void imap_sync_work(void *ctx, struct store *store)
{
	struct imap_sync_job *job = ctx;
	struct imap_selected *sel = job->cmd->s->sel;
	const char *error;
	if (store == NULL) {
		sync_failed(job, "no store handle");
		return;
	}
	job->flags_since = sel->flags_owed ? sel->flags_owed_since : store_view_modseq(sel->view);
	uint64_t before = store_view_modseq(sel->view);
	job->owed_uid = sel->flags_owed ? sel->flags_owed_uid : 0;
	job->owed_all_since = sel->flags_owed ? sel->flags_owed_all_since : before;
	if (store_view_sync(sel->view, job->cmd->s->base.cmd_pool, &job->ch, &error) < 0) {
		sync_failed(job, error);
		job->gone = !imap_mailbox_exists(store, job->cmd->s->user, sel->name);
		return;
	}
	/* The view has moved (store_view_sync() changed the map): its
	 * EXPUNGE / EXISTS must be told whatever happens next, or the
	 * client's sequence numbers go wrong. An owed-flags read that fails
	 * only leaves the owed ones owed, for the next sync. */
	job->after = store_view_modseq(sel->view);
	job->owed_kept = sel->flags_owed && !job->ch.reset &&
		imap_sync_owed(job, sel, before, &error) < 0;
	if (job->owed_kept)
		log_error("sid=%s event=sync_flags_owed_failed user=%s since=%llu error=%s",
			  job->cmd->s->base.sid, log_str(job->cmd->s->user),
			  (unsigned long long)sel->flags_owed_since, log_str(error));
	job->expunge_next = job->ch.expunged_count;
	if (job->claim_recent && job->ch.added_count > 0) {
		uint32_t first;
		if (store_view_claim_recent(sel->view, &first, &error) == 0)
			imap_selected_recent_add(sel, first, store_view_uidnext(sel->view));
	}
}

/* A net report cut at UID uid: what is left is owed. */
static void imap_sync_owe(struct imap_selected *sel, const struct imap_sync_job *job,
			  uint32_t uid)
{
	if (job->owed_kept)
		return; /* still owed as before: the rows left changed since
			 * the sync began, above flags_owed_all_since */
	sel->flags_owed = true;
	sel->flags_owed_uid = uid;
	if (job->owed_uid != 0 && uid < job->owed_uid) {
		/* cut past the wrap: the owed UIDs above were all told;
		 * left are those from uid changed since owed_all_since */
		sel->flags_owed_since = job->owed_all_since;
		sel->flags_owed_all_since = job->after;
	} else {
		/* the owed range only moves up (what was below stays owed
		 * since owed_all_since) */
		sel->flags_owed_since = job->flags_since;
		sel->flags_owed_all_since = job->owed_all_since;
	}
}

#define imap_sync_room(s, len) (conn_output_room((s)->base.conn) >= (len) + IMAP_SYNC_LINE_SPARE)

/* false: out of output room, call again once the client has read */
static bool imap_sync_report(struct imap_session *s, struct imap_sync_job *job)
{
	struct imap_selected *sel = s->sel;
	const struct store_view_changes *ch = &job->ch;
	if (ch->reset) {
		/* RFC 9051 2.3.1.1: a new UIDVALIDITY voids every UID the
		 * client has; it must start over */
		imap_session_bye(s, "[UNAVAILABLE] Mailbox index rebuilt; please reconnect");
		return true;
	}
	/* RFC 7162 3.2.10: VANISHED in place of EXPUNGE once QRESYNC is on */
	if (s->qresync && job->expunge_next > 0) {
		if (!imap_qresync_report_vanished(s, ch->expunged, ch->expunged_count,
						  &job->vanished_next))
			return false;
		job->expunge_next = 0;
	}
	/* RFC 9051 7.4.1: each EXPUNGE renumbers the ones after it, so
	 * highest first, each at its number in the map before the sync */
	for (; job->expunge_next > 0; job->expunge_next--) {
		unsigned i = job->expunge_next;
		if (!imap_sync_room(s, 0))
			return false;
		imap_untagged(s, "%u EXPUNGE",
			      imap_msgset_view_count_below(sel->view, ch->expunged[i - 1]) + i);
	}
	if (!job->exists_done) {
		unsigned exists = store_view_count(sel->view);
		if (ch->added_count > 0 || exists != sel->exists - ch->expunged_count) {
			imap_untagged(s, "%u EXISTS", exists);
			if (!s->rev2)
				imap_untagged(s, "%u RECENT", imap_selected_recent_total(sel));
		}
		sel->exists = exists;
		job->exists_done = true;
	}
	for (; job->flag_next < ch->flag_change_count; job->flag_next++) {
		const struct store_view_flag_change *fc = &ch->flag_changes[job->flag_next];
		unsigned seq = store_view_seq(sel->view, fc->uid);
		if (seq == 0)
			continue;
		if (job->net && job->stalled && sync_changed_since(s) && job->flags_since != 0) {
			/* the client is behind and the rest is stale: it is
			 * told later, as it then is (see the contract) */
			job->stalled = false;
			imap_sync_owe(sel, job, fc->uid);
			/* RFC 7162 3.2's rule for these too: a client that
			 * keeps the highest MODSEQ it saw keeps this one */
			if (s->condstore)
				imap_untagged(s, "OK [HIGHESTMODSEQ %llu] Flag changes pending",
					      (unsigned long long)sel->flags_owed_since);
			log_debug("sid=%s event=sync_flags_cut uid=%u since=%llu left=%u",
				  s->base.sid, fc->uid, (unsigned long long)job->flags_since,
				  ch->flag_change_count - job->flag_next);
			return true;
		}
		if (job->net && conn_output_pending(s->base.conn) > IMAP_SYNC_NET_PENDING)
			return false; /* on once the client has read */
		if (!imap_sync_room(s, strlen(fc->flags)))
			return false;
		imap_selected_flags_fetch(s, seq, fc);
	}
	return true;
}

static void imap_sync_continue(void *ctx)
{
	struct imap_sync_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	uint64_t now = ioloop_now_ms(s->base.env->loop);
	if (job->wait_from != 0) {
		/* resumed: everything sent before is written */
		job->stalled = now - job->wait_from >= IMAP_SYNC_STALL_MS;
		job->wait_from = 0;
	}
	if (job->result == 0 && !imap_sync_report(s, job)) {
		job->wait_from = now != 0 ? now : 1;
		conn_set_output_drained(s->base.conn, imap_sync_continue, job);
		return;
	}
	conn_set_output_drained(s->base.conn, NULL, NULL);
	if (s->base.closing)
		return;
	job->final(cmd);
}

static void imap_sync_done(void *ctx)
{
	struct imap_sync_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	if (imap_session_check_gone(s))
		return;
	if (job->result < 0 && job->gone) {
		/* RFC 9051 7.1.5: the selected mailbox went away under this
		 * session (DELETE or RENAME by another): nothing it says about
		 * it is true any more; as Dovecot, end the session */
		log_info("sid=%s event=selected_mailbox_gone user=%s", s->base.sid,
			 log_str(s->user));
		imap_session_bye(s, "[UNAVAILABLE] The selected mailbox was deleted");
		return;
	}
	if (job->result < 0)
		log_error("sid=%s event=sync_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
	imap_sync_continue(job);
}

static void imap_sync_start(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd),
			    bool net)
{
	struct imap_session *s = cmd->s;
	struct imap_sync_job *job = pool_alloc(s->base.cmd_pool, sizeof(*job));
	job->cmd = cmd;
	job->final = final;
	job->claim_recent = !s->rev2 && !s->sel->readonly;
	job->net = net;
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_sync_work, imap_sync_done, job);
}

void imap_select_sync(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd))
{
	imap_sync_start(cmd, final, false);
}

void imap_select_sync_net(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd))
{
	imap_sync_start(cmd, final, true);
}
