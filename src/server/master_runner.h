/* master_runner.h: how the master supervises the queue runner
 * (relay/runner.h): at most one current runner, started when relay = yes,
 * restarted when it dies (a second later if it died at once, so a broken
 * runner cannot spin), drained on SIGTERM, and on reload replaced: the old
 * one drains (SIGTERM) beside the new one, and queue leases keep them from
 * sending an entry twice. */
#ifndef POSTEL_MASTER_RUNNER_H
#define POSTEL_MASTER_RUNNER_H
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

struct ioloop;
struct timeout;

#define MASTER_RUNNER_OLD_MAX 8

struct master_runner {
	struct ioloop *loop;
	pid_t (*spawn)(void *ctx); /* forks a runner, -1 on failure */
	void *ctx;
	bool enabled;              /* config relay */
	bool stopping;
	pid_t pid;                 /* the current one, 0: none */
	time_t started;
	pid_t old[MASTER_RUNNER_OLD_MAX]; /* draining after a reload */
	struct timeout *respawn_to;
};

void master_runner_start(struct master_runner *mr);
/* waitpid reaped pid: true when it was a runner (then handled). */
bool master_runner_reaped(struct master_runner *mr, pid_t pid, int status);
/* A new generation: the current runner drains, a new one starts when
 * enabled (the new config's relay). */
void master_runner_reload(struct master_runner *mr, bool enabled);
/* SIGTERM to every runner; none is restarted from now on. */
void master_runner_stop(struct master_runner *mr);
unsigned master_runner_alive(const struct master_runner *mr);
void master_runner_deinit(struct master_runner *mr);
#endif
