/* master_child.h: the master's table of live children of every kind and
 * generation, and their typed channels (lib/channel.h).
 *
 * A child has a row from fork to waitpid; its channel is read on the
 * master's loop. The first frame must be a HELLO naming the kind and
 * generation it was started as; until then nothing else is accepted.
 * MAILBOX_CHANGED from one worker goes to every other worker that said
 * hello, old generations included (they still serve sessions). A child
 * whose channel fails (malformed frame, early end of file) is logged and
 * dropped from the fan-out; it keeps its row until it is reaped. */
#ifndef POSTEL_MASTER_CHILD_H
#define POSTEL_MASTER_CHILD_H

#include "server.h"

#include <sys/types.h>

struct ioloop;
struct master_children;

const char *child_kind_name(enum child_kind kind);

struct master_children *master_children_create(struct ioloop *loop, unsigned rows);
/* Closes every channel. */
void master_children_destroy(struct master_children **t);
/* pid was forked into row; fd is the master's end of its channel. */
void master_children_add(struct master_children *t, unsigned row, pid_t pid,
			 enum child_kind kind, unsigned generation, int fd);
/* waitpid said pid is gone. */
void master_children_gone(struct master_children *t, pid_t pid);
/* In a newly forked child: close the master's channel ends it inherited,
 * without touching the epoll set it shares with the master. */
void master_children_close_inherited(struct master_children *t);

#endif
