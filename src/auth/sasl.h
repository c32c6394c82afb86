/* sasl.h: server side of the SASL mechanisms PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802, RFC 7677,
 * without channel binding).
 *
 * Contract: the protocol code does base64 and line I/O and hands over
 * decoded bytes; a struct sasl_server is one attempt (create a new one
 * per AUTH/AUTHENTICATE command, so a failed mechanism leaves nothing
 * behind). It runs on the event loop thread and never reads the
 * accounts database there: what needs an account (the lookup, and for
 * PLAIN and LOGIN the password check) is handed out as SASL_VERIFY or
 * SASL_LOOKUP and runs in sasl_server_work(), on a worker thread with
 * that thread's own userdb handle (userdb_thread()), touching nothing
 * else shared. Unknown users take the same path as known ones: PLAIN
 * and LOGIN verify against a dummy hash of the same cost, SCRAM answers
 * with a fake but stable salt and fails only at the proof. error_r is
 * meant for the log, not for the client, and never holds a password.
 * Destroy wipes every secret with OPENSSL_cleanse(). */
#ifndef POSTEL_AUTH_SASL_H
#define POSTEL_AUTH_SASL_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/str.h"

struct userdb;

/* RFC 4616 section 4: servers must accept user names and passwords of 255
 * octets; we accept no more, in every mechanism. A password that should
 * work with PLAIN must fit this and be valid UTF-8 (sasl_utf8_valid). */
#define SASL_FIELD_MAX 255

enum sasl_result {
	SASL_CONTINUE, /* send *challenge (raw bytes), wait for the client */
	SASL_OK,       /* authenticated; SCRAM: *challenge holds server-final */
	SASL_FAIL,     /* error_r says why */
	SASL_VERIFY,   /* a password is to be checked (PLAIN, LOGIN): the login
			  penalty goes first (authfail.h), then
			  sasl_server_work() on a worker thread, then
			  sasl_server_work_finish() on the loop thread */
	SASL_LOOKUP,   /* the account must be read before the next challenge
			  (SCRAM client-first): sasl_server_work(), then
			  sasl_server_work_finish(); no password is checked */
};

/* mech is case-insensitive. NULL: unknown mechanism. */
struct sasl_server *sasl_server_create(const char *mech);

/* Process one client message. has_input false: the client gave no initial
 * response (a zero-length in with has_input true is an empty one).
 * challenge is cleared, then filled when there is something to send. */
enum sasl_result sasl_server_step(struct sasl_server *srv, bool has_input,
				  const unsigned char *in, size_t in_len,
				  str_t *challenge, const char **error_r);

/* After SASL_VERIFY or SASL_LOOKUP, on any one thread: look the account
 * up in db (the calling thread's handle) and do what the step asked.
 * Thread-safe with respect to everything but srv itself; srv must not be
 * used elsewhere meanwhile. */
void sasl_server_work(struct sasl_server *srv, struct userdb *db);
/* Back on the loop thread: the step's outcome, as sasl_server_step()
 * gives it (SASL_CONTINUE with *challenge, SASL_OK, SASL_FAIL). */
enum sasl_result sasl_server_work_finish(struct sasl_server *srv, str_t *challenge,
					 const char **error_r);

/* The name the client gave (PLAIN/LOGIN authcid, SCRAM username) once the
 * step that names it has run, else NULL: what the login penalty is kept
 * by (authfail.h), known before the password is checked. */
const char *sasl_server_attempt_user(struct sasl_server *srv);
/* The canonical address after SASL_OK, else NULL. */
const char *sasl_server_user(struct sasl_server *srv);
/* After SASL_FAIL: true when the cause was ours (database error), so the
 * protocol should answer "try again later" (SMTP 454 4.7.0), not 535. */
bool sasl_server_temp_failure(struct sasl_server *srv);

void sasl_server_destroy(struct sasl_server **srv);

/* RFC 3629 section 4 UTF-8: no overlongs, surrogates or values past
 * U+10FFFF; NUL is refused too (no SASL field may hold one). */
bool sasl_utf8_valid(const unsigned char *s, size_t len);

/* {"PLAIN", "LOGIN", "SCRAM-SHA-256", NULL} */
const char *const *sasl_mechanisms(void);

#endif
