/* imap_session.c: IMAP session life cycle: the connection (its limits,
 * the socket's unsent-output cap, the greeting), the events the loop
 * sends it (input, autologout, close), a draining server's BYE, and the
 * end, where what a command left is aborted and the view closed on the
 * user's lane before the session is freed. The input loop is
 * imap_input.c, commands imap_dispatch.c. */
#include "imap_session_private.h"
#include "imap/imap_commands.h"
#include "imap/imap_reply.h"
#include "imap/imap_store.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

void imap_session_bye(struct imap_session *s, const char *text)
{
	if (s->base.closing)
		return;
	imap_untagged(s, "BYE %s", text);
	s->logout_sent = true;
	session_close(&s->base);
}

bool imap_session_auth_offered(const struct imap_session *s)
{
	/* tls_started: implicit TLS whose handshake is still running (the
	 * greeting is written before it ends, but only ever goes out over TLS) */
	return conn_is_tls(s->base.conn) || s->tls_started ||
	       s->base.env->config->allow_plaintext_auth;
}

static void imap_session_destroy(struct imap_session *s)
{
	imap_append_free(s);
	session_str_set(&s->user_owned, NULL, 0);
	str_free(&s->out);
	imap_parser_destroy(&s->parser);
	session_deinit(&s->base);
	free(s);
}

static void imap_session_free(struct imap_session *s)
{
	log_info("sid=%s event=disconnect ip=%s service=%s reason=%s tls=%s user=%s commands=%u",
		 s->base.sid, s->base.peer_ip, service_name(s->base.service),
		 conn_close_reason(s->base.conn),
		 conn_is_tls(s->base.conn) ? conn_tls_version(s->base.conn) : "no",
		 s->user != NULL ? log_str(s->user) : "-", s->commands);
	imap_auth_abort(s);
	imap_fetch_abort(s);
	imap_idle_free(s);
	imap_notify_free(s);
	/* the view is closed on the user's lane, then the session ends */
	s->input = IMAP_INPUT_WAIT;
	imap_store_close(s, imap_session_destroy);
}

bool imap_session_check_gone(struct imap_session *s)
{
	if (!session_may_free(&s->base))
		return false;
	imap_session_free(s);
	return true;
}

static void imap_on_conn_event(void *ctx, enum conn_event ev)
{
	struct imap_session *s = ctx;
	switch (ev) {
	case CONN_EV_INPUT:
		imap_input_process(s);
		break;
	case CONN_EV_TIMEOUT:
		log_info("sid=%s event=timeout ip=%s", s->base.sid, s->base.peer_ip);
		/* RFC 9051 5.4: the autologout timer ran out */
		imap_session_bye(s, "Autologout; idle for too long");
		break;
	case CONN_EV_CLOSED:
		session_login_abandon(&s->base, &s->login);
		if (session_on_closed(&s->base))
			imap_session_free(s);
		break;
	}
}

static void imap_session_drain(struct session *base)
{
	struct imap_session *s = (struct imap_session *)base;
	/* a command in flight answers first; imap_check_drain() (imap_input.c)
	 * then ends it; an IDLE ends at once (RFC 2177: the server may end it) */
	if (s->input == IMAP_INPUT_IDLE ||
	    (s->input != IMAP_INPUT_WAIT && s->cmd.tag == NULL)) {
		imap_auth_abort(s);
		imap_session_bye(s, "[UNAVAILABLE] Server shutting down");
	}
}

static void imap_session_login_timeout(struct session *base)
{
	struct imap_session *s = (struct imap_session *)base;
	imap_untagged(s, "BYE Login timeout; closing connection");
	s->logout_sent = true;
}

static void imap_session_request_timeout(struct session *base)
{
	(void)base; /* IMAP starts no request deadline */
}

/* Unsent octets the kernel may hold for one IMAP connection, set once
 * per connection: IDLE, NOTIFY and a large FETCH all push through it.
 * Without a cap the send buffer autotunes up to net.ipv4.tcp_wmem's
 * maximum (4 MiB here): a client that stops reading would have
 * megabytes of stale pushes queued where no catch-up can reach them.
 * Octets in flight are not counted, so a reading client's throughput is
 * unchanged. */
#define IMAP_NOTSENT_LOWAT (32 * 1024)

static void imap_session_socket_init(int fd)
{
	int lowat = IMAP_NOTSENT_LOWAT;
	/* best effort: not a TCP socket (a test's socketpair) or an old
	 * kernel leaves the kernel's own limit */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof(lowat));
}

static const struct session_vfuncs imap_session_vfuncs = {
	.drain = imap_session_drain,
	.login_timeout = imap_session_login_timeout,
	.request_timeout = imap_session_request_timeout,
};

void imap_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip)
{
	const struct config *config = env->config;
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct conn_settings set = {
		.max_input = IMAP_INPUT_MAX,
		.max_output = IMAP_OUTPUT_MAX,
		.idle_timeout_ms = config->imap_timeout * 1000,
		.handshake_timeout_ms = config->tls_handshake_timeout * 1000,
		.alpn = "imap",
		.peer_ip = peer_ip,
	};
	bool implicit_tls = service == SERVICE_IMAPS;
	struct session_settings sset = {
		.conn = &set, .implicit_tls = implicit_tls,
		.cb = imap_on_conn_event, .ctx = s,
	};
	imap_session_socket_init(fd);
	session_init(&s->base, env, &imap_session_vfuncs, fd, service, &sset);
	struct imap_parser_limits limits = {
		.max_args = IMAP_MAX_ARGS,
		.max_depth = IMAP_MAX_DEPTH,
		.max_command_size = IMAP_COMMAND_MAX,
		.literal = { .max_size = IMAP_COMMAND_MAX, .max_nonsync = IMAP_NONSYNC_MAX },
	};
	s->parser = imap_parser_create(&limits);
	s->tls_started = implicit_tls;
	session_login_deadline(&s->base, config->login_timeout);
	log_info("sid=%s event=connect ip=%s service=%s port=%u", s->base.sid,
		 s->base.peer_ip, service_name(service), conn_local_port(s->base.conn));
	/* RFC 9051 7.1.1: the greeting, with the capabilities (7.1 CAPABILITY
	 * response code) so a client need not ask */
	imap_untagged(s, "OK [CAPABILITY %s] Postel IMAP server ready", imap_capabilities(s));
}
