/* test-imap-thread.c: the threading algorithms of imap_thread.h:
 * ORDEREDSUBJECT grouping and order, REFERENCES with chains, missing
 * parents (dummies kept at the top, promoted below), duplicate and
 * missing Message-IDs, loops in References, In-Reply-To-style single
 * references, subject merging (step 6), and the rendering of
 * thread-lists (RFC 5256 5), deep trees included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap/imap_thread.h"

#define MAXR 4

struct rec {
	const char *subject;
	int64_t date;
	bool reply;
	const char *id;
	const char *refs[MAXR];
};

static char *run(const struct rec *recs, unsigned n, bool references)
{
	pool_t *pool = pool_create(4096);
	struct imap_thread_msg *msgs = pool_alloc(pool, (n + 1) * sizeof(*msgs));
	for (unsigned i = 0; i < n; i++) {
		msgs[i].id = i + 1;
		msgs[i].subject = recs[i].subject;
		msgs[i].date = recs[i].date;
		msgs[i].reply = recs[i].reply;
		msgs[i].ids.message_id = recs[i].id;
		msgs[i].ids.refs = recs[i].refs;
		while (msgs[i].ids.count < MAXR && recs[i].refs[msgs[i].ids.count] != NULL)
			msgs[i].ids.count++;
	}
	struct imap_thread_tree tree;
	if (references)
		imap_thread_references(msgs, n, pool, &tree);
	else
		imap_thread_orderedsubject(msgs, n, pool, &tree);
	str_t out = STR_INIT;
	imap_thread_render(&out, &tree, pool);
	char *s = xstrdup(str_c(&out));
	str_free(&out);
	pool_destroy(&pool);
	return s;
}

#define CHECK(recs, refs, want)                                                        \
	do {                                                                           \
		char *got = run(recs, sizeof(recs) / sizeof(recs[0]), refs);           \
		if (strcmp(got, want) != 0)                                            \
			fail_msg("%s: got %s, want %s", #recs, got, want);             \
		free(got);                                                             \
	} while (0)

static void test_orderedsubject(void **state)
{
	(void)state;
	static const struct rec recs[] = {
		{ "b", 50, false, NULL, { 0 } },
		{ "a", 40, false, NULL, { 0 } },
		{ "b", 10, true, NULL, { 0 } },
		{ "a", 60, true, NULL, { 0 } },
		{ "c", 30, false, NULL, { 0 } },
		{ "b", 10, false, NULL, { 0 } },   /* same date as 3: mailbox order */
	};
	/* b: 3 (10), 6 (10), 1 (50): 3 is the parent of 6 and 1;
	 * threads by their first date: b(10) c(30) a(40) */
	CHECK(recs, false, "(3 (6)(1))(5)(2 4)");
}

static void test_references_chain(void **state)
{
	(void)state;
	static const struct rec recs[] = {
		{ "x", 10, false, "a@x", { 0 } },
		{ "x", 20, true, "b@x", { "a@x" } },
		{ "x", 30, true, "c@x", { "a@x", "b@x" } },
		{ "x", 25, true, "d@x", { "a@x" } },
		{ "y", 5, false, "e@x", { 0 } },
	};
	CHECK(recs, true, "(5)(1 (2 3)(4))");
}

static void test_references_missing_parent(void **state)
{
	(void)state;
	static const struct rec recs[] = {
		/* two replies to a message not in the mailbox: a dummy root */
		{ "p", 20, true, "r1@x", { "gone@x" } },
		{ "q", 10, true, "r2@x", { "gone@x" } },
		/* one reply to another missing one: promoted to the top */
		{ "z", 30, true, "r3@x", { "gone2@x" } },
		/* a missing grandparent below a present one: promoted */
		{ "w", 40, false, "top@x", { 0 } },
		{ "w", 50, true, "r4@x", { "top@x", "gone3@x" } },
	};
	CHECK(recs, true, "((2)(1))(3)(4 5)");
}

static void test_references_duplicates_and_loops(void **state)
{
	(void)state;
	static const struct rec recs[] = {
		{ "a", 10, false, "dup@x", { 0 } },
		/* a duplicate Message-ID: a message of its own */
		{ "b", 20, false, "dup@x", { 0 } },
		/* replies to dup@x: the first message with it */
		{ "c", 30, true, "c@x", { "dup@x" } },
		/* a loop: e's references name e itself and f, f names e */
		{ "e", 40, false, "e@x", { "f@x", "e@x" } },
		{ "f", 50, false, "f@x", { "e@x" } },
		/* no Message-ID at all */
		{ "g", 60, false, NULL, { "c@x" } },
	};
	/* e: 1.A links f->e, then 1.B drops it (e's last reference is
	 * itself: a loop), so e is a root; f then gets e as its parent */
	char *got = run(recs, 6, true);
	assert_string_equal(got, "(1 3 6)(2)(4 5)");
	free(got);
}

static void test_references_subjects(void **state)
{
	(void)state;
	static const struct rec recs[] = {
		/* no references: joined by subject, a reply below a non-reply */
		{ "meeting", 10, false, "m1@x", { 0 } },
		{ "meeting", 20, true, "m2@x", { 0 } },
		/* two non-replies of one subject: a new dummy above both */
		{ "lunch", 30, false, "l1@x", { 0 } },
		{ "lunch", 40, false, "l2@x", { 0 } },
		/* empty subjects are never joined */
		{ "", 50, false, "e1@x", { 0 } },
		{ "", 60, false, "e2@x", { 0 } },
	};
	CHECK(recs, true, "(1 2)((3)(4))(5)(6)");
}

static void test_render_deep(void **state)
{
	(void)state;
	enum { N = 10000 };
	pool_t *pool = pool_create(4096);
	struct imap_thread_msg *msgs = pool_alloc(pool, N * sizeof(*msgs));
	char (*ids)[16] = pool_alloc(pool, N * sizeof(*ids));
	const char **refs = pool_alloc(pool, N * sizeof(*refs));
	for (unsigned i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%u@d", i);
		msgs[i].id = i + 1;
		msgs[i].date = i;
		msgs[i].subject = "s";
		msgs[i].ids.message_id = ids[i];
		/* each replies to the one before: a chain N deep */
		if (i > 0) {
			refs[i] = ids[i - 1];
			msgs[i].ids.refs = &refs[i];
			msgs[i].ids.count = 1;
		}
	}
	struct imap_thread_tree tree;
	imap_thread_references(msgs, N, pool, &tree);
	str_t out = STR_INIT;
	imap_thread_render(&out, &tree, pool);
	/* one thread, message 1 its root, the chain on one level in order */
	str_t want = STR_INIT;
	str_appendc(&want, '(');
	for (unsigned i = 0; i < N; i++)
		str_printf(&want, i == 0 ? "%u" : " %u", i + 1);
	str_appendc(&want, ')');
	assert_int_equal(out.len, want.len);
	assert_memory_equal(out.data, want.data, want.len);
	str_free(&want);
	str_free(&out);
	pool_destroy(&pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_orderedsubject),
		cmocka_unit_test(test_references_chain),
		cmocka_unit_test(test_references_missing_parent),
		cmocka_unit_test(test_references_duplicates_and_loops),
		cmocka_unit_test(test_references_subjects),
		cmocka_unit_test(test_render_deep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
