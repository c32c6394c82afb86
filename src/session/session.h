/* session.h: the base every protocol session (SMTP, POP3, later IMAP)
 * stands on, and what a worker hands its sessions.
 *
 * A protocol embeds struct session as its first member and fills a
 * struct session_vfuncs. The base owns the connection, the session id,
 * the peer address, two pools and the bookkeeping every protocol needs:
 *   - pool lives until disconnect: only things allocated once per session
 *     (the id) go there, never per command;
 *   - cmd_pool is emptied by session_command_done() when a command has
 *     ended, so memory does not grow with the number of commands
 *     (Dovecot's per-command pool), and gives its blocks back, so an
 *     idle session holds none;
 *   - strings a command may set again (HELO name, USER name) are replaced,
 *     not appended: session_str_set();
 *   - jobs counts thread-pool jobs and timers that still point at the
 *     session; a connection that closes meanwhile is freed when the last
 *     one has come back (session_on_closed(), session_may_free());
 *   - drain: on SIGTERM session_drain_all() asks every live session to
 *     finish its work and close;
 *   - a login deadline (login_timeout) and a request deadline that grows
 *     with the data received (Postfix's smtpd_min_data_rate).
 * Protocols include this header, never server/: everything shared in a
 * worker comes through struct session_env. */
#ifndef POSTEL_SESSION_H
#define POSTEL_SESSION_H

#include "lib/conn.h"
#include "lib/mem.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct ioloop;
struct tls_ctx;
struct threadpool;
struct store_committer;
struct timeout;
struct session_user_cache;

enum service {
	SERVICE_SMTP,        /* 25: MX, STARTTLS offered */
	SERVICE_SUBMISSION,  /* 587: STARTTLS, AUTH required */
	SERVICE_SUBMISSIONS, /* 465: implicit TLS, AUTH required */
	SERVICE_POP3,        /* 110: STLS offered (RFC 2595) */
	SERVICE_POP3S,       /* 995: implicit TLS (RFC 8314) */
	SERVICE_IMAP,        /* 143: STARTTLS offered (RFC 9051 6.2.1) */
	SERVICE_IMAPS,       /* 993: implicit TLS (RFC 8314) */
	SERVICE_COUNT
};

const char *service_name(enum service service);

/* Everything sessions in one worker share; the worker owns it. */
struct session_env {
	struct ioloop *loop;
	const struct config *config;
	struct tls_ctx *tls;              /* NULL: no TLS */
	struct threadpool *hash_pool;     /* password checks */
	struct threadpool *delivery_pool; /* mail writes, store and account lookups */
	struct store_committer *committer; /* group commit of deliveries */
	struct session_user_cache *users; /* per-user lanes (session_user.h) */
	/* the worker: a fresh session id, and a session that has ended */
	const char *(*new_id)(void *ctx);
	void (*ended)(void *ctx, const char *peer_ip);
	/* an outbound queue entry was committed (the runner is woken);
	 * may be NULL */
	void (*queue_committed)(void *ctx, const char *queue_id);
	void *ctx;
};

struct session;

struct session_vfuncs {
	/* SIGTERM: close when idle, or after the work in flight */
	void (*drain)(struct session *s);
	/* login_timeout passed before a login: reply; the base closes */
	void (*login_timeout)(struct session *s);
	/* the request deadline passed: reply; the base closes */
	void (*request_timeout)(struct session *s);
};

struct session {
	const struct session_env *env;
	const struct session_vfuncs *v;
	struct conn *conn;
	enum service service;
	char sid[16];     /* worker ids are at most 13 base-36 digits */
	const char *peer_ip; /* the connection's own copy (conn_peer_ip) */
	pool_t *pool;     /* until disconnect: per-session, fixed size */
	pool_t *cmd_pool; /* emptied (no block kept) when each command ends */
	unsigned jobs;    /* jobs and timers that point at this session */
	bool closing, draining, destroy_when_done;
	struct session *prev, *next;

	struct timeout *login_to;
	struct timeout *request_to;
	uint64_t request_deadline_ms; /* monotonic */
};

struct session_settings {
	const struct conn_settings *conn;
	bool implicit_tls;
	conn_callback_t *cb; /* gets the protocol session as ctx */
	void *ctx;
};

/* Takes ownership of fd; creates the connection and the id. */
void session_init(struct session *s, const struct session_env *env,
		  const struct session_vfuncs *v, int fd, enum service service,
		  const struct session_settings *set);
/* Destroys the connection and pools, tells the worker. The protocol has
 * freed its own state first; s itself stays the caller's to free. */
void session_deinit(struct session *s);

/* Reply already written: close once the output is out. */
void session_close(struct session *s);
/* A command has ended: its pool is emptied (unless a job still runs). */
void session_command_done(struct session *s);

/* A job (thread-pool work, timer) now points at the session. */
void session_job_begin(struct session *s);
void session_job_end(struct session *s);
/* CONN_EV_CLOSED: true when the session can be freed now; false when a
 * job is still out (destroy_when_done is set: free after the last). */
bool session_on_closed(struct session *s);
/* After a job came back: the connection went meanwhile and no other job
 * is out, so the protocol must free the session now. */
bool session_may_free(const struct session *s);

/* The connection went: the session's login attempt (auth_login.h), if
 * any, ends with it. A penalty wait is cancelled; a job in flight (the
 * pause counted it with session_job_begin()) comes back to nobody, so
 * the session need not wait for either. *login is NULL after. */
struct auth_login;
void session_login_abandon(struct session *s, struct auth_login **login);

/* Replace *dst (heap, or NULL) by a copy of src[0..len); NULL src frees. */
void session_str_set(char **dst, const char *src, size_t len);

/* The login deadline: started when the session starts, if seconds > 0;
 * cancelled by session_login_done(). */
void session_login_deadline(struct session *s, unsigned seconds);
void session_login_done(struct session *s);

/* The request deadline (DATA, BDAT): base_ms from now, pushed later by
 * bytes * 1000 / min_rate ms for every chunk received (min_rate 0: no
 * deadline beyond the idle timer). */
void session_request_start(struct session *s, unsigned base_ms);
void session_request_progress(struct session *s, uint64_t bytes, unsigned min_rate);
void session_request_stop(struct session *s);

/* SIGTERM: vfuncs->drain() on every live session. */
void session_drain_all(void);

#endif
