/* imap_mailbox.c: the mailbox commands of the authenticated state:
 * CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 6.3.4-6.3.8)
 * and STATUS (6.3.11, RFC 3501 6.3.10, RFC 8438 SIZE, RFC 7889
 * APPENDLIMIT), on store.h's
 * mailbox operations, in one job each (imap_store_run), with RFC 5530
 * response codes.
 *
 * Also the pieces imap_list.c shares: the user's names (an account made
 * before its store gets its folders first, as SELECT does), lookups in a
 * sorted name list, and the STATUS item list and reply.
 *
 * DELETE of the selected mailbox ends the selection first (the view is
 * closed in the job, before the folder goes) and says OK [CLOSED]; RENAME
 * of it (or of a parent) keeps the view, which follows the mailbox, and
 * renames the selection. */
#include "imap_mailbox.h"
#include "imap/imap_commands.h"
#include "imap/imap_condstore.h"
#include "imap/imap_mailbox_name.h"
#include "imap/imap_reply.h"
#include "imap/imap_selected.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/config.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int imap_names_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int imap_mailbox_names(struct store *store, const char *address, pool_t *pool,
		       const char ***names_r, unsigned *count_r, const char **error_r)
{
	if (store == NULL) {
		*error_r = "no store handle";
		return -1;
	}
	if (store_mailbox_list(store, address, pool, names_r, count_r, error_r) == 0)
		return 0;
	/* an account made before its store: create the folders */
	if (store_user_create(store, address, error_r) < 0)
		return -1;
	return store_mailbox_list(store, address, pool, names_r, count_r, error_r);
}

int imap_mailbox_subscriptions(struct store *store, const char *address, pool_t *pool,
			       const char ***names_r, unsigned *count_r,
			       const char **error_r)
{
	if (store_mailbox_subscriptions(store, address, pool, names_r, count_r, error_r) < 0)
		return -1;
	if (*count_r > 1)
		qsort(*names_r, *count_r, sizeof(**names_r), imap_names_cmp);
	return 0;
}

/* First index whose name is >= key. */
static unsigned lower_bound(const char *const *names, unsigned count, const char *key)
{
	unsigned lo = 0, hi = count;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (strcmp(names[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool imap_names_contain(const char *const *names, unsigned count, const char *name)
{
	unsigned i = lower_bound(names, count, name);
	return i < count && strcmp(names[i], name) == 0;
}

unsigned imap_names_below(const char *const *names, unsigned count, const char *parent,
			  unsigned *first_r)
{
	/* sorted by strcmp, the names "parent/..." lie together */
	char *key = t_printf("%s/", parent);
	size_t len = strlen(key);
	unsigned i = lower_bound(names, count, key), n = 0;
	*first_r = i;
	while (i + n < count && strncmp(names[i + n], key, len) == 0)
		n++;
	return n;
}

static const struct {
	const char *name;
	unsigned item;
} status_items[] = {
	{ "MESSAGES", IMAP_STATUS_MESSAGES },
	{ "UIDNEXT", IMAP_STATUS_UIDNEXT },
	{ "UIDVALIDITY", IMAP_STATUS_UIDVALIDITY },
	{ "UNSEEN", IMAP_STATUS_UNSEEN },
	{ "DELETED", IMAP_STATUS_DELETED },   /* RFC 9051 6.3.11 */
	{ "SIZE", IMAP_STATUS_SIZE },         /* RFC 8438 */
	{ "RECENT", IMAP_STATUS_RECENT },     /* rev1 only (RFC 3501 6.3.10) */
	{ "HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ }, /* RFC 7162 3.1.6 */
	{ "MAILBOXID", IMAP_STATUS_MAILBOXID }, /* RFC 8474 4.4: not a number */
	/* RFC 7889 3.2: the limit APPEND enforces on this mailbox, the
	 * message_size_limit of every mailbox (as CAPABILITY's
	 * APPENDLIMIT=); NIL only for a mailbox without one, which the
	 * config (message_size_limit >= 1) never gives */
	{ "APPENDLIMIT", IMAP_STATUS_APPENDLIMIT },
};

int imap_status_items_parse(const struct imap_session *s, const struct imap_arg *args,
			    unsigned i, unsigned *items_r, const char **error_r)
{
	if (args[i].type != IMAP_ARG_LIST || args[i].list_len == 0) {
		*error_r = "STATUS needs a list of items";
		return -1;
	}
	unsigned items = 0;
	for (unsigned k = i + 1; k <= i + args[i].list_len; k++) {
		unsigned found = 0;
		for (size_t j = 0; j < sizeof(status_items) / sizeof(status_items[0]); j++)
			if (args[k].type == IMAP_ARG_ATOM &&
			    strcasecmp(args[k].str, status_items[j].name) == 0)
				found = status_items[j].item;
		if (found == 0 || (found == IMAP_STATUS_RECENT && s->rev2)) {
			*error_r = "unknown STATUS item";
			return -1;
		}
		items |= found;
	}
	*items_r = items;
	return 0;
}

void imap_status_append(const struct imap_session *s, str_t *out, unsigned items,
			const struct store_mailbox_status *st)
{
	const uint64_t values[] = { st->messages, st->uidnext, st->uidvalidity, st->unseen,
				    st->deleted, st->size, st->recent,
				    imap_condstore_highest(st->highestmodseq), 0,
				    s->base.env->config->message_size_limit };
	bool first = true;
	str_appendc(out, '(');
	for (size_t j = 0; j < sizeof(status_items) / sizeof(status_items[0]); j++) {
		if ((items & status_items[j].item) == 0)
			continue;
		if (status_items[j].item == IMAP_STATUS_MAILBOXID) {
			str_printf(out, "%sMAILBOXID (%s)", first ? "" : " ", st->mailboxid);
			first = false;
			continue;
		}
		str_printf(out, "%s%s %llu", first ? "" : " ", status_items[j].name,
			   (unsigned long long)values[j]);
		first = false;
	}
	str_appendc(out, ')');
}

enum mbox_op { OP_CREATE, OP_DELETE, OP_RENAME, OP_SUBSCRIBE, OP_UNSUBSCRIBE, OP_STATUS };

struct imap_mbox_job {
	struct imap_cmd *cmd;
	enum mbox_op op;
	const char *address;
	char *name, *new_name;
	struct imap_selected *sel; /* DELETE of the selected mailbox */
	bool sel_closed;
	bool rev2;                 /* rev2: RFC 9051 7.1 HASCHILDREN */
	unsigned items;
	struct store_mailbox_status st;
	const char *code;          /* NO's response code, or NULL */
	int result;                /* 0 ok, 1 NO with text, -1 store failure */
	char text[256];
};

static void job_no(struct imap_mbox_job *job, const char *code, const char *text)
{
	job->code = code;
	job->result = 1;
	snprintf(job->text, sizeof(job->text), "%s", text);
}

static void job_fail(struct imap_mbox_job *job, const char *error)
{
	job->result = -1;
	snprintf(job->text, sizeof(job->text), "%s", error != NULL ? error : "?");
}

/* CREATE: the name and the missing names above it (RFC 9051 6.3.4). */
static int create_with_parents(struct store *store, const char *address,
			       const char *const *names, unsigned count, const char *name,
			       const char **error_r)
{
	for (const char *p = strchr(name, '/'); p != NULL; p = strchr(p + 1, '/')) {
		const char *parent = t_strndup(name, (size_t)(p - name));
		if (!imap_names_contain(names, count, parent) &&
		    store_mailbox_create(store, address, parent, error_r) < 0)
			return -1;
	}
	return store_mailbox_create(store, address, name, error_r);
}

static void mbox_work(void *ctx, struct store *store)
{
	struct imap_mbox_job *job = ctx;
	pool_t *pool = pool_create(4096);
	const char **names, *error = NULL;
	unsigned count, first;
	if (imap_mailbox_names(store, job->address, pool, &names, &count, &error) < 0) {
		job_fail(job, error);
		pool_destroy(&pool);
		return;
	}
	bool exists = imap_names_contain(names, count, job->name);
	int r = 0;
	switch (job->op) {
	case OP_CREATE:
		if (exists)
			job_no(job, "ALREADYEXISTS", "Mailbox already exists");
		else if ((r = create_with_parents(store, job->address, names, count,
						   job->name, &error)) == 0)
			/* RFC 8474 4.1: CREATE's OK carries the MAILBOXID */
			(void)store_mailbox_status(store, job->address, job->name, &job->st,
						   &error);
		break;
	case OP_DELETE:
		if (strcmp(job->name, "INBOX") == 0)
			job_no(job, "CANNOT", "INBOX cannot be deleted");
		else if (!exists)
			job_no(job, "NONEXISTENT", "Mailbox doesn't exist");
		else if (imap_names_below(names, count, job->name, &first) > 0)
			/* RFC 9051 6.3.5: a server may refuse while names
			 * below it exist */
			job_no(job, job->rev2 ? "HASCHILDREN" : "CANNOT",
			       "Mailbox has mailboxes below it, delete those first");
		else {
			if (job->sel != NULL) {
				imap_selected_free(&job->sel);
				job->sel_closed = true;
			}
			r = store_mailbox_delete(store, job->address, job->name, &error);
		}
		break;
	case OP_RENAME: {
		size_t len = strlen(job->name);
		if (!exists)
			job_no(job, "NONEXISTENT", "Mailbox doesn't exist");
		else if (imap_names_contain(names, count, job->new_name) ||
			 strcmp(job->new_name, "INBOX") == 0)
			job_no(job, "ALREADYEXISTS", "Target mailbox already exists");
		else if (strncmp(job->new_name, job->name, len) == 0 && job->new_name[len] == '/')
			job_no(job, "CANNOT", "Cannot rename a mailbox below itself");
		else {
			/* RFC 9051 6.3.6: missing names above the new one are made */
			const char *slash = strrchr(job->new_name, '/');
			if (slash != NULL) {
				const char *parent = t_strndup(job->new_name,
							       (size_t)(slash - job->new_name));
				if (!imap_names_contain(names, count, parent))
					r = create_with_parents(store, job->address, names, count,
								parent, &error);
			}
			if (r == 0)
				r = store_mailbox_rename(store, job->address, job->name,
							 job->new_name, &error);
		}
		break;
	}
	case OP_SUBSCRIBE:
	case OP_UNSUBSCRIBE:
		/* RFC 9051 6.3.7: a name may be subscribed whether or not
		 * it exists */
		r = store_mailbox_subscribe(store, job->address, job->name,
					    job->op == OP_SUBSCRIBE, &error);
		break;
	case OP_STATUS:
		if (!exists)
			job_no(job, "NONEXISTENT", "Mailbox doesn't exist");
		else
			r = store_mailbox_status(store, job->address, job->name, &job->st, &error);
		if (r == 0 && (job->items & IMAP_STATUS_HIGHESTMODSEQ) != 0)
			imap_modseq_pending_status(job->cmd->s, job->name, &job->st);
		break;
	}
	if (r < 0)
		job_fail(job, error);
	pool_destroy(&pool);
}

static const char *const op_names[] = { "CREATE", "DELETE", "RENAME", "SUBSCRIBE",
					"UNSUBSCRIBE", "STATUS" };

static void mbox_job_free(struct imap_mbox_job *job)
{
	free(job->name);
	free(job->new_name);
	free(job);
}

static void mbox_done(void *ctx)
{
	struct imap_mbox_job *job = ctx;
	struct imap_cmd *cmd = job->cmd;
	struct imap_session *s = cmd->s;
	/* a selection DELETE did not close is the session's again (its end
	 * closes the view if it is gone) */
	if (job->sel != NULL) {
		s->sel = job->sel;
		job->sel = NULL;
		s->state = IMAP_STATE_SELECTED;
	}
	if (imap_session_check_gone(s)) {
		mbox_job_free(job);
		return;
	}
	const char *op = op_names[job->op];
	if (job->sel_closed) {
		/* RFC 9051 7.1: the selected state ended */
		imap_untagged(s, "OK [CLOSED] Selected mailbox deleted");
	}
	if (job->result < 0) {
		log_error("sid=%s event=mailbox_op_failed op=%s user=%s mailbox=%s error=%s",
			  s->base.sid, op, log_str(s->user), log_str(job->name),
			  log_str(job->text));
		mbox_job_free(job);
		imap_cmd_no(cmd, "UNAVAILABLE", "%s failed, try again later", op);
		return;
	}
	if (job->result > 0) {
		const char *code = job->code;
		char text[sizeof(job->text)];
		memcpy(text, job->text, sizeof(text));
		mbox_job_free(job);
		imap_cmd_no(cmd, code, "%s", text);
		return;
	}
	if (job->op == OP_STATUS) {
		str_t line = STR_INIT;
		imap_append_mailbox(s, &line, job->name);
		str_appendc(&line, ' ');
		imap_status_append(s, &line, job->items, &job->st);
		imap_untagged(s, "STATUS %s", str_c(&line));
		str_free(&line);
	} else {
		log_info("sid=%s event=mailbox_%s user=%s mailbox=%s%s%s", s->base.sid, op,
			 log_str(s->user), log_str(job->name),
			 job->new_name != NULL ? " new=" : "",
			 job->new_name != NULL ? log_str(job->new_name) : "");
	}
	if (job->op == OP_RENAME && s->sel != NULL) {
		/* the selected mailbox (or one above it) was renamed: the
		 * view follows it (no job runs now, so the view is free) */
		size_t len = strlen(job->name);
		const char *cur = s->sel->name, *renamed = NULL;
		if (strcmp(cur, job->name) == 0 && strcmp(cur, "INBOX") != 0)
			renamed = job->new_name;
		else if (strncmp(cur, job->name, len) == 0 && cur[len] == '/')
			renamed = t_printf("%s%s", job->new_name, cur + len);
		if (renamed != NULL) {
			char *old = s->sel->name; /* renamed may point into it */
			s->sel->name = xstrdup(renamed);
			free(old);
			store_view_renamed(s->sel->view, s->sel->name);
		}
	}
	char code[STORE_OBJECTID_SIZE + 16] = "";
	if (job->op == OP_CREATE && job->st.mailboxid[0] != '\0')
		snprintf(code, sizeof(code), "MAILBOXID (%s)", job->st.mailboxid);
	mbox_job_free(job);
	imap_cmd_ok(cmd, code[0] != '\0' ? code : NULL, "%s completed", op);
}

/* The name argument at args[i]; a trailing '/' is dropped for CREATE
 * (RFC 9051 6.3.4). NULL after answering NO. */
static char *mbox_name_arg(struct imap_cmd *cmd, unsigned i, bool strip_sep)
{
	struct imap_arg arg = cmd->args[i];
	str_t buf = STR_INIT;
	const char *name, *error;
	char *copy = NULL;
	if (arg.str != NULL && strip_sep && arg.len > 1 && arg.str[arg.len - 1] == '/') {
		copy = xstrndup(arg.str, arg.len - 1);
		arg.str = copy;
		arg.len--;
	}
	int r = imap_mailbox_name_get(&arg, cmd->s->utf8_accept, &buf, &name, &error);
	char *ret = r == 0 ? xstrdup(name) : NULL;
	if (r < 0)
		imap_cmd_no(cmd, "CANNOT", "%s", error);
	str_free(&buf);
	free(copy);
	return ret;
}

static void mbox_start(struct imap_cmd *cmd, enum mbox_op op)
{
	struct imap_session *s = cmd->s;
	unsigned want = op == OP_RENAME || op == OP_STATUS ? 2 : 1;
	unsigned n = 0;
	for (unsigned i = 0; i < cmd->count; i = imap_arg_next(cmd->args, i))
		n++;
	if (n != want || cmd->args[0].type == IMAP_ARG_LIST ||
	    (op == OP_RENAME && cmd->args[1].type == IMAP_ARG_LIST)) {
		imap_cmd_bad(cmd, "%s needs %s", op_names[op],
			     op == OP_RENAME ? "two mailbox names" :
			     op == OP_STATUS ? "a mailbox name and a list of items" :
			     "one mailbox name");
		return;
	}
	unsigned items = 0;
	const char *error;
	if (op == OP_STATUS && imap_status_items_parse(s, cmd->args, 1, &items, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return;
	}
	if (items & IMAP_STATUS_HIGHESTMODSEQ)
		imap_condstore_activate(cmd); /* RFC 7162 3.1 */
	char *name = mbox_name_arg(cmd, 0, op == OP_CREATE);
	if (name == NULL)
		return;
	char *new_name = NULL;
	if (op == OP_RENAME && (new_name = mbox_name_arg(cmd, 1, true)) == NULL) {
		free(name);
		return;
	}
	struct imap_mbox_job *job = xcalloc(1, sizeof(*job));
	job->cmd = cmd;
	job->op = op;
	job->address = s->user;
	job->name = name;
	job->new_name = new_name;
	job->items = items;
	job->rev2 = s->rev2;
	if (op == OP_DELETE && s->sel != NULL && strcmp(s->sel->name, name) == 0) {
		/* the job closes the view if the delete goes ahead
		 * (RFC 9051 6.3.5); mbox_done gives it back otherwise */
		job->sel = s->sel;
		s->sel = NULL;
		s->state = IMAP_STATE_AUTH;
	}
	imap_cmd_wait(cmd);
	imap_store_run(s, mbox_work, mbox_done, job);
}

void imap_cmd_create(struct imap_cmd *cmd)
{
	mbox_start(cmd, OP_CREATE);
}

void imap_cmd_delete(struct imap_cmd *cmd)
{
	mbox_start(cmd, OP_DELETE);
}

void imap_cmd_rename(struct imap_cmd *cmd)
{
	mbox_start(cmd, OP_RENAME);
}

void imap_cmd_subscribe(struct imap_cmd *cmd)
{
	mbox_start(cmd, OP_SUBSCRIBE);
}

void imap_cmd_unsubscribe(struct imap_cmd *cmd)
{
	mbox_start(cmd, OP_UNSUBSCRIBE);
}

void imap_cmd_status(struct imap_cmd *cmd)
{
	mbox_start(cmd, OP_STATUS);
}
