/* imap_thread_tree.c: the sibling lists of a thread tree (imap_thread.h)
 * and the THREAD answer (RFC 5256 5: thread-list, thread-members,
 * thread-nested), both without recursion. */
#include "imap/imap_thread.h"

#include <stdlib.h>

#define N(t, i) (&(t)->nodes[(i)])

void imap_thread_link(struct imap_thread_tree *t, unsigned parent, unsigned child)
{
	struct imap_thread_node *p = N(t, parent), *c = N(t, child);
	c->parent = parent + 1;
	c->next = 0;
	c->prev = p->last_child;
	if (p->last_child != 0)
		N(t, p->last_child - 1)->next = child + 1;
	else
		p->first_child = child + 1;
	p->last_child = child + 1;
}

void imap_thread_unlink(struct imap_thread_tree *t, unsigned child)
{
	struct imap_thread_node *c = N(t, child);
	if (c->parent == 0)
		return;
	struct imap_thread_node *p = N(t, c->parent - 1);
	if (c->prev != 0)
		N(t, c->prev - 1)->next = c->next;
	else
		p->first_child = c->next;
	if (c->next != 0)
		N(t, c->next - 1)->prev = c->prev;
	else
		p->last_child = c->prev;
	c->parent = c->prev = c->next = 0;
}

struct sort_item {
	int64_t date;
	uint32_t msg;
	unsigned node;
};

static int sort_item_cmp(const void *a, const void *b)
{
	const struct sort_item *x = a, *y = b;
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return x->msg < y->msg ? -1 : x->msg > y->msg;
}

/* the message a node sorts by: itself, or a dummy's first child's */
static uint32_t sort_msg(const struct imap_thread_tree *t, unsigned node)
{
	for (unsigned i = 0; i < t->count && N(t, node)->msg == IMAP_THREAD_DUMMY; i++) {
		if (N(t, node)->first_child == 0)
			return IMAP_THREAD_DUMMY;
		node = N(t, node)->first_child - 1;
	}
	return N(t, node)->msg;
}

void imap_thread_sort_children(struct imap_thread_tree *t, const struct imap_thread_msg *msgs,
			       unsigned parent, pool_t *pool)
{
	unsigned n = 0;
	for (unsigned c = N(t, parent)->first_child; c != 0; c = N(t, c - 1)->next)
		n++;
	if (n < 2)
		return;
	struct sort_item *items = pool_alloc(pool, n * sizeof(*items));
	unsigned k = 0;
	for (unsigned c = N(t, parent)->first_child; c != 0; c = N(t, c - 1)->next, k++) {
		uint32_t m = sort_msg(t, c - 1);
		items[k].node = c - 1;
		items[k].msg = m;
		items[k].date = m == IMAP_THREAD_DUMMY ? INT64_MAX : msgs[m].date;
	}
	qsort(items, n, sizeof(*items), sort_item_cmp);
	N(t, parent)->first_child = N(t, parent)->last_child = 0;
	for (k = 0; k < n; k++)
		imap_thread_link(t, parent, items[k].node);
}

/* A stack entry: a node whose thread-list opens, or a ")" to close. */
#define RENDER_CLOSE UINT32_MAX

void imap_thread_render(str_t *out, const struct imap_thread_tree *t, pool_t *pool)
{
	/* every node is pushed once, every branch point pushes one close */
	unsigned *stack = pool_alloc(pool, (2 * (size_t)t->count + 2) * sizeof(*stack));
	unsigned depth = 0;
	/* the threads in order: push in reverse */
	for (unsigned c = N(t, t->root)->last_child; c != 0; c = N(t, c - 1)->prev)
		stack[depth++] = c - 1;
	while (depth > 0) {
		unsigned node = stack[--depth];
		if (node == RENDER_CLOSE) {
			str_appendc(out, ')');
			continue;
		}
		str_appendc(out, '(');
		bool first = true;
		unsigned kids;
		/* thread-members: a chain of single children on one level */
		for (unsigned i = 0; i <= t->count; i++) {
			const struct imap_thread_node *n = N(t, node);
			if (n->msg != IMAP_THREAD_DUMMY) {
				str_printf(out, first ? "%u" : " %u", n->id);
				first = false;
			}
			kids = 0;
			for (unsigned c = n->first_child; c != 0 && kids < 2; c = N(t, c - 1)->next)
				kids++;
			if (kids != 1)
				break;
			node = n->first_child - 1;
		}
		if (kids == 0) {
			str_appendc(out, ')');
			continue;
		}
		/* thread-nested: each child its own thread-list */
		if (!first)
			str_appendc(out, ' ');
		stack[depth++] = RENDER_CLOSE;
		for (unsigned c = N(t, node)->last_child; c != 0; c = N(t, c - 1)->prev)
			stack[depth++] = c - 1;
	}
}
