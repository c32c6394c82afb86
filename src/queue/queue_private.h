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
/* Write data to path (excl: O_EXCL, else replacing) and fsync it. */
int queue_write_file_synced(const char *path, const str_t *data, bool excl,
			    const char **error_r);
/* Read and parse env/ID (or any envelope path). */
int queue_envelope_load(const char *path, const char *id, pool_t *pool,
			struct queue_entry_info *entry_r,
			const char **error_r);

/* queue_envelope_update(); sync_dir false leaves the rename's own
 * durability to the next sync of env/ (the file itself is fsync'd, so
 * the entry reads whole either way): for a lease, whose loss in a
 * crash of the machine is harmless, since its holder is gone too. */
int queue_envelope_replace(struct queue *q, const char *id,
			   const struct queue_envelope *env, uint64_t size,
			   bool sync_dir, const char **error_r);
/* The two halves of queue_envelope_replace(): the new envelope written
 * and fsync'd under tmp/ (its path, or NULL), then renamed over env/ID
 * (the tmp file is removed on failure). */
const char *queue_envelope_prepare(struct queue *q, const char *id,
				   const struct queue_envelope *env, uint64_t size,
				   const char **error_r);
int queue_envelope_commit(struct queue *q, const char *id, const char *tmp,
			  bool sync_dir, const char **error_r);

#endif
