/* queue_control.c: the administrator's changes to one entry's schedule
 * (queue.h, "postel queue retry|flush|hold|release").
 *
 * Every change reads the envelope, decides and writes it back in one step
 * under the lease lock (queue_lease.c), the lock every runner takes to
 * lease or write an entry, so nothing a runner writes is lost and nothing
 * it reads is half-done. An entry under a live lease is being delivered:
 * its schedule is the lease holder's to write (queue_lease_update()
 * replaces the envelope with the holder's copy), so RETRY and RELEASE
 * leave it; only the hold flag is carried over by queue_lease_update(),
 * which is what lets HOLD mark an entry in flight. The hold is a flag in
 * the envelope (hold=yes), durable like the entry, so it survives
 * restarts and crashes. */
#include "queue/queue_private.h"
#include "lib/log.h"

#include <errno.h>

void queue_lease_held_entries(struct queue *q)
{
	q->lease_held = true;
}

static bool rcpt_open(const struct queue_recipient *r)
{
	/* a failed one whose DSN did not go out is still the runner's */
	return r->state == QUEUE_RCPT_PENDING || r->state == QUEUE_RCPT_DEFERRED ||
		(r->state == QUEUE_RCPT_FAILED && !r->notified);
}

/* Open recipients due now: how many were waiting for later. */
static unsigned make_due(struct queue_envelope *env, time_t now, bool *open_r)
{
	unsigned n = 0;
	*open_r = false;
	for (unsigned i = 0; i < env->recipient_count; i++) {
		struct queue_recipient *r = &env->recipients[i];
		if (!rcpt_open(r))
			continue;
		*open_r = true;
		if (r->next_attempt > now) {
			r->next_attempt = now;
			n++;
		}
	}
	return n;
}

/* 1 to write the envelope, 0 nothing to do (*why_r) */
static int control_decide(struct queue_envelope *env, enum queue_control_op op,
			  time_t now, const char **why_r)
{
	bool leased = env->lease_owner.data != NULL && env->lease_expires > now;
	bool open;
	switch (op) {
	case QUEUE_CONTROL_HOLD:
		if (env->hold) {
			*why_r = "already held";
			return 0;
		}
		env->hold = true;
		*why_r = leased ? "being delivered: held after the current attempt" : NULL;
		return 1;
	case QUEUE_CONTROL_RELEASE:
		if (!env->hold) {
			*why_r = "not held";
			return 0;
		}
		env->hold = false;
		if (!leased)
			(void)make_due(env, now, &open);
		*why_r = leased ? "being delivered: its schedule stays" : NULL;
		return 1;
	case QUEUE_CONTROL_RETRY:
		if (env->hold) {
			*why_r = "held (\"postel queue release\" it)";
			return 0;
		}
		if (leased) {
			*why_r = "being delivered right now";
			return 0;
		}
		if (make_due(env, now, &open) == 0) {
			*why_r = open ? "already due" : "nothing left to send";
			return 0;
		}
		*why_r = NULL;
		return 1;
	}
	*why_r = "unknown operation";
	return 0;
}

int queue_control(struct queue *q, const char *id, enum queue_control_op op,
		  time_t now, const char **why_r, const char **error_r)
{
	*why_r = NULL;
	int fd = queue_lock(q, error_r);
	if (fd < 0)
		return -1;
	pool_t *pool = pool_create(4096);
	struct queue_entry_info cur;
	int ret = -1;
	if (queue_entry_read(q, id, pool, &cur, error_r) == 0) {
		ret = control_decide(&cur.env, op, now, why_r);
		if (ret > 0 && queue_envelope_update(q, id, &cur.env, cur.size, error_r) < 0)
			ret = -1;
	}
	int saved = errno;
	pool_destroy(&pool);
	queue_unlock(fd);
	if (ret > 0)
		log_info("event=queue_control queue_id=%s op=%s", id,
			 op == QUEUE_CONTROL_HOLD ? "hold" :
			 op == QUEUE_CONTROL_RELEASE ? "release" : "retry");
	errno = saved;
	return ret;
}
