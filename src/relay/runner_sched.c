/* runner_sched.c: the runner's pure decisions (runner_private.h): when an
 * entry is next due, and the concurrency slots (relay_max_connections in
 * all, relay_max_per_domain per destination domain). No I/O, no clock. */
#include "relay/runner_private.h"
#include <strings.h>
#include <stdio.h>
#include <string.h>

static time_t earlier(time_t a, time_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

time_t runner_entry_due(const struct queue_envelope *env, time_t now)
{
	time_t due = 0;
	/* "postel queue hold": never, until released */
	for (unsigned i = 0; i < env->recipient_count && !env->hold; i++) {
		const struct queue_recipient *rc = &env->recipients[i];
		bool open = rc->state == QUEUE_RCPT_PENDING ||
			rc->state == QUEUE_RCPT_DEFERRED ||
			(rc->state == QUEUE_RCPT_FAILED && !rc->notified);
		if (open)
			due = earlier(due, rc->next_attempt > 0 ? rc->next_attempt : 1);
	}
	(void)now; /* a lease is the runner's to judge (runner_entry_start) */
	return due;
}

static struct runner_slot_domain *slot_find(struct runner_slots *s, const char *domain,
					    bool create)
{
	struct runner_slot_domain *free_row = NULL;
	for (unsigned i = 0; i < s->count; i++) {
		if (s->domains[i].used > 0 && strcasecmp(s->domains[i].name, domain) == 0)
			return &s->domains[i];
		if (s->domains[i].used == 0 && free_row == NULL)
			free_row = &s->domains[i];
	}
	if (!create)
		return NULL;
	if (free_row == NULL && s->count < RUNNER_DOMAINS_MAX)
		free_row = &s->domains[s->count++];
	if (free_row != NULL)
		(void)snprintf(free_row->name, sizeof(free_row->name), "%s", domain);
	return free_row;
}

bool runner_slot_take(struct runner_slots *s, const char *domain)
{
	if (s->total >= s->max_total)
		return false;
	struct runner_slot_domain *d = slot_find(s, domain, true);
	/* a full table (RUNNER_DOMAINS_MAX busy domains) waits too */
	if (d == NULL || d->used >= s->max_per_domain)
		return false;
	d->used++;
	s->total++;
	return true;
}

void runner_slot_release(struct runner_slots *s, const char *domain)
{
	struct runner_slot_domain *d = slot_find(s, domain, false);
	if (d == NULL || d->used == 0 || s->total == 0)
		return;
	d->used--;
	s->total--;
}
