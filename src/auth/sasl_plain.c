/* sasl_plain.c: the PLAIN mechanism (RFC 4616), server side.
 *
 * message = [authzid] NUL authcid NUL passwd (RFC 4616 section 2), each
 * field UTF-8 without NUL, authcid and passwd not empty. We act only as
 * the user who authenticates: authzid must be empty or name that user. */
#include "auth/sasl_private.h"

#include <string.h>
#include <strings.h>

static enum sasl_result sasl_plain_step(struct sasl_server *srv, bool has_input,
					const unsigned char *in, size_t in_len,
					str_t *challenge, const char **error_r)
{
	const unsigned char *nul1, *nul2;
	size_t authzid_len, authcid_len, passwd_len;

	(void)challenge;
	if (!has_input && srv->state == 0) {
		/* RFC 4422 section 5: no initial response, so send an empty
		 * challenge and wait for the message */
		srv->state = 1;
		return SASL_CONTINUE;
	}
	if (in_len == 0)
		return sasl_server_fail(srv, "PLAIN message needs exactly two NULs", error_r);
	if (in_len > SASL_FIELD_MAX * 3 + 2)
		return sasl_server_fail(srv, "PLAIN message too long", error_r);
	nul1 = memchr(in, '\0', in_len);
	nul2 = nul1 == NULL ? NULL : memchr(nul1 + 1, '\0', in_len - (size_t)(nul1 + 1 - in));
	if (nul2 == NULL ||
	    memchr(nul2 + 1, '\0', in_len - (size_t)(nul2 + 1 - in)) != NULL)
		return sasl_server_fail(srv, "PLAIN message needs exactly two NULs", error_r);

	authzid_len = (size_t)(nul1 - in);
	authcid_len = (size_t)(nul2 - nul1 - 1);
	passwd_len = in_len - (size_t)(nul2 + 1 - in);
	if (authcid_len == 0 || passwd_len == 0)
		return sasl_server_fail(srv, "PLAIN authcid or passwd is empty", error_r);
	if (authzid_len > SASL_FIELD_MAX || authcid_len > SASL_FIELD_MAX ||
	    passwd_len > SASL_FIELD_MAX)
		return sasl_server_fail(srv, "PLAIN field longer than 255 bytes", error_r);
	/* the NULs are delimiters checked above; every field must be UTF-8 */
	if (!sasl_utf8_valid(in, authzid_len) ||
	    !sasl_utf8_valid(nul1 + 1, authcid_len) ||
	    !sasl_utf8_valid(nul2 + 1, passwd_len))
		return sasl_server_fail(srv, "PLAIN field is not valid UTF-8", error_r);

	const char *authcid = pool_strndup(srv->pool, (const char *)nul1 + 1, authcid_len);
	if (authzid_len > 0 &&
	    (authzid_len != authcid_len ||
	     strncasecmp((const char *)in, authcid, authcid_len) != 0))
		return sasl_server_fail(srv, "PLAIN authzid differs from authcid", error_r);
	return sasl_server_prepare_verify(srv, authcid, nul2 + 1, passwd_len, error_r);
}

const struct sasl_mech sasl_mech_plain = {
	.name = "PLAIN",
	.step = sasl_plain_step,
	.work = sasl_server_verify_work,
};
