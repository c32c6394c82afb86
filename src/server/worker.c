/* worker.c: one unprivileged process running one event loop for every
 * connection of every service. Accepts with connection limits (total and
 * per client address), hands each connection to its protocol's session,
 * and on SIGTERM stops accepting, lets sessions finish, then exits.
 * Out of descriptors, it pauses accepting rather than spin on a listener
 * that stays readable. Retired after a reload (SIGUSR2), it serves its
 * sessions for at most retire_timeout, then drains. It gets SIGTERM when
 * the master dies.
 *
 * It talks to the master over its typed channel (lib/channel.h): HELLO
 * first, then MAILBOX_CHANGED for every change its store commits
 * (store_watch.h's publish hook); the master's MAILBOX_CHANGED from other
 * workers wake this worker's watchers. Every change seen is logged
 * (event=mailbox_changed from=local|peer) until IMAP IDLE watches. */
#include "server.h"
#include "worker_limits.h"
#include "server_sandbox.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/ioloop.h"
#include "lib/channel.h"
#include "lib/threadpool.h"
#include "lib/mem.h"
#include "lib/log.h"
#include "store/store.h"
#include "store/store_committer.h"
#include "store/store_watch.h"
#include "session/session_user.h"
#include "queue/queue.h"
#include "smtp/smtp_session.h"
#include "pop3/pop3_session.h"
#include "imap/imap_session.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define WORKER_DRAIN_MAX_MS 60000
#define WORKER_HASH_THREADS 2
/* fsync-bound: more threads, more deliveries share a journal commit */
#define WORKER_DELIVERY_THREADS 8
/* one: see worker_main()'s mallopt() */
#define WORKER_MALLOC_ARENAS 1
/* out of descriptors (or kernel memory): stop accepting this long */
#define WORKER_ACCEPT_PAUSE_MS 200
/* and say so at most once per this interval */
#define WORKER_ACCEPT_LOG_MS 1000

struct worker_listener {
	struct worker *worker;
	struct listener *listener;
	struct io *io;
};

static struct worker_listener wlisteners[SERVER_MAX_LISTENERS];
static unsigned wlistener_count;
static struct io *signal_io;
static int signal_fd = -1;
static struct timeout *drain_to;
static struct timeout *retire_to;
static struct timeout *accept_pause_to;
static unsigned accept_failures; /* since the last accept_failed line */
static uint64_t accept_logged_ms;
static struct worker_limits *limits;
static struct channel *master_chan;
static struct store_watch *log_watch;

/* The services a worker answers, by the listener's service: each starts
 * its protocol's session. Names are service_name()'s; draining is the
 * session base's (session_drain_all()), through each session's vfuncs. */
struct worker_service {
	void (*create)(const struct session_env *env, int fd, enum service service,
		       const char *peer_ip);
};

static const struct worker_service worker_services[SERVICE_COUNT] = {
	[SERVICE_SMTP] = { smtp_session_create },
	[SERVICE_SUBMISSION] = { smtp_session_create },
	[SERVICE_SUBMISSIONS] = { smtp_session_create },
	[SERVICE_POP3] = { pop3_session_create },
	[SERVICE_POP3S] = { pop3_session_create },
	[SERVICE_IMAP] = { imap_session_create },
	[SERVICE_IMAPS] = { imap_session_create },
};

/* Refuse politely: RFC 5321 3.1 allows a 421 greeting when busy; a POP3
 * client gets -ERR (RFC 2449 8.1.2: [SYS/TEMP]), an IMAP client a BYE
 * greeting (RFC 9051 7.1.5, RFC 5530 UNAVAILABLE). Under implicit TLS it
 * cannot be read, but the close says as much. */
static void refuse(int fd, enum service service, const char *why)
{
	bool pop3 = service == SERVICE_POP3 || service == SERVICE_POP3S;
	bool imap = service == SERVICE_IMAP || service == SERVICE_IMAPS;
	const char *msg = pop3 ? t_printf("-ERR [SYS/TEMP] %s, try again later\r\n", why) :
		imap ? t_printf("* BYE [UNAVAILABLE] %s, try again later\r\n", why) :
		t_printf("421 4.3.2 %s, try again later\r\n", why);
	ssize_t w = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)w;
	close(fd);
}

/* Every worker polls the same listening sockets. One accept per wakeup:
 * a worker that took a whole burst (10 POP3 clients arriving together,
 * say) would serve it alone while the other cores idle; taking one and
 * going back to epoll lets the other workers, and the least busy first,
 * take the rest. The listening socket is level-triggered, so nothing
 * waits longer than one loop iteration. */
#define WORKER_ACCEPTS_PER_WAKEUP 1

static void worker_on_accept(void *ctx);

static void worker_accept_resume(void *ctx)
{
	struct worker *worker = ctx;
	timeout_remove(&accept_pause_to);
	for (unsigned i = 0; i < wlistener_count; i++) {
		struct worker_listener *wl = &wlisteners[i];
		if (wl->io == NULL && wl->listener->fd >= 0)
			wl->io = io_add(worker->loop, wl->listener->fd, IO_READ,
					worker_on_accept, wl);
	}
}

/* accept4 failed. EMFILE and friends leave the connection queued and the
 * listener readable: accepting again at once would spin (one worker burnt
 * 9 CPU-seconds in 10 s and logged 5 million lines). Pause every listener
 * instead; sessions closing meanwhile free descriptors. */
static void worker_accept_failed(struct worker *worker, int error)
{
	if (error == EAGAIN || error == EINTR || error == ECONNABORTED)
		return;
	accept_failures++;
	uint64_t now = ioloop_now_ms(worker->loop);
	if (accept_logged_ms == 0 || now - accept_logged_ms >= WORKER_ACCEPT_LOG_MS) {
		log_error("event=accept_failed error=\"%s\" failures=%u connections=%u",
			  strerror(error), accept_failures, worker->connections);
		accept_failures = 0;
		accept_logged_ms = now;
	}
	if (error != EMFILE && error != ENFILE && error != ENOBUFS && error != ENOMEM)
		return;
	if (accept_pause_to != NULL)
		return;
	for (unsigned i = 0; i < wlistener_count; i++)
		io_remove(&wlisteners[i].io);
	accept_pause_to = timeout_add(worker->loop, WORKER_ACCEPT_PAUSE_MS,
				      worker_accept_resume, worker);
}

static void worker_on_accept(void *ctx)
{
	struct worker_listener *wl = ctx;
	struct worker *worker = wl->worker;
	for (unsigned i = 0; i < WORKER_ACCEPTS_PER_WAKEUP; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(wl->listener->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			worker_accept_failed(worker, errno);
			return;
		}
		/* Replies leave in whole buffers (the conn layer joins them), so
		 * Nagle only ever holds a reply's last segment for the client's
		 * delayed ACK: 40 ms for the greeting after a TLS handshake whose
		 * session tickets are still unacknowledged, and for the tail of
		 * a streamed FETCH or RETR. */
		if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
			int one = 1;
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		char ip[INET6_ADDRSTRLEN];
		conn_addr_text(&ss, ip, sizeof(ip));
		if (worker->connections >= worker->config->max_connections) {
			log_warn("event=connection_refused ip=%s reason=max_connections", ip);
			refuse(fd, wl->listener->service, "Too many connections");
			continue;
		}
		if (!worker_limits_acquire(limits, ip, worker->config->max_connections_per_ip)) {
			log_warn("event=connection_refused ip=%s reason=max_connections_per_ip", ip);
			refuse(fd, wl->listener->service, "Too many connections from your address");
			continue;
		}
		worker->connections++;
		enum service service = wl->listener->service;
		worker_services[service].create(&worker->env, fd, service, ip);
	}
}

static void worker_session_ended(void *ctx, const char *peer_ip)
{
	struct worker *worker = ctx;
	worker_limits_release(limits, peer_ip);
	worker->connections--;
	if ((worker->draining || worker->retiring) && worker->connections == 0)
		ioloop_stop(worker->loop);
}

/* A fresh session id: "<pid base36><counter base36>", unique per host run */
static const char *worker_session_id(void *ctx)
{
	struct worker *worker = ctx;
	static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	char buf[32];
	size_t n = 0;
	unsigned long long v = ((unsigned long long)getpid() << 32) |
		(++worker->session_counter & 0xffffffffu);
	do {
		buf[n++] = digits[v % 36];
		v /= 36;
	} while (v > 0 && n < sizeof(buf));
	char *out = pool_alloc(pool_temp(), n + 1);
	for (size_t i = 0; i < n; i++)
		out[i] = buf[n - 1 - i];
	return out;
}

static void worker_on_drain_deadline(void *ctx)
{
	struct worker *worker = ctx;
	timeout_remove(&drain_to);
	log_warn("event=drain_deadline connections=%u", worker->connections);
	ioloop_stop(worker->loop);
}

static void worker_stop_accepting(void)
{
	timeout_remove(&accept_pause_to);
	for (unsigned i = 0; i < wlistener_count; i++) {
		io_remove(&wlisteners[i].io);
		if (wlisteners[i].listener->fd >= 0) {
			close(wlisteners[i].listener->fd);
			wlisteners[i].listener->fd = -1;
		}
	}
}

static void worker_start_drain(struct worker *worker);

/* retire_timeout passed: what is left is closed as on SIGTERM (421 or
 * -ERR to idle sessions, transactions finish within the drain deadline). */
static void worker_on_retire_deadline(void *ctx)
{
	struct worker *worker = ctx;
	timeout_remove(&retire_to);
	log_info("event=retire_deadline connections=%u", worker->connections);
	worker_start_drain(worker);
}

/* SIGUSR2 from the master after a reload: a new generation accepts now;
 * this one serves its sessions until their clients leave (or time out),
 * so a reload drops no connection. */
static void worker_start_retire(struct worker *worker)
{
	if (worker->draining || worker->retiring)
		return;
	worker->retiring = true;
	worker_stop_accepting();
	log_info("event=retire connections=%u", worker->connections);
	if (worker->connections == 0)
		ioloop_stop(worker->loop);
	else
		retire_to = timeout_add(worker->loop, worker->config->retire_timeout * 1000,
					worker_on_retire_deadline, worker);
}

static void worker_start_drain(struct worker *worker)
{
	if (worker->draining)
		return;
	worker->draining = true;
	worker_stop_accepting();
	log_info("event=drain connections=%u", worker->connections);
	session_drain_all();
	if (worker->connections == 0)
		ioloop_stop(worker->loop);
	else
		drain_to = timeout_add(worker->loop, WORKER_DRAIN_MAX_MS,
				       worker_on_drain_deadline, worker);
}

static void worker_on_signal(void *ctx)
{
	struct worker *worker = ctx;
	struct signalfd_siginfo si;
	while (read(signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			worker_start_drain(worker);
		else if (si.ssi_signo == SIGUSR2)
			worker_start_retire(worker);
		/* SIGHUP is the master's: it starts a new generation */
	}
}

/* A change this worker's store committed: the other workers hear of it
 * through the master. */
static void worker_publish_change(const char *user, const char *mailbox,
				  uint64_t modseq, void *ctx)
{
	struct channel_msg msg = { .type = CHANNEL_MSG_MAILBOX_CHANGED, .modseq = modseq };
	const char *error;
	if (master_chan == NULL)
		return;
	if (strlen(user) > CHANNEL_STR_MAX || strlen(mailbox) > CHANNEL_STR_MAX ||
	    snprintf(msg.user, sizeof(msg.user), "%s", user) < 0 ||
	    snprintf(msg.mailbox, sizeof(msg.mailbox), "%s", mailbox) < 0 ||
	    channel_send(master_chan, &msg, &error) < 0)
		log_warn("event=channel_send_failed type=mailbox_changed user=%s error=%s",
			 log_str(user), master_chan == NULL ? "\"closed\"" : log_str(error));
}

/* An entry this worker queued: the master wakes the queue runner. */
static void worker_queue_committed(void *ctx, const char *queue_id)
{
	struct channel_msg msg = { .type = CHANNEL_MSG_QUEUE_ENTRY_COMMITTED };
	const char *error = "\"closed\"";
	if (master_chan == NULL ||
	    snprintf(msg.queue_id, sizeof(msg.queue_id), "%s", queue_id) < 0 ||
	    channel_send(master_chan, &msg, &error) < 0)
		log_warn("event=channel_send_failed type=queue_entry_committed queue_id=%s "
			 "error=%s", queue_id, master_chan == NULL ? error : log_str(error));
}

/* Until IMAP IDLE watches mailboxes, every change seen is logged: what
 * the end-to-end test of the path reads. */
static void worker_log_change(const char *user, const char *mailbox, uint64_t modseq,
			      bool from_peer, void *ctx)
{
	log_info("event=mailbox_changed user=%s mailbox=%s modseq=%llu from=%s",
		 log_str(user), log_str(mailbox), (unsigned long long)modseq,
		 from_peer ? "peer" : "local");
}

static void worker_on_channel_msg(const struct channel_msg *msg, void *ctx)
{
	switch (msg->type) {
	case CHANNEL_MSG_MAILBOX_CHANGED:
		store_watch_peer_changed(msg->user, msg->mailbox, msg->modseq);
		break;
	case CHANNEL_MSG_HELLO:
	case CHANNEL_MSG_QUEUE_ENTRY_COMMITTED:
		log_warn("event=channel_unexpected type=%s", channel_msg_type_name(msg->type));
		break;
	}
}

/* The master went (it takes the worker with it: PR_SET_PDEATHSIG) or
 * sent a malformed frame: either way, no more news from other workers. */
static void worker_on_channel_closed(const char *reason, void *ctx)
{
	if (strcmp(reason, "peer closed") == 0)
		log_warn("event=channel_closed reason=master_gone");
	else
		log_error("event=channel_closed error=%s", log_str(reason));
	channel_destroy(&master_chan);
}

int worker_run(const struct config *config, struct tls_ctx *tls,
	       struct listener_set *listeners, const struct child_start *start,
	       struct worker_limits_shared *shared_limits, unsigned limits_row)
{
	unsigned worker_index = start->index;
	pid_t master_pid = start->master_pid;
	const char *error;
	log_set_proc("worker");
	/* the sandbox before the thread pools: Landlock binds only the
	 * calling thread and the threads it starts afterwards. SIGTERM when
	 * the master dies closes the listeners at once, so a new master can
	 * bind, then drains. */
	int ret = server_child_enter(config, master_pid, "worker");
	if (ret <= 0)
		return ret < 0 ? 1 : 0;
	struct worker worker = { .config = config, .tls = tls };
	/* glibc gives each pool thread its own malloc arena: what a lane
	 * job leaves for a session (its mailbox view) is then spread over
	 * up to ten arenas, each keeping its own free holes. Two arenas cut
	 * that (about 1 KiB per idle IMAP connection, issue 9 item 15); one
	 * cuts more: in the second arena the views a lane opens sit among
	 * the blocks of the SQLite handles it later closes, and the pool
	 * threads' tcaches keep freed blocks there too, so a few live
	 * blocks per page keep most of a user's closed handle resident
	 * (malloc_info: 9.8 of 10.6 MB free, 3.1 MB resident, at 1,000
	 * idle connections over 100 users), while in the one arena the
	 * next connections fill those holes. bench/imap_idle.py at 10,000
	 * connections, three pairs side by side (one arena vs two): 16.5 vs
	 * 16.9, 16.4 vs 16.7, 16.7 vs 16.6 KiB per connection (full PSS
	 * -3.8, -3.0, +0.1 MiB): ~0.2 KiB less on average, within the
	 * bench's run-to-run spread. The cost: the loop and the pool
	 * threads take one arena lock (each thread's tcache still serves
	 * most small blocks without it); on two cores the contention is
	 * small: bench/imap.py with one arena ran at 4.27x Dovecot (session 9).
	 * SQLite's blocks have since left the arenas for a zone of their own
	 * (lib/sqlite_mem.h), so closed handles no longer pin its pages. */
	mallopt(M_ARENA_MAX, WORKER_MALLOC_ARENAS);
	worker.loop = ioloop_create();
	worker.pool = threadpool_create(worker.loop, WORKER_HASH_THREADS);
	worker.delivery_pool = threadpool_create(worker.loop, WORKER_DELIVERY_THREADS);
	store_expunge_log_limits(config->expunge_log_days, config->expunge_log_max);
	if (store_open(config->data_dir, &worker.store, &error) < 0 ||
	    queue_open(config->data_dir, &worker.queue, &error) < 0 ||
	    store_committer_create(config->data_dir, &worker.committer, &error) < 0) {
		log_error("event=worker_start_failed error=%s", log_str(error));
		return 1;
	}
	worker.env = (struct session_env){
		.loop = worker.loop, .config = config, .tls = tls,
		.hash_pool = worker.pool, .delivery_pool = worker.delivery_pool,
		.committer = worker.committer,
		.new_id = worker_session_id, .ended = worker_session_ended,
		.queue_committed = worker_queue_committed, .ctx = &worker,
	};
	worker.env.users = session_user_cache_create(&worker.env);
	limits = worker_limits_create(shared_limits, limits_row);

	master_chan = channel_create(worker.loop, start->channel_fd, worker_on_channel_msg,
				     worker_on_channel_closed, &worker);
	struct channel_msg hello = { .type = CHANNEL_MSG_HELLO, .kind = CHILD_WORKER,
				     .generation = start->generation };
	if (channel_send(master_chan, &hello, &error) < 0)
		log_error("event=channel_send_failed type=hello error=%s", log_str(error));
	store_watch_attach(worker.loop, worker_publish_change, &worker);
	log_watch = store_watch_add(NULL, NULL, worker_log_change, &worker);

	signal_fd = server_child_signalfd();
	signal_io = io_add(worker.loop, signal_fd, IO_READ, worker_on_signal, &worker);

	wlistener_count = listeners->count;
	for (unsigned i = 0; i < listeners->count; i++) {
		wlisteners[i].worker = &worker;
		wlisteners[i].listener = &listeners->items[i];
		wlisteners[i].io = io_add(worker.loop, listeners->items[i].fd, IO_READ,
					  worker_on_accept, &wlisteners[i]);
	}
	log_info("event=worker_started index=%u generation=%u", worker_index,
		 start->generation);
	ioloop_run(worker.loop);
	log_info("event=worker_exit index=%u connections=%u", worker_index,
		 worker.connections);
	/* sessions still alive at the deadline die with the process */
	timeout_remove(&drain_to);
	timeout_remove(&retire_to);
	timeout_remove(&accept_pause_to);
	io_remove(&signal_io);
	close(signal_fd);
	/* users' lanes finish and close their handles on the pool, while
	 * the change channel still carries what they commit */
	session_user_cache_destroy(&worker.env.users);
	store_watch_remove(&log_watch);
	store_watch_detach();
	channel_destroy(&master_chan);
	threadpool_destroy(&worker.pool);
	threadpool_destroy(&worker.delivery_pool);
	store_committer_destroy(&worker.committer);
	queue_close(&worker.queue);
	store_close(&worker.store);
	worker_limits_destroy(&limits);
	ioloop_destroy(&worker.loop);
	return 0;
}
