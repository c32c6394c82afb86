/* auth_login.c: see auth_login.h. */
#include "auth/auth_login.h"
#include "auth/authfail.h"
#include "auth/sasl.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/threadpool.h"

struct auth_login {
	struct auth_login_env env;
	char *log_mech;
	const struct auth_login_ops *ops;
	void *ctx;
	struct sasl_server *sasl;
	char *user;             /* after success */
	struct timeout *delay_to;
	bool paused, verifying;
};

struct auth_login *auth_login_start(const struct auth_login_env *env,
				    const char *mech, const char *log_mech,
				    const struct auth_login_ops *ops, void *ctx)
{
	struct sasl_server *sasl = sasl_server_create(mech, env->userdb);
	if (sasl == NULL)
		return NULL;
	struct auth_login *l = xcalloc(1, sizeof(*l));
	l->env = *env;
	l->log_mech = xstrdup(log_mech);
	l->ops = ops;
	l->ctx = ctx;
	l->sasl = sasl;
	return l;
}

void auth_login_free(struct auth_login **lp)
{
	struct auth_login *l = *lp;
	if (l == NULL)
		return;
	if (l->verifying)
		panic("event=auth_login_free_while_verifying");
	timeout_remove(&l->delay_to);
	if (l->sasl != NULL)
		sasl_server_destroy(&l->sasl);
	free(l->user);
	free(l->log_mech);
	free(l);
	*lp = NULL;
}

bool auth_login_busy(const struct auth_login *l)
{
	return l->verifying || l->delay_to != NULL;
}

static void login_pause(struct auth_login *l)
{
	if (!l->paused) {
		l->paused = true;
		l->ops->pause(l->ctx);
	}
}

/* Last thing touching l: finished() may free it. */
static void login_finish(struct auth_login *l, enum auth_login_result result)
{
	bool paused = l->paused;
	l->paused = false;
	l->ops->finished(l->ctx, result, l->user, paused);
}

static void login_success(struct auth_login *l)
{
	l->user = xstrdup(sasl_server_user(l->sasl));
	sasl_server_destroy(&l->sasl);
	authfail_record(l->env.ip, true, ioloop_now_ms(l->env.loop));
	log_info("sid=%s event=auth result=ok ip=%s mech=%s user=%s", l->env.sid,
		 l->env.ip, l->log_mech, log_str(l->user));
	login_finish(l, AUTH_LOGIN_OK);
}

static void login_delay_done(void *ctx)
{
	struct auth_login *l = ctx;
	timeout_remove(&l->delay_to);
	login_finish(l, AUTH_LOGIN_FAIL);
}

static void login_failure(struct auth_login *l, const char *why)
{
	uint64_t now = ioloop_now_ms(l->env.loop);
	unsigned delay = authfail_delay_ms(l->env.ip, now);
	authfail_record(l->env.ip, false, now);
	log_info("sid=%s event=auth result=fail ip=%s mech=%s reason=%s delay_ms=%u",
		 l->env.sid, l->env.ip, l->log_mech, log_str(why), delay);
	if (l->sasl != NULL)
		sasl_server_destroy(&l->sasl);
	if (delay == 0) {
		login_finish(l, AUTH_LOGIN_FAIL);
		return;
	}
	/* answer late; the session reads nothing meanwhile */
	login_pause(l);
	l->delay_to = timeout_add(l->env.loop, delay, login_delay_done, l);
}

static void login_temp_failure(struct auth_login *l, const char *why)
{
	log_error("sid=%s event=auth result=tempfail ip=%s mech=%s reason=%s",
		  l->env.sid, l->env.ip, l->log_mech, log_str(why));
	sasl_server_destroy(&l->sasl);
	login_finish(l, AUTH_LOGIN_TEMPFAIL);
}

static void login_verify_work(void *ctx)
{
	struct auth_login *l = ctx;
	sasl_server_verify_blocking(l->sasl);
}

static void login_verify_done(void *ctx)
{
	struct auth_login *l = ctx;
	const char *error = NULL;
	l->verifying = false;
	if (sasl_server_verify_finish(l->sasl, &error) == SASL_OK)
		login_success(l);
	else if (sasl_server_temp_failure(l->sasl))
		login_temp_failure(l, error);
	else
		login_failure(l, error != NULL ? error : "bad credentials");
}

void auth_login_step(struct auth_login *l, bool has_input,
		     const unsigned char *in, size_t len)
{
	str_t challenge = STR_INIT;
	const char *error = NULL;
	enum sasl_result r = sasl_server_step(l->sasl, has_input, in, len, &challenge,
					      &error);
	switch (r) {
	case SASL_CONTINUE:
		l->ops->challenge(l->ctx, (const unsigned char *)challenge.data,
				  challenge.len, false);
		break;
	case SASL_OK:
		if (challenge.len > 0)
			l->ops->challenge(l->ctx, (const unsigned char *)challenge.data,
					  challenge.len, true);
		else
			login_success(l);
		break;
	case SASL_FAIL:
		if (sasl_server_temp_failure(l->sasl))
			login_temp_failure(l, error);
		else
			login_failure(l, error != NULL ? error : "bad credentials");
		break;
	case SASL_VERIFY:
		login_pause(l);
		l->verifying = true;
		threadpool_submit(l->env.pool, login_verify_work, login_verify_done, l);
		break;
	}
	str_free_secure(&challenge);
}

void auth_login_final_response(struct auth_login *l, bool empty)
{
	if (empty)
		login_success(l);
	else
		login_failure(l, "non-empty final response");
}
