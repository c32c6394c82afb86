/* smtp_session.h: an SMTP server session (RFC 5321) on one connection,
 * for the three SMTP services: smtp (25, MX), submission (587) and
 * submissions (465, implicit TLS, RFC 8314). */
#ifndef POSTEL_SMTP_SESSION_H
#define POSTEL_SMTP_SESSION_H

#include "server/server.h"

/* Takes ownership of fd. */
/* peer_ip: the client address as accept() gave it */
void smtp_session_create(struct worker *worker, int fd, enum service service,
			 const char *peer_ip);
/* SIGTERM: idle sessions get 421 and close; transactions in flight finish
 * first and then close. */
void smtp_sessions_drain(struct worker *worker);

#endif
