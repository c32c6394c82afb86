/* master_private.h: what the master's files share (master.c: children,
 * signals and `postel serve`; master_reload.c: SIGHUP's new generation
 * and the retiring ones). Not for other layers: the master is reached
 * through cmd_serve() (cli/commands.h) only.
 *
 * Every live worker is in workers[] (current generation) or retiring[]
 * (older ones) until waitpid says it is gone, and holds one row of the
 * shared per-address counts (row_owner[]). */
#ifndef POSTEL_MASTER_PRIVATE_H
#define POSTEL_MASTER_PRIVATE_H

#include "server.h"
#include "master_child.h"
#include "master_runner.h"

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#define MASTER_MAX_WORKERS 64
/* older generations still serving a client after a reload */
#define MASTER_MAX_RETIRING 128
#define MASTER_LIMIT_ROWS (MASTER_MAX_WORKERS + MASTER_MAX_RETIRING)

struct master_retiring {
	pid_t pid;           /* 0: free */
	unsigned long long seq; /* retire order: lower is older */
	bool stopped;        /* SIGTERM sent to make room */
};

struct master {
	struct cli_ctx *cli;
	struct config *config;
	struct tls_ctx *tls;
	struct listener_set listeners;
	unsigned nworkers;
	pid_t workers[MASTER_MAX_WORKERS];
	time_t started[MASTER_MAX_WORKERS];
	/* a slot whose worker died at once is refilled a second later by a
	 * timer, so the loop keeps forwarding channel messages meanwhile */
	struct master_respawn {
		struct master *m;
		unsigned idx;
		struct timeout *to;
	} respawn[MASTER_MAX_WORKERS];
	/* every live process holds a row, so this never overflows */
	struct master_retiring retiring[MASTER_LIMIT_ROWS];
	unsigned long long retire_seq;
	bool stopping;
	bool reload_pending; /* SIGHUP waiting for rows to free up */
	/* per-address connection counts shared by all workers: one row per
	 * live worker process, old generations included */
	struct worker_limits_shared *limits;
	pid_t row_owner[MASTER_LIMIT_ROWS];
	struct master_children *children;
	struct master_runner runner; /* the queue runner (master_runner.h) */
	unsigned generation; /* raised by each reload */
	struct ioloop *loop;
	int signal_fd;
	struct io *signal_io;
};

/* master.c: forks a child of this kind into slot idx (workers: its index
 * in workers[]) with a free row and a channel; -1 on failure (logged). */
pid_t master_spawn(struct master *m, enum child_kind kind, unsigned idx);
/* master.c: rows no live process holds */
unsigned master_rows_free(const struct master *m);

/* master_reload.c: SIGHUP (or a reload deferred until rows were free):
 * a new configuration and TLS context, the current workers retired and a
 * new generation spawned; a failed load keeps the old one. */
void master_reload(struct master *m);
/* master_reload.c: older-generation workers still alive */
unsigned master_retiring_count(const struct master *m);

#endif
