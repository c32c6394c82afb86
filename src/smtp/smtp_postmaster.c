/* smtp_postmaster.c: RFC 5321 4.5.1: a server MUST accept mail for
 * "postmaster", bare (<Postmaster>, no domain) or at any of its domains,
 * any case. Such a recipient that the accounts database does not resolve
 * (no alias or user named postmaster@domain) goes to postmaster_address,
 * and when that is empty to the first user added to accounts.db, so a
 * fresh install with only users still takes postmaster mail. */
#include "smtp_private.h"
#include "lib/log.h"
#include "auth/userdb.h"

#include <strings.h>

bool smtp_rcpt_is_postmaster(const struct smtp_address *to, bool local_domain)
{
	return to->postmaster ||
		(local_domain && strcasecmp(to->local, "postmaster") == 0);
}

/* 1 with targets, 0 no user at all (550), -1 error (451). Runs on a
 * lookup thread with that thread's own userdb handle (smtp_lookup.c). */
int smtp_postmaster_resolve(struct userdb *userdb, const char *postmaster_address,
			    pool_t *pool, struct userdb_target **targets_r,
			    unsigned *count_r, const char **error_r)
{
	const char *address = postmaster_address;
	int r;
	if (address[0] == '\0') {
		r = userdb_user_first(userdb, pool, &address, error_r);
		if (r <= 0)
			return r;
	}
	r = userdb_resolve_rcpt(userdb, address, pool, targets_r, count_r,
				error_r);
	if (r == 0 || (r > 0 && *count_r == 0)) {
		/* a setting that names nobody: keep the mail, tell the admin */
		*error_r = t_printf("postmaster_address %s matches no user or alias",
				    log_str(address));
		return -1;
	}
	return r;
}
