/* queue.c: queue handle, writers, listing and entry access (see queue.h).
 *
 * Commit order, each step only after the previous one is durable:
 *   fsync tmp message; write + fsync tmp envelope;
 *   rename message -> msg/ID (never replacing); fsync msg/;
 *   rename envelope -> env/ID (never replacing); fsync env/.
 * If a step fails, everything already placed is removed again, so an
 * error return leaves no part of the entry. */
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

struct queue_writer {
	struct queue *q;
	pool_t *pool;
	struct queue_envelope env; /* deep copy in pool */
	char id[QUEUE_ID_MAX];
	char *msg_tmp;
	int fd;
	uint64_t size;
	bool failed;
};

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

static void queue_id_generate(struct queue *q, char id[QUEUE_ID_MAX])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* 10 hex digits of seconds, 5 of microseconds: sorts by time */
	snprintf(id, QUEUE_ID_MAX, "%010llx%05lx%06x%04x",
		 (unsigned long long)ts.tv_sec & 0xffffffffffULL,
		 (long)(ts.tv_nsec / 1000), (unsigned)getpid() & 0xffffff,
		 q->id_counter++ & 0xffff);
}

struct queue_writer *queue_writer_begin(struct queue *q,
					const struct queue_envelope *env,
					const char **error_r)
{
	if (q->readonly) {
		*error_r = "queue opened read-only";
		return NULL;
	}
	if (queue_envelope_check(env, error_r) < 0)
		return NULL;
	char id[QUEUE_ID_MAX];
	for (unsigned attempt = 0; attempt < 10; attempt++) {
		queue_id_generate(q, id);
		const char *path = t_printf("%s/%s.msg.%ld", q->tmp_dir, id,
					    (long)getpid());
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
			      O_NOFOLLOW, 0600);
		if (fd < 0) {
			if (errno == EEXIST)
				continue;
			*error_r = t_printf("creating %s failed: %s", path,
					    strerror(errno));
			return NULL;
		}
		struct queue_writer *w = xcalloc(1, sizeof(*w));
		w->q = q;
		w->pool = pool_create(4096);
		queue_envelope_copy(w->pool, env, &w->env);
		memcpy(w->id, id, sizeof(w->id));
		w->msg_tmp = xstrdup(path);
		w->fd = fd;
		return w;
	}
	*error_r = "no unique queue id";
	return NULL;
}

static void writer_free(struct queue_writer **w)
{
	if ((*w)->fd >= 0)
		close((*w)->fd);
	pool_destroy(&(*w)->pool);
	free((*w)->msg_tmp);
	xfree(w);
}

/* Remove the partial message at once: a full disk gets no fuller. */
static void writer_discard(struct queue_writer *w)
{
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
	}
	if (!w->failed && unlink(w->msg_tmp) < 0 && errno != ENOENT)
		log_error("event=queue_tmp_unlink_failed path=%s error=%s",
			  log_str(w->msg_tmp), log_str(strerror(errno)));
	w->failed = true;
}

int queue_writer_write(struct queue_writer *w, const void *data, size_t len,
		       const char **error_r)
{
	if (w->failed) {
		*error_r = "queue write already failed";
		return -1;
	}
	if (fileio_write_full(w->fd, data, len) < 0) {
		*error_r = t_printf("writing queue file failed: %s",
				    strerror(errno));
		writer_discard(w);
		return -1;
	}
	w->size += len;
	return 0;
}

int queue_writer_write_fd(struct queue_writer *w, int fd, uint64_t offset,
			  uint64_t len, const char **error_r)
{
	const char *error;
	if (w->failed) {
		*error_r = "queue write already failed";
		return -1;
	}
	if (fileio_copy_range(w->fd, fd, offset, len, &error) < 0) {
		*error_r = t_printf("writing queue file failed: %s", error);
		writer_discard(w);
		return -1;
	}
	w->size += len;
	return 0;
}

/* Write a whole file durably: create (or replace), write, fsync. */
static int write_file_synced(const char *path, const str_t *data, bool excl,
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

static int writer_publish(struct queue_writer *w, const char **error_r)
{
	struct queue *q = w->q;
	if (fsync(w->fd) < 0) {
		*error_r = t_printf("fsync of queue file failed: %s",
				    strerror(errno));
		return -1;
	}
	close(w->fd);
	w->fd = -1;

	str_t env = STR_INIT;
	queue_envelope_format(w->id, w->size, &w->env, &env);
	const char *env_tmp = t_printf("%s/%s.env.%ld", q->tmp_dir, w->id,
				       (long)getpid());
	int ret = write_file_synced(env_tmp, &env, true, error_r);
	str_free(&env);
	if (ret < 0)
		return -1;

	const char *msg_path = t_printf("%s/%s", q->msg_dir, w->id);
	const char *env_path = t_printf("%s/%s", q->env_dir, w->id);
	if (fileio_rename_noreplace(w->msg_tmp, msg_path) < 0) {
		*error_r = t_printf("rename to %s failed: %s", msg_path,
				    strerror(errno));
		(void)unlink(env_tmp);
		return -1;
	}
	w->failed = true; /* tmp message gone: discard must not unlink it */
	if (fileio_fsync_dir(q->msg_dir) < 0) {
		*error_r = t_printf("fsync of %s failed: %s", q->msg_dir,
				    strerror(errno));
		goto undo_msg;
	}
	if (fileio_rename_noreplace(env_tmp, env_path) < 0) {
		*error_r = t_printf("rename to %s failed: %s", env_path,
				    strerror(errno));
		goto undo_msg;
	}
	if (fileio_fsync_dir(q->env_dir) < 0) {
		*error_r = t_printf("fsync of %s failed: %s", q->env_dir,
				    strerror(errno));
		(void)unlink(env_path);
		(void)fileio_fsync_dir(q->env_dir);
		env_tmp = NULL;
		goto undo_msg;
	}
	return 0;

undo_msg:
	if (env_tmp != NULL)
		(void)unlink(env_tmp);
	(void)unlink(msg_path);
	(void)fileio_fsync_dir(q->msg_dir);
	return -1;
}

int queue_writer_commit(struct queue_writer **w, char queue_id_r[QUEUE_ID_MAX],
			const char **error_r)
{
	struct queue_writer *writer = *w;
	int ret = -1;
	if (writer->failed)
		*error_r = "queue write already failed";
	else
		ret = writer_publish(writer, error_r);
	if (ret == 0) {
		memcpy(queue_id_r, writer->id, QUEUE_ID_MAX);
		log_info("event=queued qid=%s sender=%s rcpts=%u size=%llu",
			 writer->id, log_value(writer->env.sender.data,
					       writer->env.sender.len),
			 writer->env.recipient_count,
			 (unsigned long long)writer->size);
	} else {
		log_error("event=queue_commit_failed qid=%s error=%s",
			  writer->id, log_str(*error_r));
		writer_discard(writer);
	}
	writer_free(w);
	return ret;
}

void queue_writer_abort(struct queue_writer **w)
{
	if (*w == NULL)
		return;
	writer_discard(*w);
	writer_free(w);
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
	int ret = write_file_synced(tmp, &data, false, error_r);
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
