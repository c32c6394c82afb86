/* test-runner-mtasts.c: what an MTA-STS policy asks of each MX host in the
 * queue runner (runner_mtasts.h): enforce skips a host outside the mx
 * patterns and requires verified STARTTLS for one inside (RFC 8461 4.1,
 * 4.2); testing and none change nothing; DANE's hosts are left to DANE
 * (RFC 8461 2); the attempt line's mta_sts= label and the deferral text.
 * The lookup and fetch themselves run in tests/test_relay_mta_sts.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lib/config.h"
#include "lib/log.h"
#include "relay/mta_sts.h"
#include "relay/runner_mtasts.h"
#include "relay/runner_private.h"

static struct mta_sts_policy *policy(const char *mode)
{
	char body[256];
	snprintf(body, sizeof(body), "version: STSv1\nmode: %s\nmx: mx.example.test\n"
		 "mx: *.backup.example.test\nmax_age: 86400\n", mode);
	struct mta_sts_policy *p = NULL;
	const char *error;
	assert_int_equal(mta_sts_policy_parse(body, strlen(body), "id1", 1000, &p, &error), 0);
	return p;
}

static struct smtp_client_dest dest_plain(void)
{
	return (struct smtp_client_dest){ .host = "mx.example.test", .ip = "127.0.0.1",
					  .port = 25,
					  .tls_mode = SMTP_CLIENT_TLS_OPPORTUNISTIC };
}

static void test_enforce(void **state)
{
	struct runner_mtasts *m = *state;
	struct runner_sts s = { .policy = policy("enforce") };
	assert_true(runner_sts_host_allowed(&s, "q1", "mx.example.test.", false));
	assert_true(runner_sts_host_allowed(&s, "q1", "a.backup.example.test", false));
	assert_null(runner_sts_refused_text(&s, 3));
	/* RFC 8461 4.1: one label for the wildcard, nothing else */
	assert_false(runner_sts_host_allowed(&s, "q1", "a.b.backup.example.test", false));
	assert_false(runner_sts_host_allowed(&s, "q1", "mx.other.test", false));
	assert_int_equal(s.refused, 2);
	const char *text = runner_sts_refused_text(&s, 3);
	assert_non_null(text);
	assert_non_null(strstr(text, "policy id1 (enforce): 2 of 3 MX hosts"));
	assert_non_null(strstr(text, "no other answered"));
	assert_null(strstr(runner_sts_refused_text(&s, 2), "no other answered"));

	/* RFC 8461 4.2: verified STARTTLS with the MTA-STS CA store */
	struct smtp_client_dest d = dest_plain();
	runner_sts_dest(&s, m, false, &d);
	assert_int_equal(d.tls_mode, SMTP_CLIENT_TLS_REQUIRED);
	assert_non_null(d.tls);
	assert_string_equal(runner_sts_label(&s, true), "enforce");
	assert_string_equal(runner_sts_label(&s, false), "failed");
	runner_sts_clear(&s);
	assert_null(s.policy);
	assert_int_equal(s.refused, 0);
}

static void test_dane_takes_precedence(void **state)
{
	struct runner_mtasts *m = *state;
	struct runner_sts s = { .policy = policy("enforce") };
	/* RFC 8461 2: MTA-STS neither skips a DANE host nor sets its TLS */
	assert_true(runner_sts_host_allowed(&s, "q1", "mx.other.test", true));
	assert_int_equal(s.refused, 0);
	struct smtp_client_dest d = dest_plain();
	runner_sts_dest(&s, m, true, &d);
	assert_int_equal(d.tls_mode, SMTP_CLIENT_TLS_OPPORTUNISTIC);
	assert_null(d.tls);
	runner_sts_clear(&s);
}

static void test_testing_and_none(void **state)
{
	struct runner_mtasts *m = *state;
	static const char *const modes[] = { "testing", "none" };
	for (unsigned i = 0; i < 2; i++) {
		struct runner_sts s = { .policy = policy(modes[i]) };
		/* testing: a mismatch is logged, the host still used */
		assert_true(runner_sts_host_allowed(&s, "q1", "mx.other.test", false));
		assert_int_equal(s.refused, 0);
		assert_null(runner_sts_refused_text(&s, 1));
		struct smtp_client_dest d = dest_plain();
		runner_sts_dest(&s, m, false, &d);
		assert_int_equal(d.tls_mode, SMTP_CLIENT_TLS_OPPORTUNISTIC);
		assert_null(d.tls);
		assert_string_equal(runner_sts_label(&s, false), i == 0 ? "testing" : "none");
		runner_sts_clear(&s);
	}
	/* no policy: none, or failed when a TXT record promised one */
	struct runner_sts s = { 0 };
	assert_true(runner_sts_host_allowed(&s, "q1", "mx.other.test", false));
	assert_string_equal(runner_sts_label(&s, true), "none");
	s.failed = true;
	assert_string_equal(runner_sts_label(&s, true), "failed");
}

static struct config config = { .data_dir = "/nonexistent", .relay_ca_file = "" };
static struct runner runner = { .config = &config };

static int setup(void **state)
{
	const char *error;
	*state = runner_mtasts_create(&runner, &error);
	return *state != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	struct runner_mtasts *m = *state;
	runner_mtasts_destroy(&m);
	return 0;
}

int main(void)
{
	log_init("test-runner-mtasts", LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enforce),
		cmocka_unit_test(test_dane_takes_precedence),
		cmocka_unit_test(test_testing_and_none),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
