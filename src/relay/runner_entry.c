/* runner_entry.c: one queue entry in the runner's hands
 * (runner_private.h).
 *
 * The entry is leased first (queue_lease: an old and a new runner
 * generation never send it at once); a lease whose owner process is gone
 * (kill -9) is taken over at once. Its recipients that are due are split
 * by destination domain, one attempt per domain (runner_attempt.c). Each
 * attempt's replies are recorded (queue_rcpt_result: 2xx delivered, 4xx
 * or no reply deferred with backoff, 5xx failed) and written under the
 * lease at once, so after a crash only recipients without a durable 2xx
 * are sent again. When the last attempt is in: recipients past
 * queue_lifetime fail (4.4.7), ONE failure DSN covers every failed
 * recipient (deliver/bounce.c: never to the null sender), a delay DSN goes
 * out once after delay_warning_time, and the entry is removed when no
 * recipient is left, else released until its next retry.
 *
 * The queue I/O that fsyncs (the lease with the message open at the
 * start, the removal or release at the end) runs on the runner's thread
 * pool (r->io), never on the loop, so twenty connections are not held up
 * by one entry's disk sync; the entry stays in r->entries (busy) while
 * its job runs, and its envelope is not touched by the loop meanwhile.
 * The results of the last attempt of an entry that is then removed at
 * once are not written first: the removal records them. */
#include "relay/runner_private.h"
#include "deliver/bounce.h"
#include "lib/config.h"
#include "lib/threadpool.h"
#include "lib/mem.h"
#include "lib/log.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct runner_entry {
	struct runner *r;
	struct runner_entry *next;
	pool_t *pool;
	char id[QUEUE_ID_MAX];  /* the loop's own copy: a job rewrites info */
	struct queue_entry_info info;
	int fd;
	unsigned attempts_open;
	bool lease_lost;
	/* the pool job's outcome (runner_entry_start, entry_finish) */
	int leased;
	bool job;               /* a pool job has the entry */
	const char *job_error;
	time_t due;
};

bool runner_entry_busy(const struct runner *r, const char *id)
{
	for (const struct runner_entry *e = r->entries; e != NULL; e = e->next) {
		if (strcmp(e->id, id) == 0)
			return true;
	}
	return false;
}

struct queue_entry_info *runner_entry_info(struct runner_entry *e) { return &e->info; }
int runner_entry_message_fd(struct runner_entry *e) { return e->fd; }
const char *runner_entry_id(const struct runner_entry *e) { return e->info.id; }
const char *runner_entry_strdup(struct runner_entry *e, const char *s)
{
	return pool_strdup(e->pool, s);
}

/* "runner-PID" whose process is gone: its lease protects nothing. Inside
 * the sandbox, kill(pid, 0) still tells a missing process (ESRCH) from
 * one it may not signal (EPERM). */
static bool lease_owner_dead(const struct queue_envelope *env, const char *self)
{
	if (env->lease_owner.data == NULL || strcmp(env->lease_owner.data, self) == 0 ||
	    strncmp(env->lease_owner.data, "runner-", 7) != 0)
		return false;
	char *end;
	long pid = strtol(env->lease_owner.data + 7, &end, 10);
	if (*end != '\0' || pid <= 1)
		return false;
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

static int entry_lease(struct runner *r, const char *id, time_t now, pool_t *pool,
		       struct queue_entry_info *info)
{
	const char *error;
	int ret = queue_lease(r->queue, id, r->owner, now, r->lease_secs, pool, info,
			      &error);
	if (ret == 0 && lease_owner_dead(&info->env, r->owner)) {
		/* as if its lease had run out now */
		log_info("event=relay_lease_orphaned queue_id=%s owner=%s", id,
			 log_value(info->env.lease_owner.data, info->env.lease_owner.len));
		ret = queue_lease(r->queue, id, r->owner, info->env.lease_expires,
				  r->lease_secs, pool, info, &error);
	}
	if (ret < 0)
		log_warn("event=relay_lease_failed queue_id=%s error=%s", id, log_str(error));
	return ret;
}

static const char *rcpt_domain(const struct queue_recipient *q)
{
	const char *at = memrchr(q->address.data, '@', q->address.len);
	return at != NULL ? at + 1 : "";
}

static void entry_write(struct runner_entry *e, bool release)
{
	const char *error;
	int ret = queue_lease_update(e->r->queue, e->info.id, e->r->owner, &e->info.env,
				     e->info.size, release, &error);
	if (ret < 0)
		log_error("event=relay_queue_update_failed queue_id=%s error=%s", e->info.id,
			  log_str(error));
	else if (ret == 0 && !e->lease_lost) {
		log_error("event=relay_lease_lost queue_id=%s", e->info.id);
		e->lease_lost = true;
	}
}

static void entry_release_only(struct runner *r, const struct queue_entry_info *info)
{
	const char *error;
	if (queue_lease_update(r->queue, info->id, r->owner, &info->env, info->size, true,
			       &error) < 0)
		log_error("event=relay_queue_update_failed queue_id=%s error=%s", info->id,
			  log_str(error));
}

static bool entry_wants(const struct queue_envelope *env, enum queue_rcpt_state st,
			unsigned notify)
{
	for (unsigned i = 0; i < env->recipient_count; i++) {
		const struct queue_recipient *q = &env->recipients[i];
		if (q->state == st && !q->notified &&
		    (notify == 0 || (q->notify & notify) != 0))
			return true;
	}
	return false;
}

/* 0 sent or not due, -1 failed (the entry stays for another try) */
static int entry_dsn(struct runner_entry *e, enum queue_dsn_kind kind, time_t now)
{
	struct runner *r = e->r;
	struct bounce_context b = {
		.sid = "runner", .data_dir = r->config->data_dir,
		.hostname = r->config->hostname, .committer = r->committer,
		.userdb = r->userdb, .now = now,
		.retry_until = e->info.env.received + (time_t)r->sched.lifetime,
	};
	char dsn_id[QUEUE_ID_MAX];
	const char *error;
	int ret = bounce_entry(&b, &e->info, e->fd, kind, e->pool, dsn_id, &error);
	if (ret < 0) {
		log_error("event=relay_dsn_failed queue_id=%s error=%s", e->info.id,
			  log_str(error));
		return -1;
	}
	if (ret == 0 && kind == QUEUE_DSN_FAILURE) {
		/* null sender or NOTIFY=NEVER: nobody to tell, no retry */
		for (unsigned i = 0; i < e->info.env.recipient_count; i++) {
			if (e->info.env.recipients[i].state == QUEUE_RCPT_FAILED)
				e->info.env.recipients[i].notified = true;
		}
	}
	if (ret == 1 && dsn_id[0] != '\0' && !r->draining)
		runner_entry_want(r, dsn_id);
	return 0;
}

/* Unlink, close, free, then tell the runner (when its due). */
static void entry_free(void *ctx)
{
	struct runner_entry *e = ctx;
	struct runner *r = e->r;
	time_t due = e->due;
	for (struct runner_entry **p = &r->entries; *p != NULL; p = &(*p)->next) {
		if (*p == e) {
			*p = e->next;
			break;
		}
	}
	if (e->fd >= 0)
		close(e->fd);
	r->in_hand--;
	pool_destroy(&e->pool);
	free(e);
	runner_entry_finished(r, NULL, due);
}

/* pool thread: the entry is finished, remove it or write and release */
static void entry_finish_work(void *ctx)
{
	struct runner_entry *e = ctx;
	const char *error;
	if (e->leased == 2) {
		entry_write(e, true);
	} else if (queue_remove_sync(e->r->queue, e->info.id, false, &error) < 0) {
		log_error("event=relay_remove_failed queue_id=%s error=%s", e->info.id,
			  log_str(error));
	} else
		log_info("event=relay_done queue_id=%s", e->info.id);
}

static void entry_finish(struct runner_entry *e)
{
	struct runner *r = e->r;
	time_t now = time(NULL);
	struct queue_envelope *env = &e->info.env;
	bool dsn_failed = false;
	if (!e->lease_lost) {
		if (queue_expire(env, &r->sched, now, e->pool) > 0)
			log_info("event=relay_expired queue_id=%s", e->info.id);
		if (entry_wants(env, QUEUE_RCPT_FAILED, 0) &&
		    entry_dsn(e, QUEUE_DSN_FAILURE, now) < 0)
			dsn_failed = true;
		if (entry_wants(env, QUEUE_RCPT_DELIVERED, QUEUE_NOTIFY_SUCCESS) &&
		    entry_dsn(e, QUEUE_DSN_SUCCESS, now) < 0)
			dsn_failed = true;
		if (queue_delay_warning_due(env, &r->sched, now) &&
		    entry_dsn(e, QUEUE_DSN_DELAY, now) < 0)
			dsn_failed = true;
	}
	e->due = 0;
	e->leased = 0; /* 0: nothing to write, 1: remove, 2: write and release */
	if (e->lease_lost) {
		/* its owner now decides */
	} else if (queue_entry_done(env) && !dsn_failed) {
		e->leased = 1;
	} else {
		if (dsn_failed) {
			/* the DSN is tried again with the next retry */
			for (unsigned i = 0; i < env->recipient_count; i++) {
				struct queue_recipient *q = &env->recipients[i];
				if (q->state == QUEUE_RCPT_FAILED && !q->notified)
					q->next_attempt = now + (time_t)r->sched.retry_min;
			}
		}
		e->leased = 2;
		struct queue_envelope after = *env;
		after.lease_owner = queue_str_c(NULL);
		e->due = runner_entry_due(&after, now);
	}
	if (e->leased == 0)
		entry_free(e);
	else {
		e->job = true;
		threadpool_submit(r->io_finish, entry_finish_work, entry_free, e);
	}
}

void runner_entry_results(struct runner_entry *e, const unsigned *idx, unsigned count,
			  const struct smtp_client_reply *replies, const char *host)
{
	struct runner *r = e->r;
	time_t now = time(NULL);
	for (unsigned i = 0; i < count; i++) {
		struct queue_recipient *q = &e->info.env.recipients[idx[i]];
		const struct smtp_client_reply *rep = &replies[i];
		/* a local 4xx is no reply from a server: a connection failure */
		queue_rcpt_result(q, &r->sched, now, runner_random(NULL), rep->code,
				  rep->enhanced[0] != '\0' ? rep->enhanced : NULL,
				  rep->text != NULL ? rep->text : "", host, e->pool);
	}
	/* durable now: a crash from here on never resends these. The last
	 * attempt of an entry that is then simply removed leaves that to the
	 * removal (one sync fewer, the same window) */
	const struct queue_envelope *env = &e->info.env;
	if (e->attempts_open > 1 || !queue_entry_done(env) ||
	    entry_wants(env, QUEUE_RCPT_FAILED, 0) ||
	    entry_wants(env, QUEUE_RCPT_DELIVERED, QUEUE_NOTIFY_SUCCESS))
		entry_write(e, false);
	if (--e->attempts_open == 0)
		entry_finish(e);
}

/* pool thread: lease the entry and open its message */
static void entry_lease_work(void *ctx)
{
	struct runner_entry *e = ctx;
	const char *error = NULL;
	char id[QUEUE_ID_MAX];
	(void)snprintf(id, sizeof(id), "%s", e->id);
	e->leased = entry_lease(e->r, id, time(NULL), e->pool, &e->info);
	if (e->leased > 0 && (e->fd = queue_message_open(e->r->queue, id, &error)) < 0)
		e->job_error = pool_strdup(e->pool, error);
}

static void entry_lease_done(void *ctx);

bool runner_entry_start(struct runner *r, const char *id)
{
	if (runner_entry_busy(r, id) || r->draining)
		return false;
	struct runner_entry *e = xcalloc(1, sizeof(*e));
	e->r = r;
	e->fd = -1;
	e->pool = pool_create(8192);
	(void)snprintf(e->id, sizeof(e->id), "%s", id);
	(void)snprintf(e->info.id, sizeof(e->info.id), "%s", id);
	/* busy from now on: a second start waits for this one */
	e->next = r->entries;
	r->entries = e;
	r->in_hand++;
	e->job = true;
	threadpool_submit(r->io, entry_lease_work, entry_lease_done, e);
	return true;
}

static void entry_lease_done(void *ctx)
{
	struct runner_entry *e = ctx;
	struct runner *r = e->r;
	time_t now = time(NULL);
	e->job = false;
	if (e->leased <= 0 || e->fd < 0 || r->draining) {
		e->due = 0;
		if (e->leased == 0) {
			/* a live runner has it: look again when its lease ends */
			e->due = e->info.env.lease_expires;
		} else if (e->leased > 0) {
			if (e->fd < 0)
				log_error("event=relay_open_failed queue_id=%s error=%s",
					  e->info.id, log_str(e->job_error));
			entry_release_only(r, &e->info);
			e->due = r->draining ? 0 : now + (time_t)r->sched.retry_min;
		}
		entry_free(e);
		return;
	}
	/* the due recipients, grouped by domain: one attempt each */
	struct queue_envelope *env = &e->info.env;
	unsigned n = env->recipient_count;
	unsigned *idx = xcalloc(n, sizeof(*idx));
	bool *taken = xcalloc(n, sizeof(*taken));
	e->attempts_open = 1; /* held while attempts start */
	for (unsigned i = 0; i < n; i++) {
		struct queue_recipient *q = &env->recipients[i];
		bool due = (q->state == QUEUE_RCPT_PENDING || q->state == QUEUE_RCPT_DEFERRED) &&
			q->next_attempt <= now;
		if (taken[i] || !due)
			continue;
		const char *domain = rcpt_domain(q);
		unsigned count = 0;
		for (unsigned j = i; j < n; j++) {
			struct queue_recipient *o = &env->recipients[j];
			if (taken[j] || o->next_attempt > now ||
			    (o->state != QUEUE_RCPT_PENDING && o->state != QUEUE_RCPT_DEFERRED) ||
			    strcasecmp(rcpt_domain(o), domain) != 0)
				continue;
			taken[j] = true;
			idx[count++] = j;
		}
		e->attempts_open++;
		r->attempts++;
		runner_attempt_start(r, e, t_strndup(domain, strlen(domain)), idx, count);
	}
	free(idx);
	free(taken);
	if (--e->attempts_open == 0)
		entry_finish(e);
}

void runner_entries_renew(struct runner *r, time_t now)
{
	for (struct runner_entry *e = r->entries; e != NULL; e = e->next) {
		/* a job in hand writes the envelope itself */
		if (e->job || e->lease_lost)
			continue;
		const char *error;
		time_t expires;
		int ret = queue_lease_renew(r->queue, e->info.id, r->owner, now,
					    r->lease_secs, &expires, &error);
		if (ret > 0) {
			e->info.env.lease_expires = expires;
			log_debug("event=relay_lease_renewed queue_id=%s expires=%lld",
				  e->info.id, (long long)expires);
		} else if (ret == 0) {
			log_error("event=relay_lease_lost queue_id=%s", e->info.id);
			e->lease_lost = true;
		} else
			log_warn("event=relay_lease_renew_failed queue_id=%s error=%s",
				 e->info.id, log_str(error));
	}
}
