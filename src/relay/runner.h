/* runner.h: the queue runner, a child of the master (server/master.c)
 * that sends queued mail to other domains (issue 10 items 1, 2, 6).
 *
 * It runs unprivileged and sandboxed like a worker (outbound connect is
 * allowed: the sandbox restricts only TCP bind), says HELLO on its
 * channel, and takes QUEUE_ENTRY_COMMITTED from the master to start an
 * entry at once. At start it scans the queue, and a timer wakes it for
 * the next due retry (no polling). SIGTERM drains: nothing new starts,
 * attempts in flight finish, then it exits. A reload starts a new
 * generation beside the draining old one; leases keep them from sending
 * one entry twice. The pieces are in runner_private.h. */
#ifndef POSTEL_RUNNER_H
#define POSTEL_RUNNER_H
struct config;
struct child_start;
/* The process's main; returns its exit status. */
int runner_run(const struct config *config, const struct child_start *start);
#endif
