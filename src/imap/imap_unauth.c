/* imap_unauth.c: UNAUTHENTICATE (RFC 8437): back to the not authenticated
 * state on the same connection, so that another LOGIN or AUTHENTICATE
 * (another user) may follow.
 *
 * Contract: valid in the authenticated and selected states (the command
 * table), without arguments. Everything the login gave is let go before
 * the OK: the selected mailbox is closed without expunging (as UNSELECT),
 * a cut-off APPEND's deliveries are aborted and the user's lane and store
 * handle released (imap_store_close(), session_user.h), so nothing of the
 * old user is reachable afterwards. What ENABLE switched on is off again
 * (RFC 8437 3: the state of the connection is as before authentication);
 * TLS stays, and so would a compression layer: RFC 8437 leaves TLS and
 * COMPRESS in place, so UNAUTHENTICATE is not refused because of them.
 * The pre-login limits and the login deadline apply again. */
#include "imap_commands.h"
#include "imap/imap_session_private.h"
#include "imap/imap_store.h"
#include "lib/config.h"
#include "lib/log.h"

static void unauth_done(struct imap_session *s)
{
	if (imap_session_check_gone(s))
		return;
	log_info("sid=%s event=unauthenticate user=%s", s->base.sid, log_str(s->user));
	s->user = NULL;
	session_str_set(&s->user_owned, NULL, 0);
	s->state = IMAP_STATE_NOT_AUTH;
	/* RFC 8437 3: as a fresh connection; ENABLEd extensions are reset */
	s->rev2 = false;
	s->utf8_accept = false;
	s->utf8_enabled = false;
	s->condstore = false;
	s->qresync = false;
	imap_notify_free(s); /* RFC 5465 watches belong to the login */
	session_login_deadline(&s->base, s->base.env->config->login_timeout);
	imap_cmd_ok(&s->cmd, NULL, "UNAUTHENTICATE completed");
}

void imap_cmd_unauthenticate(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "UNAUTHENTICATE takes no arguments");
		return;
	}
	imap_cmd_wait(cmd);
	imap_store_close(cmd->s, unauth_done);
}
