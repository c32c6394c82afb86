/* smtp_spool.c: a message too big to keep in memory goes into the
 * session's spool file (O_TMPFILE in DATA_DIR/spool: it vanishes by itself
 * if we crash or the client leaves; reused by each message of the
 * session), written on the worker's delivery thread pool: a write can
 * wait for the disk (dirty-page throttling, a slow device) and must not
 * stop every other session of the worker. The session reads nothing
 * while a write is out and continues where it was when it is back. */
#include "smtp_private.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/threadpool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

struct smtp_spool_job {
	struct smtp_session *s;
	enum smtp_state resume_state;
	str_t buf;     /* owned: what the decoder produced */
	char *dir;
	int fd;        /* the session's spool file, or -1: create one */
	bool fresh;    /* the first write of this message: empty the file */
	/* output */
	uint64_t written;
	bool failed, open_failed;
	int err;
};

/* Runs on a delivery thread. */
static void smtp_spool_work(void *ctx)
{
	struct smtp_spool_job *job = ctx;
	/* empty it and write from the start again (ftruncate keeps the offset) */
	if (job->fresh && job->fd >= 0 &&
	    (ftruncate(job->fd, 0) < 0 || lseek(job->fd, 0, SEEK_SET) != 0)) {
		close(job->fd);
		job->fd = -1;
	}
	if (job->fd < 0) {
		job->fd = open(job->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (job->fd < 0) {
			job->failed = job->open_failed = true;
			job->err = errno;
			return;
		}
	}
	size_t off = 0;
	while (off < job->buf.len) {
		ssize_t n = write(job->fd, job->buf.data + off, job->buf.len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			job->failed = true;
			job->err = errno;
			return;
		}
		off += (size_t)n;
		job->written += (uint64_t)n;
	}
}

/* Back on the loop thread. */
static void smtp_spool_done(void *ctx)
{
	struct smtp_spool_job *job = ctx;
	struct smtp_session *s = job->s;
	session_job_end(&s->base);
	s->spool_fd = job->fd; /* the session closes it */
	if (!session_may_free(&s->base)) {
		struct smtp_tx *tx = s->tx;
		tx->spool_fd = job->fd; /* borrowed */
		tx->spool_size += job->written;
		if (job->failed) {
			tx->spool_failed = true;
			tx->spool_error = job->open_failed ? "cannot create spool file" :
				job->err == ENOSPC || job->err == EDQUOT ? "disk full" :
				pool_strdup(tx->pool, strerror(job->err));
			log_error("sid=%s event=%s dir=%s error=\"%s\"", s->base.sid,
				  job->open_failed ? "spool_open_failed" : "spool_write_failed",
				  job->dir, strerror(job->err));
		}
		s->state = job->resume_state;
	}
	str_free(&job->buf);
	free(job->dir);
	free(job);
	smtp_session_continue(s);
}

bool smtp_spool_flush(struct smtp_session *s, bool final)
{
	struct smtp_tx *tx = s->tx;
	/* a small message stays in memory; a big one is written in pieces
	 * of SMTP_SPOOL_MEM_MAX, and the rest at its end */
	if (tx->spool_buf.len == 0 || (tx->spool_fd < 0 && final) ||
	    (!final && tx->spool_buf.len < SMTP_SPOOL_MEM_MAX))
		return false;
	if (tx->spool_failed) {
		str_clear(&tx->spool_buf);
		return false;
	}
	struct smtp_spool_job *job = xcalloc(1, sizeof(*job));
	job->s = s;
	job->resume_state = s->state;
	job->buf = tx->spool_buf; /* the decoder appends to a fresh one */
	tx->spool_buf = (str_t)STR_INIT;
	job->dir = xstrdup(t_printf("%s/spool", s->base.env->config->data_dir));
	job->fresh = tx->spool_fd < 0;
	job->fd = s->spool_fd;
	s->spool_fd = -1; /* the job's until it is back */
	s->state = SMTP_STATE_WAIT;
	session_job_begin(&s->base);
	conn_input_pause(s->base.conn);
	threadpool_submit(s->base.env->delivery_pool, smtp_spool_work, smtp_spool_done, job);
	return true;
}
