/* queue.c: queue handle, listing and entry access (see queue.h); the
 * writers of new entries are in queue_writer.c. */
#include "queue/queue_private.h"
#include "store/fileio.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct queue *queue_alloc(const char *data_dir)
{
	struct queue *q = xcalloc(1, sizeof(*q));
	q->dir = xstrdup(t_printf("%s/queue", data_dir));
	q->tmp_dir = xstrdup(t_printf("%s/tmp", q->dir));
	q->msg_dir = xstrdup(t_printf("%s/msg", q->dir));
	q->env_dir = xstrdup(t_printf("%s/env", q->dir));
	q->corrupt_dir = xstrdup(t_printf("%s/corrupt", q->dir));
	return q;
}

int queue_open(const char *data_dir, struct queue **q_r, const char **error_r)
{
	struct queue *q = queue_alloc(data_dir);
	const char *dirs[] = { q->dir, q->tmp_dir, q->msg_dir, q->env_dir,
			       q->corrupt_dir };
	for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
		bool created;
		if (fileio_mkdir(dirs[i], 0700, &created) < 0 ||
		    (created && fileio_fsync_parent(dirs[i]) < 0)) {
			*error_r = t_printf("creating %s failed: %s", dirs[i],
					    strerror(errno));
			queue_close(&q);
			return -1;
		}
	}
	if (queue_recover(q, error_r) < 0) {
		queue_close(&q);
		return -1;
	}
	*q_r = q;
	return 0;
}

int queue_open_readonly(const char *data_dir, struct queue **q_r,
			const char **error_r)
{
	(void)error_r;
	*q_r = queue_alloc(data_dir);
	(*q_r)->readonly = true;
	return 0;
}

void queue_close(struct queue **q)
{
	if (*q == NULL)
		return;
	free((*q)->dir);
	free((*q)->tmp_dir);
	free((*q)->msg_dir);
	free((*q)->env_dir);
	free((*q)->corrupt_dir);
	xfree(q);
}

bool queue_id_is_valid(const char *id)
{
	size_t i;
	for (i = 0; id[i] != '\0'; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	}
	return i == QUEUE_ID_LEN;
}

int queue_write_file_synced(const char *path, const str_t *data, bool excl,
			    const char **error_r)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW |
		      (excl ? O_EXCL : O_TRUNC), 0600);
	if (fd < 0 || fileio_write_full(fd, data->data, data->len) < 0 ||
	    fsync(fd) < 0) {
		*error_r = t_printf("writing %s failed: %s", path,
				    strerror(errno));
		if (fd >= 0) {
			close(fd);
			(void)unlink(path);
		}
		return -1;
	}
	if (close(fd) < 0) {
		*error_r = t_printf("closing %s failed: %s", path,
				    strerror(errno));
		(void)unlink(path);
		return -1;
	}
	return 0;
}

int queue_envelope_load(const char *path, const char *id, pool_t *pool,
			struct queue_entry_info *entry_r, const char **error_r)
{
	char *data;
	size_t len;
	if (fileio_read_file(path, QUEUE_ENVELOPE_MAX, &data, &len) < 0) {
		*error_r = t_printf("reading %s failed: %s", path,
				    strerror(errno));
		return -1;
	}
	int ret = queue_envelope_parse(data, len, pool, entry_r, error_r);
	free(data);
	if (ret == 0 && strcmp(entry_r->id, id) != 0) {
		*error_r = "envelope id does not match its file name";
		ret = -1;
	}
	return ret;
}

int queue_entry_read(struct queue *q, const char *id, pool_t *pool,
		     struct queue_entry_info *entry_r, const char **error_r)
{
	if (!queue_id_is_valid(id)) {
		*error_r = "invalid queue id";
		return -1;
	}
	return queue_envelope_load(t_printf("%s/%s", q->env_dir, id), id,
				   pool, entry_r, error_r);
}

int queue_message_open(struct queue *q, const char *id, const char **error_r)
{
	if (!queue_id_is_valid(id)) {
		*error_r = "invalid queue id";
		return -1;
	}
	const char *path = t_printf("%s/%s", q->msg_dir, id);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		*error_r = t_printf("opening %s failed: %s", path,
				    strerror(errno));
	return fd;
}

int queue_envelope_update(struct queue *q, const char *id,
			  const struct queue_envelope *env, uint64_t size,
			  const char **error_r)
{
	return queue_envelope_replace(q, id, env, size, true, error_r);
}

const char *queue_envelope_prepare(struct queue *q, const char *id,
				   const struct queue_envelope *env, uint64_t size,
				   const char **error_r)
{
	if (q->readonly || !queue_id_is_valid(id)) {
		*error_r = q->readonly ? "queue opened read-only" :
			"invalid queue id";
		return NULL;
	}
	if (queue_envelope_check(env, error_r) < 0)
		return NULL;
	const char *tmp = t_printf("%s/%s.upd.%ld", q->tmp_dir, id,
				   (long)getpid());
	str_t data = STR_INIT;
	queue_envelope_format(id, size, env, &data);
	int ret = queue_write_file_synced(tmp, &data, false, error_r);
	str_free(&data);
	return ret < 0 ? NULL : tmp;
}

int queue_envelope_commit(struct queue *q, const char *id, const char *tmp,
			  bool sync_dir, const char **error_r)
{
	const char *env_path = t_printf("%s/%s", q->env_dir, id);
	if (access(env_path, F_OK) < 0) {
		*error_r = t_printf("no queue entry %s", id);
		(void)unlink(tmp);
		return -1;
	}
	if (rename(tmp, env_path) < 0 || (sync_dir && fileio_fsync_dir(q->env_dir) < 0)) {
		*error_r = t_printf("replacing %s failed: %s", env_path,
				    strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int queue_envelope_replace(struct queue *q, const char *id,
			   const struct queue_envelope *env, uint64_t size,
			   bool sync_dir, const char **error_r)
{
	const char *tmp = queue_envelope_prepare(q, id, env, size, error_r);
	return tmp == NULL ? -1 : queue_envelope_commit(q, id, tmp, sync_dir, error_r);
}

int queue_remove(struct queue *q, const char *id, const char **error_r)
{
	return queue_remove_sync(q, id, true, error_r);
}

int queue_remove_sync(struct queue *q, const char *id, bool sync,
		      const char **error_r)
{
	if (q->readonly || !queue_id_is_valid(id)) {
		*error_r = q->readonly ? "queue opened read-only" :
			"invalid queue id";
		return -1;
	}
	const char *env_path = t_printf("%s/%s", q->env_dir, id);
	const char *msg_path = t_printf("%s/%s", q->msg_dir, id);
	/* moving the envelope to tmp/ first ends the entry atomically and
	 * tells a concurrent recovery that the lone message is being
	 * removed, not orphaned (queue_recover.c) */
	const char *del_path = t_printf("%s/%s.del.%ld", q->tmp_dir, id,
					(long)getpid());
	if (rename(env_path, del_path) < 0) {
		*error_r = t_printf("removing %s failed: %s", env_path,
				    strerror(errno));
		return -1;
	}
	if ((sync && fileio_fsync_dir(q->env_dir) < 0) ||
	    (unlink(msg_path) < 0 && errno != ENOENT) ||
	    (sync && fileio_fsync_dir(q->msg_dir) < 0) || unlink(del_path) < 0) {
		/* the entry is gone; recovery finishes the rest */
		log_error("event=queue_remove_incomplete qid=%s error=%s",
			  id, log_str(strerror(errno)));
	}
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int queue_list(struct queue *q, pool_t *pool,
	       struct queue_entry_info **entries_r, unsigned *count_r,
	       const char **error_r)
{
	*entries_r = NULL;
	*count_r = 0;
	DIR *dir = opendir(q->env_dir);
	if (dir == NULL) {
		if (errno == ENOENT && q->readonly)
			return 0; /* no queue yet: empty */
		*error_r = t_printf("opendir(%s) failed: %s", q->env_dir,
				    strerror(errno));
		return -1;
	}
	const char **ids = NULL;
	unsigned count = 0, cap = 0;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (!queue_id_is_valid(de->d_name))
			continue;
		if (count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			const char **bigger = pool_alloc(pool, cap * sizeof(*bigger));
			if (count > 0)
				memcpy(bigger, ids, count * sizeof(*bigger));
			ids = bigger;
		}
		ids[count++] = pool_strdup(pool, de->d_name);
	}
	closedir(dir);
	if (count == 0)
		return 0;
	qsort(ids, count, sizeof(*ids), id_cmp);
	struct queue_entry_info *entries =
		pool_alloc(pool, count * sizeof(*entries));
	unsigned n = 0;
	for (unsigned i = 0; i < count; i++) {
		const char *error;
		errno = 0;
		if (queue_entry_read(q, ids[i], pool, &entries[n], &error) == 0) {
			n++;
		} else if (errno != ENOENT) {
			/* ENOENT: delivered and removed while we listed */
			log_warn("event=queue_list_skipped qid=%s error=%s",
				 ids[i], log_str(error));
		}
	}
	*entries_r = entries;
	*count_r = n;
	return 0;
}
