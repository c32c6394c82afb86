/* server_prepare.c: the databases are made ready before any worker starts.
 *
 * Contract: server_prepare_databases() forks one child that drops to
 * run_user (root never opens a file in DATA/db: server_privs.c), creates
 * or migrates accounts.db, switches it to WAL and runs PRAGMA
 * quick_check, then exits; the master waits for it. So workers started
 * afterwards never race to switch the journal mode (a switch takes a lock
 * SQLite's busy timeout does not wait for, so one of them failed with
 * "database is locked"), and a damaged accounts.db stops `serve` at start
 * with the error, instead of workers that die and are respawned while
 * clients wait for a greeting. The child's error comes back over a pipe;
 * 0 ready, -1 with error_r naming the file. */
#include "server.h"
#include "auth/userdb.h"
#include "queue/queue.h"
#include "lib/config.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PREPARE_ERROR_MAX 1024

static void prepare_child(const struct config *config, int err_fd)
{
	const char *error = NULL;
	log_set_proc("prepare");
	if (server_drop_privileges(config, &error) == 0 &&
	    userdb_ready(config->data_dir, &error) == 0) {
		/* as run_user too: start-up says how much mail waits */
		queue_log_status(config->data_dir);
		_exit(0);
	}
	size_t len = strnlen(error, PREPARE_ERROR_MAX - 1);
	ssize_t w = write(err_fd, error, len);
	(void)w;
	_exit(1);
}

int server_prepare_databases(const struct config *config, const char **error_r)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0) {
		*error_r = t_printf("pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		*error_r = t_printf("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		close(fds[0]);
		prepare_child(config, fds[1]);
	}
	close(fds[1]);
	char buf[PREPARE_ERROR_MAX];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
		if (n > 0 && (len += (size_t)n) < sizeof(buf) - 1)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	close(fds[0]);
	buf[len] = '\0';
	int status;
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			*error_r = t_printf("waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		log_info("event=databases_ready file=%s",
			 log_str(t_printf("%s/%s/%s", config->data_dir, USERDB_DIRNAME,
					  USERDB_FILENAME)));
		return 0;
	}
	if (len > 0)
		*error_r = t_printf("%s", buf);
	else if (WIFSIGNALED(status))
		*error_r = t_printf("preparing the databases: killed by signal %d",
				    WTERMSIG(status));
	else
		*error_r = t_printf("preparing the databases: exit status %d",
				    WEXITSTATUS(status));
	return -1;
}
