/* imap_store_cmd.c: STORE and UID STORE (RFC 9051 6.4.6, 6.4.9): FLAGS,
 * +FLAGS, -FLAGS and their .SILENT forms on the selected mailbox.
 *
 * The set is resolved on the loop against the view's map (the client's
 * numbers), the change is committed in a job (store_view_set_flags_modified():
 * durable before the reply), and the flags the messages of the set then
 * hold, as that call returns them (the rest of the mailbox is not read),
 * are reported as untagged FETCH unless .SILENT, with UID for UID STORE. No
 * sync runs: no EXPUNGE may reach the client during STORE (RFC 9051
 * 7.5.1); changes by others come at the next NOOP or other sync. A
 * read-only (EXAMINE) mailbox refuses with NO. RFC 7162 3.1.3: STORE set
 * (UNCHANGEDSINCE n) leaves alone the messages changed since n and names
 * them in OK [MODIFIED set]; once CONDSTORE is on, FETCH lines carry
 * UID and MODSEQ. */
#include "imap_commands.h"
#include "imap/imap_args.h"
#include "imap/imap_condstore.h"
#include "imap/imap_condstore_parse.h"
#include "imap/imap_msgset.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* flags named in one STORE; more is refused */
#define IMAP_STORE_FLAGS_MAX 128

struct imap_flags_job {
	struct imap_cmd *cmd;
	uint32_t *uids;
	unsigned count;
	struct store_flags_update update;
	bool silent;
	int result;
	char error[256];
	struct store_view_flag_change *results; /* after the change, set order */
	unsigned result_count;
	unsigned next;                    /* reporting: results[next] */
	/* RFC 7162 3.1.3: refused by UNCHANGEDSINCE, ascending UIDs */
	uint32_t *modified;
	unsigned modified_count, modified_pos; /* reporting: modified[pos] */
	bool conditional;
};

static const struct {
	const char *name;
	unsigned bit;
} system_flags[] = {
	{ "\\Seen", STORE_FLAG_SEEN },
	{ "\\Answered", STORE_FLAG_ANSWERED },
	{ "\\Flagged", STORE_FLAG_FLAGGED },
	{ "\\Deleted", STORE_FLAG_DELETED },
	{ "\\Draft", STORE_FLAG_DRAFT },
};

/* The flags of a STORE into update: system flags as bits, keywords
 * checked (store_keyword_check); \Recent and other flag-extensions are
 * not permanent flags here (PERMANENTFLAGS, RFC 9051 7.1) and refused. */
static int store_flags_parse(struct imap_cmd *cmd, unsigned first,
			     struct store_flags_update *update, const char **error_r)
{
	const char *flags[IMAP_STORE_FLAGS_MAX];
	unsigned n = 0;
	if (first >= cmd->count) {
		*error_r = "STORE needs flags";
		return -1;
	}
	if (cmd->args[first].type == IMAP_ARG_LIST) {
		if (first + 1 + cmd->args[first].list_len != cmd->count) {
			*error_r = "Unexpected arguments after the flag list";
			return -1;
		}
		if (imap_arg_get_flag_list(cmd->args, first, flags, IMAP_STORE_FLAGS_MAX, &n,
					   error_r) < 0)
			return -1;
	} else {
		/* RFC 9051 9 store-att-flags: flag *(SP flag) without parens */
		for (unsigned i = first; i < cmd->count; i++) {
			unsigned got;
			if (n == IMAP_STORE_FLAGS_MAX) {
				*error_r = "Too many flags";
				return -1;
			}
			if (cmd->args[i].type == IMAP_ARG_LIST) {
				*error_r = "Invalid flag";
				return -1;
			}
			if (imap_arg_get_flag_list(cmd->args, i, flags + n, 1, &got, error_r) < 0)
				return -1;
			n += got;
		}
	}
	const char **keywords = pool_alloc(cmd->s->base.cmd_pool, (n + 1) * sizeof(*keywords));
	for (unsigned i = 0; i < n; i++) {
		if (flags[i][0] != '\\') {
			if (store_keyword_check(flags[i], error_r) < 0)
				return -1;
			keywords[update->keyword_count++] = flags[i];
			continue;
		}
		unsigned k = 0;
		while (k < sizeof(system_flags) / sizeof(*system_flags) &&
		       strcasecmp(flags[i], system_flags[k].name) != 0)
			k++;
		if (k == sizeof(system_flags) / sizeof(*system_flags)) {
			*error_r = "Flag cannot be stored";
			return -1;
		}
		update->sysflags |= system_flags[k].bit;
	}
	update->keywords = keywords;
	return 0;
}

static void imap_store_work(void *ctx, struct store *store)
{
	struct imap_flags_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	const char *error;
	(void)store;
	if (job->conditional && job->update.unchangedsince == 0) {
		/* RFC 7162 3.1.3: UNCHANGEDSINCE 0 fails for every message
		 * (the store reads 0 as "no condition") */
		job->modified = job->uids;
		job->modified_count = job->count;
		return;
	}
	if (store_view_set_flags_modified(s->sel->view, job->uids, job->count, &job->update,
					  s->base.cmd_pool, &job->results, &job->result_count,
					  &job->modified, &job->modified_count, &error) < 0) {
		snprintf(job->error, sizeof(job->error), "%s", error != NULL ? error : "?");
		job->result = -1;
	}
	imap_modseq_pending_check(s, job->result == 0 && (!job->silent || job->conditional));
}

/* room kept for a FETCH line beyond its flags, and for the tagged reply */
#define IMAP_STORE_LINE_SPARE 256

/* RFC 9051 6.4.6: the new flags of each message of the set that is
 * still there (UID too for UID STORE, 6.4.9; \Recent for rev1), only as
 * far as the output buffer has room (conn.h: a write past its cap ends
 * the connection): false when it must wait for the client to read. */
static bool imap_store_report(struct imap_flags_job *job)
{
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	/* RFC 7162 3.1.3: a conditional STORE reports the new MODSEQ of
	 * each message it changed even when .SILENT */
	bool modseq_only = job->silent && job->conditional;
	for (; (!job->silent || modseq_only) && job->next < job->result_count; job->next++) {
		const struct store_view_flag_change *info = &job->results[job->next];
		unsigned seq = store_view_seq(s->sel->view, info->uid);
		if (seq == 0)
			continue;
		if (conn_output_room(s->base.conn) < strlen(info->flags) + IMAP_STORE_LINE_SPARE)
			return false;
		/* RFC 7162 3.1.3: a message refused by UNCHANGEDSINCE is not
		 * reported (its flags did not change); both lists ascend */
		while (job->modified_pos < job->modified_count &&
		       job->modified[job->modified_pos] < info->uid)
			job->modified_pos++;
		if (job->modified_pos < job->modified_count &&
		    job->modified[job->modified_pos] == info->uid)
			continue;
		bool recent = !s->rev2 && imap_selected_is_recent(s->sel, info->uid);
		char uid[24] = "";
		if (cmd->uid)
			snprintf(uid, sizeof(uid), " UID %u", info->uid);
		char extra[64];
		if (modseq_only) {
			imap_untagged(s, "%u FETCH (%s)", seq,
				      imap_condstore_fetch_extra(s, info->uid, info->modseq, false,
								 extra, sizeof(extra)) + 1);
			continue;
		}
		imap_untagged(s, "%u FETCH (FLAGS (%s%s%s)%s%s)", seq, info->flags,
			      recent && *info->flags != '\0' ? " " : "",
			      recent ? "\\Recent" : "", uid,
			      imap_condstore_fetch_extra(s, info->uid, info->modseq, cmd->uid,
							 extra, sizeof(extra)));
	}
	return true;
}

/* Report, pausing while the client reads; then the tagged OK. The job
 * lives in the command's pool: if the connection ends meanwhile, the
 * callback never comes and the session's end frees it. */
static void imap_store_continue(void *ctx)
{
	struct imap_flags_job *job = ctx;
	struct imap_session *s = job->cmd->s;
	if (!imap_store_report(job)) {
		conn_set_output_drained(s->base.conn, imap_store_continue, job);
		return;
	}
	conn_set_output_drained(s->base.conn, NULL, NULL);
	imap_modseq_pending_report(s);
	/* RFC 7162 3.1.3: [MODIFIED set] names what UNCHANGEDSINCE refused */
	const char *modified = imap_condstore_modified_code(job->cmd, job->modified,
							    job->modified_count);
	if (modified != NULL)
		imap_cmd_ok(job->cmd, modified, "Conditional STORE failed");
	else
		imap_cmd_ok(job->cmd, NULL, "STORE completed");
}

static void imap_store_done(void *ctx)
{
	struct imap_flags_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s))
		return;
	if (job->result < 0) {
		log_error("sid=%s event=store_failed user=%s mailbox=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(s->sel->name), log_str(job->error));
		imap_cmd_no(cmd, "UNAVAILABLE", "Flags could not be changed");
		return;
	}
	imap_store_continue(job);
}

/* store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) (RFC 9051 9) */
static int store_item_parse(const struct imap_arg *arg, enum store_flags_op *op_r,
			    bool *silent_r)
{
	if (arg->type != IMAP_ARG_ATOM)
		return -1;
	const char *p = arg->str;
	*op_r = STORE_FLAGS_REPLACE;
	if (*p == '+' || *p == '-') {
		*op_r = *p == '+' ? STORE_FLAGS_ADD : STORE_FLAGS_REMOVE;
		p++;
	}
	*silent_r = strcasecmp(p, "FLAGS.SILENT") == 0;
	return *silent_r || strcasecmp(p, "FLAGS") == 0 ? 0 : -1;
}

void imap_cmd_store(struct imap_cmd *cmd)
{
	struct imap_session *s = cmd->s;
	struct imap_flags_job job = { .cmd = cmd };
	const char *error;
	unsigned item = 1;
	bool conditional = false;
	if (cmd->count >= 2 && cmd->args[1].type == IMAP_ARG_LIST) {
		/* RFC 7162 3.1.3: STORE set (UNCHANGEDSINCE n) item flags */
		if (imap_condstore_store_modifiers(cmd->args, 1, cmd->count,
						   &job.update.unchangedsince, &conditional,
						   &error) < 0) {
			imap_cmd_bad(cmd, "%s", error);
			return;
		}
		item = imap_arg_next(cmd->args, 1);
	}
	if (cmd->count < item + 2) {
		imap_cmd_bad(cmd, "STORE needs a sequence set, an item and flags");
		return;
	}
	if (store_item_parse(&cmd->args[item], &job.update.op, &job.silent) < 0) {
		imap_cmd_bad(cmd, "Unknown STORE item");
		return;
	}
	if (store_flags_parse(cmd, item + 1, &job.update, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return;
	}
	if (imap_msgset_uids(s, &cmd->args[0], cmd->uid, s->base.cmd_pool, &job.uids,
			     &job.count, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return;
	}
	if (s->sel->readonly) {
		imap_cmd_no(cmd, NULL, "Mailbox is read-only (EXAMINE)");
		return;
	}
	job.conditional = conditional;
	if (conditional)
		imap_condstore_activate(cmd); /* RFC 7162 3.1 */
	if (job.count == 0) {
		imap_cmd_ok(cmd, NULL, "STORE completed (no messages)");
		return;
	}
	struct imap_flags_job *heap = pool_alloc(s->base.cmd_pool, sizeof(*heap));
	*heap = job;
	imap_cmd_wait(cmd);
	imap_store_run(s, imap_store_work, imap_store_done, heap);
}
