/* server_signals.c: how children start (server_child_enter, below), and
 * the master's signal set (server.h). SIGTERM, SIGINT,
 * SIGHUP and SIGCHLD come through the master's signalfd; SIGUSR2 (and
 * SIGUSR1, the queue runner's wake) are blocked before fork so workers and
 * the queue runner take them through theirs; SIGPIPE is ignored (a peer that left is an EPIPE, not death). */
#include "server.h"
#include "server_sandbox.h"
#include <sys/prctl.h>
#include <unistd.h>
#include "lib/log.h"
#include <errno.h>
#include <string.h>
#include <sys/signalfd.h>

void server_block_signals(sigset_t *mask_r)
{
	sigemptyset(mask_r);
	sigaddset(mask_r, SIGTERM);
	sigaddset(mask_r, SIGINT);
	sigaddset(mask_r, SIGHUP);
	sigaddset(mask_r, SIGCHLD);
	sigprocmask(SIG_BLOCK, mask_r, NULL);
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigaddset(&usr2, SIGUSR1); /* the runner's wake (queue/queue_wake.c) */
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int server_child_signalfd(void)
{
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR2);
	sigaddset(&mask, SIGUSR1);
	int fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		fatal("event=signalfd error=\"%s\"", strerror(errno));
	return fd;
}

int server_child_enter(const struct config *config, pid_t master_pid, const char *kind)
{
	const char *error;
	if (server_drop_privileges(config, &error) < 0 ||
	    server_sandbox_worker(config, &error) < 0) {
		log_error("event=%s_start_failed error=%s", kind, log_str(error));
		return -1;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0)
		log_warn("event=pdeathsig_failed error=\"%s\"", strerror(errno));
	/* a master that died before the prctl is seen here */
	if (getppid() != master_pid) {
		log_warn("event=%s_start_failed reason=\"master gone\"", kind);
		return 0;
	}
	return 1;
}
