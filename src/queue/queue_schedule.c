/* queue_schedule.c: what one delivery attempt's outcome does to a
 * recipient, the retry schedule, expiry and the delay warning (queue.h).
 *
 * Outcomes (issue 10 item 6; RFC 5321 4.2.1, 4.5.4.1): a 2xx reply marks
 * the recipient delivered, a 5xx one failed; a 4xx reply, a timeout or a
 * connection failure (code 0) defers it, and the next attempt waits
 * retry_min after the first failure, doubling after each further one up to
 * retry_max, jittered by +-10%. RFC 5321 4.5.4.1 asks that a message be
 * retried until at least 4-5 days have passed: queue_lifetime (default 5
 * days) ends it with 4.4.7 "delivery time expired" (RFC 3463 3.5).
 *
 * Pure: no I/O, no clock, no randomness of its own (callers pass now and
 * a random value), so the schedule is tested exactly. */
#include "queue/queue.h"

static struct queue_str str_copy(pool_t *pool, struct queue_str s)
{
	if (s.data == NULL)
		return s;
	struct queue_str c = { pool_strndup(pool, s.data, s.len), s.len };
	return c;
}

static struct queue_str str_dup_c(pool_t *pool, const char *s)
{
	return s == NULL ? queue_str_c(NULL) : queue_str_c(pool_strdup(pool, s));
}

void queue_envelope_copy(pool_t *pool, const struct queue_envelope *src,
			 struct queue_envelope *dest)
{
	*dest = *src;
	dest->sender = str_copy(pool, src->sender);
	if (dest->sender.data == NULL)
		dest->sender = queue_str_c("");
	dest->auth_user = str_copy(pool, src->auth_user);
	dest->client_ip = str_copy(pool, src->client_ip);
	dest->envid = str_copy(pool, src->envid);
	dest->lease_owner = str_copy(pool, src->lease_owner);
	dest->recipients = pool_alloc(pool, src->recipient_count *
				      sizeof(*dest->recipients));
	for (unsigned i = 0; i < src->recipient_count; i++) {
		const struct queue_recipient *s = &src->recipients[i];
		struct queue_recipient *d = &dest->recipients[i];
		*d = *s;
		d->address = str_copy(pool, s->address);
		d->orcpt = str_copy(pool, s->orcpt);
		d->reply_status = str_copy(pool, s->reply_status);
		d->reply_text = str_copy(pool, s->reply_text);
		d->mx = str_copy(pool, s->mx);
	}
}

unsigned queue_backoff(const struct queue_schedule *sch, unsigned attempts,
		       uint32_t random)
{
	uint64_t delay = sch->retry_min > 0 ? sch->retry_min : 1;
	uint64_t max = sch->retry_max > delay ? sch->retry_max : delay;
	for (unsigned i = 1; i < attempts && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	/* +-10%: delay * (90 + random % 21) / 100 */
	delay = delay * (90 + random % 21) / 100;
	return delay > 0 ? (unsigned)delay : 1;
}

void queue_rcpt_result(struct queue_recipient *r, const struct queue_schedule *sch,
		       time_t now, uint32_t random, unsigned code, const char *status,
		       const char *text, const char *mx, pool_t *pool)
{
	r->attempts++;
	r->reply_code = code >= 200 && code <= 599 ? code : 0;
	r->reply_status = str_dup_c(pool, status);
	/* RFC 3463: the text of a reply with an enhanced code starts with
	 * it; it is kept once, in reply_status */
	size_t slen = status != NULL ? strlen(status) : 0;
	if (text != NULL && slen > 0 && strncmp(text, status, slen) == 0 && text[slen] == ' ')
		text += slen + 1;
	r->reply_text = str_dup_c(pool, text);
	r->mx = str_dup_c(pool, mx);
	if (r->reply_code >= 200 && r->reply_code < 300) {
		r->state = QUEUE_RCPT_DELIVERED;
	} else if (r->reply_code >= 500) {
		r->state = QUEUE_RCPT_FAILED;
	} else {
		r->state = QUEUE_RCPT_DEFERRED;
		r->next_attempt = now + (time_t)queue_backoff(sch, r->attempts, random);
	}
}

static bool rcpt_open(const struct queue_recipient *r)
{
	return r->state == QUEUE_RCPT_PENDING || r->state == QUEUE_RCPT_DEFERRED;
}

unsigned queue_expire(struct queue_envelope *env, const struct queue_schedule *sch,
		      time_t now, pool_t *pool)
{
	if (now - env->received < (time_t)sch->lifetime)
		return 0;
	unsigned n = 0;
	for (unsigned i = 0; i < env->recipient_count; i++) {
		struct queue_recipient *r = &env->recipients[i];
		if (!rcpt_open(r))
			continue;
		/* the last remote reply stays for the DSN's Diagnostic-Code */
		r->state = QUEUE_RCPT_FAILED;
		r->reply_status = str_dup_c(pool, "4.4.7");
		if (r->reply_text.data == NULL)
			r->reply_text = str_dup_c(pool, "delivery time expired");
		n++;
	}
	return n;
}

bool queue_delay_warning_due(const struct queue_envelope *env,
			     const struct queue_schedule *sch, time_t now)
{
	if (sch->delay_warning == 0 || env->delay_warned ||
	    now - env->received < (time_t)sch->delay_warning)
		return false;
	for (unsigned i = 0; i < env->recipient_count; i++) {
		const struct queue_recipient *r = &env->recipients[i];
		/* RFC 3461 4.1: without NOTIFY the server decides; we warn */
		if (r->state == QUEUE_RCPT_DEFERRED &&
		    (r->notify == 0 || (r->notify & QUEUE_NOTIFY_DELAY) != 0))
			return true;
	}
	return false;
}

bool queue_entry_done(const struct queue_envelope *env)
{
	for (unsigned i = 0; i < env->recipient_count; i++) {
		if (rcpt_open(&env->recipients[i]))
			return false;
	}
	return true;
}
