/* imap_thread.h: the threading algorithms of RFC 5256 section 4
 * (ORDEREDSUBJECT and REFERENCES) and the THREAD answer's thread-list.
 *
 * Contract: session- and store-independent, pure computation over one
 * record a message, given in mailbox order (that order breaks ties of
 * the sent date, RFC 5256 4). The tree lives in pool: nodes[i] is
 * msgs[i] for i < count, dummies (REFERENCES only) follow; a virtual
 * root holds the threads. Work is
 * O(n log n) plus, for REFERENCES, the parent walks of the loop check
 * (bounded by the depth of the tree); no recursion, so a deep or wide
 * tree costs heap, not stack. Message-IDs compare case-sensitively
 * (RFC 5256 4, REFERENCES 1.A); subjects bytewise (pass them folded).
 * Which ids a message names is mime_references.h's rule, the one
 * THREADID (RFC 8474 5.2) is assigned by at delivery too
 * (store_index_objectid.c). */
#ifndef POSTEL_IMAP_THREAD_H
#define POSTEL_IMAP_THREAD_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "mime/mime_references.h"

#define IMAP_THREAD_DUMMY UINT32_MAX

struct imap_thread_msg {
	uint32_t id;             /* what the answer prints (seq or UID), > 0 */
	int64_t date;            /* RFC 5256 "sent date", seconds UTC */
	const char *subject;     /* base subject (mime_subject.h), folded */
	bool reply;              /* the subject was a reply or forward */
	/* Message-ID and the ids it names, oldest first (the one rule
	 * THREADID follows too: mime_references.h) */
	struct mime_references ids;
};

struct imap_thread_node {
	uint32_t id;             /* msgs[msg].id; 0 for a dummy */
	uint32_t msg;            /* index into msgs, or IMAP_THREAD_DUMMY */
	/* links: node index + 1, 0 = none */
	unsigned parent, first_child, last_child, prev, next;
};

struct imap_thread_tree {
	struct imap_thread_node *nodes;
	unsigned count;          /* nodes in use (messages, then dummies) */
	unsigned root;           /* index of a virtual node past them (no
				  * message): its children are the threads */
};

void imap_thread_orderedsubject(const struct imap_thread_msg *msgs, unsigned count,
				pool_t *pool, struct imap_thread_tree *tree_r);
void imap_thread_references(const struct imap_thread_msg *msgs, unsigned count,
			    pool_t *pool, struct imap_thread_tree *tree_r);
/* RFC 5256 5 thread-list*: "(1 2 (3)(4))(5)" without the "* THREAD". */
void imap_thread_render(str_t *out, const struct imap_thread_tree *tree, pool_t *pool);

/* imap_thread_tree.c: list helpers shared by the algorithms */
void imap_thread_link(struct imap_thread_tree *t, unsigned parent, unsigned child);
void imap_thread_unlink(struct imap_thread_tree *t, unsigned child);
/* Sort the children of node parent by sent date, then mailbox order;
 * a dummy by its first child (sort its children first). */
void imap_thread_sort_children(struct imap_thread_tree *t, const struct imap_thread_msg *msgs,
			       unsigned parent, pool_t *pool);

#endif
