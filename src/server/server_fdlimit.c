/* server_fdlimit.c: make the descriptor limit fit max_connections.
 *
 * The master calls server_fit_fd_limit() before forking (workers inherit
 * the limit) and again for each reloaded configuration. It raises the soft
 * RLIMIT_NOFILE as far as the hard limit allows. It never raises the hard
 * limit, even as root: that is the administrator's ceiling (ulimit -Hn,
 * systemd's LimitNOFILE). When the hard limit is too low, max_connections
 * is lowered to what fits and a warning says so, as Dovecot warns: a
 * worker that runs out of descriptors refuses nobody politely, it can
 * only stop accepting (worker.c pauses on EMFILE). */
#include "server.h"
#include "lib/config.h"
#include "lib/log.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

/* A connection holds its socket and, during DATA or a POP3 session, one
 * file more (spool file, message being read). */
#define FD_PER_CONNECTION 2
/* stdio, epoll, signalfd, eventfds, accounts.db/queue/index SQLite files
 * (3 each: db, -wal, -shm) cached by the delivery threads, log files */
#define FD_RESERVE 256

void server_fit_fd_limit(struct config *config, unsigned listeners)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warn("event=fd_limit_unknown error=\"%s\"", strerror(errno));
		return;
	}
	rlim_t need = (rlim_t)config->max_connections * FD_PER_CONNECTION +
		FD_RESERVE + listeners;
	if (rl.rlim_cur < need && rl.rlim_cur != RLIM_INFINITY) {
		rlim_t old = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ?
			need : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warn("event=fd_limit_raise_failed error=\"%s\"", strerror(errno));
			if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
				return;
		} else {
			log_info("event=fd_limit_raised from=%llu to=%llu",
				 (unsigned long long)old, (unsigned long long)rl.rlim_cur);
		}
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return;
	rlim_t room = rl.rlim_cur > FD_RESERVE + listeners ?
		rl.rlim_cur - FD_RESERVE - listeners : 0;
	unsigned fit = (unsigned)(room / FD_PER_CONNECTION);
	if (fit == 0)
		fit = 1;
	log_warn("event=fd_limit_low limit=%llu needed=%llu max_connections=%u "
		 "configured=%u hint=\"raise the hard limit: ulimit -Hn, LimitNOFILE\"",
		 (unsigned long long)rl.rlim_cur, (unsigned long long)need, fit,
		 config->max_connections);
	config->max_connections = fit;
}
