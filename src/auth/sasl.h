/* sasl.h: server side of the SASL mechanisms PLAIN (RFC 4616), LOGIN
 * (draft-murchison-sasl-login) and SCRAM-SHA-256 (RFC 5802, RFC 7677,
 * without channel binding).
 *
 * Contract: the protocol code does base64 and line I/O and hands over
 * decoded bytes; a struct sasl_server is one attempt (create a new one
 * per AUTH/AUTHENTICATE command, so a failed mechanism leaves nothing
 * behind). It runs on the event loop thread, except
 * sasl_server_verify_blocking(), which runs on a worker thread and
 * touches nothing but copies held in the struct (no SQLite, no pools, no
 * shared state). Unknown users take the same path as known ones: PLAIN
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
	SASL_VERIFY,   /* run sasl_server_verify_blocking() on a worker thread,
			  then sasl_server_verify_finish() on the loop thread */
};

/* mech is case-insensitive. NULL: unknown mechanism. db must outlive srv. */
struct sasl_server *sasl_server_create(const char *mech, struct userdb *db);

/* Process one client message. has_input false: the client gave no initial
 * response (a zero-length in with has_input true is an empty one).
 * challenge is cleared, then filled when there is something to send. */
enum sasl_result sasl_server_step(struct sasl_server *srv, bool has_input,
				  const unsigned char *in, size_t in_len,
				  str_t *challenge, const char **error_r);

/* Thread-safe with respect to everything but srv itself. */
void sasl_server_verify_blocking(struct sasl_server *srv);
/* SASL_OK or SASL_FAIL. */
enum sasl_result sasl_server_verify_finish(struct sasl_server *srv,
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
