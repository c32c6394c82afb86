/* sasl.c: the mechanism table, the step dispatcher and the password
 * verification shared by PLAIN and LOGIN. See sasl.h. */
#include "auth/sasl_private.h"
#include "auth/userdb.h"
#include "lib/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

static const struct sasl_mech *const sasl_mechs[] = {
	&sasl_mech_plain, &sasl_mech_login, &sasl_mech_scram_sha256, NULL
};
static const char *const sasl_mech_names[] = {
	"PLAIN", "LOGIN", "SCRAM-SHA-256", NULL
};

const char *const *sasl_mechanisms(void)
{
	return sasl_mech_names;
}

struct sasl_server *sasl_server_create(const char *mech)
{
	for (unsigned i = 0; sasl_mechs[i] != NULL; i++) {
		if (strcasecmp(sasl_mechs[i]->name, mech) == 0) {
			struct sasl_server *srv = xcalloc(1, sizeof(*srv));
			srv->mech = sasl_mechs[i];
			srv->pool = pool_create(1024);
			return srv;
		}
	}
	return NULL;
}

void sasl_server_destroy(struct sasl_server **_srv)
{
	struct sasl_server *srv = *_srv;
	if (srv == NULL)
		return;
	*_srv = NULL;
	if (srv->verify_hash != NULL) {
		OPENSSL_cleanse(srv->verify_hash, strlen(srv->verify_hash));
		free(srv->verify_hash);
	}
	pool_destroy(&srv->pool);
	/* the password copy and the SCRAM keys live in the struct itself */
	OPENSSL_cleanse(srv, sizeof(*srv));
	free(srv);
}

enum sasl_result sasl_server_fail(struct sasl_server *srv, const char *error,
				  const char **error_r)
{
	srv->finished = true;
	*error_r = error;
	return SASL_FAIL;
}

enum sasl_result sasl_server_step(struct sasl_server *srv, bool has_input,
				  const unsigned char *in, size_t in_len,
				  str_t *challenge, const char **error_r)
{
	str_clear(challenge);
	if (srv->finished || srv->work_pending)
		return sasl_server_fail(srv, "SASL step after the exchange ended", error_r);
	if (!has_input)
		in_len = 0;
	enum sasl_result ret = srv->mech->step(srv, has_input, in, in_len, challenge, error_r);
	if (ret == SASL_OK || ret == SASL_FAIL)
		srv->finished = true;
	else if (ret == SASL_VERIFY || ret == SASL_LOOKUP)
		srv->work_pending = true;
	return ret;
}

void sasl_server_work_fail(struct sasl_server *srv, bool temp, const char *error)
{
	srv->work_result = SASL_FAIL;
	srv->temp_failure = temp;
	snprintf(srv->work_error, sizeof(srv->work_error), "%s", error);
}

void sasl_server_work(struct sasl_server *srv, struct userdb *db)
{
	if (srv->work_pending && !srv->work_done && srv->mech->work != NULL)
		srv->mech->work(srv, db);
	else
		sasl_server_work_fail(srv, false, "no SASL work pending");
	srv->work_done = true;
}

enum sasl_result sasl_server_work_finish(struct sasl_server *srv, str_t *challenge,
					 const char **error_r)
{
	str_clear(challenge);
	if (!srv->work_pending || !srv->work_done)
		return sasl_server_fail(srv, "SASL work finished before it ran", error_r);
	srv->work_pending = srv->work_done = false;
	if (srv->work_result == SASL_FAIL)
		return sasl_server_fail(srv, srv->work_error, error_r);
	if (srv->work_challenge != NULL)
		str_appendz(challenge, srv->work_challenge);
	srv->work_challenge = NULL;
	if (srv->work_result == SASL_OK)
		srv->finished = true;
	return srv->work_result;
}

enum sasl_result sasl_server_prepare_verify(struct sasl_server *srv, const char *authcid,
					    const unsigned char *password, size_t password_len,
					    const char **error_r)
{
	if (password_len > SASL_FIELD_MAX)
		return sasl_server_fail(srv, "password longer than 255 bytes", error_r);
	srv->attempt_user = authcid;
	memcpy(srv->password, password, password_len);
	srv->password[password_len] = '\0';
	return SASL_VERIFY;
}

void sasl_server_verify_work(struct sasl_server *srv, struct userdb *db)
{
	struct userdb_auth auth;
	const char *error;

	int ret = userdb_auth_lookup(db, srv->attempt_user, srv->pool, &auth, &error);
	if (ret < 0) {
		OPENSSL_cleanse(srv->password, sizeof(srv->password));
		sasl_server_work_fail(srv, true, t_printf("user lookup failed: %s", error));
		return;
	}
	/* an unknown user still costs one hash verification, so that the
	 * answer's timing does not tell which users exist */
	srv->verify_user = ret > 0 ? auth.address : NULL;
	srv->verify_hash = xstrdup(ret > 0 ? auth.password_hash : password_dummy_hash());
	OPENSSL_cleanse(&auth.scram, sizeof(auth.scram));
	bool ok = password_verify(srv->password, srv->verify_hash) == 1 &&
		srv->verify_user != NULL;
	OPENSSL_cleanse(srv->password, sizeof(srv->password));
	if (!ok) {
		sasl_server_work_fail(srv, false, srv->verify_user == NULL ? "unknown user" :
				      "password mismatch");
		return;
	}
	srv->user = srv->verify_user;
	srv->work_result = SASL_OK;
}

const char *sasl_server_attempt_user(struct sasl_server *srv)
{
	return srv->attempt_user;
}

const char *sasl_server_user(struct sasl_server *srv)
{
	return srv->user;
}

bool sasl_server_temp_failure(struct sasl_server *srv)
{
	return srv->temp_failure;
}

bool sasl_utf8_valid(const unsigned char *s, size_t len)
{
	/* RFC 4616 2 / RFC 4013: no NUL inside a field */
	return memchr(s, 0, len) == NULL && utf8_valid(s, len);
}
