/* sasl_login.c: the LOGIN mechanism (draft-murchison-sasl-login-00),
 * server side: challenges "Username:" then "Password:". An initial
 * response, when given, is the user name. The draft leaves the charset
 * open, so the password is taken as bytes (no NUL); the user name must be
 * UTF-8 since it names an address. */
#include "auth/sasl_private.h"

#include <string.h>

enum sasl_login_state {
	SASL_LOGIN_START,
	SASL_LOGIN_USERNAME,
	SASL_LOGIN_PASSWORD,
};

static enum sasl_result sasl_login_ask_password(struct sasl_server *srv,
						const unsigned char *in, size_t in_len,
						str_t *challenge, const char **error_r)
{
	if (in_len == 0 || in_len > SASL_FIELD_MAX || !sasl_utf8_valid(in, in_len))
		return sasl_server_fail(srv, "LOGIN user name empty, too long or not UTF-8",
					error_r);
	srv->login_user = pool_strndup(srv->pool, (const char *)in, in_len);
	srv->state = SASL_LOGIN_PASSWORD;
	str_appendz(challenge, "Password:");
	return SASL_CONTINUE;
}

static enum sasl_result sasl_login_step(struct sasl_server *srv, bool has_input,
					const unsigned char *in, size_t in_len,
					str_t *challenge, const char **error_r)
{
	switch ((enum sasl_login_state)srv->state) {
	case SASL_LOGIN_START:
		if (has_input)
			return sasl_login_ask_password(srv, in, in_len, challenge, error_r);
		srv->state = SASL_LOGIN_USERNAME;
		str_appendz(challenge, "Username:");
		return SASL_CONTINUE;
	case SASL_LOGIN_USERNAME:
		return sasl_login_ask_password(srv, in, in_len, challenge, error_r);
	case SASL_LOGIN_PASSWORD:
		if (in_len == 0 || in_len > SASL_FIELD_MAX || memchr(in, '\0', in_len) != NULL)
			return sasl_server_fail(srv, "LOGIN password empty, too long or has NUL",
						error_r);
		return sasl_server_prepare_verify(srv, srv->login_user, in, in_len, error_r);
	}
	return sasl_server_fail(srv, "LOGIN in a bad state", error_r);
}

const struct sasl_mech sasl_mech_login = {
	.name = "LOGIN",
	.step = sasl_login_step,
	.work = sasl_server_verify_work,
};
