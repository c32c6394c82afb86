/* server.h: what the master hands a worker, and how a worker runs.
 *
 * The master binds every listener (server_listen.c), loads TLS keys and
 * forks workers (master.c). A worker (worker.c) runs one event loop that
 * accepts on every listener and owns all sessions of every protocol; it
 * offers them what they share through struct session_env
 * (session/session.h), so protocols never include this header. */
#ifndef POSTEL_SERVER_H
#define POSTEL_SERVER_H

#include "session/session.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config;
struct ioloop;
struct tls_ctx;
struct threadpool;
struct store;
struct queue;

/* enum service and service_name(): session/session.h */

struct listener {
	int fd;
	enum service service;
	char text[80];
};

#define SERVER_MAX_LISTENERS 64

struct listener_set {
	unsigned count;
	struct listener items[SERVER_MAX_LISTENERS];
};

/* Bind every configured listener of the implemented services. */
int server_listen_all(const struct config *config, struct listener_set *set_r,
		      const char **error_r);
void server_listen_close(struct listener_set *set);

/* Data-directory layout and ownership (see server_privs.c): made, checked,
 * and an unsafe one refused with error_r naming the path. Root touches
 * nothing inside a directory run_user can write. */
int server_prepare_data_dir(const struct config *config, const char **error_r);
/* The same checks, changing nothing (config check): -1 with error_r where
 * serve would refuse; note_r (or NULL) says what serve would still make. */
int server_check_data_dir(const struct config *config, const char **note_r,
			  const char **error_r);
/* In a child running as run_user: create, migrate, WAL-switch and check
 * the databases, so workers start on ready files (server_prepare.c). */
int server_prepare_databases(const struct config *config, const char **error_r);
/* When root: switch to run_user (created if missing). uid_r/gid_r may be
 * used before switching to chown files. 0 = done or nothing to do. */
int server_lookup_run_user(const struct config *config, unsigned *uid_r,
			   unsigned *gid_r, const char **error_r);
int server_drop_privileges(const struct config *config, const char **error_r);
/* Raise the soft RLIMIT_NOFILE to fit config->max_connections (per worker)
 * plus a reserve; where the hard limit is lower, lower max_connections to
 * fit and log a warning (server_fdlimit.c). */
void server_fit_fd_limit(struct config *config, unsigned listeners);

/* sd_notify(3) protocol to $NOTIFY_SOCKET, if set ("READY=1\nSTATUS=..."):
 * 0 sent or no socket, -1 logged (server_notify.c). _reloading() sends
 * RELOADING=1 with MONOTONIC_USEC. */
int server_notify(const char *state);
/* The master's signals, blocked before any fork (server_signals.c):
 * mask_r gets those its signalfd reads; SIGUSR2 is blocked for the
 * children's signalfds; SIGPIPE ignored. */
#include <signal.h>
void server_block_signals(sigset_t *mask_r);
/* In a child: a signalfd for SIGTERM, SIGINT, SIGHUP and SIGUSR2 (all
 * blocked since before fork); fatal when none can be made. */
int server_child_signalfd(void);
/* A new child's first step: drop root, enter the sandbox (server_sandbox.h)
 * and die with the master (PR_SET_PDEATHSIG, SIGTERM, after the uid
 * change that clears it). 1 go on; 0 the master is already gone; -1
 * failed (logged as event=KIND_start_failed). */
int server_child_enter(const struct config *config, pid_t master_pid, const char *kind);
int server_notify_reloading(void);

/* Everything sessions in one worker share; sessions see only env. */
struct worker {
	struct session_env env;
	struct ioloop *loop;
	const struct config *config;
	struct tls_ctx *tls;
	struct threadpool *pool;          /* password checks */
	struct threadpool *delivery_pool; /* writing and fsyncing mail */
	struct store_committer *committer; /* group commit of deliveries */
	struct store *store;
	struct queue *queue;
	unsigned connections;
	bool draining;  /* SIGTERM: finish transactions, then close */
	bool retiring;  /* replaced after a reload: serve sessions to their end */
	unsigned long long session_counter;
};

/* The kinds of children the master supervises. Each says which it is in
 * its channel HELLO (lib/channel.h), and the master spawns, reaps and
 * replaces them per kind. */
enum child_kind {
	CHILD_WORKER,
	CHILD_QUEUE_RUNNER, /* relay/runner.h */
	CHILD_KIND_COUNT
};

/* What every child gets from the master besides its kind's own state:
 * its end of the typed channel (lib/channel.h) and its generation
 * (raised by each reload). */
struct child_start {
	unsigned index;      /* slot within its kind */
	unsigned generation;
	int channel_fd;
	pid_t master_pid;
};

/* Runs the worker until drained; returns the exit status. The worker
 * drains when master_pid dies (PR_SET_PDEATHSIG). */
struct worker_limits_shared;
int worker_run(const struct config *config, struct tls_ctx *tls,
	       struct listener_set *listeners, const struct child_start *start,
	       struct worker_limits_shared *shared_limits, unsigned limits_row);

#endif
