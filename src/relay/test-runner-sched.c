/* test-runner-sched.c: the queue runner's pure parts: MX ordering
 * (RFC 5321 5.1: preference order, random among equal preferences), MX
 * rdata to hosts (RFC 7505 null MX), when an entry is due, and the
 * concurrency slots (relay_max_connections, relay_max_per_domain). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "relay/runner_private.h"

static uint32_t seq_rnd(void *ctx)
{
	uint32_t *v = ctx;
	return (*v = *v * 1103515245u + 12345u) >> 8;
}

static struct runner_mx mx(unsigned pref, const char *host)
{
	struct runner_mx m = { .pref = pref };
	memcpy(m.host, host, strlen(host) + 1);
	return m;
}

static void test_mx_order_by_preference(void **state)
{
	(void)state;
	struct runner_mx list[] = { mx(30, "c"), mx(10, "a"), mx(20, "b"), mx(5, "z") };
	uint32_t seed = 1;
	runner_mx_order(list, 4, seq_rnd, &seed);
	assert_string_equal(list[0].host, "z");
	assert_string_equal(list[1].host, "a");
	assert_string_equal(list[2].host, "b");
	assert_string_equal(list[3].host, "c");
}

/* equal preferences come in every order over many runs, and never
 * before a lower preference */
static void test_mx_order_random_among_equals(void **state)
{
	(void)state;
	unsigned first[3] = { 0 };
	uint32_t seed = 7;
	for (unsigned run = 0; run < 300; run++) {
		struct runner_mx list[] = { mx(20, "late"), mx(10, "a"), mx(10, "b"),
					    mx(10, "c") };
		runner_mx_order(list, 4, seq_rnd, &seed);
		assert_string_equal(list[3].host, "late");
		first[list[0].host[0] - 'a']++;
	}
	for (unsigned i = 0; i < 3; i++)
		assert_true(first[i] > 50);
}

static size_t mx_rdata(uint8_t *out, unsigned pref, const char *name)
{
	size_t n = 0;
	out[n++] = (uint8_t)(pref >> 8);
	out[n++] = (uint8_t)pref;
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t len = dot != NULL ? (size_t)(dot - name) : strlen(name);
		out[n++] = (uint8_t)len;
		memcpy(out + n, name, len);
		n += len;
		name += len + (dot != NULL);
	}
	out[n++] = 0;
	return n;
}

static void test_mx_rdata_null_mx(void **state)
{
	(void)state;
	uint8_t a[64], b[64];
	const uint8_t *data[2] = { a, b };
	size_t len[2];
	struct runner_mx hosts[RUNNER_MX_MAX];
	unsigned count = 99;
	uint32_t seed = 3;
	/* RFC 7505 3: "0 ." alone */
	len[0] = mx_rdata(a, 0, "");
	assert_int_equal(runner_mx_from_rdata(data, len, 1, hosts, &count, seq_rnd, &seed),
			 RUNNER_MX_NULL);
	assert_int_equal(count, 0);
	/* beside a real MX, "." is dropped and the real one used */
	len[1] = mx_rdata(b, 10, "mx.example.net");
	assert_int_equal(runner_mx_from_rdata(data, len, 2, hosts, &count, seq_rnd, &seed),
			 RUNNER_MX_OK);
	assert_int_equal(count, 1);
	assert_string_equal(hosts[0].host, "mx.example.net");
	/* garbage only: try again later, never a null MX */
	len[0] = 1;
	assert_int_equal(runner_mx_from_rdata(data, len, 1, hosts, &count, seq_rnd, &seed),
			 RUNNER_MX_TEMPFAIL);
}

static void test_entry_due(void **state)
{
	(void)state;
	struct queue_recipient r[3] = { 0 };
	struct queue_envelope env = { .recipients = r, .recipient_count = 3 };
	r[0].state = QUEUE_RCPT_DELIVERED;
	r[1].state = QUEUE_RCPT_DEFERRED;
	r[1].next_attempt = 2000;
	r[2].state = QUEUE_RCPT_PENDING;
	r[2].next_attempt = 0;
	/* a pending recipient never tried is due at once */
	assert_true(runner_entry_due(&env, 1000) <= 1000);
	r[2].state = QUEUE_RCPT_DELIVERED;
	assert_int_equal(runner_entry_due(&env, 1000), 2000);
	/* a failure whose DSN has not gone out keeps it due */
	r[2].state = QUEUE_RCPT_FAILED;
	r[2].next_attempt = 1500;
	assert_int_equal(runner_entry_due(&env, 1000), 1500);
	r[2].notified = true;
	r[1].state = QUEUE_RCPT_FAILED;
	r[1].notified = true;
	assert_int_equal(runner_entry_due(&env, 1000), 0);
}

static void test_slots(void **state)
{
	(void)state;
	static struct runner_slots s;
	memset(&s, 0, sizeof(s));
	s.max_total = 3;
	s.max_per_domain = 2;
	assert_true(runner_slot_take(&s, "a.example"));
	assert_true(runner_slot_take(&s, "A.EXAMPLE"));
	assert_false(runner_slot_take(&s, "a.example"));  /* per domain */
	assert_true(runner_slot_take(&s, "b.example"));
	assert_false(runner_slot_take(&s, "c.example"));  /* in all */
	runner_slot_release(&s, "a.example");
	assert_false(runner_slot_take(&s, "b.example") && runner_slot_take(&s, "b.example"));
	runner_slot_release(&s, "b.example");
	runner_slot_release(&s, "b.example");
	assert_true(runner_slot_take(&s, "c.example"));
	/* releasing what was never taken changes nothing */
	runner_slot_release(&s, "never.example");
	assert_int_equal(s.total, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_order_by_preference),
		cmocka_unit_test(test_mx_order_random_among_equals),
		cmocka_unit_test(test_mx_rdata_null_mx),
		cmocka_unit_test(test_entry_due),
		cmocka_unit_test(test_slots),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
