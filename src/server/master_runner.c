/* master_runner.c: see master_runner.h. */
#include "master_runner.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include <signal.h>
#include <sys/wait.h>

void master_runner_start(struct master_runner *mr)
{
	if (!mr->enabled || mr->stopping || mr->pid > 0)
		return;
	pid_t pid = mr->spawn(mr->ctx);
	if (pid > 0) {
		mr->pid = pid;
		mr->started = time(NULL);
		log_info("event=runner_spawned pid=%d", (int)pid);
	}
}

static void master_runner_on_respawn(void *ctx)
{
	struct master_runner *mr = ctx;
	timeout_remove(&mr->respawn_to);
	master_runner_start(mr);
}

bool master_runner_reaped(struct master_runner *mr, pid_t pid, int status)
{
	for (unsigned i = 0; i < MASTER_RUNNER_OLD_MAX; i++) {
		if (mr->old[i] == pid) {
			mr->old[i] = 0;
			log_info("event=runner_retired pid=%d", (int)pid);
			return true;
		}
	}
	if (pid != mr->pid || pid <= 0)
		return false;
	mr->pid = 0;
	bool crashed = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
	if (crashed)
		log_error("event=runner_crashed pid=%d %s=%d", (int)pid,
			  WIFSIGNALED(status) ? "signal" : "status",
			  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	else
		log_info("event=runner_exited pid=%d", (int)pid);
	if (mr->stopping || !mr->enabled)
		return true;
	if (time(NULL) - mr->started < 1) {
		if (mr->respawn_to == NULL)
			mr->respawn_to = timeout_add(mr->loop, 1000, master_runner_on_respawn, mr);
		return true;
	}
	master_runner_start(mr);
	return true;
}

void master_runner_reload(struct master_runner *mr, bool enabled)
{
	if (mr->pid > 0) {
		unsigned i = 0;
		while (i < MASTER_RUNNER_OLD_MAX && mr->old[i] != 0)
			i++;
		kill(mr->pid, SIGTERM);
		if (i < MASTER_RUNNER_OLD_MAX)
			mr->old[i] = mr->pid;
		else
			log_warn("event=runner_untracked pid=%d reason=\"too many draining\"",
				 (int)mr->pid);
		mr->pid = 0;
	}
	mr->enabled = enabled;
	timeout_remove(&mr->respawn_to);
	master_runner_start(mr);
}

void master_runner_stop(struct master_runner *mr)
{
	mr->stopping = true;
	timeout_remove(&mr->respawn_to);
	if (mr->pid > 0)
		kill(mr->pid, SIGTERM);
	for (unsigned i = 0; i < MASTER_RUNNER_OLD_MAX; i++) {
		if (mr->old[i] > 0)
			kill(mr->old[i], SIGTERM);
	}
}

unsigned master_runner_alive(const struct master_runner *mr)
{
	unsigned n = mr->pid > 0;
	for (unsigned i = 0; i < MASTER_RUNNER_OLD_MAX; i++)
		n += mr->old[i] > 0;
	return n;
}

void master_runner_deinit(struct master_runner *mr)
{
	timeout_remove(&mr->respawn_to);
}
