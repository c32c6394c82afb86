/* test-imap-notify-parse.c: unit tests for imap_notify_parse.h: the
 * examples of RFC 5465 (sections 3, 5 and 7), NONE, STATUS, the rules of
 * section 5 (event pairs, fetch attributes), BADEVENT and the limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "imap/imap_notify_parse.h"
#include "imap/imap_parser.h"

static const struct imap_parser_limits plimits = {
	.max_args = 4000, .max_depth = 100, .max_command_size = 1 << 20,
	.literal = { .max_size = 1000, .max_nonsync = 100 },
};

static struct imap_parser *p;
static struct imap_notify_spec spec;
static enum imap_notify_failure fail;
static const struct imap_arg *args;

static int setup(void **state)
{
	(void)state;
	p = imap_parser_create(&plimits);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	imap_parser_destroy(&p);
	return 0;
}

/* "a NOTIFY <text>": 0, or -1 with fail set */
static int notify(const char *text)
{
	char line[16384];
	int n = snprintf(line, sizeof(line), "a NOTIFY %s", text);
	assert_true(n > 0 && (size_t)n < sizeof(line));
	imap_parser_reset(p);
	struct imap_literal_need need;
	const char *error = NULL;
	if (imap_parser_feed_line(p, line, (size_t)n, &need, &error) != 0) {
		fail = IMAP_NOTIFY_FAIL_BAD; /* the command parser's BAD */
		return -1;
	}
	const struct imap_command *cmd = imap_parser_command(p);
	args = cmd->args;
	error = NULL;
	int r = imap_notify_parse(cmd->args, cmd->count, &spec, &fail, &error);
	if (r < 0)
		assert_non_null(error);
	return r;
}

static void test_none(void **state)
{
	(void)state;
	assert_int_equal(notify("NONE"), 0);
	assert_true(spec.none);
	assert_int_equal(spec.group_count, 0);
	assert_int_equal(notify("none"), 0);
	assert_int_equal(notify("NONE extra"), -1);
	assert_int_equal(fail, IMAP_NOTIFY_FAIL_BAD);
}

/* RFC 5465 7's example */
static void test_rfc_example(void **state)
{
	(void)state;
	assert_int_equal(notify("SET STATUS (selected MessageNew (uid body.peek[header.fields "
				"(from to subject)]) MessageExpunge) (subtree Lists "
				"(MessageNew MessageExpunge))"), -1);
	/* as written in the RFC the selected events are not in a list: BAD */
	assert_int_equal(fail, IMAP_NOTIFY_FAIL_BAD);
	assert_int_equal(notify("SET STATUS (selected (MessageNew (uid body.peek[header.fields "
				"(from to subject)]) MessageExpunge)) (subtree Lists "
				"(MessageNew MessageExpunge))"), 0);
	assert_false(spec.none);
	assert_true(spec.status);
	assert_int_equal(spec.group_count, 2);
	const struct imap_notify_group *g = &spec.groups[0];
	assert_int_equal(g->filter, IMAP_NOTIFY_SELECTED);
	assert_int_equal(g->events, IMAP_NOTIFY_MESSAGE_NEW | IMAP_NOTIFY_MESSAGE_EXPUNGE);
	assert_int_equal(g->fetch_end - g->fetch_first, 2); /* uid, body.peek[...] */
	assert_string_equal(args[g->fetch_first].str, "uid");
	g = &spec.groups[1];
	assert_int_equal(g->filter, IMAP_NOTIFY_SUBTREE);
	assert_int_equal(g->name_count, 1);
	assert_string_equal(g->names[0]->str, "Lists");
	assert_int_equal(g->fetch_first, 0);
}

static void test_filters(void **state)
{
	(void)state;
	assert_int_equal(notify("SET (inboxes (MessageNew MessageExpunge FlagChange)) "
				"(personal (MailboxName SubscriptionChange)) "
				"(mailboxes (a \"b c\") NONE) (subscribed NONE) "
				"(selected-delayed (messagenew messageexpunge))"), 0);
	assert_false(spec.status);
	assert_int_equal(spec.group_count, 5);
	assert_int_equal(spec.groups[0].filter, IMAP_NOTIFY_INBOXES);
	assert_int_equal(spec.groups[0].events, IMAP_NOTIFY_MESSAGE_EVENTS);
	assert_int_equal(spec.groups[1].events,
			 IMAP_NOTIFY_MAILBOX_NAME | IMAP_NOTIFY_SUBSCRIPTION_CHANGE);
	assert_int_equal(spec.groups[2].filter, IMAP_NOTIFY_MAILBOXES);
	assert_int_equal(spec.groups[2].name_count, 2);
	assert_string_equal(spec.groups[2].names[1]->str, "b c");
	assert_int_equal(spec.groups[2].events, 0);
	assert_int_equal(spec.groups[4].filter, IMAP_NOTIFY_SELECTED_DELAYED);
	assert_int_equal(spec.name_count, 2);
	/* a single name, not a list */
	assert_int_equal(notify("SET (mailboxes INBOX (MessageNew MessageExpunge))"), 0);
	assert_int_equal(spec.groups[0].name_count, 1);
}

static void test_bad(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"", "SET", "SET STATUS", "GET (selected NONE)", "SET selected",
		"SET (selected)", "SET (nosuch NONE)", "SET (selected NONE extra)",
		"SET ((selected) NONE)", "SET (subtree NONE)", "SET (mailboxes () NONE)",
		"SET (mailboxes ((a)) NONE)", "SET (selected ())",
		"SET (selected (MessageNew))",             /* 5.1: needs MessageExpunge */
		"SET (selected (MessageExpunge))",
		"SET (selected (FlagChange))",             /* 5.3 */
		"SET (personal (MessageNew (uid) MessageExpunge))", /* fetch: SELECTED only */
		"SET (selected (MailboxName))",
		"SET (selected NONE) (selected-delayed NONE)",
		"SET (personal NONE) (personal NONE)",
		"SET (selected (MessageNew MessageNew MessageExpunge))",
		"SET (selected (MessageNew () MessageExpunge))",
		"SET (selected (\"MessageNew\" MessageExpunge))",
		"SET (selected NONE) NONE",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (notify(bad[i]) != -1 || fail != IMAP_NOTIFY_FAIL_BAD)
			fail_msg("accepted or not BAD: %s", bad[i]);
	}
}

static void test_badevent(void **state)
{
	(void)state;
	static const char *const badevent[] = {
		"SET (selected (MessageNew MessageExpunge AnnotationChange))",
		"SET (personal (MailboxMetadataChange))",
		"SET (personal (ServerMetadataChange))",
		"SET (inboxes (NoSuchEvent))",
	};
	for (size_t i = 0; i < sizeof(badevent) / sizeof(badevent[0]); i++) {
		if (notify(badevent[i]) != -1 || fail != IMAP_NOTIFY_FAIL_BADEVENT)
			fail_msg("not BADEVENT: %s", badevent[i]);
	}
}

static void test_limits(void **state)
{
	(void)state;
	char text[12000] = "SET (mailboxes (";
	size_t len = strlen(text);
	for (unsigned i = 0; i <= IMAP_NOTIFY_MAILBOXES_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "m%u ", i);
	snprintf(text + len - 1, sizeof(text) - len + 1, ") NONE)");
	assert_int_equal(notify(text), -1);
	assert_int_equal(fail, IMAP_NOTIFY_FAIL_LIMIT);
	/* exactly the limit is fine */
	len = strlen("SET (mailboxes (");
	text[len] = '\0';
	for (unsigned i = 0; i < IMAP_NOTIFY_MAILBOXES_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "m%u ", i);
	snprintf(text + len - 1, sizeof(text) - len + 1, ") NONE)");
	assert_int_equal(notify(text), 0);
	assert_int_equal(spec.name_count, IMAP_NOTIFY_MAILBOXES_MAX);
	/* groups */
	len = (size_t)snprintf(text, sizeof(text), "SET");
	for (unsigned i = 0; i <= IMAP_NOTIFY_GROUPS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, " (mailboxes m%u NONE)", i);
	assert_int_equal(notify(text), -1);
	assert_int_equal(fail, IMAP_NOTIFY_FAIL_LIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_bad),
		cmocka_unit_test(test_badevent),
		cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
