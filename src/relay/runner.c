/* runner.c: the queue runner process (runner.h): start-up, the channel
 * from the master, signals, the queue scan and the wake timer. */
#include "relay/runner.h"
#include "relay/runner_private.h"
#include "relay/runner_mtasts.h"
#include "server/server.h"
#include "server/server_sandbox.h"
#include "auth/userdb.h"
#include "dns/dns.h"
#include "lib/channel.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/mem.h"
#include "lib/proctitle.h"
#include "lib/threadpool.h"
#include "lib/log.h"
#include "store/store_committer.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* a stuck remote cannot hold a stop for ever */
#define RUNNER_DRAIN_MAX_MS 60000
/* at most this long between two scans, whatever the schedule says */
#define RUNNER_SCAN_MAX_SECS 3600
#define RUNNER_TLS_CACHE 256

static struct channel *master_chan;
static int signal_fd = -1;
static struct io *signal_io;
static struct timeout *drain_to;

static void runner_maybe_stop(struct runner *r)
{
	if (r->draining && r->entries == NULL)
		ioloop_stop(r->loop);
}

static void runner_scan(struct runner *r);

static void runner_on_wake(void *ctx)
{
	struct runner *r = ctx;
	timeout_remove(&r->wake_to);
	r->wake_at = 0;
	runner_scan(r);
}

void runner_wake_at(struct runner *r, time_t when)
{
	if (r->draining || when == 0)
		return;
	if (r->wake_to != NULL && r->wake_at <= when)
		return;
	timeout_remove(&r->wake_to);
	time_t now = time(NULL);
	time_t wait = when > now ? when - now : 0;
	if (wait > RUNNER_SCAN_MAX_SECS)
		wait = RUNNER_SCAN_MAX_SECS;
	r->wake_at = now + wait;
	/* a second late rather than early: due times are in whole seconds */
	r->wake_to = timeout_add(r->loop, (unsigned)wait * 1000 + (wait > 0 ? 50 : 0),
				 runner_on_wake, r);
}

static void backlog_push(struct runner *r, const char *id)
{
	if (r->backlog_count == r->backlog_size) {
		r->backlog_size = r->backlog_size ? r->backlog_size * 2 : 256;
		r->backlog = xrealloc(r->backlog, r->backlog_size * sizeof(r->backlog[0]));
	}
	(void)snprintf(r->backlog[r->backlog_count++], sizeof(r->backlog[0]), "%s", id);
}

/* Take backlog entries in hand while there is room. */
static void backlog_run(struct runner *r)
{
	while (!r->draining && r->in_hand < r->in_hand_max &&
	       r->backlog_at < r->backlog_count)
		(void)runner_entry_start(r, r->backlog[r->backlog_at++]);
	if (r->backlog_count > 0 && r->backlog_at == r->backlog_count) {
		r->backlog_at = r->backlog_count = 0;
		/* a burst is all in hand: one more scan soon finds anything it
		 * missed (a wake that came while the backlog was full is in it,
		 * but a second safety net costs one directory read a burst) */
		runner_wake_at(r, time(NULL) + 1);
	}
}

void runner_entry_want(struct runner *r, const char *id)
{
	if (r->in_hand < r->in_hand_max && r->backlog_count == 0)
		(void)runner_entry_start(r, id);
	else
		backlog_push(r, id);
}

void runner_entry_finished(struct runner *r, struct runner_entry *e, time_t due)
{
	(void)e;
	if (due != 0)
		runner_wake_at(r, due);
	backlog_run(r);
	runner_maybe_stop(r);
}

/* Every entry: start the due ones, wake for the earliest other. */
static void runner_scan(struct runner *r)
{
	if (r->draining)
		return;
	pool_t *pool = pool_create(16384);
	struct queue_entry_info *entries;
	unsigned count;
	const char *error;
	time_t now = time(NULL), next = 0;
	if (queue_list(r->queue, pool, &entries, &count, &error) < 0) {
		log_error("event=relay_scan_failed error=%s", log_str(error));
		next = now + 60;
		count = 0;
	}
	unsigned due_count = 0;
	/* the scan lists every due entry afresh; they are taken in hand as
	 * room allows (in_hand_max), the rest when others finish */
	r->backlog_at = r->backlog_count = 0;
	for (unsigned i = 0; i < count; i++) {
		if (runner_entry_busy(r, entries[i].id))
			continue;
		time_t due = runner_entry_due(&entries[i].env, now);
		if (due != 0 && due <= now) {
			backlog_push(r, entries[i].id);
			due_count++;
		} else if (due != 0 && (next == 0 || due < next))
			next = due;
	}
	backlog_run(r);
	log_debug("event=relay_scan entries=%u due=%u in_hand=%u next_in=%lld", count,
		  due_count, r->in_hand, next != 0 ? (long long)(next - now) : -1LL);
	pool_destroy(&pool);
	runner_wake_at(r, next != 0 ? next : now + RUNNER_SCAN_MAX_SECS);
}

static void runner_on_renew(void *ctx)
{
	struct runner *r = ctx;
	timeout_remove(&r->renew_to);
	runner_entries_renew(r, time(NULL));
	r->renew_to = timeout_add(r->loop, r->lease_secs * 1000 / 3, runner_on_renew, r);
}

static void runner_on_drain_deadline(void *ctx)
{
	struct runner *r = ctx;
	log_warn("event=runner_drain_timeout entries=%s", r->entries ? "left" : "none");
	ioloop_stop(r->loop);
}

static void runner_drain(struct runner *r)
{
	if (r->draining)
		return;
	r->draining = true;
	log_info("event=runner_draining");
	timeout_remove(&r->wake_to);
	runner_reuse_close_all(r, true);
	runner_attempts_abandon_waiting(r);
	drain_to = timeout_add(r->loop, RUNNER_DRAIN_MAX_MS, runner_on_drain_deadline, r);
	runner_maybe_stop(r);
}

static void runner_on_signal(void *ctx)
{
	struct runner *r = ctx;
	struct signalfd_siginfo si;
	while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT ||
		    si.ssi_signo == SIGUSR2)
			runner_drain(r);
		else if (si.ssi_signo == SIGUSR1) /* postel queue flush etc. */
			runner_scan(r);
	}
}

static void runner_on_channel_msg(const struct channel_msg *msg, void *ctx)
{
	struct runner *r = ctx;
	if (msg->type != CHANNEL_MSG_QUEUE_ENTRY_COMMITTED) {
		log_warn("event=channel_unexpected type=%s", channel_msg_type_name(msg->type));
		return;
	}
	if (!queue_id_is_valid(msg->queue_id)) {
		log_error("event=channel_error error=\"bad queue id\"");
		return;
	}
	log_debug("event=relay_wake queue_id=%s", msg->queue_id);
	runner_entry_want(r, msg->queue_id);
}

static void runner_on_channel_closed(const char *reason, void *ctx)
{
	struct runner *r = ctx;
	log_warn("event=channel_closed reason=%s", log_str(reason));
	channel_destroy(&master_chan);
	runner_drain(r); /* the master is gone */
}

static int runner_open(struct runner *r, const struct config *config, const char **error_r)
{
	struct dns_settings dset = { .resolver = config->dns_resolver,
				     .trust_anchor = config->dns_trust_anchor };
	if (queue_open(config->data_dir, &r->queue, error_r) < 0 ||
	    userdb_open(config->data_dir, &r->userdb, error_r) < 0 ||
	    store_committer_create(config->data_dir, &r->committer, error_r) < 0 ||
	    dns_resolver_create(r->loop, &dset, &r->dns, error_r) < 0)
		return -1;
	r->io = threadpool_create(r->loop, RUNNER_IO_THREADS);
	r->io_finish = threadpool_create(r->loop, RUNNER_IO_FINISH_THREADS);
	r->tls = conn_tls_client_create(NULL, RUNNER_TLS_CACHE, error_r);
	if (r->tls == NULL)
		return -1;
	r->mtasts = runner_mtasts_create(r, error_r);
	return r->mtasts != NULL ? 0 : -1;
}

static void runner_close(struct runner *r)
{
	threadpool_destroy(&r->io); /* its jobs finish first */
	threadpool_destroy(&r->io_finish);
	free(r->backlog);
	runner_smarthost_close(&r->smarthost);
	runner_mtasts_destroy(&r->mtasts);
	dns_resolver_destroy(&r->dns);
	conn_tls_client_destroy(&r->tls);
	if (r->committer != NULL)
		store_committer_destroy(&r->committer);
	if (r->userdb != NULL)
		userdb_close(&r->userdb);
	if (r->queue != NULL)
		queue_close(&r->queue);
}

int runner_run(const struct config *config, const struct child_start *start)
{
	const char *error;
	log_set_proc("runner");
	/* the process title ps shows: args in full, comm holds 15 bytes */
	proctitle_set("postel: queue runner");
	(void)prctl(PR_SET_NAME, "postel: runner", 0, 0, 0);
	struct runner r = { .config = config };
	/* before the sandbox: the relayhost's password and CA files lie
	 * outside the data directory */
	if (runner_smarthost_open(config, &r.smarthost, &error) < 0) {
		log_error("event=runner_start_failed error=%s", log_str(error));
		return 1;
	}
	int entered = server_child_enter(config, start->master_pid, "runner");
	if (entered <= 0) {
		runner_smarthost_close(&r.smarthost);
		return entered < 0 ? 1 : 0;
	}
	r.loop = ioloop_create();
	(void)snprintf(r.owner, sizeof(r.owner), "runner-%ld", (long)getpid());
	r.sched = (struct queue_schedule){
		.retry_min = config->queue_retry_min, .retry_max = config->queue_retry_max,
		.lifetime = config->queue_lifetime,
		.delay_warning = config->delay_warning_time,
	};
	r.slots.max_total = config->relay_max_connections;
	r.slots.max_per_domain = config->relay_max_per_domain;
	r.lease_secs = RUNNER_LEASE_SECS;
	/* enough to keep every connection busy, not the whole queue leased */
	r.in_hand_max = config->relay_max_connections * 2;
	if (r.in_hand_max > RUNNER_IN_HAND_MAX)
		r.in_hand_max = RUNNER_IN_HAND_MAX;
	smtp_client_settings_from_config(&r.client_set, config);
	r.client_set.helo_name = config->hostname;
	int status = 0;
	if (runner_open(&r, config, &error) < 0) {
		log_error("event=runner_start_failed error=%s", log_str(error));
		runner_close(&r);
		ioloop_destroy(&r.loop);
		close(start->channel_fd);
		return 1;
	}
	master_chan = channel_create(r.loop, start->channel_fd, runner_on_channel_msg,
				     runner_on_channel_closed, &r);
	struct channel_msg hello = { .type = CHANNEL_MSG_HELLO, .kind = CHILD_QUEUE_RUNNER,
				     .generation = start->generation };
	if (channel_send(master_chan, &hello, &error) < 0)
		log_error("event=channel_send_failed type=hello error=%s", log_str(error));
	signal_fd = server_child_signalfd();
	signal_io = io_add(r.loop, signal_fd, IO_READ, runner_on_signal, &r);
	if (queue_wake_publish(config->data_dir, getpid(), &error) < 0)
		log_warn("event=runner_wake_publish_failed error=%s", log_str(error));
	log_info("event=runner_started pid=%ld generation=%u owner=%s", (long)getpid(),
		 start->generation, r.owner);
	r.renew_to = timeout_add(r.loop, r.lease_secs * 1000 / 3, runner_on_renew, &r);
	runner_scan(&r);
	ioloop_run(r.loop);
	log_info("event=runner_exit attempts=%llu", r.attempts);
	timeout_remove(&drain_to);
	timeout_remove(&r.wake_to);
	timeout_remove(&r.renew_to);
	runner_reuse_close_all(&r, false);
	io_remove(&signal_io);
	close(signal_fd);
	channel_destroy(&master_chan);
	runner_close(&r);
	ioloop_destroy(&r.loop);
	return status;
}
