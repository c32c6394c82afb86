/* auth_login.h: one login attempt of a protocol session (SMTP AUTH, POP3
 * USER/PASS and AUTH, later IMAP) over the SASL mechanisms (sasl.h).
 *
 * What every protocol would otherwise repeat lives here: running the
 * mechanism's steps, the login penalty (authfail.h) applied BEFORE the
 * password is checked, so a right password from a penalised address or
 * name waits like a wrong one (the wait is a timer on the loop, never a
 * sleep), reading the account and checking the password on the worker's
 * thread pool (never on the event loop: accounts.db may wait seconds for
 * a lock), recording the verdict, and one log line per outcome. The pool
 * threads read accounts.db through their own handles (userdb_thread()).
 * The protocol keeps its own line I/O, base64 framing and reply codes,
 * and gets called back with ctx:
 *   challenge(ctx, data, len, final)  send a challenge; final: data sent
 *       with success (SCRAM server-final), to be answered by an empty
 *       line (auth_login_final_response())
 *   pause(ctx)  the answer comes later, from the loop: act on no input
 *       until resume() or finished(), but keep the connection read, so
 *       that a client that leaves is seen at once (auth_login_abandon())
 *   resume(ctx)  a paused attempt goes on: its challenge (SCRAM
 *       server-first, after the account lookup) was just sent; read
 *       input again. The last call touching the attempt.
 *   finished(ctx, result, user, paused)  the outcome; user is the
 *       canonical address after AUTH_LOGIN_OK, valid until
 *       auth_login_free(); paused tells whether pause() came last.
 * finished() may free the attempt. A session that goes away calls
 * auth_login_abandon() instead of auth_login_free(): a penalty wait is
 * cancelled at once, a job in flight keeps the attempt alive until it
 * comes back, when its result is discarded (a password verdict still
 * counts for the penalty) and the attempt freed; no callback comes after
 * it, so the session can be freed at once.
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
struct auth_login;

enum auth_login_result {
	AUTH_LOGIN_OK,
	AUTH_LOGIN_FAIL,     /* bad credentials or a protocol error */
	AUTH_LOGIN_TEMPFAIL, /* our fault (database): the client may retry */
};

struct auth_login_ops {
	void (*challenge)(void *ctx, const unsigned char *data, size_t len, bool final);
	void (*pause)(void *ctx);
	void (*resume)(void *ctx);
	void (*finished)(void *ctx, enum auth_login_result result, const char *user,
			 bool paused);
};

struct auth_login_env {
	struct ioloop *loop;
	struct threadpool *pool; /* for the account lookup and password check */
	const char *data_dir;    /* where the pool threads find accounts.db */
	const char *ip;          /* for the penalty (authfail.h) and the log */
	const char *sid;         /* for the log */
};

/* NULL for an unknown mechanism (case-insensitive). log_mech names the
 * attempt in the log ("PLAIN", or "USER" for POP3 USER/PASS). env's
 * strings are copied; its loop and pool must outlive the attempt. */
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
/* True while paused: a job or a wait is pending (between pause() and
 * resume() or finished()). */
bool auth_login_busy(const struct auth_login *l);
/* Not while busy: that is auth_login_abandon()'s. */
void auth_login_free(struct auth_login **l);
/* The session is going: see above. *l is NULL afterwards. */
void auth_login_abandon(struct auth_login **l);

#endif
