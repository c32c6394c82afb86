/* imap_list.c: LIST (RFC 9051 6.3.9, RFC 3501 6.3.8) with the
 * LIST-EXTENDED selection and return options (RFC 5258: SUBSCRIBED,
 * REMOTE, RECURSIVEMATCH; SUBSCRIBED, CHILDREN), CHILDREN attributes
 * (RFC 3348), SPECIAL-USE (RFC 6154), LIST-STATUS (RFC 5819), and rev1's
 * LSUB (RFC 3501 6.3.9).
 *
 * One job reads the user's names and subscriptions (and, for RETURN
 * (STATUS ...), each listed mailbox's counters) and renders every reply
 * line; the loop then writes them. The candidates are the mailboxes, the
 * names above them and (for the subscribed views) the subscriptions and
 * the names above those; a name above others that does not exist itself
 * is listed only where the pattern stops at its level, as "%" does
 * (RFC 3501 6.3.8), with \Noselect (\NonExistent in the extended form,
 * RFC 5258 3.4). Patterns are matched by imap_list_match.h, bounded. */
#include "imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_list_match.h"
#include "imap/imap_mailbox.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_reply.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/log.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 5258 3: a list of patterns; more are refused */
#define IMAP_LIST_PATTERNS_MAX 16

enum {
	SEL_SUBSCRIBED = 1u << 0,
	SEL_REMOTE = 1u << 1,
	SEL_RECURSIVE = 1u << 2,
	SEL_SPECIAL = 1u << 3,
	RET_SUBSCRIBED = 1u << 4,
	RET_CHILDREN = 1u << 5,
	RET_SPECIAL = 1u << 6,
	RET_STATUS = 1u << 7,
};

struct imap_list_job {
	struct imap_cmd *cmd;
	struct imap_session *s;
	const char *address;
	bool lsub, extended, empty_pattern;
	unsigned opts, status_items;
	char *patterns[IMAP_LIST_PATTERNS_MAX];
	unsigned pattern_count;
	pool_t *pool;
	const char **lines;  /* rendered replies, without "* " */
	unsigned line_count;
	int result;
	char error[256];
};

/* RFC 6154 2: the special-use folders every account gets */
const char *imap_list_special_use(const char *name)
{
	static const char *const names[] = { "Drafts", "Sent", "Junk", "Trash", "Archive" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(name, names[i]) == 0)
			return t_printf("\\%s", names[i]);
	return NULL;
}

static bool matches(const struct imap_list_job *job, const char *name)
{
	for (unsigned i = 0; i < job->pattern_count; i++)
		if (imap_list_match(job->patterns[i], name))
			return true;
	return false;
}

/* A name below parent in names that the patterns do not match: then
 * parent stands for its level (RFC 3501 6.3.8 "%"). */
static bool unmatched_below(const struct imap_list_job *job, const char *const *names,
			    unsigned count, const char *parent)
{
	unsigned first, n = imap_names_below(names, count, parent, &first);
	for (unsigned i = first; i < first + n; i++)
		if (!matches(job, names[i]))
			return true;
	return false;
}

/* names, the names above each, and more: sorted, unique (pool). */
static const char **candidates(pool_t *pool, const char *const *a, unsigned a_count,
			       const char *const *b, unsigned b_count, unsigned *count_r)
{
	unsigned cap = 0, n = 0;
	const char *const *lists[2] = { a, b };
	unsigned counts[2] = { a_count, b_count };
	for (unsigned l = 0; l < 2; l++)
		for (unsigned i = 0; i < counts[l]; i++)
			for (const char *p = lists[l][i]; p != NULL; p = strchr(p + 1, '/'))
				cap++;
	const char **out = pool_alloc(pool, (cap + 1) * sizeof(*out));
	for (unsigned l = 0; l < 2; l++) {
		for (unsigned i = 0; i < counts[l]; i++) {
			const char *name = lists[l][i];
			for (const char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/'))
				out[n++] = pool_strndup(pool, name, (size_t)(p - name));
			out[n++] = name;
		}
	}
	if (n > 1)
		qsort(out, n, sizeof(*out), imap_names_cmp);
	unsigned u = 0;
	for (unsigned i = 0; i < n; i++)
		if (u == 0 || strcmp(out[u - 1], out[i]) != 0)
			out[u++] = out[i];
	*count_r = u;
	return out;
}

static void add_line(struct imap_list_job *job, unsigned *cap, str_t *line)
{
	if (job->line_count == *cap) {
		unsigned ncap = *cap == 0 ? 16 : *cap * 2;
		const char **nl = pool_alloc(job->pool, ncap * sizeof(*nl));
		if (job->line_count > 0)
			memcpy(nl, job->lines, job->line_count * sizeof(*nl));
		job->lines = nl;
		*cap = ncap;
	}
	job->lines[job->line_count++] = pool_strndup(job->pool, str_c(line), line->len);
	str_clear(line);
}

static void list_work(void *ctx, struct store *store)
{
	struct imap_list_job *job = ctx;
	const char **names, **subs, *error = NULL;
	unsigned count, sub_count, cap = 0;
	if (imap_mailbox_names(store, job->address, job->pool, &names, &count, &error) < 0 ||
	    imap_mailbox_subscriptions(store, job->address, job->pool, &subs, &sub_count,
				       &error) < 0) {
		job->result = -1;
		snprintf(job->error, sizeof(job->error), "%s", error != NULL ? error : "?");
		return;
	}
	bool by_sub = job->lsub || (job->opts & SEL_SUBSCRIBED) != 0;
	unsigned cand_count;
	const char **cand = candidates(job->pool, names, count, by_sub ? subs : NULL,
				       by_sub ? sub_count : 0, &cand_count);
	bool show_sub = (job->opts & (SEL_SUBSCRIBED | RET_SUBSCRIBED)) != 0;
	bool show_special = !job->extended || (job->opts & (RET_SPECIAL | SEL_SPECIAL)) != 0;
	str_t line = STR_INIT;
	for (unsigned i = 0; i < cand_count; i++) {
		const char *c = cand[i];
		if (!matches(job, c))
			continue;
		bool exists = imap_names_contain(names, count, c);
		bool subscribed = imap_names_contain(subs, sub_count, c);
		unsigned first;
		bool sub_below = imap_names_below(subs, sub_count, c, &first) > 0;
		const char *attrs[4];
		unsigned n = 0;
		bool childinfo = false;
		if (job->lsub) {
			/* RFC 3501 6.3.9: a name not subscribed but with
			 * subscribed names below it, for "%" */
			if (!subscribed) {
				if (!unmatched_below(job, subs, sub_count, c))
					continue;
				attrs[n++] = "\\Noselect";
			}
			str_appendz(&line, "LSUB (");
		} else {
			if (by_sub) {
				childinfo = (job->opts & SEL_RECURSIVE) != 0 && sub_below;
				if (!subscribed && !childinfo)
					continue;
			} else if (!exists && !unmatched_below(job, names, count, c)) {
				continue;
			}
			if (!exists)
				attrs[n++] = job->extended ? "\\NonExistent" : "\\Noselect";
			if (show_sub && subscribed)
				attrs[n++] = "\\Subscribed";
			/* RFC 3348 / RFC 5258 CHILDREN, over existing names */
			attrs[n++] = imap_names_below(names, count, c, &first) > 0 ?
				"\\HasChildren" : "\\HasNoChildren";
			const char *su = exists ? imap_list_special_use(c) : NULL;
			if ((job->opts & SEL_SPECIAL) != 0 && su == NULL)
				continue;
			if (su != NULL && show_special)
				attrs[n++] = pool_strdup(job->pool, su);
			str_appendz(&line, "LIST (");
		}
		for (unsigned k = 0; k < n; k++)
			str_printf(&line, "%s%s", k > 0 ? " " : "", attrs[k]);
		str_appendz(&line, ") \"/\" ");
		imap_append_mailbox(job->s, &line, c);
		/* RFC 5258 3.5: why a parent that is not itself selected shows */
		if (childinfo)
			str_appendz(&line, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
		add_line(job, &cap, &line);
		/* RFC 5819: STATUS after the LIST of each selectable mailbox */
		struct store_mailbox_status st;
		if ((job->opts & RET_STATUS) != 0 && exists &&
		    store_mailbox_status(store, job->address, c, &st, &error) == 0) {
			imap_modseq_pending_status(job->s, c, &st); /* RFC 7162 3.2 */
			str_appendz(&line, "STATUS ");
			imap_append_mailbox(job->s, &line, c);
			str_appendc(&line, ' ');
			imap_status_append(job->s, &line, job->status_items, &st);
			add_line(job, &cap, &line);
		}
	}
	str_free(&line);
}

static void list_job_free(struct imap_list_job *job)
{
	for (unsigned i = 0; i < job->pattern_count; i++)
		free(job->patterns[i]);
	pool_destroy(&job->pool);
	free(job);
}

static void list_final_list(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "LIST completed");
}

static void list_final_lsub(struct imap_cmd *cmd)
{
	imap_cmd_ok(cmd, NULL, "LSUB completed");
}

static void list_done(void *ctx)
{
	struct imap_list_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	if (imap_session_check_gone(s)) {
		list_job_free(job);
		return;
	}
	const char *name = job->lsub ? "LSUB" : "LIST";
	if (job->result < 0) {
		log_error("sid=%s event=list_failed user=%s error=%s", s->base.sid,
			  log_str(s->user), log_str(job->error));
		list_job_free(job);
		imap_cmd_no(cmd, "UNAVAILABLE", "%s failed, try again later", name);
		return;
	}
	/* thousands of mailboxes: written as the client reads */
	str_t *out = imap_output_begin(s);
	for (unsigned i = 0; i < job->line_count; i++)
		str_printf(out, "* %s\r\n", job->lines[i]);
	bool lsub = job->lsub;
	list_job_free(job);
	imap_output_end(cmd, lsub ? list_final_lsub : list_final_list);
}

static bool is_string(const struct imap_arg *arg)
{
	return arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_QUOTED ||
		arg->type == IMAP_ARG_LITERAL;
}

/* A reference or pattern argument into UTF-8 (RFC 3501 5.1.3 for rev1). */
static int decode(const struct imap_session *s, const struct imap_arg *arg, str_t *out,
		  const char **error_r)
{
	str_clear(out);
	if (memchr(arg->str, '\0', arg->len) != NULL) {
		*error_r = "NUL in mailbox pattern";
		return -1;
	}
	if (s->utf8_accept) {
		str_append(out, arg->str, arg->len);
		return 0;
	}
	return imap_mutf7_to_utf8(arg->str, arg->len, out, error_r);
}

static int opt_parse(struct imap_list_job *job, const struct imap_arg *args, unsigned i,
		     bool ret, const char **error_r)
{
	unsigned end = i + 1 + args[i].list_len;
	for (unsigned k = i + 1; k < end; k = imap_arg_next(args, k)) {
		const char *o = args[k].type == IMAP_ARG_ATOM ? args[k].str : "";
		if (strcasecmp(o, "SUBSCRIBED") == 0)
			job->opts |= ret ? RET_SUBSCRIBED : SEL_SUBSCRIBED;
		else if (strcasecmp(o, "SPECIAL-USE") == 0)
			job->opts |= ret ? RET_SPECIAL : SEL_SPECIAL;
		else if (!ret && strcasecmp(o, "REMOTE") == 0)
			job->opts |= SEL_REMOTE; /* no remote mailboxes here */
		else if (!ret && strcasecmp(o, "RECURSIVEMATCH") == 0)
			job->opts |= SEL_RECURSIVE;
		else if (ret && strcasecmp(o, "CHILDREN") == 0)
			job->opts |= RET_CHILDREN;
		else if (ret && strcasecmp(o, "STATUS") == 0 && k + 1 < end) {
			k++;
			if (imap_status_items_parse(job->s, args, k, &job->status_items,
						    error_r) < 0)
				return -1;
			job->opts |= RET_STATUS;
		} else {
			*error_r = ret ? "unknown LIST return option" :
				"unknown LIST selection option";
			return -1;
		}
	}
	/* RFC 5258 3.1: RECURSIVEMATCH qualifies another option */
	if ((job->opts & SEL_RECURSIVE) != 0 && (job->opts & (SEL_SUBSCRIBED | SEL_SPECIAL)) == 0) {
		*error_r = "RECURSIVEMATCH needs another selection option";
		return -1;
	}
	return 0;
}

static int list_parse(struct imap_cmd *cmd, struct imap_list_job *job, const char **error_r)
{
	const struct imap_arg *args = cmd->args;
	unsigned i = 0;
	if (!job->lsub && cmd->count > 0 && args[0].type == IMAP_ARG_LIST) {
		job->extended = true;
		if (opt_parse(job, args, 0, false, error_r) < 0)
			return -1;
		i = imap_arg_next(args, 0);
	}
	if (i >= cmd->count || !is_string(&args[i])) {
		*error_r = "needs a reference name and a mailbox pattern";
		return -1;
	}
	unsigned ref_i = i;
	i++;
	if (i >= cmd->count) {
		*error_r = "needs a mailbox pattern";
		return -1;
	}
	unsigned pat_first = i, pat_end = i + 1;
	if (args[i].type == IMAP_ARG_LIST && !job->lsub) {
		job->extended = true;
		pat_first = i + 1;
		pat_end = i + 1 + args[i].list_len;
		if (args[i].list_len == 0) {
			*error_r = "empty pattern list";
			return -1;
		}
	}
	job->empty_pattern = pat_end == pat_first + 1 && args[pat_first].type != IMAP_ARG_LIST &&
		args[pat_first].len == 0;
	str_t ref = STR_INIT, pat = STR_INIT, full = STR_INIT;
	int r = decode(job->s, &args[ref_i], &ref, error_r);
	for (unsigned k = pat_first; r == 0 && k < pat_end; k++) {
		if (!is_string(&args[k]) || job->pattern_count == IMAP_LIST_PATTERNS_MAX) {
			*error_r = "patterns are strings, at most 16";
			r = -1;
		} else if ((r = decode(job->s, &args[k], &pat, error_r)) == 0 &&
			   (r = imap_list_pattern_make(str_c(&ref), ref.len, str_c(&pat), pat.len,
						       &full, error_r)) == 0) {
			job->patterns[job->pattern_count++] = xstrndup(str_c(&full), full.len);
		}
	}
	str_free(&ref);
	str_free(&pat);
	str_free(&full);
	if (r < 0)
		return -1;
	i = imap_arg_next(args, i);
	if (!job->lsub && i < cmd->count && args[i].type == IMAP_ARG_ATOM &&
	    strcasecmp(args[i].str, "RETURN") == 0 && i + 1 < cmd->count &&
	    args[i + 1].type == IMAP_ARG_LIST) {
		job->extended = true;
		if (opt_parse(job, args, i + 1, true, error_r) < 0)
			return -1;
		i = imap_arg_next(args, i + 1);
	}
	if (i != cmd->count) {
		*error_r = "unexpected arguments";
		return -1;
	}
	return 0;
}

static void list_start(struct imap_cmd *cmd, bool lsub)
{
	struct imap_session *s = cmd->s;
	struct imap_list_job *job = xcalloc(1, sizeof(*job));
	job->cmd = cmd;
	job->s = s;
	job->lsub = lsub;
	job->address = s->user;
	const char *error;
	if (list_parse(cmd, job, &error) < 0) {
		list_job_free(job);
		imap_cmd_bad(cmd, "%s %s", lsub ? "LSUB" : "LIST", error);
		return;
	}
	/* RFC 9051 6.3.9: an empty pattern asks for the separator */
	if (!lsub && job->empty_pattern) {
		list_job_free(job);
		imap_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_cmd_ok(cmd, NULL, "LIST completed");
		return;
	}
	job->pool = pool_create(4096);
	imap_cmd_wait(cmd);
	imap_store_run(s, list_work, list_done, job);
}

void imap_cmd_list(struct imap_cmd *cmd)
{
	list_start(cmd, false);
}

void imap_cmd_lsub(struct imap_cmd *cmd)
{
	/* rev2: RFC 9051 E.1.6 removed LSUB (LIST (SUBSCRIBED) replaces it) */
	if (cmd->s->rev2) {
		imap_cmd_bad(cmd, "Unknown command LSUB");
		return;
	}
	list_start(cmd, true);
}
