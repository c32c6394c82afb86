/* cmd_queue_control.c: "postel queue flush|retry|hold|release" (issue 10
 * item 9): the administrator changes when entries are sent.
 *
 *   flush          every entry that is not held: recipients waiting for a
 *                  retry are due now
 *   retry ID...    the same for these entries
 *   hold ID...     the runner leaves these entries alone until released;
 *                  one being delivered finishes its current attempt first.
 *                  The hold is in the envelope: it survives restarts.
 *   release ID...  no longer held, and due now
 *
 * Each change is made durably under the queue's lease lock
 * (queue/queue_control.c), then the running queue runner is told
 * (SIGUSR1, queue/queue_wake.c) and scans the queue at once. Without a
 * running runner the change waits for the next start, which scans too.
 * Exit 1 for an invalid or unknown ID, or an entry in the wrong state
 * (retry of a held entry, release of one not held). */
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "queue/queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* After durable changes: tell the runner, or say why not. */
static int wake_runner(const struct config *config)
{
	const char *error;
	int ret = queue_wake_runner(config->data_dir, &error);
	if (ret > 0)
		puts("queue runner told");
	else if (ret == 0)
		printf("note: %s; the queue runner scans the queue when it starts\n", error);
	else
		fprintf(stderr, "postel queue: %s\n", error);
	return ret < 0 ? 1 : 0;
}

static const char *const op_done[] = {
	[QUEUE_CONTROL_RETRY] = "due now", [QUEUE_CONTROL_HOLD] = "held",
	[QUEUE_CONTROL_RELEASE] = "released",
};

/* 1 changed, 0 not (said why), -1 failed (said) */
static int control_one(struct queue *q, const char *id, enum queue_control_op op)
{
	const char *why, *error = NULL;
	errno = 0;
	int ret = queue_control(q, id, op, time(NULL), &why, &error);
	if (ret < 0 && errno == ENOENT)
		fprintf(stderr, "postel queue: no queue entry %s\n", id);
	else if (ret < 0)
		fprintf(stderr, "postel queue: %s: %s\n", id, error);
	else if (ret > 0 && why == NULL)
		printf("%s %s\n", id, op_done[op]);
	else if (ret > 0)
		printf("%s %s (%s)\n", id, op_done[op], why);
	else if ((op == QUEUE_CONTROL_RETRY && strncmp(why, "held", 4) == 0) ||
		 op == QUEUE_CONTROL_RELEASE) {
		fprintf(stderr, "postel queue: %s: %s\n", id, why);
		return -1;
	} else
		printf("%s unchanged (%s)\n", id, why);
	return ret;
}

int queue_cmd_control(struct cli_ctx *ctx, int op_int, int argc, char **argv)
{
	enum queue_control_op op = (enum queue_control_op)op_int;
	struct queue *q;
	if (!queue_ids_valid(argc, argv) || (q = queue_cli_open(ctx)) == NULL)
		return 1;
	int ret = 0;
	unsigned changed = 0;
	for (int i = 0; i < argc; i++) {
		int r = control_one(q, argv[i], op);
		if (r < 0)
			ret = 1;
		changed += r > 0 ? 1 : 0;
	}
	queue_close(&q);
	/* a hold needs no wake: runners look at the flag when they lease */
	if (changed > 0 && op != QUEUE_CONTROL_HOLD && wake_runner(ctx->config) != 0)
		ret = 1;
	return fflush(stdout) == 0 ? ret : 1;
}

int queue_cmd_flush(struct cli_ctx *ctx)
{
	struct queue *q = queue_cli_open(ctx);
	const char *error, *why;
	if (q == NULL)
		return 1;
	pool_t *pool = pool_create(65536);
	struct queue_entry_info *entries;
	unsigned count, changed = 0, held = 0;
	int ret = 0;
	if (queue_list(q, pool, &entries, &count, &error) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
		ret = 1;
		count = 0;
	}
	time_t now = time(NULL);
	for (unsigned i = 0; i < count; i++) {
		if (entries[i].env.hold) {
			held++;
			continue;
		}
		/* gone meanwhile (delivered) is no error */
		errno = 0;
		int r = queue_control(q, entries[i].id, QUEUE_CONTROL_RETRY, now, &why, &error);
		if (r < 0 && errno != ENOENT) {
			fprintf(stderr, "postel queue: %s: %s\n", entries[i].id, error);
			ret = 1;
		}
		changed += r > 0 ? 1 : 0;
	}
	pool_destroy(&pool);
	queue_close(&q);
	printf("flushed: %u of %u entries made due now, %u held\n", changed, count, held);
	if (wake_runner(ctx->config) != 0)
		ret = 1;
	return fflush(stdout) == 0 ? ret : 1;
}
