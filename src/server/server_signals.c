/* server_signals.c: the master's signal set (server.h). SIGTERM, SIGINT,
 * SIGHUP and SIGCHLD come through the master's signalfd; SIGUSR2 is
 * blocked before fork so workers and the queue runner take it through
 * theirs; SIGPIPE is ignored (a peer that left is an EPIPE, not death). */
#include "server.h"

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
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	signal(SIGPIPE, SIG_IGN);
}
