/* imap_session.h: an IMAP server session (RFC 9051 IMAP4rev2, RFC 3501
 * IMAP4rev1) on one connection, for the two IMAP services: imap (143,
 * STARTTLS per RFC 9051 6.2.1) and imaps (993, implicit TLS, RFC 8314). */
#ifndef POSTEL_IMAP_SESSION_H
#define POSTEL_IMAP_SESSION_H

#include "session/session.h"

/* Takes ownership of fd. peer_ip: the client address as accept() gave it. */
void imap_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip);
/* SIGTERM (session_drain_all()): an idle session gets "* BYE
 * [UNAVAILABLE]" and closes; a command in flight answers first. */

#endif
