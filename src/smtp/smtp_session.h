/* smtp_session.h: an SMTP server session (RFC 5321) on one connection,
 * for the three SMTP services: smtp (25, MX), submission (587) and
 * submissions (465, implicit TLS, RFC 8314). */
#ifndef POSTEL_SMTP_SESSION_H
#define POSTEL_SMTP_SESSION_H

#include "session/session.h"

/* Takes ownership of fd. peer_ip: the client address as accept() gave it. */
void smtp_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip);
/* SIGTERM (session_drain_all()): idle sessions get 421 and close;
 * transactions in flight finish first and then close. */

#endif
