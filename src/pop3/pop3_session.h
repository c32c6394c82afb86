/* pop3_session.h: a POP3 server session (RFC 1939) on one connection, for
 * the two POP3 services: pop3 (110, STLS per RFC 2595) and pop3s (995,
 * implicit TLS, RFC 8314). */
#ifndef POSTEL_POP3_SESSION_H
#define POSTEL_POP3_SESSION_H

#include "session/session.h"

/* Takes ownership of fd. peer_ip: the client address as accept() gave it. */
void pop3_session_create(const struct session_env *env, int fd, enum service service,
			 const char *peer_ip);
/* SIGTERM (session_drain_all()): idle sessions get -ERR [SYS/TEMP] and
 * close without entering UPDATE (nothing is deleted); a RETR in flight or
 * a QUIT's expunge finishes first. */

#endif
