/* fuzz-queue-envelope.c: libFuzzer target for the queue envelope format
 * (queue_envelope_parse() and queue_envelope_format() in queue.h).
 *
 * The input is an envelope file. Invariants, checked with abort():
 *   - a refusal always sets error_r;
 *   - an accepted envelope passes queue_envelope_check() (the parser never
 *     hands the queue runner an entry the writer would refuse), its id is
 *     valid, and every string is NUL-terminated at its length;
 *   - round trip: format(parse(x)) parses again to an identical entry,
 *     and formatting that entry gives the same text (format is canonical);
 *   - strict prefixes of a formatted envelope are refused (no truncated
 *     file is ever taken as complete). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "queue/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pool_t *pool;

static bool str_same(struct queue_str a, struct queue_str b)
{
	if (a.data == NULL || b.data == NULL)
		return a.data == NULL && b.data == NULL;
	return a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
}

static void check_str(struct queue_str s)
{
	if (s.data != NULL && s.data[s.len] != '\0')
		abort();
	if (s.len > QUEUE_VALUE_MAX)
		abort();
}

static void check_entry(const struct queue_entry_info *e)
{
	const struct queue_envelope *env = &e->env;
	const char *error = NULL;

	if (queue_envelope_check(env, &error) < 0 || !queue_id_is_valid(e->id))
		abort();
	if (env->sender.data == NULL)
		abort();
	check_str(env->sender);
	check_str(env->auth_user);
	check_str(env->client_ip);
	check_str(env->envid);
	check_str(env->lease_owner);
	for (unsigned i = 0; i < env->recipient_count; i++) {
		check_str(env->recipients[i].address);
		check_str(env->recipients[i].orcpt);
		check_str(env->recipients[i].reply_status);
		check_str(env->recipients[i].reply_text);
		check_str(env->recipients[i].mx);
	}
}

static void check_same(const struct queue_entry_info *a,
		       const struct queue_entry_info *b)
{
	const struct queue_envelope *x = &a->env, *y = &b->env;

	if (strcmp(a->id, b->id) != 0 || a->size != b->size ||
	    !str_same(x->sender, y->sender) ||
	    !str_same(x->auth_user, y->auth_user) ||
	    !str_same(x->client_ip, y->client_ip) ||
	    x->received != y->received || x->smtputf8 != y->smtputf8 ||
	    x->body != y->body || x->dsn_ret != y->dsn_ret ||
	    !str_same(x->envid, y->envid) ||
	    !str_same(x->lease_owner, y->lease_owner) ||
	    x->lease_expires != y->lease_expires ||
	    x->delay_warned != y->delay_warned ||
	    x->recipient_count != y->recipient_count)
		abort();
	for (unsigned i = 0; i < x->recipient_count; i++) {
		const struct queue_recipient *r = &x->recipients[i];
		const struct queue_recipient *s = &y->recipients[i];
		if (!str_same(r->address, s->address) ||
		    !str_same(r->orcpt, s->orcpt) || r->notify != s->notify ||
		    r->attempts != s->attempts ||
		    r->next_attempt != s->next_attempt ||
		    r->state != s->state || r->reply_code != s->reply_code ||
		    !str_same(r->reply_status, s->reply_status) ||
		    !str_same(r->reply_text, s->reply_text) ||
		    !str_same(r->mx, s->mx) || r->notified != s->notified)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_entry_info first, again, cut;
	const char *error = NULL;

	if (pool == NULL)
		pool = pool_create(8192);
	pool_clear(pool);

	if (queue_envelope_parse((const char *)data, size, pool, &first,
				 &error) < 0) {
		if (error == NULL)
			abort();
		goto out;
	}
	check_entry(&first);

	str_t text = STR_INIT, text2 = STR_INIT;
	queue_envelope_format(first.id, first.size, &first.env, &text);
	if (queue_envelope_parse(text.data, text.len, pool, &again, &error) < 0)
		abort();
	check_entry(&again);
	check_same(&first, &again);
	queue_envelope_format(again.id, again.size, &again.env, &text2);
	if (text2.len != text.len || memcmp(text.data, text2.data, text.len) != 0)
		abort();

	/* the last byte (the final newline) and a cut in the middle */
	size_t cuts[2] = { text.len - 1, text.len / 2 };
	for (unsigned i = 0; i < 2; i++) {
		error = NULL;
		if (queue_envelope_parse(text.data, cuts[i], pool, &cut,
					 &error) == 0 || error == NULL)
			abort();
	}
	str_free(&text);
	str_free(&text2);
out:
	/* error strings come from the per-thread temp pool */
	pool_clear(pool_temp());
	return 0;
}
