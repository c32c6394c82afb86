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
 * read and the atomic envelope replace (queue_envelope_update()). A new
 * lease is written and fsync'd outside the lock and renamed under it
 * only if the envelope is still the one read (lease_try), so leases of
 * many entries do not wait for each other's disk syncs. */
#include "queue/queue_private.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* a lease raced by other writers this often in a row gives up */
#define QUEUE_LEASE_TRIES 4

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

int queue_lock(struct queue *q, const char **error_r) { return lease_lock(q, error_r); }
void queue_unlock(int fd) { lease_unlock(fd); }

static bool owned_by(const struct queue_envelope *env, const char *owner)
{
	return env->lease_owner.data != NULL &&
		env->lease_owner.len == strlen(owner) &&
		memcmp(env->lease_owner.data, owner, env->lease_owner.len) == 0;
}

/* The envelope file as it stands: every write replaces it by rename, so
 * another inode or change time means another writer came between. */
static bool env_stat(struct queue *q, const char *id, struct stat *st_r)
{
	return stat(t_printf("%s/%s", q->env_dir, id), st_r) == 0;
}

static bool env_same(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
		a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
		a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_size == b->st_size;
}

/* One try: 1 leased, 0 held by another, -1 error, 2 raced (try again).
 * The lock covers the read-check and the rename, not the fsync of the
 * new envelope between them, so leases of many entries sync at once; a
 * write by anyone else in between is seen by the envelope's stat and the
 * lease is tried afresh. */
static int lease_try(struct queue *q, const char *id, const char *owner, time_t now,
		     unsigned ttl_secs, pool_t *pool, struct queue_entry_info *entry_r,
		     const char **error_r)
{
	int fd = lease_lock(q, error_r);
	if (fd < 0)
		return -1;
	struct stat before, after;
	if (queue_entry_read(q, id, pool, entry_r, error_r) < 0 ||
	    !env_stat(q, id, &before)) {
		if (*error_r == NULL)
			*error_r = t_printf("no queue entry %s", id);
		lease_unlock(fd);
		return -1;
	}
	lease_unlock(fd);
	struct queue_envelope *env = &entry_r->env;
	if (env->lease_owner.data != NULL && !owned_by(env, owner) &&
	    env->lease_expires > now)
		return 0;
	/* "postel queue hold" (queue_control.c): leased to nobody but the
	 * bounce CLI until released; 0 as if another owner held it */
	if (env->hold && !q->lease_held && !owned_by(env, owner))
		return 0;
	bool takeover = env->lease_owner.data != NULL && !owned_by(env, owner);
	struct queue_str previous = env->lease_owner;
	env->lease_owner = queue_str_c(pool_strdup(pool, owner));
	env->lease_expires = now + (time_t)ttl_secs;
	const char *tmp = queue_envelope_prepare(q, id, env, entry_r->size, error_r);
	if (tmp == NULL)
		return -1;
	if ((fd = lease_lock(q, error_r)) < 0) {
		(void)unlink(tmp);
		return -1;
	}
	int ret;
	if (!env_stat(q, id, &after) || !env_same(&before, &after)) {
		(void)unlink(tmp);
		ret = 2;
	} else {
		/* the lease alone: no directory sync (queue_private.h) */
		ret = queue_envelope_commit(q, id, tmp, false, error_r) == 0 ? 1 : -1;
	}
	lease_unlock(fd);
	if (ret == 1 && takeover)
		log_info("event=queue_lease_takeover queue_id=%s owner=%s previous=%s",
			 id, log_str(owner), log_value(previous.data, previous.len));
	return ret;
}

int queue_lease(struct queue *q, const char *id, const char *owner, time_t now,
		unsigned ttl_secs, pool_t *pool, struct queue_entry_info *entry_r,
		const char **error_r)
{
	if (owner == NULL || owner[0] == '\0') {
		*error_r = "lease owner is empty";
		return -1;
	}
	*error_r = NULL;
	for (unsigned tries = 0; tries < QUEUE_LEASE_TRIES; tries++) {
		int ret = lease_try(q, id, owner, now, ttl_secs, pool, entry_r, error_r);
		if (ret != 2)
			return ret;
	}
	*error_r = t_printf("queue entry %s kept changing while being leased", id);
	return -1;
}

/* Take the lease lock (*fd_r, -1 when it was not taken) and read id's
 * entry into cur (pool): 1 when owner holds its lease, 0 when not (any
 * more), -1 on an error. The caller unlocks. */
static int lease_held_read(struct queue *q, const char *id, const char *owner, pool_t *pool,
			   struct queue_entry_info *cur, int *fd_r, const char **error_r)
{
	*fd_r = lease_lock(q, error_r);
	if (*fd_r < 0 || queue_entry_read(q, id, pool, cur, error_r) < 0)
		return -1;
	return owned_by(&cur->env, owner) ? 1 : 0;
}

static void lease_held_done(pool_t **pool, int fd)
{
	pool_destroy(pool);
	if (fd >= 0)
		lease_unlock(fd);
}

int queue_lease_update(struct queue *q, const char *id, const char *owner,
		       const struct queue_envelope *env, uint64_t size, bool release,
		       const char **error_r)
{
	pool_t *pool = pool_create(4096);
	struct queue_entry_info cur;
	int fd, ret = lease_held_read(q, id, owner, pool, &cur, &fd, error_r);
	if (ret > 0) {
		struct queue_envelope next = *env;
		next.lease_owner = release ? queue_str_c(NULL) : cur.env.lease_owner;
		next.lease_expires = release ? 0 : cur.env.lease_expires;
		next.hold = cur.env.hold; /* held by the CLI meanwhile: it stays held */
		ret = queue_envelope_update(q, id, &next, size, error_r) == 0 ? 1 : -1;
	}
	lease_held_done(&pool, fd);
	return ret;
}

int queue_lease_renew(struct queue *q, const char *id, const char *owner, time_t now,
		      unsigned ttl_secs, time_t *expires_r, const char **error_r)
{
	pool_t *pool = pool_create(4096);
	struct queue_entry_info cur;
	int fd, ret = lease_held_read(q, id, owner, pool, &cur, &fd, error_r);
	if (ret > 0) {
		/* only the expiry changes: results not yet written stay the
		 * holder's to write with queue_lease_update() */
		cur.env.lease_expires = now + (time_t)ttl_secs;
		ret = queue_envelope_replace(q, id, &cur.env, cur.size, false, error_r) == 0 ?
			1 : -1;
		if (ret > 0)
			*expires_r = cur.env.lease_expires;
	}
	lease_held_done(&pool, fd);
	return ret;
}
