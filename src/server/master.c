/* master.c: `postel serve`. Reads configuration, binds every listener,
 * loads TLS keys, forks the workers and supervises them. It never parses
 * network input.
 *
 * SIGTERM/SIGINT: workers drain (finish transactions, then exit), then the
 * master exits. SIGHUP: configuration and certificates are read again and a
 * new generation of workers starts; the old generation stops accepting and
 * serves its sessions until their clients leave (SIGUSR2), so no
 * connection is dropped. A worker that dies abnormally is logged and
 * replaced (at most once per second per slot). */
#include "server.h"
#include "worker_limits.h"
#include "cli/commands.h"
#include "lib/config.h"
#include "auth/authfail.h"
#include "lib/tls.h"
#include "lib/mem.h"
#include "lib/log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MASTER_MAX_WORKERS 64
#define MASTER_MAX_OLD 256
#define MASTER_LIMIT_ROWS (MASTER_MAX_WORKERS + MASTER_MAX_OLD)

struct master {
	struct cli_ctx *cli;
	struct config *config;
	struct tls_ctx *tls;
	struct listener_set listeners;
	unsigned nworkers;
	pid_t workers[MASTER_MAX_WORKERS];
	time_t started[MASTER_MAX_WORKERS];
	pid_t old[MASTER_MAX_OLD]; /* draining previous generations */
	bool stopping;
	/* per-address connection counts shared by all workers: one row per
	 * live worker process, old generations included */
	struct worker_limits_shared *limits;
	pid_t row_owner[MASTER_LIMIT_ROWS];
};

static int master_row_take(struct master *m)
{
	for (unsigned r = 0; r < MASTER_LIMIT_ROWS; r++) {
		if (m->row_owner[r] == 0) {
			worker_limits_row_clear(m->limits, r);
			return (int)r;
		}
	}
	return -1;
}

static void master_row_release(struct master *m, pid_t pid)
{
	for (unsigned r = 0; r < MASTER_LIMIT_ROWS; r++) {
		if (m->row_owner[r] == pid)
			m->row_owner[r] = 0;
	}
}

static pid_t master_spawn(struct master *m, unsigned idx)
{
	int row = master_row_take(m);
	if (row < 0) {
		log_error("event=spawn_failed reason=\"too many draining workers\"");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_error("event=fork_failed error=\"%s\"", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int status = worker_run(m->config, m->tls, &m->listeners, idx,
					m->limits, (unsigned)row);
		_exit(status);
	}
	m->row_owner[row] = pid;
	m->workers[idx] = pid;
	m->started[idx] = time(NULL);
	return pid;
}

static void master_signal_all(struct master *m, int sig)
{
	for (unsigned i = 0; i < m->nworkers; i++) {
		if (m->workers[i] > 0)
			kill(m->workers[i], sig);
	}
	for (unsigned i = 0; i < MASTER_MAX_OLD; i++) {
		if (m->old[i] > 0)
			kill(m->old[i], sig);
	}
}

static unsigned master_alive(const struct master *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->nworkers; i++)
		n += m->workers[i] > 0;
	for (unsigned i = 0; i < MASTER_MAX_OLD; i++)
		n += m->old[i] > 0;
	return n;
}

static void master_reap(struct master *m)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool crashed = WIFSIGNALED(status) ||
			(WIFEXITED(status) && WEXITSTATUS(status) != 0);
		master_row_release(m, pid);
		for (unsigned i = 0; i < MASTER_MAX_OLD; i++) {
			if (m->old[i] == pid) {
				m->old[i] = 0;
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
			if (time(NULL) - m->started[i] < 1)
				sleep(1); /* a worker that dies at once must not spin */
			master_spawn(m, i);
		}
	}
}

static void master_reload(struct master *m)
{
	struct config *nc;
	const char *error;
	if (config_load(m->cli->data_dir, m->cli->config_file, m->cli->overrides,
			m->cli->override_count, &nc, &error) < 0) {
		log_error("event=reload_failed error=%s", log_str(error));
		return;
	}
	struct tls_ctx *ntls = tls_ctx_create(nc->tls_cert, nc->tls_key, nc->data_dir,
					      nc->hostname, &error);
	if (ntls == NULL) {
		log_error("event=reload_failed error=%s", log_str(error));
		config_free(&nc);
		return;
	}
	/* listeners stay as bound at start: changing them needs a restart */
	str_t a = STR_INIT, b = STR_INIT;
	config_dump(m->config, &a);
	config_dump(nc, &b);
	log_info("event=reload changed=%s", strcmp(str_c(&a), str_c(&b)) ? "yes" : "no");
	str_free(&a);
	str_free(&b);
	/* The old generation keeps pointers into the old config and TLS
	 * context in its own address space; the master can free its copies. */
	for (unsigned i = 0; i < m->nworkers; i++) {
		for (unsigned j = 0; j < MASTER_MAX_OLD && m->workers[i] > 0; j++) {
			if (m->old[j] == 0) {
				m->old[j] = m->workers[i];
				kill(m->workers[i], SIGUSR2); /* retire: no new connections */
				m->workers[i] = 0;
			}
		}
	}
	config_free(&m->config);
	tls_ctx_destroy(&m->tls);
	m->config = nc;
	m->tls = ntls;
	for (unsigned i = 0; i < m->nworkers; i++)
		master_spawn(m, i);
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
	if (server_prepare_data_dir(m.config, &error) < 0 ||
	    server_prepare_databases(m.config, &error) < 0 ||
	    server_listen_all(m.config, &m.listeners, &error) < 0) {
		log_error("event=start_failed error=%s", log_str(error));
		return 1;
	}
	m.tls = tls_ctx_create(m.config->tls_cert, m.config->tls_key,
			       m.config->data_dir, m.config->hostname, &error);
	if (m.tls == NULL) {
		log_error("event=start_failed error=%s", log_str(error));
		return 1;
	}
	m.limits = worker_limits_shared_create(MASTER_LIMIT_ROWS);
	if (authfail_share() < 0)
		log_warn("event=authfail_share_failed reason=\"delays per worker only\"");
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	m.nworkers = m.config->workers > 0 ? m.config->workers :
		(cores > 0 ? (unsigned)cores : 1);
	if (m.nworkers > MASTER_MAX_WORKERS)
		m.nworkers = MASTER_MAX_WORKERS;

	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* workers take SIGUSR2 through their signalfd: block it before fork */
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	signal(SIGPIPE, SIG_IGN);

	log_info("event=start hostname=%s data_dir=%s workers=%u", m.config->hostname,
		 m.config->data_dir, m.nworkers);
	for (unsigned i = 0; i < m.nworkers; i++)
		master_spawn(&m, i);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&mask, &si);
		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			master_reap(&m);
			if (m.stopping && master_alive(&m) == 0)
				break;
		} else if (sig == SIGHUP) {
			if (!m.stopping)
				master_reload(&m);
		} else {
			if (!m.stopping) {
				log_info("event=stopping signal=%d", sig);
				m.stopping = true;
				master_signal_all(&m, SIGTERM);
			}
			if (master_alive(&m) == 0)
				break;
		}
	}
	server_listen_close(&m.listeners);
	worker_limits_shared_destroy(&m.limits);
	tls_ctx_destroy(&m.tls);
	config_free(&m.config);
	log_info("event=stopped");
	return 0;
}
