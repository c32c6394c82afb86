/* queue_lease.c: leases on queue entries (queue.h).
 *
 * A runner leases an entry before sending it and writes each attempt's
 * results under the lease, so an old and a new runner generation during a
 * reload never send one entry twice: the second sees the first's lease
 * and leaves the entry alone until the lease expires (the first died or
 * hangs), then takes it over. The lease is part of the envelope, so it
 * survives a crash of the runner as the entry itself does.
 *
 * Read-check-write must be one step across processes: it runs under an
 * exclusive flock(2) on DATA_DIR/queue/lease.lock, held only for the
 * read and the atomic envelope replace (queue_envelope_update()). */
#include "queue/queue_private.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int lease_lock(struct queue *q, const char **error_r)
{
	if (q->readonly) {
		*error_r = "queue opened read-only";
		return -1;
	}
	const char *path = t_printf("%s/lease.lock", q->dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*error_r = t_printf("open(%s) failed: %s", path, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			*error_r = t_printf("flock(%s) failed: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* closing the descriptor releases the flock */
static void lease_unlock(int fd)
{
	close(fd);
}

static bool owned_by(const struct queue_envelope *env, const char *owner)
{
	return env->lease_owner.data != NULL &&
		env->lease_owner.len == strlen(owner) &&
		memcmp(env->lease_owner.data, owner, env->lease_owner.len) == 0;
}

int queue_lease(struct queue *q, const char *id, const char *owner, time_t now,
		unsigned ttl_secs, pool_t *pool, struct queue_entry_info *entry_r,
		const char **error_r)
{
	if (owner == NULL || owner[0] == '\0') {
		*error_r = "lease owner is empty";
		return -1;
	}
	int fd = lease_lock(q, error_r);
	if (fd < 0)
		return -1;
	int ret = -1;
	if (queue_entry_read(q, id, pool, entry_r, error_r) < 0)
		goto out;
	struct queue_envelope *env = &entry_r->env;
	if (env->lease_owner.data != NULL && !owned_by(env, owner) &&
	    env->lease_expires > now) {
		ret = 0;
		goto out;
	}
	if (env->lease_owner.data != NULL && !owned_by(env, owner))
		log_info("event=queue_lease_takeover queue_id=%s owner=%s previous=%s",
			 id, log_str(owner),
			 log_value(env->lease_owner.data, env->lease_owner.len));
	env->lease_owner = queue_str_c(pool_strdup(pool, owner));
	env->lease_expires = now + (time_t)ttl_secs;
	if (queue_envelope_update(q, id, env, entry_r->size, error_r) == 0)
		ret = 1;
out:
	lease_unlock(fd);
	return ret;
}

int queue_lease_update(struct queue *q, const char *id, const char *owner,
		       const struct queue_envelope *env, uint64_t size, bool release,
		       const char **error_r)
{
	int fd = lease_lock(q, error_r);
	if (fd < 0)
		return -1;
	pool_t *pool = pool_create(4096);
	struct queue_entry_info cur;
	int ret = -1;
	if (queue_entry_read(q, id, pool, &cur, error_r) < 0)
		goto out;
	if (!owned_by(&cur.env, owner)) {
		ret = 0;
		goto out;
	}
	struct queue_envelope next = *env;
	next.lease_owner = release ? queue_str_c(NULL) : cur.env.lease_owner;
	next.lease_expires = release ? 0 : cur.env.lease_expires;
	if (queue_envelope_update(q, id, &next, size, error_r) == 0)
		ret = 1;
out:
	pool_destroy(&pool);
	lease_unlock(fd);
	return ret;
}

int queue_lease_renew(struct queue *q, const char *id, const char *owner, time_t now,
		      unsigned ttl_secs, time_t *expires_r, const char **error_r)
{
	int fd = lease_lock(q, error_r);
	if (fd < 0)
		return -1;
	pool_t *pool = pool_create(4096);
	struct queue_entry_info cur;
	int ret = -1;
	if (queue_entry_read(q, id, pool, &cur, error_r) < 0)
		goto out;
	if (!owned_by(&cur.env, owner)) {
		ret = 0;
		goto out;
	}
	/* only the expiry changes: results not yet written stay the
	 * holder's to write with queue_lease_update() */
	cur.env.lease_expires = now + (time_t)ttl_secs;
	if (queue_envelope_update(q, id, &cur.env, cur.size, error_r) == 0) {
		*expires_r = cur.env.lease_expires;
		ret = 1;
	}
out:
	pool_destroy(&pool);
	lease_unlock(fd);
	return ret;
}
