/* queue_wake.c: telling a running queue runner to look at the queue now
 * (queue.h: queue_wake_publish, queue_wake_runner).
 *
 * The runner writes its pid to DATA_DIR/queue/runner.pid when it starts
 * (a new generation replaces the file with rename(2)) and takes SIGUSR1
 * through its signalfd: a full queue scan. A CLI command first writes its
 * change durably under the lease lock, then sends SIGUSR1, so the scan the
 * signal starts always sees the change; signals that arrive together
 * coalesce into one scan, which is enough for the same reason. A runner
 * that is not running (or a stale file, a pid reused by another program)
 * gets no signal: /proc/PID/comm must be the runner's process name, and a
 * runner that starts later scans the whole queue at start anyway. */
#include "queue/queue.h"
#include "store/fileio.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* prctl(PR_SET_NAME) of the runner (relay/runner.c) */
#define QUEUE_RUNNER_COMM "postel: runner"

/* a small file (runner.pid, /proc/PID/comm) into buf, NUL-terminated */
static int read_small(const char *path, char *buf, size_t size)
{
	char *data;
	size_t len;
	if (fileio_read_file(path, size - 1, &data, &len) < 0)
		return -1;
	memcpy(buf, data, len + 1);
	free(data);
	return 0;
}

int queue_wake_publish(const char *data_dir, pid_t pid, const char **error_r)
{
	const char *path = t_printf("%s/queue/runner.pid", data_dir);
	const char *tmp = t_printf("%s.%ld", path, (long)pid);
	char line[32];
	int len = snprintf(line, sizeof(line), "%ld\n", (long)pid);
	if (fileio_write_sync(tmp, line, (size_t)len) < 0 || rename(tmp, path) < 0) {
		*error_r = t_printf("writing %s failed: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int queue_wake_runner(const char *data_dir, const char **error_r)
{
	char buf[64];
	if (read_small(t_printf("%s/queue/runner.pid", data_dir), buf, sizeof(buf)) < 0) {
		*error_r = errno == ENOENT ? "the queue runner is not running" :
			t_printf("reading runner.pid: %s", strerror(errno));
		return 0;
	}
	char *end;
	long pid = strtol(buf, &end, 10);
	if (pid <= 1 || (*end != '\n' && *end != '\0')) {
		*error_r = "runner.pid holds no pid";
		return 0;
	}
	if (read_small(t_printf("/proc/%ld/comm", pid), buf, sizeof(buf)) < 0 ||
	    strncmp(buf, QUEUE_RUNNER_COMM "\n", sizeof(QUEUE_RUNNER_COMM)) != 0) {
		*error_r = "the queue runner is not running";
		return 0;
	}
	if (kill((pid_t)pid, SIGUSR1) < 0) {
		*error_r = t_printf("signalling the queue runner (pid %ld) failed: %s", pid,
				    strerror(errno));
		return -1;
	}
	return 1;
}
