/* auth_login.h: one login attempt of a protocol session (SMTP AUTH, POP3
 * USER/PASS and AUTH, later IMAP) over the SASL mechanisms (sasl.h).
 *
 * What every protocol would otherwise repeat lives here: running the
 * mechanism's steps, the login penalty (authfail.h) applied BEFORE the
 * password is checked, so a right password from a penalised address or
 * name waits like a wrong one (the wait is a timer on the loop, never a
 * sleep), checking the password on the worker's thread pool (never on
 * the event loop), recording the verdict, and one log line per outcome.
 * The protocol keeps its own line I/O, base64 framing and reply codes,
 * and gets called back with ctx:
 *   challenge(ctx, data, len, final)  send a challenge; final: data sent
 *       with success (SCRAM server-final), to be answered by an empty
 *       line (auth_login_final_response())
 *   pause(ctx)  the answer comes later, from the loop: stop reading
 *       input until finished() (called at most once per attempt)
 *   finished(ctx, result, user, paused)  the outcome; user is the
 *       canonical address after AUTH_LOGIN_OK, valid until
 *       auth_login_free(); paused tells whether pause() came first.
 * finished() may free the attempt. An attempt whose session has gone
 * must not be freed while paused: the pending check or wait still ends
 * in finished(), where the session can clean up.
 *
 * A mechanism whose proof arrives in a step of its own (SCRAM client-
 * final) has that step held, unpaused, for the penalty: the next
 * challenge or finished() then comes from a timer, and any client input
 * arriving meanwhile fails the attempt at once (it learns nothing of the
 * password). Attempts that never name a user (malformed messages) are
 * refused at once and not counted. */
#ifndef POSTEL_AUTH_LOGIN_H
#define POSTEL_AUTH_LOGIN_H

#include <stdbool.h>
#include <stddef.h>

struct ioloop;
struct threadpool;
struct userdb;
struct auth_login;

enum auth_login_result {
	AUTH_LOGIN_OK,
	AUTH_LOGIN_FAIL,     /* bad credentials or a protocol error */
	AUTH_LOGIN_TEMPFAIL, /* our fault (database): the client may retry */
};

struct auth_login_ops {
	void (*challenge)(void *ctx, const unsigned char *data, size_t len, bool final);
	void (*pause)(void *ctx);
	void (*finished)(void *ctx, enum auth_login_result result, const char *user,
			 bool paused);
};

struct auth_login_env {
	struct ioloop *loop;
	struct threadpool *pool; /* for the password check */
	struct userdb *userdb;
	const char *ip;          /* for the penalty (authfail.h) and the log */
	const char *sid;         /* for the log */
};

/* NULL for an unknown mechanism (case-insensitive). log_mech names the
 * attempt in the log ("PLAIN", or "USER" for POP3 USER/PASS). env's
 * strings must outlive the attempt. */
struct auth_login *auth_login_start(const struct auth_login_env *env,
				    const char *mech, const char *log_mech,
				    const struct auth_login_ops *ops, void *ctx);
/* One client message, decoded. has_input false: no initial response. */
void auth_login_step(struct auth_login *l, bool has_input,
		     const unsigned char *in, size_t len);
/* The client's answer to a final challenge: only an empty one succeeds. */
void auth_login_final_response(struct auth_login *l, bool empty);
/* The user name the attempt tried (never the password), once a step
 * named one, else NULL; valid until auth_login_free(). For the log line
 * of a refused login. */
const char *auth_login_name_tried(const struct auth_login *l);
/* True while a check or wait is pending (between pause and finished). */
bool auth_login_busy(const struct auth_login *l);
void auth_login_free(struct auth_login **l);

#endif
