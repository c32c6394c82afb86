/* queue_writer.c: writing a new queue entry (queue_writer_* of queue.h).
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
	int ret = queue_write_file_synced(env_tmp, &env, true, error_r);
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
