/* queue_status.c: how many entries wait in the queue, for the start-up
 * log line (issue 11 item 8) and "postel queue". Counting reads the
 * names in env/ only (an envelope's presence marks a complete entry, see
 * queue.h): it opens no file and changes nothing. */
#include "queue/queue_private.h"
#include "lib/log.h"
#include "lib/str.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>

int queue_count(struct queue *q, unsigned *count_r, const char **error_r)
{
	*count_r = 0;
	DIR *dir = opendir(q->env_dir);
	if (dir == NULL) {
		if (errno == ENOENT)
			return 0; /* no queue yet: empty */
		*error_r = t_printf("opendir(%s) failed: %s", q->env_dir, strerror(errno));
		return -1;
	}
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		if (queue_id_is_valid(de->d_name))
			(*count_r)++;
	}
	closedir(dir);
	return 0;
}

void queue_log_status(const char *data_dir)
{
	struct queue *q;
	const char *error;
	unsigned count = 0;
	if (queue_open_readonly(data_dir, &q, &error) < 0) {
		log_warn("event=queue_status error=%s", log_str(error));
		return;
	}
	int ret = queue_count(q, &count, &error);
	queue_close(&q);
	if (ret < 0) {
		log_warn("event=queue_status error=%s", log_str(error));
		return;
	}
	log_info("event=queue_status waiting=%u", count);
}
