/* queue_private.h: the queue handle, shared by queue.c and queue_recover.c.
 *
 * Files under DATA_DIR/queue/:
 *   tmp/ID.msg.PID, tmp/ID.env.PID  being written by process PID
 *   tmp/ID.upd.PID                  an envelope update being written
 *   tmp/ID.del.PID                  envelope of an entry being removed
 *   msg/ID                          message of a committed entry
 *   env/ID                          envelope; its presence = complete entry
 *   corrupt/ID.msg, corrupt/ID.env  set aside by recovery, for a human */
#ifndef POSTEL_QUEUE_PRIVATE_H
#define POSTEL_QUEUE_PRIVATE_H

#include <stdbool.h>

#include "queue/queue.h"

struct queue {
	char *dir;
	char *tmp_dir;
	char *msg_dir;
	char *env_dir;
	char *corrupt_dir;
	bool readonly;
	bool lease_held;    /* queue_lease() also takes held entries */
	unsigned id_counter;
};

/* Remove stale tmp/ files, set aside messages without an envelope and
 * unparsable envelopes. Only fails if a directory cannot be read. */
int queue_recover(struct queue *q, const char **error_r);
/* The exclusive flock on DATA_DIR/queue/lease.lock (queue_lease.c): a
 * descriptor to pass to queue_unlock(), or -1. */
int queue_lock(struct queue *q, const char **error_r);
void queue_unlock(int fd);
/* Read and parse env/ID (or any envelope path). */
int queue_envelope_load(const char *path, const char *id, pool_t *pool,
			struct queue_entry_info *entry_r,
			const char **error_r);

#endif
