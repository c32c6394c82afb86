/* auth_login.c: see auth_login.h. */
#include "auth/auth_login.h"
#include "auth/authfail.h"
#include "auth/sasl.h"
#include "auth/userdb.h"
#include "lib/ioloop.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "lib/threadpool.h"

#include <stdio.h>

struct auth_login {
	struct ioloop *loop;
	struct threadpool *pool;
	char *data_dir, *ip, *sid; /* copies: an abandoned attempt outlives its session */
	char *log_mech;
	const struct auth_login_ops *ops;
	void *ctx;
	struct sasl_server *sasl;
	char *user;             /* after success */
	char *name;             /* the name the penalty is kept by, once begun */
	char *tried;            /* the first name tried, for refusal logs */
	struct timeout *wait_to; /* the penalty, before the check */
	str_t held;             /* a proof step held unpaused for the penalty */
	bool held_has_input;
	unsigned wait_ms;       /* for the log */
	bool paused;
	bool job_out;           /* sasl_server_work() runs on the pool */
	bool abandoned;         /* the session went: free when the job is back */
	char job_error[256];    /* the pool thread could not open accounts.db */
};

struct auth_login *auth_login_start(const struct auth_login_env *env,
				    const char *mech, const char *log_mech,
				    const struct auth_login_ops *ops, void *ctx)
{
	struct sasl_server *sasl = sasl_server_create(mech);
	if (sasl == NULL)
		return NULL;
	struct auth_login *l = xcalloc(1, sizeof(*l));
	l->loop = env->loop;
	l->pool = env->pool;
	l->data_dir = xstrdup(env->data_dir);
	l->ip = xstrdup(env->ip);
	l->sid = xstrdup(env->sid);
	l->log_mech = xstrdup(log_mech);
	l->ops = ops;
	l->ctx = ctx;
	l->sasl = sasl;
	return l;
}

/* Every authfail_begin() gets one end: the verdict, or none. */
static void login_penalty_end(struct auth_login *l, enum authfail_verdict verdict)
{
	if (l->name == NULL)
		return;
	authfail_end(l->ip, l->name, verdict, ioloop_now_ms(l->loop));
	free(l->name);
	l->name = NULL;
}

static void login_destroy(struct auth_login *l)
{
	timeout_remove(&l->wait_to);
	str_free_secure(&l->held);
	login_penalty_end(l, AUTHFAIL_VERDICT_NONE);
	if (l->sasl != NULL)
		sasl_server_destroy(&l->sasl);
	free(l->user);
	free(l->tried);
	free(l->data_dir);
	free(l->ip);
	free(l->sid);
	free(l->log_mech);
	free(l);
}

void auth_login_free(struct auth_login **lp)
{
	struct auth_login *l = *lp;
	if (l == NULL)
		return;
	if (l->job_out)
		panic("event=auth_login_free_while_verifying");
	*lp = NULL;
	login_destroy(l);
}

void auth_login_abandon(struct auth_login **lp)
{
	struct auth_login *l = *lp;
	if (l == NULL)
		return;
	*lp = NULL;
	l->ops = NULL;
	l->ctx = NULL;
	if (l->job_out) {
		/* the job cannot be called back: login_job_done() frees */
		l->abandoned = true;
		return;
	}
	if (l->wait_to != NULL)
		log_info("sid=%s event=auth result=abandoned ip=%s mech=%s wait_ms=%u",
			 l->sid, l->ip, l->log_mech, l->wait_ms);
	/* a penalty wait ends now, with no verdict: nothing was checked */
	login_destroy(l);
}

const char *auth_login_name_tried(const struct auth_login *l)
{
	return l->tried;
}

bool auth_login_busy(const struct auth_login *l)
{
	return l->paused;
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

/* The name is known and its password is about to be checked: how long
 * the penalty makes it wait first (authfail.h reserves the verdict time). */
static unsigned login_penalty_begin(struct auth_login *l, const char *name)
{
	l->name = xstrdup(name);
	if (l->tried == NULL)
		l->tried = xstrdup(name);
	l->wait_ms = authfail_begin(l->ip, name, ioloop_now_ms(l->loop));
	return l->wait_ms;
}

static void login_success(struct auth_login *l)
{
	l->user = xstrdup(sasl_server_user(l->sasl));
	sasl_server_destroy(&l->sasl);
	login_penalty_end(l, AUTHFAIL_VERDICT_OK);
	log_info("sid=%s event=auth result=ok ip=%s mech=%s user=%s wait_ms=%u",
		 l->sid, l->ip, l->log_mech, log_str(l->user), l->wait_ms);
	login_finish(l, AUTH_LOGIN_OK);
}

/* The penalty came before the check, so the verdict goes out at once. */
static void login_failure(struct auth_login *l, const char *why)
{
	bool counted = l->name != NULL;
	login_penalty_end(l, AUTHFAIL_VERDICT_FAILED);
	log_info("sid=%s event=auth result=fail ip=%s mech=%s reason=%s wait_ms=%u counted=%s",
		 l->sid, l->ip, l->log_mech, log_str(why), l->wait_ms,
		 counted ? "yes" : "no");
	if (l->sasl != NULL)
		sasl_server_destroy(&l->sasl);
	login_finish(l, AUTH_LOGIN_FAIL);
}

static void login_temp_failure(struct auth_login *l, const char *why)
{
	login_penalty_end(l, AUTHFAIL_VERDICT_NONE);
	log_error("sid=%s event=auth result=tempfail ip=%s mech=%s reason=%s",
		  l->sid, l->ip, l->log_mech, log_str(why));
	sasl_server_destroy(&l->sasl);
	login_finish(l, AUTH_LOGIN_TEMPFAIL);
}

/* A job came back for a session that has gone: nobody gets the answer,
 * but a password verdict still counts for the penalty. */
static void login_abandoned_result(struct auth_login *l, enum sasl_result r, bool temp)
{
	enum authfail_verdict verdict = r == SASL_OK ? AUTHFAIL_VERDICT_OK :
		r == SASL_FAIL && !temp ? AUTHFAIL_VERDICT_FAILED : AUTHFAIL_VERDICT_NONE;
	if (l->name != NULL)
		log_info("sid=%s event=auth result=abandoned ip=%s mech=%s wait_ms=%u "
			 "verdict=%s", l->sid, l->ip, l->log_mech, l->wait_ms,
			 verdict == AUTHFAIL_VERDICT_OK ? "ok" :
			 verdict == AUTHFAIL_VERDICT_FAILED ? "fail" : "none");
	login_penalty_end(l, verdict);
	login_destroy(l);
}

static void login_step_result(struct auth_login *l, enum sasl_result r,
			      const str_t *challenge, const char *error);

/* On a pool thread: the account lookup and what the step asked for. */
static void login_job_work(void *ctx)
{
	struct auth_login *l = ctx;
	const char *error = NULL;
	struct userdb *db = userdb_thread(l->data_dir, &error);
	if (db == NULL) {
		snprintf(l->job_error, sizeof(l->job_error), "%s",
			 error != NULL ? error : "accounts.db not open");
		return;
	}
	sasl_server_work(l->sasl, db);
}

static void login_job_done(void *ctx)
{
	struct auth_login *l = ctx;
	str_t challenge = STR_INIT;
	const char *error = NULL;
	l->job_out = false;
	if (l->job_error[0] != '\0') {
		/* our fault, not the client's */
		if (l->abandoned)
			login_abandoned_result(l, SASL_FAIL, true);
		else
			login_temp_failure(l, l->job_error);
		return;
	}
	enum sasl_result r = sasl_server_work_finish(l->sasl, &challenge, &error);
	if (l->abandoned)
		login_abandoned_result(l, r, r == SASL_FAIL &&
				       sasl_server_temp_failure(l->sasl));
	else
		login_step_result(l, r, &challenge, error);
	str_free_secure(&challenge);
}

static void login_job_submit(struct auth_login *l)
{
	l->job_out = true;
	threadpool_submit(l->pool, login_job_work, login_job_done, l);
}

/* The penalty of a paused PLAIN/LOGIN attempt is over: check now. */
static void login_wait_done(void *ctx)
{
	struct auth_login *l = ctx;
	timeout_remove(&l->wait_to);
	login_job_submit(l);
}

static const char *login_attempt_name(struct auth_login *l)
{
	const char *name = sasl_server_attempt_user(l->sasl);
	return name != NULL ? name : "";
}

/* What a step (or the job it handed out) came to. */
static void login_step_result(struct auth_login *l, enum sasl_result r,
			      const str_t *challenge, const char *error)
{
	switch (r) {
	case SASL_CONTINUE:
		l->ops->challenge(l->ctx, (const unsigned char *)challenge->data,
				  challenge->len, false);
		if (l->paused) {
			/* last: the next step may come from resume() */
			l->paused = false;
			l->ops->resume(l->ctx);
		}
		break;
	case SASL_OK:
		if (challenge->len > 0) {
			l->ops->challenge(l->ctx, (const unsigned char *)challenge->data,
					  challenge->len, true);
			if (l->paused) {
				l->paused = false;
				l->ops->resume(l->ctx);
			}
		} else {
			login_success(l);
		}
		break;
	case SASL_FAIL:
		if (sasl_server_temp_failure(l->sasl))
			login_temp_failure(l, error);
		else
			login_failure(l, error != NULL ? error : "bad credentials");
		break;
	case SASL_VERIFY:
		/* PLAIN and LOGIN name the user in the step that carries the
		 * password: the penalty goes between it and the check */
		login_pause(l);
		if (l->name == NULL && login_penalty_begin(l, login_attempt_name(l)) > 0)
			l->wait_to = timeout_add(l->loop, l->wait_ms, login_wait_done, l);
		else
			login_job_submit(l);
		break;
	case SASL_LOOKUP:
		/* SCRAM client-first: the salt is the account's; nothing is
		 * checked yet, so no penalty */
		login_pause(l);
		login_job_submit(l);
		break;
	}
}

static void login_run_step(struct auth_login *l, bool has_input,
			   const unsigned char *in, size_t len)
{
	str_t challenge = STR_INIT;
	const char *error = NULL;
	enum sasl_result r = sasl_server_step(l->sasl, has_input, in, len, &challenge,
					      &error);
	login_step_result(l, r, &challenge, error);
	str_free_secure(&challenge);
}

/* The penalty of a held proof step is over: run it now. */
static void login_hold_done(void *ctx)
{
	struct auth_login *l = ctx;
	str_t held = l->held;
	timeout_remove(&l->wait_to);
	l->held = (str_t)STR_INIT;
	login_run_step(l, l->held_has_input, (const unsigned char *)held.data, held.len);
	str_free_secure(&held);
}

void auth_login_step(struct auth_login *l, bool has_input,
		     const unsigned char *in, size_t len)
{
	if (l->wait_to != NULL) {
		/* the client spoke while its proof was held: no verdict */
		timeout_remove(&l->wait_to);
		str_free_secure(&l->held);
		login_failure(l, "input during the login penalty");
		return;
	}
	const char *name = l->name == NULL ? sasl_server_attempt_user(l->sasl) : NULL;
	if (name != NULL && login_penalty_begin(l, name) > 0) {
		/* SCRAM named the user in an earlier step: this one carries
		 * the proof, so it waits out the penalty before it is checked */
		if (has_input && len > 0)
			str_append(&l->held, in, len);
		l->held_has_input = has_input;
		l->wait_to = timeout_add(l->loop, l->wait_ms, login_hold_done, l);
		return;
	}
	login_run_step(l, has_input, in, len);
}

void auth_login_final_response(struct auth_login *l, bool empty)
{
	if (empty)
		login_success(l);
	else
		login_failure(l, "non-empty final response");
}
