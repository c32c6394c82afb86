/* imap_thread_refs.c: THREAD=REFERENCES (RFC 5256 section 4), steps 1-7
 * as the RFC numbers them, over the records of imap_thread.h. Message-IDs
 * and subjects are looked up in open-addressing hash tables sized for
 * every ID the input holds, so the work is linear apart from the loop
 * checks (a walk up the parents) and the sorts. */
#include "imap/imap_thread.h"

#include <string.h>

#define N(t, i) (&(t)->nodes[(i)])
#define NONE UINT32_MAX

struct id_table {
	const char **keys;
	unsigned *nodes;
	size_t mask;
};

static void table_init(struct id_table *tab, size_t entries, pool_t *pool)
{
	size_t size = 16;
	while (size < entries * 2)
		size *= 2;
	tab->keys = pool_alloc(pool, size * sizeof(*tab->keys));
	tab->nodes = pool_alloc(pool, size * sizeof(*tab->nodes));
	tab->mask = size - 1;
}

static size_t table_slot(const struct id_table *tab, const char *key)
{
	uint64_t h = 14695981039346656037ull; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211ull;
	size_t i = (size_t)h & tab->mask;
	while (tab->keys[i] != NULL && strcmp(tab->keys[i], key) != 0)
		i = (i + 1) & tab->mask;
	return i;
}

static unsigned table_get(const struct id_table *tab, const char *key)
{
	size_t i = table_slot(tab, key);
	return tab->keys[i] == NULL ? NONE : tab->nodes[i];
}

static void table_set(struct id_table *tab, const char *key, unsigned node)
{
	size_t i = table_slot(tab, key);
	tab->keys[i] = key;
	tab->nodes[i] = node;
}

static unsigned new_dummy(struct imap_thread_tree *t)
{
	unsigned d = t->count++;
	N(t, d)->msg = IMAP_THREAD_DUMMY;
	return d;
}

/* RFC 5256 4 1.A: "make sure that A is not a descendent of B" */
static bool would_loop(const struct imap_thread_tree *t, unsigned parent, unsigned child)
{
	for (unsigned n = parent + 1, i = 0; n != 0 && i <= t->count; n = N(t, n - 1)->parent, i++) {
		if (n - 1 == child)
			return true;
	}
	return false;
}

/* Step 1: link by References (1.A), then the message to its last
 * reference (1.B). */
static void link_message(struct imap_thread_tree *t, struct id_table *ids,
			 const struct imap_thread_msg *m, unsigned self)
{
	unsigned prev = NONE;
	for (unsigned r = 0; r < m->ids.count; r++) {
		unsigned c = table_get(ids, m->ids.refs[r]);
		if (c == NONE) {
			/* "create a dummy message with this ID" */
			c = new_dummy(t);
			table_set(ids, m->ids.refs[r], c);
		}
		/* "If a message already has a parent, don't change" it */
		if (prev != NONE && N(t, c)->parent == 0 && !would_loop(t, prev, c))
			imap_thread_link(t, prev, c);
		prev = c;
	}
	/* 1.B: the parent is the last reference (mime_references.h, as for
	 * THREADID), whatever 1.A linked; 1.A put every reference in ids */
	const char *parent_id = mime_references_parent(&m->ids);
	unsigned parent = parent_id == NULL ? NONE : table_get(ids, parent_id);
	imap_thread_unlink(t, self);
	if (parent != NONE && !would_loop(t, parent, self))
		imap_thread_link(t, parent, self);
}

static unsigned child_count(const struct imap_thread_tree *t, unsigned node, unsigned max)
{
	unsigned n = 0;
	for (unsigned c = N(t, node)->first_child; c != 0 && n < max; c = N(t, c - 1)->next)
		n++;
	return n;
}

/* Move node's children, in order, to stand where node stood. */
static void splice_children(struct imap_thread_tree *t, unsigned node)
{
	struct imap_thread_node *d = N(t, node);
	unsigned parent = d->parent - 1, before = d->next;
	for (unsigned c = d->first_child; c != 0;) {
		unsigned next = N(t, c - 1)->next;
		imap_thread_unlink(t, c - 1);
		/* insert c before "before" in parent's list */
		struct imap_thread_node *cn = N(t, c - 1);
		cn->parent = parent + 1;
		if (before == 0) {
			imap_thread_link(t, parent, c - 1);
		} else {
			struct imap_thread_node *b = N(t, before - 1);
			cn->next = before;
			cn->prev = b->prev;
			if (b->prev != 0)
				N(t, b->prev - 1)->next = c;
			else
				N(t, parent)->first_child = c;
			b->prev = c;
		}
		c = next;
	}
	imap_thread_unlink(t, node);
}

/* Step 4: prune dummies. Top-down with a stack: a dummy below the top
 * level gives its children to its parent (they are looked at next); at
 * the top level only if it has one child. Then the top level is checked
 * again, since a kept dummy's children may have changed. */
static void prune_dummies(struct imap_thread_tree *t, pool_t *pool)
{
	unsigned *stack = pool_alloc(pool, ((size_t)t->count + 2) * sizeof(*stack));
	unsigned depth = 0;
	stack[depth++] = t->root;
	while (depth > 0) {
		unsigned parent = stack[--depth];
		for (unsigned c = N(t, parent)->first_child; c != 0;) {
			struct imap_thread_node *n = N(t, c - 1);
			unsigned next = n->next;
			if (n->msg != IMAP_THREAD_DUMMY) {
				stack[depth++] = c - 1;
			} else if (n->first_child == 0) {
				imap_thread_unlink(t, c - 1);   /* 4.A */
			} else if (parent != t->root || child_count(t, c - 1, 2) == 1) {
				next = n->first_child;         /* 4.B: promoted */
				splice_children(t, c - 1);
			} else {
				stack[depth++] = c - 1;
			}
			c = next;
		}
	}
	for (unsigned c = N(t, t->root)->first_child; c != 0;) {
		unsigned next = N(t, c - 1)->next;
		if (N(t, c - 1)->msg == IMAP_THREAD_DUMMY) {
			unsigned kids = child_count(t, c - 1, 2);
			if (kids == 0)
				imap_thread_unlink(t, c - 1);
			else if (kids == 1)
				splice_children(t, c - 1);
		}
		c = next;
	}
}

static const char *thread_subject(const struct imap_thread_tree *t,
				  const struct imap_thread_msg *msgs, unsigned node)
{
	const struct imap_thread_node *n = N(t, node);
	if (n->msg == IMAP_THREAD_DUMMY)
		n = N(t, n->first_child - 1);
	return n->msg == IMAP_THREAD_DUMMY ? "" : msgs[n->msg].subject;
}

static bool is_reply(const struct imap_thread_tree *t, const struct imap_thread_msg *msgs,
		     unsigned node)
{
	return N(t, node)->msg != IMAP_THREAD_DUMMY && msgs[N(t, node)->msg].reply;
}

/* Step 6: gather threads of the top level by base subject. */
static void group_by_subject(struct imap_thread_tree *t, const struct imap_thread_msg *msgs,
			     pool_t *pool)
{
	struct id_table subj;
	unsigned roots = child_count(t, t->root, UINT32_MAX);
	table_init(&subj, roots + 1, pool);
	/* 6.B: one thread a subject, preferring a dummy, then a non-reply */
	for (unsigned c = N(t, t->root)->first_child; c != 0; c = N(t, c - 1)->next) {
		const char *s = thread_subject(t, msgs, c - 1);
		if (*s == '\0')
			continue;
		unsigned have = table_get(&subj, s);
		bool dummy = N(t, c - 1)->msg == IMAP_THREAD_DUMMY;
		if (have == NONE ||
		    (N(t, have)->msg != IMAP_THREAD_DUMMY &&
		     (dummy || (is_reply(t, msgs, have) && !is_reply(t, msgs, c - 1)))))
			table_set(&subj, s, c - 1);
	}
	/* 6.C: merge the others into it */
	for (unsigned c = N(t, t->root)->first_child; c != 0;) {
		unsigned cur = c - 1, next = N(t, cur)->next;
		const char *s = thread_subject(t, msgs, cur);
		unsigned have = *s == '\0' ? NONE : table_get(&subj, s);
		c = next;
		if (have == NONE || have == cur)
			continue;
		bool cur_dummy = N(t, cur)->msg == IMAP_THREAD_DUMMY;
		bool have_dummy = N(t, have)->msg == IMAP_THREAD_DUMMY;
		if (cur_dummy && have_dummy) {
			for (unsigned k = N(t, cur)->first_child; k != 0;) {
				unsigned kn = N(t, k - 1)->next;
				imap_thread_unlink(t, k - 1);
				imap_thread_link(t, have, k - 1);
				k = kn;
			}
			imap_thread_unlink(t, cur);
		} else if (have_dummy ||
			   (is_reply(t, msgs, cur) && !is_reply(t, msgs, have))) {
			imap_thread_unlink(t, cur);
			imap_thread_link(t, have, cur);
		} else {
			/* a new dummy takes have's place at the top level */
			unsigned d = new_dummy(t);
			struct imap_thread_node *h = N(t, have), *dn = N(t, d);
			dn->parent = h->parent;
			dn->prev = h->prev;
			dn->next = h->next;
			if (h->prev != 0)
				N(t, h->prev - 1)->next = d + 1;
			else
				N(t, t->root)->first_child = d + 1;
			if (h->next != 0)
				N(t, h->next - 1)->prev = d + 1;
			else
				N(t, t->root)->last_child = d + 1;
			if (next == have + 1)
				c = d + 1;
			h->parent = h->prev = h->next = 0;
			imap_thread_unlink(t, cur);
			imap_thread_link(t, d, have);
			imap_thread_link(t, d, cur);
			table_set(&subj, s, d);
		}
	}
}

/* Step 7 (and 5): sort every sibling list by sent date, deepest first,
 * so that a dummy sorts by its first child already in place. */
static void sort_all(struct imap_thread_tree *t, const struct imap_thread_msg *msgs, pool_t *pool)
{
	unsigned *order = pool_alloc(pool, ((size_t)t->count + 2) * sizeof(*order));
	unsigned n = 0;
	order[n++] = t->root;
	for (unsigned k = 0; k < n; k++) {
		for (unsigned c = N(t, order[k])->first_child; c != 0; c = N(t, c - 1)->next)
			order[n++] = c - 1;
	}
	while (n > 0)
		imap_thread_sort_children(t, msgs, order[--n], pool);
}

void imap_thread_references(const struct imap_thread_msg *msgs, unsigned count,
			    pool_t *pool, struct imap_thread_tree *tree_r)
{
	struct imap_thread_tree *t = tree_r;
	size_t refs = 0;
	for (unsigned i = 0; i < count; i++)
		refs += msgs[i].ids.count;
	/* nodes: the messages, a dummy per reference at most, and one per
	 * subject merge (at most one per message); then the root */
	size_t cap = (size_t)count + refs + count + 1;
	t->nodes = pool_alloc(pool, cap * sizeof(*t->nodes));
	for (unsigned i = 0; i < count; i++) {
		t->nodes[i].id = msgs[i].id;
		t->nodes[i].msg = i;
	}
	t->count = count;
	t->root = (unsigned)(cap - 1);
	t->nodes[t->root].msg = IMAP_THREAD_DUMMY;

	struct id_table ids;
	table_init(&ids, count + refs + 1, pool);
	/* 1.A: the first message with an ID owns it; one without an ID or
	 * with a duplicate gets a unique one (here: no entry at all) */
	for (unsigned i = 0; i < count; i++) {
		const char *own = msgs[i].ids.message_id;
		if (own != NULL && table_get(&ids, own) == NONE)
			table_set(&ids, own, i);
	}
	for (unsigned i = 0; i < count; i++)
		link_message(t, &ids, &msgs[i], i);
	/* 2: the root set; 3: the ID table is no longer used */
	for (unsigned i = 0; i < t->count; i++) {
		if (N(t, i)->parent == 0)
			imap_thread_link(t, t->root, i);
	}
	prune_dummies(t, pool);                        /* 4 */
	sort_all(t, msgs, pool);                       /* 5 */
	group_by_subject(t, msgs, pool);               /* 6 */
	sort_all(t, msgs, pool);                       /* 7 */
}
