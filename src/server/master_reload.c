/* master_reload.c: SIGHUP in the master (master_private.h). The
 * configuration and certificates are read again; if they load, every
 * current worker is retired (SIGUSR2: it stops accepting and serves its
 * sessions until their clients leave or retire_timeout passes) and a new
 * generation is spawned in the same slots, so no connection is dropped
 * early. A failed load logs and keeps the running generation.
 *
 * A new generation needs a row of the shared per-address counts per
 * worker before it starts: when rows run short the oldest retiring
 * workers are told to stop now (SIGTERM) and the reload waits for them
 * (reload_pending, finished by master.c's reaper). At most
 * MASTER_MAX_RETIRING retiring workers keep serving. */
#include "master_private.h"
#include "relay/smarthost.h"
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/tls.h"
#include "lib/log.h"
#include "lib/str.h"

#include <signal.h>
#include <string.h>

unsigned master_retiring_count(const struct master *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < MASTER_LIMIT_ROWS; i++)
		n += m->retiring[i].pid > 0;
	return n;
}

/* Moves a current worker to the retiring table and tells it to stop
 * accepting. A slot is always free: each live process holds a row. */
static void master_retire(struct master *m, unsigned idx)
{
	for (unsigned j = 0; j < MASTER_LIMIT_ROWS; j++) {
		if (m->retiring[j].pid != 0)
			continue;
		m->retiring[j] = (struct master_retiring){
			.pid = m->workers[idx], .seq = ++m->retire_seq };
		kill(m->workers[idx], SIGUSR2); /* retire: no new connections */
		m->workers[idx] = 0;
		return;
	}
	panic("event=retiring_table_full pid=%d", (int)m->workers[idx]);
}

/* Keeps `want` rows free for the next generation, counting rows that
 * stopped workers will give back: the oldest retiring workers are told to
 * drain now (SIGTERM: idle sessions closed at once, transactions finish).
 * At most MASTER_MAX_RETIRING keep serving. Returns whether `want` rows
 * are free right now. */
static bool master_make_room(struct master *m, unsigned want)
{
	unsigned free_rows = master_rows_free(m);
	unsigned coming = 0, active = 0;
	for (unsigned i = 0; i < MASTER_LIMIT_ROWS; i++) {
		if (m->retiring[i].pid > 0 && m->retiring[i].stopped)
			coming++;
		else if (m->retiring[i].pid > 0)
			active++;
	}
	while ((free_rows + coming < want || active > MASTER_MAX_RETIRING) && active > 0) {
		struct master_retiring *oldest = NULL;
		for (unsigned i = 0; i < MASTER_LIMIT_ROWS; i++) {
			struct master_retiring *r = &m->retiring[i];
			if (r->pid > 0 && !r->stopped && (oldest == NULL || r->seq < oldest->seq))
				oldest = r;
		}
		oldest->stopped = true;
		kill(oldest->pid, SIGTERM);
		log_warn("event=retiring_stopped pid=%d reason=\"too many retiring workers\"",
			 (int)oldest->pid);
		coming++;
		active--;
	}
	return free_rows >= want;
}

void master_reload(struct master *m)
{
	/* a new generation needs a row per worker before the old one retires */
	if (!master_make_room(m, m->nworkers)) {
		if (!m->reload_pending)
			log_warn("event=reload_deferred retiring=%u reason=\"waiting for "
				 "retiring workers to exit\"", master_retiring_count(m));
		m->reload_pending = true;
		return;
	}
	m->reload_pending = false;
	struct config *nc;
	const char *error;
	if (config_load(m->cli->data_dir, m->cli->config_file, m->cli->overrides,
			m->cli->override_count, &nc, &error) < 0) {
		log_error("event=reload_failed error=%s", log_str(error));
		return;
	}
	if (smarthost_check(nc, &error) < 0) { /* the old runner goes on */
		log_error("event=reload_failed error=%s", log_str(error));
		config_free(&nc);
		return;
	}
	struct tls_ctx *ntls = tls_ctx_create(nc->tls_cert, nc->tls_key, nc->data_dir,
					      nc->hostname, &error);
	if (ntls == NULL) {
		log_error("event=reload_failed error=%s", log_str(error));
		config_free(&nc);
		return;
	}
	server_fit_fd_limit(nc, m->listeners.count);
	/* listeners stay as bound at start: changing them needs a restart */
	const char *restart = config_restart_keys(m->config, nc);
	if (restart != NULL)
		log_warn("event=reload_needs_restart keys=%s reason=\"bound or sized "
			 "at start; the old values stay until postel serve restarts\"", restart);
	str_t a = STR_INIT, b = STR_INIT;
	config_dump(m->config, &a);
	config_dump(nc, &b);
	log_info("event=reload changed=%s", strcmp(str_c(&a), str_c(&b)) ? "yes" : "no");
	str_free(&a);
	str_free(&b);
	/* The old generation keeps pointers into the old config and TLS
	 * context in its own address space; the master can free its copies. */
	for (unsigned i = 0; i < m->nworkers; i++) {
		if (m->workers[i] > 0)
			master_retire(m, i);
	}
	config_free(&m->config);
	tls_ctx_destroy(&m->tls);
	m->config = nc;
	m->tls = ntls;
	m->generation++;
	for (unsigned i = 0; i < m->nworkers; i++)
		master_spawn(m, CHILD_WORKER, i);
	master_runner_reload(&m->runner, m->config->relay);
	/* room for the next reload, and no more than MASTER_MAX_RETIRING */
	master_make_room(m, m->nworkers);
}
