/* session.c: the protocol-neutral part of a session: creation and
 * teardown, the list of live sessions for draining, per-command memory,
 * the job count, and the login and request deadlines (see session.h). */
#include "session.h"
#include "auth/auth_login.h"
#include "lib/ioloop.h"
#include "lib/log.h"

#include <stdio.h>
#include <string.h>

/* the session pool holds the id and the user name */
#define SESSION_POOL_SIZE 256
#define SESSION_CMD_POOL_SIZE 1024

/* every live session of this process, for draining */
static struct session *sessions;

void session_init(struct session *s, const struct session_env *env,
		  const struct session_vfuncs *v, int fd, enum service service,
		  const struct session_settings *set)
{
	s->env = env;
	s->v = v;
	s->service = service;
	s->pool = pool_create(SESSION_POOL_SIZE);
	s->cmd_pool = pool_create(SESSION_CMD_POOL_SIZE);
	/* inline, not in s->pool: a protocol that never uses the pool
	 * (IMAP) keeps no block for it while idle */
	snprintf(s->sid, sizeof(s->sid), "%s", env->new_id(env->ctx));
	s->conn = conn_create(env->loop, fd, set->conn,
			      set->implicit_tls ? env->tls : NULL, set->cb, set->ctx);
	s->peer_ip = conn_peer_ip(s->conn); /* not a second copy per session */
	s->next = sessions;
	if (sessions != NULL)
		sessions->prev = s;
	sessions = s;
}

void session_deinit(struct session *s)
{
	timeout_remove(&s->login_to);
	timeout_remove(&s->request_to);
	/* the worker lets go of the peer's limits while s->peer_ip (the
	 * connection's) is still there: no copy */
	s->env->ended(s->env->ctx, s->peer_ip);
	s->peer_ip = NULL;
	conn_destroy(&s->conn);
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->prev = s->next = NULL;
	pool_destroy(&s->cmd_pool);
	pool_destroy(&s->pool);
}

void session_close(struct session *s)
{
	s->closing = true;
	timeout_remove(&s->login_to);
	timeout_remove(&s->request_to);
	conn_close_after_output(s->conn);
}

void session_command_done(struct session *s)
{
	/* a job may still hold what the command allocated; between
	 * commands the pool holds no block (thousands of idle sessions) */
	if (s->jobs == 0)
		pool_release(s->cmd_pool);
}

void session_job_begin(struct session *s)
{
	s->jobs++;
}

void session_job_end(struct session *s)
{
	if (s->jobs == 0)
		panic("sid=%s event=job_count_underflow", s->sid);
	s->jobs--;
}

bool session_on_closed(struct session *s)
{
	timeout_remove(&s->login_to);
	timeout_remove(&s->request_to);
	if (s->jobs > 0) {
		/* a thread-pool job or a timer still points at us */
		s->destroy_when_done = true;
		return false;
	}
	return true;
}

bool session_may_free(const struct session *s)
{
	return s->destroy_when_done && s->jobs == 0;
}

void session_str_set(char **dst, const char *src, size_t len)
{
	free(*dst);
	*dst = src != NULL ? xstrndup(src, len) : NULL;
}

/* A deadline passed: the protocol replies, then the session closes. */
static void session_deadline_passed(struct session *s, struct timeout **to,
				    const char *event, void (*reply)(struct session *s))
{
	timeout_remove(to);
	if (s->closing)
		return;
	log_info("sid=%s event=%s ip=%s service=%s", s->sid, event, s->peer_ip,
		 service_name(s->service));
	reply(s);
	session_close(s);
}

static void session_on_login_timeout(void *ctx)
{
	struct session *s = ctx;
	session_deadline_passed(s, &s->login_to, "login_timeout", s->v->login_timeout);
}

void session_login_deadline(struct session *s, unsigned seconds)
{
	timeout_remove(&s->login_to);
	if (seconds > 0)
		s->login_to = timeout_add(s->env->loop, seconds * 1000u,
					  session_on_login_timeout, s);
}

void session_login_done(struct session *s)
{
	timeout_remove(&s->login_to);
}

static void session_on_request_timeout(void *ctx)
{
	struct session *s = ctx;
	session_deadline_passed(s, &s->request_to, "request_timeout", s->v->request_timeout);
}

void session_request_start(struct session *s, unsigned base_ms)
{
	timeout_remove(&s->request_to);
	s->request_deadline_ms = ioloop_now_ms(s->env->loop) + base_ms;
	s->request_to = timeout_add(s->env->loop, base_ms, session_on_request_timeout, s);
}

void session_request_progress(struct session *s, uint64_t bytes, unsigned min_rate)
{
	if (s->request_to == NULL)
		return;
	if (min_rate == 0) {
		/* no rate asked: the idle timer alone applies */
		timeout_remove(&s->request_to);
		return;
	}
	/* Postfix smtpd_min_data_rate: each chunk buys bytes/rate seconds */
	s->request_deadline_ms += bytes * 1000u / min_rate;
	uint64_t now = ioloop_now_ms(s->env->loop);
	uint64_t left = s->request_deadline_ms > now ? s->request_deadline_ms - now : 0;
	if (left > UINT32_MAX / 2)
		left = UINT32_MAX / 2;
	timeout_reset(s->request_to, (unsigned)left);
}

void session_request_stop(struct session *s)
{
	timeout_remove(&s->request_to);
}

void session_drain_all(void)
{
	struct session *s = sessions, *next;
	for (; s != NULL; s = next) {
		/* drain() may close, never free: the list stays intact */
		next = s->next;
		s->draining = true;
		s->v->drain(s);
	}
}

void session_login_abandon(struct session *s, struct auth_login **login)
{
	if (*login == NULL)
		return;
	if (auth_login_busy(*login))
		session_job_end(s);
	auth_login_abandon(login);
}
