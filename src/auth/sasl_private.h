/* sasl_private.h: what sasl.c shares with the mechanism files. Not for
 * other modules (tests excepted). */
#ifndef POSTEL_AUTH_SASL_PRIVATE_H
#define POSTEL_AUTH_SASL_PRIVATE_H

#include "auth/password.h"
#include "auth/sasl.h"
#include "lib/mem.h"

struct sasl_mech {
	const char *name;
	enum sasl_result (*step)(struct sasl_server *srv, bool has_input,
				 const unsigned char *in, size_t in_len,
				 str_t *challenge, const char **error_r);
	/* the account part of a step that returned VERIFY or LOOKUP, on a
	 * worker thread: sets work_result, and work_challenge or work_error */
	void (*work)(struct sasl_server *srv, struct userdb *db);
};

struct sasl_server {
	const struct sasl_mech *mech;
	pool_t *pool;      /* nothing secret goes here: pools are not wiped */
	unsigned state;    /* the mechanism's own step counter */
	bool finished;     /* OK or FAIL was returned */
	bool temp_failure;
	const char *user;  /* canonical address after OK */
	const char *login_user; /* LOGIN: the user name between two steps */
	const char *attempt_user; /* the name as given, once known */

	/* sasl_server_work(): pending from the step to its finish */
	bool work_pending, work_done;
	enum sasl_result work_result;
	const char *work_challenge; /* pool: sent with SASL_CONTINUE or OK */
	char work_error[256];       /* the thread's error, copied */

	/* PLAIN and LOGIN: what sasl_server_work() checks */
	const char *verify_user; /* canonical address; NULL: unknown user */
	char *verify_hash;       /* heap, wiped: the real or the dummy hash */
	char password[SASL_FIELD_MAX + 1];

	/* SCRAM-SHA-256 */
	struct password_scram scram_keys;
	bool scram_user_known;
	const char *scram_user; /* canonical address, if known */
	const char *scram_gs2_header, *scram_client_first_bare;
	const char *scram_server_first, *scram_nonce;
	const char *scram_cnonce; /* client-first, until the lookup */
};

extern const struct sasl_mech sasl_mech_plain, sasl_mech_login, sasl_mech_scram_sha256;

/* Tests only: when set, SCRAM uses this server nonce instead of a random
 * one, to replay the RFC 7677 section 3 example byte for byte. */
extern const char *sasl_scram_test_server_nonce;

/* Keep authcid and a copy of the password for sasl_server_work(), which
 * looks the user up and checks it: SASL_VERIFY (SASL_FAIL when too long). */
enum sasl_result sasl_server_prepare_verify(struct sasl_server *srv, const char *authcid,
					    const unsigned char *password, size_t password_len,
					    const char **error_r);
/* PLAIN and LOGIN's work: the lookup, then the hash check. */
void sasl_server_verify_work(struct sasl_server *srv, struct userdb *db);
/* Mark srv finished with FAIL and set error_r. */
enum sasl_result sasl_server_fail(struct sasl_server *srv, const char *error,
				  const char **error_r);
/* In work(): the outcome is FAIL, with error copied (temp: our fault). */
void sasl_server_work_fail(struct sasl_server *srv, bool temp, const char *error);

#endif
