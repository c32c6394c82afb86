/* queue_recover.c: crash recovery when a queue is opened.
 *
 * Several processes share the queue (SMTP workers write, the runner reads
 * and removes), so a file is only a leftover when its writer is gone: the
 * pid in its name no longer runs, or it has not changed for
 * QUEUE_STALE_SECS (pids are reused). Then:
 *   tmp/ files                  are removed (and for an interrupted
 *                               queue_remove(), its message too);
 *   msg/ID without env/ID       moves to corrupt/ID.msg (logged);
 *   env/ID that does not parse  moves to corrupt/ with its message;
 *   env/ID without msg/ID       moves to corrupt/ID.env (logged).
 * Nothing is deleted that might be a committed message. */
#include "queue/queue_private.h"
#include "store/fileio.h"
#include "lib/log.h"
#include "lib/str.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool pid_is_running(long pid)
{
	if (pid <= 0 || pid > 0x7fffffff)
		return false;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* pid_text: the writer's pid (NULL if unknown); base 10 or 16. */
static bool file_is_stale(const char *path, const char *pid_text, int base)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return false; /* gone already */
	if (st.st_mtime + QUEUE_STALE_SECS < time(NULL))
		return true;
	if (pid_text == NULL)
		return false;
	char *end;
	errno = 0;
	long pid = strtol(pid_text, &end, base);
	if (errno != 0 || *end != '\0' || end == pid_text)
		return false;
	return !pid_is_running(pid);
}

/* Writer pid inside a queue id: hex digits 15..20 (see queue_id_generate). */
static const char *queue_id_pid(const char *id)
{
	return t_strndup(id + 15, 6);
}

static void set_aside(struct queue *q, const char *path, const char *id,
		      const char *suffix, bool *moved)
{
	const char *dest = t_printf("%s/%s.%s", q->corrupt_dir, id, suffix);
	int ret = fileio_rename_noreplace(path, dest);
	if (ret < 0 && errno == EEXIST) {
		dest = t_printf("%s/%s.%s.%lld", q->corrupt_dir, id, suffix,
				(long long)time(NULL));
		ret = fileio_rename_noreplace(path, dest);
	}
	if (ret < 0) {
		if (errno != ENOENT)
			log_error("event=queue_set_aside_failed path=%s "
				  "error=%s", log_str(path),
				  log_str(strerror(errno)));
		return;
	}
	*moved = true;
}

typedef void queue_dir_callback(struct queue *q, const char *name,
				bool *changed);

static int queue_dir_each(struct queue *q, const char *dir_path,
			  queue_dir_callback *callback, bool *changed,
			  const char **error_r)
{
	DIR *dir = opendir(dir_path);
	if (dir == NULL) {
		*error_r = t_printf("opendir(%s) failed: %s", dir_path,
				    strerror(errno));
		return -1;
	}
	/* collect first: the callbacks rename entries out of this dir */
	str_t names = STR_INIT;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (de->d_name[0] != '.')
			str_append(&names, de->d_name, strlen(de->d_name) + 1);
	}
	closedir(dir);
	for (size_t pos = 0; pos < names.len; pos += strlen(names.data + pos) + 1)
		callback(q, names.data + pos, changed);
	str_free(&names);
	return 0;
}

/* tmp/ID.KIND.PID */
static void recover_tmp(struct queue *q, const char *name, bool *changed)
{
	const char *path = t_printf("%s/%s", q->tmp_dir, name);
	const char *dot = strrchr(name, '.');
	if (!file_is_stale(path, dot != NULL ? dot + 1 : NULL, 10))
		return;
	const char *del = strstr(name, ".del.");
	if (del != NULL && del - name == QUEUE_ID_LEN) {
		/* a queue_remove() that died after ending the entry */
		const char *msg_path = t_printf("%s/%s", q->msg_dir,
						t_strndup(name, QUEUE_ID_LEN));
		if (unlink(msg_path) == 0)
			log_info("event=queue_remove_finished file=%s",
				 log_str(name));
	}
	if (unlink(path) == 0) {
		log_info("event=queue_tmp_removed file=%s", log_str(name));
		*changed = true;
	}
}

/* Is a writer or a queue_remove() of this id at work right now? Looked up
 * afresh, as it may have started after tmp/ was cleaned. */
static bool tmp_has_entry_for(struct queue *q, const char *id)
{
	DIR *dir = opendir(q->tmp_dir);
	if (dir == NULL)
		return true; /* when in doubt, leave the message alone */
	struct dirent *de;
	bool found = false;
	while (!found && (de = readdir(dir)) != NULL) {
		found = strncmp(de->d_name, id, QUEUE_ID_LEN) == 0 &&
			de->d_name[QUEUE_ID_LEN] == '.';
	}
	closedir(dir);
	return found;
}

static void recover_msg(struct queue *q, const char *name, bool *changed)
{
	const char *path = t_printf("%s/%s", q->msg_dir, name);
	if (!queue_id_is_valid(name)) {
		log_warn("event=queue_unknown_file path=%s", log_str(path));
		return;
	}
	if (access(t_printf("%s/%s", q->env_dir, name), F_OK) == 0 ||
	    !file_is_stale(path, queue_id_pid(name), 16) ||
	    tmp_has_entry_for(q, name))
		return;
	/* the writer died between the two renames: never acknowledged */
	log_error("event=queue_orphan_message qid=%s action=set_aside", name);
	set_aside(q, path, name, "msg", changed);
}

static void recover_env(struct queue *q, const char *name, bool *changed)
{
	const char *path = t_printf("%s/%s", q->env_dir, name);
	const char *msg_path = t_printf("%s/%s", q->msg_dir, name);
	if (!queue_id_is_valid(name)) {
		log_warn("event=queue_unknown_file path=%s", log_str(path));
		return;
	}
	pool_t *pool = pool_create(4096);
	struct queue_entry_info entry;
	const char *error = NULL;
	struct stat st;
	errno = 0;
	if (queue_envelope_load(path, name, pool, &entry, &error) < 0) {
		if (errno == ENOENT) {
			pool_destroy(&pool);
			return; /* removed by the runner meanwhile */
		}
	} else if (lstat(msg_path, &st) < 0) {
		error = "message file missing";
	} else {
		error = NULL;
	}
	pool_destroy(&pool);
	if (error == NULL)
		return;
	log_error("event=queue_bad_entry qid=%s error=%s action=set_aside",
		  name, log_str(error));
	set_aside(q, path, name, "env", changed);
	if (access(msg_path, F_OK) == 0)
		set_aside(q, msg_path, name, "msg", changed);
}

int queue_recover(struct queue *q, const char **error_r)
{
	bool changed = false;
	if (queue_dir_each(q, q->tmp_dir, recover_tmp, &changed, error_r) < 0 ||
	    queue_dir_each(q, q->env_dir, recover_env, &changed, error_r) < 0 ||
	    queue_dir_each(q, q->msg_dir, recover_msg, &changed, error_r) < 0)
		return -1;
	if (changed) {
		const char *dirs[] = { q->tmp_dir, q->msg_dir, q->env_dir,
				       q->corrupt_dir };
		for (size_t i = 0; i < sizeof(dirs) / sizeof(*dirs); i++) {
			if (fileio_fsync_dir(dirs[i]) < 0)
				log_error("event=queue_fsync_failed dir=%s "
					  "error=%s", log_str(dirs[i]),
					  log_str(strerror(errno)));
		}
	}
	return 0;
}
