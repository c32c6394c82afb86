/* test-mime-address.c: RFC 5322 3.4 address lists in ENVELOPE shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_address.h"

static const char *nz(const char *s)
{
	return s == NULL ? "NIL" : s;
}

/* "name|adl|mailbox|host" per address, joined with " ; " */
static void check(const char *in, const char *want)
{
	pool_t *pool = pool_create(1024);
	struct mime_address *a;
	uint32_t n = mime_address_parse(pool, in, strlen(in), &a);
	str_t got = STR_INIT;

	for (uint32_t i = 0; i < n; i++)
		str_printf(&got, "%s%s|%s|%s|%s", i > 0 ? " ; " : "", nz(a[i].name),
			   nz(a[i].adl), nz(a[i].mailbox), nz(a[i].host));
	if (strcmp(str_c(&got), want) != 0)
		fail_msg("parse(%s) = [%s], want [%s]", in, str_c(&got), want);
	str_free(&got);
	pool_destroy(&pool);
}

static void test_addresses(void **state)
{
	(void)state;
	check("a@b.example", "NIL|NIL|a|b.example");
	check("Joe Q. Public <john.q.public@example.com>",
	      "Joe Q. Public|NIL|john.q.public|example.com");
	check("\"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
	      "Giant; \"Big\" Box|NIL|sysservices|example.net");
	check("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	      "Mary Smith|NIL|mary|x.test ; NIL|NIL|jdoe|example.org ; "
	      "Who?|NIL|one|y.test");
	/* RFC 5322 A.1.3 group, and an empty group */
	check("A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
	      "NIL|NIL|A Group|NIL ; Ed Jones|NIL|c|a.test ; "
	      "NIL|NIL|joe|where.test ; John|NIL|jdoe|one.test ; NIL|NIL|NIL|NIL");
	check("Undisclosed recipients:;",
	      "NIL|NIL|Undisclosed recipients|NIL ; NIL|NIL|NIL|NIL");
	/* obs-route (RFC 5322 4.4) goes to adl */
	check("<@a.test,@b.test:x@c.test>", "NIL|@a.test,@b.test|x|c.test");
	/* comment as display name; RFC 2047 name */
	check("pete@silly.test (Pete Silly)", "Pete Silly|NIL|pete|silly.test");
	check("=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
	      "Andr\xc3\xa9 Pirard|NIL|PIRARD|vm1.ulg.ac.be");
	/* unqualified local address (corpus 007) */
	check("recipient1@example.com, localrecipient",
	      "NIL|NIL|recipient1|example.com ; NIL|NIL|localrecipient|");
	check("", "");
	check("<>", "NIL|NIL||");
}

static void test_junk(void **state)
{
	pool_t *pool = pool_create(1024);
	struct mime_address *a;
	const char *junk[] = { "<<<<", "@@@,,,;;;:::", "\"unterminated", "(((",
			       "a@", "@b", "x:y:z;;", "[1.2.3.4", "\\" };
	(void)state;

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		(void)mime_address_parse(pool, junk[i], strlen(junk[i]), &a);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_junk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
