/* imap_thread.c: THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256
 * section 4) over the records of imap_thread.h. REFERENCES follows the
 * seven steps of the RFC in order; the step numbers are in the comments. */
#include "imap/imap_thread.h"

#include <stdlib.h>
#include <string.h>

#define N(t, i) (&(t)->nodes[(i)])

static void tree_init(struct imap_thread_tree *t, const struct imap_thread_msg *msgs,
		      unsigned count, unsigned dummies, pool_t *pool)
{
	t->nodes = pool_alloc(pool, ((size_t)count + dummies + 1) * sizeof(*t->nodes));
	for (unsigned i = 0; i < count; i++) {
		t->nodes[i].id = msgs[i].id;
		t->nodes[i].msg = i;
	}
	t->count = count;
	t->root = count + dummies;
	t->nodes[t->root].msg = IMAP_THREAD_DUMMY;
}

/* ORDEREDSUBJECT: sort by base subject, then sent date; each run of one
 * subject is a thread whose first message is the parent of the others;
 * threads ordered by their first message's sent date. */
static _Thread_local const struct imap_thread_msg *os_msgs;

static int os_cmp(const void *a, const void *b)
{
	unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
	int c = strcmp(os_msgs[x].subject, os_msgs[y].subject);
	if (c != 0)
		return c;
	if (os_msgs[x].date != os_msgs[y].date)
		return os_msgs[x].date < os_msgs[y].date ? -1 : 1;
	return x < y ? -1 : x > y;
}

void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, unsigned count,
				pool_t *pool, struct imap_thread_tree *tree_r)
{
	tree_init(tree_r, msgs, count, 0, pool);
	unsigned *order = pool_alloc(pool, ((size_t)count + 1) * sizeof(*order));
	for (unsigned i = 0; i < count; i++)
		order[i] = i;
	/* qsort has no context argument: a thread-local holds it */
	os_msgs = msgs;
	qsort(order, count, sizeof(*order), os_cmp);
	unsigned parent = 0;
	for (unsigned k = 0; k < count; k++) {
		unsigned i = order[k];
		if (k == 0 || strcmp(msgs[i].subject, msgs[order[k - 1]].subject) != 0) {
			imap_thread_link(tree_r, tree_r->root, i);
			parent = i;
		} else {
			imap_thread_link(tree_r, parent, i);
		}
	}
	imap_thread_sort_children(tree_r, msgs, tree_r->root, pool);
}
