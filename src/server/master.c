/* master.c: `postel serve`. Reads configuration, binds every listener,
 * loads TLS keys, forks the workers and supervises them. It never parses
 * network input.
 *
 * SIGTERM/SIGINT: workers drain (finish transactions, then exit), then the
 * master exits. SIGHUP: configuration and certificates are read again and a
 * new generation of workers starts; the old generation stops accepting and
 * serves its sessions until their clients leave or retire_timeout passes
 * (SIGUSR2), so no connection is dropped early. A worker that dies
 * abnormally is logged and replaced (at most once per second per slot).
 *
 * Every live worker is in workers[] (current generation) or retiring[]
 * (older ones) until waitpid says it is gone, and holds one row of the
 * shared per-address counts. When rows run short, the oldest retiring
 * workers are told to stop now (SIGTERM) and a reload waits for them
 * (master_reload.c: the reload and the retiring generations).
 * Children die with the master (PR_SET_PDEATHSIG).
 *
 * Children are supervised by kind (server.h: workers here, the queue
 * runner in master_runner.c), spawned through master_kinds[]. Each has a
 * row in the children table (master_child.c) with the master's end of a
 * typed channel (lib/channel.h), made before fork; the master waits on an
 * ioloop with a signalfd for the signals above and every channel. */
#include "master_private.h"
#include "relay/runner.h"
#include "relay/smarthost.h"
#include "worker_limits.h"
#include "cli/commands.h"
#include "lib/config.h"
#include "auth/authfail.h"
#include "lib/tls.h"
#include "lib/channel.h"
#include "lib/ioloop.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How each kind of child runs, once forked. */
struct master_kind {
	int (*run)(struct master *m, const struct child_start *start, unsigned row);
};

static int master_run_worker(struct master *m, const struct child_start *start,
			     unsigned row)
{
	return worker_run(m->config, m->tls, &m->listeners, start, m->limits, row);
}

static int master_run_runner(struct master *m, const struct child_start *start,
			     unsigned row)
{
	return runner_run(m->config, start);
}

static const struct master_kind master_kinds[CHILD_KIND_COUNT] = {
	[CHILD_WORKER] = { master_run_worker },
	[CHILD_QUEUE_RUNNER] = { master_run_runner },
};

static int master_row_take(struct master *m)
{
	for (unsigned r = 0; r < MASTER_LIMIT_ROWS; r++) {
		if (m->row_owner[r] == 0)
			return (int)r;
	}
	return -1;
}

unsigned master_rows_free(const struct master *m)
{
	unsigned n = 0;
	for (unsigned r = 0; r < MASTER_LIMIT_ROWS; r++)
		n += m->row_owner[r] == 0;
	return n;
}

/* The worker is gone: its connections no longer count against anyone. */
static void master_row_release(struct master *m, pid_t pid)
{
	for (unsigned r = 0; r < MASTER_LIMIT_ROWS; r++) {
		if (m->row_owner[r] == pid) {
			worker_limits_row_clear(m->limits, r);
			m->row_owner[r] = 0;
		}
	}
}

/* In a new child: the master's descriptors are not its own. Closing them
 * (not io_remove: the epoll set is shared with the master) means only
 * the master holds the master end of each channel. */
static void master_close_inherited(struct master *m)
{
	master_children_close_inherited(m->children);
	close(m->signal_fd);
	close(ioloop_fd(m->loop));
}

pid_t master_spawn(struct master *m, enum child_kind kind, unsigned idx)
{
	const char *kname = child_kind_name(kind), *error;
	int row = master_row_take(m);
	if (row < 0) {
		/* cannot happen: reloads wait until nworkers rows are free */
		log_error("event=spawn_failed kind=%s index=%u reason=\"no free row\"",
			  kname, idx);
		return -1;
	}
	int fds[2];
	if (channel_pair(fds, &error) < 0) {
		log_error("event=spawn_failed kind=%s index=%u error=%s", kname, idx,
			  log_str(error));
		return -1;
	}
	struct child_start start = { .index = idx, .generation = m->generation,
				     .channel_fd = fds[1], .master_pid = getpid() };
	pid_t pid = fork();
	if (pid < 0) {
		log_error("event=fork_failed error=\"%s\"", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		master_close_inherited(m);
		close(fds[0]);
		_exit(master_kinds[kind].run(m, &start, (unsigned)row));
	}
	close(fds[1]);
	m->row_owner[row] = pid;
	master_children_add(m->children, (unsigned)row, pid, kind, m->generation, fds[0]);
	if (kind == CHILD_WORKER) {
		m->workers[idx] = pid;
		m->started[idx] = time(NULL);
	}
	return pid;
}

static pid_t master_spawn_runner(void *ctx)
{
	return master_spawn(ctx, CHILD_QUEUE_RUNNER, 0);
}

static void master_signal_all(struct master *m, int sig)
{
	if (sig == SIGTERM)
		master_runner_stop(&m->runner);
	for (unsigned i = 0; i < m->nworkers; i++) {
		if (m->workers[i] > 0)
			kill(m->workers[i], sig);
	}
	for (unsigned i = 0; i < MASTER_LIMIT_ROWS; i++) {
		if (m->retiring[i].pid > 0)
			kill(m->retiring[i].pid, sig);
	}
}

static unsigned master_alive(const struct master *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->nworkers; i++)
		n += m->workers[i] > 0;
	return n + master_retiring_count(m) + master_runner_alive(&m->runner);
}

static void master_on_respawn(void *ctx)
{
	struct master_respawn *r = ctx;
	timeout_remove(&r->to);
	/* a reload may have filled the slot meanwhile; a stop empties it */
	if (!r->m->stopping && r->m->workers[r->idx] == 0)
		master_spawn(r->m, CHILD_WORKER, r->idx);
}

static void master_reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool crashed = WIFSIGNALED(status) ||
			(WIFEXITED(status) && WEXITSTATUS(status) != 0);
		master_row_release(m, pid);
		master_children_gone(m->children, pid);
		if (master_runner_reaped(&m->runner, pid, status))
			continue;
		for (unsigned i = 0; i < MASTER_LIMIT_ROWS; i++) {
			if (m->retiring[i].pid == pid) {
				m->retiring[i] = (struct master_retiring){ 0 };
				log_info("event=worker_retired pid=%d", (int)pid);
			}
		}
		for (unsigned i = 0; i < m->nworkers; i++) {
			if (m->workers[i] != pid)
				continue;
			m->workers[i] = 0;
			if (crashed)
				log_error("event=worker_crashed pid=%d index=%u %s=%d", (int)pid, i,
					  WIFSIGNALED(status) ? "signal" : "status",
					  WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			else
				log_info("event=worker_exited pid=%d index=%u", (int)pid, i);
			if (m->stopping)
				continue;
			if (time(NULL) - m->started[i] < 1) {
				/* a worker that dies at once must not spin */
				struct master_respawn *r = &m->respawn[i];
				r->m = m;
				r->idx = i;
				if (r->to == NULL)
					r->to = timeout_add(m->loop, 1000,
							    master_on_respawn, r);
				continue;
			}
			master_spawn(m, CHILD_WORKER, i);
		}
	}
	if (m->reload_pending && !m->stopping && master_rows_free(m) >= m->nworkers)
		master_reload(m);
}

static void master_on_signal(void *ctx)
{
	struct master *m = ctx;
	struct signalfd_siginfo si;
	while (read(m->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGCHLD) {
			master_reap(m);
		} else if (sig == SIGHUP) {
			if (!m->stopping) {
				server_notify_reloading();
				master_reload(m);
				server_notify("READY=1\nSTATUS=serving (reloaded)");
			}
		} else if (!m->stopping) {
			log_info("event=stopping signal=%d", sig);
			server_notify("STOPPING=1\nSTATUS=draining connections");
			m->stopping = true;
			master_signal_all(m, SIGTERM);
		}
	}
	if (m->stopping && master_alive(m) == 0)
		ioloop_stop(m->loop);
}

/* The signals in mask (blocked) arrive through a signalfd on the loop
 * that also reads every child's channel. */
static void master_loop_create(struct master *m, const sigset_t *mask)
{
	m->loop = ioloop_create();
	m->signal_fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->signal_fd < 0)
		fatal("event=signalfd error=\"%s\"", strerror(errno));
	m->signal_io = io_add(m->loop, m->signal_fd, IO_READ, master_on_signal, m);
	m->children = master_children_create(m->loop, MASTER_LIMIT_ROWS);
}

static void master_loop_run(struct master *m)
{
	ioloop_run(m->loop);
	master_runner_deinit(&m->runner);
	master_children_destroy(&m->children);
	io_remove(&m->signal_io);
	close(m->signal_fd);
	ioloop_destroy(&m->loop);
}

static int serve_usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: postel [-d DIR] [-c FILE] [-o key=value]... serve\n"
		"  Runs the mail server in the foreground: binds every listener,\n"
		"  starts the workers, logs key=value lines to stderr.\n"
		"  SIGHUP reloads configuration and certificates; SIGTERM drains and stops.\n");
	return status;
}

int cmd_serve(struct cli_ctx *ctx, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return serve_usage(0);
		return serve_usage(2);
	}
	struct master m = { .cli = ctx, .config = ctx->config };
	ctx->config = NULL; /* the master owns it now, and swaps it on reload */
	const char *error;
	log_set_proc("master");
	/* a relayhost whose password file is wrong stops here, not in the
	 * runner's restarts */
	if (smarthost_check(m.config, &error) < 0) {
		log_error("event=start_failed error=%s", log_str(error));
		return 1;
	}
	if (server_prepare_data_dir(m.config, &error) < 0 ||
	    server_prepare_databases(m.config, &error) < 0 ||
	    server_listen_all(m.config, &m.listeners, &error) < 0) {
		log_error("event=start_failed error=%s", log_str(error));
		return 1;
	}
	server_fit_fd_limit(m.config, m.listeners.count); /* before any fork */
	m.tls = tls_ctx_create(m.config->tls_cert, m.config->tls_key,
			       m.config->data_dir, m.config->hostname, &error);
	if (m.tls == NULL) {
		log_error("event=start_failed error=%s", log_str(error));
		return 1;
	}
	m.limits = worker_limits_shared_create(MASTER_LIMIT_ROWS, WORKER_LIMITS_SLOTS);
	if (authfail_share() < 0)
		log_warn("event=authfail_share_failed reason=\"delays per worker only\"");
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	m.nworkers = m.config->workers > 0 ? m.config->workers :
		(cores > 0 ? (unsigned)cores : 1);
	if (m.nworkers > MASTER_MAX_WORKERS)
		m.nworkers = MASTER_MAX_WORKERS;

	sigset_t mask;
	server_block_signals(&mask);
	log_info("event=start hostname=%s data_dir=%s workers=%u", m.config->hostname,
		 m.config->data_dir, m.nworkers);
	if (config_hostname_problem(m.config->hostname) != NULL)
		log_warn("event=hostname_not_fqdn hostname=%s problem=%s fix=%s",
			 log_str(m.config->hostname),
			 log_str(config_hostname_problem(m.config->hostname)),
			 log_str(config_hostname_fix(m.config)));
	master_loop_create(&m, &mask);
	for (unsigned i = 0; i < m.nworkers; i++)
		master_spawn(&m, CHILD_WORKER, i);
	m.runner = (struct master_runner){ .loop = m.loop, .spawn = master_spawn_runner,
					   .ctx = &m, .enabled = m.config->relay };
	master_runner_start(&m.runner);
	server_notify(t_printf("READY=1\nSTATUS=serving with %u workers", m.nworkers));
	master_loop_run(&m);
	server_listen_close(&m.listeners);
	worker_limits_shared_destroy(&m.limits);
	tls_ctx_destroy(&m.tls);
	config_free(&m.config);
	log_info("event=stopped");
	return 0;
}
