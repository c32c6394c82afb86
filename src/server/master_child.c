/* master_child.c: see master_child.h. */
#include "master_child.h"
#include "lib/channel.h"
#include "lib/mem.h"
#include "lib/log.h"
#include "queue/queue.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct master_child {
	struct master_children *t;
	pid_t pid;            /* 0: free */
	enum child_kind kind;
	unsigned generation;
	struct channel *chan; /* NULL once failed */
	bool hello;           /* its HELLO arrived and matched */
	bool send_failing;    /* said once, until a send succeeds again */
};

/* entries committed while no runner listened: told to the next runner
 * that says hello (its own start-up scan may have run before them) */
#define CHILDREN_PENDING_MAX 64

struct master_children {
	struct ioloop *loop;
	unsigned rows;
	unsigned pending_count;
	char pending[CHILDREN_PENDING_MAX][QUEUE_ID_MAX];
	struct master_child items[];
};

const char *child_kind_name(enum child_kind kind)
{
	switch (kind) {
	case CHILD_WORKER: return "worker";
	case CHILD_QUEUE_RUNNER: return "queue_runner";
	case CHILD_KIND_COUNT: break;
	}
	return "unknown";
}

struct master_children *master_children_create(struct ioloop *loop, unsigned rows)
{
	struct master_children *t =
		xcalloc(1, sizeof(*t) + rows * sizeof(t->items[0]));
	t->loop = loop;
	t->rows = rows;
	return t;
}

static void child_forget(struct master_child *c)
{
	channel_destroy(&c->chan);
	*c = (struct master_child){ 0 };
}

void master_children_destroy(struct master_children **tp)
{
	struct master_children *t = *tp;
	if (t == NULL)
		return;
	for (unsigned r = 0; r < t->rows; r++)
		child_forget(&t->items[r]);
	free(t);
	*tp = NULL;
}

void master_children_close_inherited(struct master_children *t)
{
	for (unsigned r = 0; r < t->rows; r++) {
		if (t->items[r].chan != NULL)
			close(channel_fd(t->items[r].chan));
	}
}

void master_children_gone(struct master_children *t, pid_t pid)
{
	for (unsigned r = 0; r < t->rows; r++) {
		if (t->items[r].pid == pid)
			child_forget(&t->items[r]);
	}
}

/* A change one worker committed, for every other worker's watchers. */
static void children_fan_out(struct master_children *t, const struct master_child *from,
			     const struct channel_msg *msg)
{
	for (unsigned r = 0; r < t->rows; r++) {
		struct master_child *c = &t->items[r];
		const char *error;
		if (c == from || c->chan == NULL || !c->hello || c->kind != CHILD_WORKER)
			continue;
		/* a worker stalled long enough to fill its buffer misses
		 * changes; one line per stall, not one per change */
		bool failed = channel_send(c->chan, msg, &error) < 0;
		if (failed && !c->send_failing)
			log_warn("event=channel_send_failed pid=%d type=%s error=%s",
				 (int)c->pid, channel_msg_type_name(msg->type),
				 log_str(error));
		c->send_failing = failed;
	}
}

/* A worker queued an entry: the current runner (the newest generation)
 * starts it at once; one that has not said hello yet gets it then. */
static void children_wake_runner(struct master_children *t, const struct master_child *from,
				 const struct channel_msg *msg)
{
	struct master_child *runner = NULL;
	const char *error;
	for (unsigned r = 0; r < t->rows; r++) {
		struct master_child *c = &t->items[r];
		if (c->chan != NULL && c->kind == CHILD_QUEUE_RUNNER &&
		    (runner == NULL || c->generation > runner->generation))
			runner = c;
	}
	if (runner != NULL && !runner->hello)
		runner = NULL; /* pending below, told at its hello */
	if (runner != NULL && channel_send(runner->chan, msg, &error) < 0) {
		log_warn("event=channel_send_failed pid=%d type=queue_entry_committed "
			 "error=%s", (int)runner->pid, log_str(error));
		runner = NULL;
	}
	if (runner != NULL)
		log_debug("event=queue_entry_committed child=%d queue_id=%s runner=%d",
			  (int)from->pid, msg->queue_id, (int)runner->pid);
	else {
		log_info("event=queue_entry_committed child=%d queue_id=%s runner=none",
			 (int)from->pid, msg->queue_id);
		/* valid ids are QUEUE_ID_LEN bytes (child_on_msg checked) */
		if (t->pending_count < CHILDREN_PENDING_MAX)
			memcpy(t->pending[t->pending_count++], msg->queue_id, QUEUE_ID_LEN + 1);
	}
}

static void children_runner_hello(struct master_children *t, struct master_child *c)
{
	const char *error;
	for (unsigned i = 0; i < t->pending_count; i++) {
		struct channel_msg msg = { .type = CHANNEL_MSG_QUEUE_ENTRY_COMMITTED };
		(void)snprintf(msg.queue_id, sizeof(msg.queue_id), "%s", t->pending[i]);
		if (channel_send(c->chan, &msg, &error) < 0)
			break;
	}
	t->pending_count = 0;
}

static void child_on_msg(const struct channel_msg *msg, void *ctx)
{
	struct master_child *c = ctx;
	const char *kname = child_kind_name(c->kind);
	if (msg->type == CHANNEL_MSG_HELLO && !c->hello &&
	    msg->kind == c->kind && msg->generation == c->generation) {
		c->hello = true;
		log_debug("event=child_hello pid=%d kind=%s generation=%u",
			  (int)c->pid, kname, c->generation);
		if (c->kind == CHILD_QUEUE_RUNNER)
			children_runner_hello(c->t, c);
		return;
	}
	if (!c->hello || msg->type == CHANNEL_MSG_HELLO) {
		log_error("event=channel_error pid=%d kind=%s error=\"unexpected %s "
			  "kind=%u generation=%u\"", (int)c->pid, kname,
			  channel_msg_type_name(msg->type), msg->kind, msg->generation);
		channel_destroy(&c->chan);
		return;
	}
	switch (msg->type) {
	case CHANNEL_MSG_MAILBOX_CHANGED:
		children_fan_out(c->t, c, msg);
		break;
	case CHANNEL_MSG_QUEUE_ENTRY_COMMITTED:
		/* for the queue runner (next round): logged until one listens */
		if (!queue_id_is_valid(msg->queue_id))
			log_error("event=channel_error child=%d kind=%s error=\"bad queue id\" "
				  "queue_id=%s", (int)c->pid, kname, log_str(msg->queue_id));
		else
			children_wake_runner(c->t, c, msg);
		break;
	case CHANNEL_MSG_HELLO:
		break;
	}
}

static void child_on_closed(const char *reason, void *ctx)
{
	struct master_child *c = ctx;
	/* a child that exits closes its end: only an error is news */
	if (strcmp(reason, "peer closed") != 0)
		log_error("event=channel_error pid=%d kind=%s error=%s", (int)c->pid,
			  child_kind_name(c->kind), log_str(reason));
	channel_destroy(&c->chan);
}

void master_children_add(struct master_children *t, unsigned row, pid_t pid,
			 enum child_kind kind, unsigned generation, int fd)
{
	struct master_child *c = &t->items[row];
	child_forget(c);
	*c = (struct master_child){ .t = t, .pid = pid, .kind = kind,
				    .generation = generation };
	c->chan = channel_create(t->loop, fd, child_on_msg, child_on_closed, c);
}
