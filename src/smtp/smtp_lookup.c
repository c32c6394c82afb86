/* smtp_lookup.c: the account lookups of MAIL and RCPT, off the event loop.
 *
 * accounts.db is SQLite with a 5 s busy timeout: a lookup that waits for
 * a lock (the CLI changing accounts, a checkpoint) would stop every
 * session of the worker. So the lookup runs on the worker's delivery
 * thread pool, with that thread's own userdb handle (userdb_thread()),
 * while the session reads nothing; the reply goes out when the job comes
 * back, in order, so pipelining is kept
 * (RFC 2920 3.1: replies in the order of the commands). */
#include "smtp_private.h"
#include "lib/conn.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/threadpool.h"
#include "auth/userdb.h"

#include <string.h>

enum smtp_lookup_kind {
	SMTP_LOOKUP_SENDER, /* MAIL after AUTH: may the user send as this? */
	SMTP_LOOKUP_RCPT,   /* RCPT: local domain? who receives it? */
};

struct smtp_lookup_job {
	struct smtp_session *s;
	enum smtp_lookup_kind kind;
	/* input, owned by the job */
	char *data_dir, *address, *user;
	char *postmaster_address; /* RCPT: the postmaster_address key */
	struct smtp_tx *new_tx;   /* SENDER: installed on success */
	struct smtp_rcpt rcpt;    /* RCPT: parsed into tx->pool */
	/* output, from the thread */
	pool_t *pool;             /* the targets, copied to tx->pool after */
	int local, result;
	struct userdb_target *targets;
	unsigned count;
	char *error;
};

static void smtp_lookup_work(void *ctx)
{
	struct smtp_lookup_job *job = ctx;
	const char *error = NULL;
	struct userdb *db = userdb_thread(job->data_dir, &error);
	if (db == NULL) {
		job->result = -1;
		job->local = -1;
		job->error = xstrdup(error);
		return;
	}
	if (job->kind == SMTP_LOOKUP_SENDER) {
		job->result = userdb_may_send_as(db, job->user, job->address);
		return;
	}
	const char *domain = strrchr(job->address, '@');
	domain = domain != NULL ? domain + 1 : "";
	job->local = userdb_is_local_domain(db, domain);
	if (job->local < 0)
		return;
	/* <Postmaster> of a host name that is no local domain: not relayed */
	if (job->local == 0 && job->rcpt.to.postmaster)
		job->result = 0;
	else
		job->result = userdb_resolve_rcpt(db, job->address, job->pool,
						  &job->targets, &job->count, &error);
	/* RFC 5321 4.5.1: postmaster with no alias or user of its own */
	if (job->result == 0 && smtp_rcpt_is_postmaster(&job->rcpt.to, job->local > 0))
		job->result = smtp_postmaster_resolve(db, job->postmaster_address,
						      job->pool, &job->targets,
						      &job->count, &error);
	if (job->result < 0)
		job->error = xstrdup(error != NULL ? error : "unknown error");
}

static void smtp_lookup_job_free(struct smtp_lookup_job *job)
{
	if (job->new_tx != NULL) {
		pool_destroy(&job->new_tx->pool);
		free(job->new_tx);
	}
	pool_destroy(&job->pool);
	free(job->data_dir);
	free(job->address);
	free(job->user);
	free(job->postmaster_address);
	free(job->error);
	free(job);
}

static void smtp_lookup_sender_done(struct smtp_session *s, struct smtp_lookup_job *job)
{
	if (job->result < 0) {
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	if (job->result == 0) {
		smtp_reply(s, 553, "5.7.1", "Sender address not owned by authenticated user");
		return;
	}
	s->tx = job->new_tx;
	job->new_tx = NULL;
	smtp_reply(s, 250, "2.1.0", "Sender OK");
}

static void smtp_tx_add_rcpt(struct smtp_tx *tx, const struct smtp_rcpt *rcpt,
			     struct userdb_target *targets, unsigned count)
{
	if (tx->rcpt_count == tx->rcpt_cap) {
		unsigned cap = tx->rcpt_cap ? tx->rcpt_cap * 2 : 8;
		struct smtp_rcpt_entry *n = pool_alloc(tx->pool, cap * sizeof(*n));
		if (tx->rcpt_count > 0)
			memcpy(n, tx->rcpts, tx->rcpt_count * sizeof(*n));
		tx->rcpts = n;
		tx->rcpt_cap = cap;
	}
	struct smtp_rcpt_entry *e = &tx->rcpts[tx->rcpt_count++];
	e->rcpt = *rcpt;
	e->targets = targets;
	e->target_count = count;
}

static void smtp_lookup_rcpt_done(struct smtp_session *s, struct smtp_lookup_job *job)
{
	struct smtp_tx *tx = s->tx;
	if (job->local < 0) {
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	if (job->local == 0 && s->auth_user == NULL && !job->rcpt.to.postmaster) {
		log_info("sid=%s event=relay_denied ip=%s rcpt=%s", s->base.sid,
			 s->base.peer_ip, log_str(job->address));
		smtp_reply(s, 554, "5.7.1", "Relay access denied");
		return;
	}
	if (job->result < 0) {
		log_error("sid=%s event=rcpt_lookup_failed error=%s", s->base.sid,
			  log_str(job->error));
		smtp_reply(s, 451, "4.3.0", "Temporary lookup failure");
		return;
	}
	if (job->result == 0 || job->count == 0) {
		smtp_reply(s, 550, "5.1.1", "No such user here");
		return;
	}
	if (tx->target_total + job->count > SMTP_MAX_TARGETS) {
		/* aliases may expand: bound the copies one message makes */
		smtp_reply(s, 452, "4.5.3", "Too many recipients after alias expansion");
		return;
	}
	struct userdb_target *targets = pool_alloc(tx->pool, job->count * sizeof(*targets));
	for (unsigned i = 0; i < job->count; i++) {
		targets[i].address = pool_strdup(tx->pool, job->targets[i].address);
		targets[i].local = job->targets[i].local;
	}
	tx->target_total += job->count;
	smtp_tx_add_rcpt(tx, &job->rcpt, targets, job->count);
	smtp_reply(s, 250, "2.1.5", "Recipient OK");
}

/* Back on the loop thread. */
static void smtp_lookup_done(void *ctx)
{
	struct smtp_lookup_job *job = ctx;
	struct smtp_session *s = job->s;
	session_job_end(&s->base);
	s->state = SMTP_STATE_COMMAND;
	if (!session_may_free(&s->base)) {
		if (job->kind == SMTP_LOOKUP_SENDER)
			smtp_lookup_sender_done(s, job);
		else
			smtp_lookup_rcpt_done(s, job);
		if (s->base.draining && s->tx == NULL && !s->base.closing) {
			smtp_reply(s, 421, "4.3.2", "Service shutting down");
			smtp_session_close(s);
		}
	}
	smtp_lookup_job_free(job);
	smtp_session_resume(s);
}

static void smtp_lookup_submit(struct smtp_session *s, struct smtp_lookup_job *job)
{
	job->s = s;
	job->data_dir = xstrdup(s->base.env->config->data_dir);
	s->state = SMTP_STATE_WAIT;
	session_job_begin(&s->base);
	conn_input_pause(s->base.conn);
	threadpool_submit(s->base.env->delivery_pool, smtp_lookup_work, smtp_lookup_done,
			  job);
}

void smtp_lookup_sender(struct smtp_session *s, struct smtp_tx *tx)
{
	struct smtp_lookup_job *job = xcalloc(1, sizeof(*job));
	job->kind = SMTP_LOOKUP_SENDER;
	job->new_tx = tx;
	job->user = xstrdup(s->auth_user);
	job->address = xstrdup(tx->mail.from.canonical);
	smtp_lookup_submit(s, job);
}

void smtp_lookup_rcpt(struct smtp_session *s, const struct smtp_rcpt *rcpt,
		      const char *address)
{
	struct smtp_lookup_job *job = xcalloc(1, sizeof(*job));
	job->kind = SMTP_LOOKUP_RCPT;
	job->rcpt = *rcpt;
	job->address = xstrdup(address);
	job->postmaster_address = xstrdup(s->base.env->config->postmaster_address);
	job->pool = pool_create(1024);
	smtp_lookup_submit(s, job);
}
