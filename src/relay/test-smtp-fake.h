/* test-smtp-fake.h: a scripted SMTP server for the relay's unit tests: a
 * thread on a loopback listening socket, blocking I/O with a 5 s receive
 * timeout on every read (a test never hangs), serving up to `sessions`
 * connections one after another. It answers each command from defaults
 * (below) unless reply() returns a reply of its own, keeps the transcript
 * of command lines, the DATA/BDAT bytes exactly as they came over the
 * wire, and how many command lines were already buffered when each MAIL
 * arrived (pipelining). STARTTLS works when ssl_ctx is set.
 *
 * Defaults: greeting "220 fake ESMTP"; EHLO: ehlo (a whole multi-line
 * reply) or "250 fake"; HELO 250; MAIL 250; RCPT 250, but 451 for an
 * address starting "temp", 550 for one starting "perm"; DATA 354, after
 * the dot 250; BDAT 250 once its bytes are read; RSET 250; QUIT 221 and
 * close. A reply of "" means: say nothing (for timeouts). */
#ifndef POSTEL_TEST_SMTP_FAKE_H
#define POSTEL_TEST_SMTP_FAKE_H

#include "lib/str.h"

#include <pthread.h>
#include <stdbool.h>

struct fake_smtp {
	const char *greeting;          /* NULL: the default */
	const char *ehlo;              /* NULL: "250 fake\r\n" */
	/* a reply to a command line ("\r\n" ended), or NULL for the default */
	const char *(*reply)(struct fake_smtp *f, const char *line);
	void *ssl_ctx;                 /* SSL_CTX * for STARTTLS, or NULL */
	bool implicit_tls;             /* handshake before the greeting */
	unsigned sessions;             /* connections to serve (default 1) */
	unsigned stall_data_ms;        /* after 354, read nothing this long */
	void *user;

	int listen_fd;
	unsigned port;
	pthread_t thread;
	str_t transcript;              /* command lines, "\n" after each */
	str_t data;                    /* DATA up to and incl. ".\r\n", BDAT bytes */
	unsigned mail_batch;           /* lines buffered when MAIL came, max */
	unsigned connections;
	bool tls_done;
};

void fake_smtp_start(struct fake_smtp *f);
/* Waits for the thread (it ends when its sessions are over). */
void fake_smtp_join(struct fake_smtp *f);
void fake_smtp_free(struct fake_smtp *f);

#endif
