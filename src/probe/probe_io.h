/* probe_io.h: one client connection of probe, plaintext or TLS, with a
 * hard deadline.
 *
 * The socket is non-blocking; every wait is a poll() bounded by the
 * deadline given at connect, so connect, greeting, TLS handshake and
 * every reply together take at most the port's timeout. Input is read
 * into a buffer of at most PROBE_LINE_MAX + 1 bytes of pending line.
 * Functions return 0 on success and -1 with *error_r (temp pool) set;
 * error_r says "timed out" when the deadline passed. */
#ifndef POSTEL_PROBE_IO_H
#define POSTEL_PROBE_IO_H

#include "lib/str.h"
#include "probe/probe.h"

#include <stdint.h>

struct probe_io {
	int fd;
	void *ssl;          /* SSL *, after probe_io_starttls() */
	uint64_t deadline;  /* monotonic ms */
	str_t in;
	size_t consumed;    /* bytes of the line last returned */
	bool timed_out;     /* the last error was the deadline */
};

uint64_t probe_now_ms(void);

/* Non-blocking connect to addr by the deadline. On failure *kind_r says
 * why (refused, timed out, unreachable). */
int probe_io_connect(struct probe_io *io, const struct sockaddr *addr,
		     socklen_t addr_len, uint64_t deadline,
		     enum probe_connect_error *kind_r, const char **error_r);
void probe_io_close(struct probe_io *io);

int probe_io_write(struct probe_io *io, const void *data, size_t len,
		   const char **error_r);
int probe_io_write_line(struct probe_io *io, const char *line, const char **error_r);
/* The next line without its CRLF; valid until the next probe_io call. */
int probe_io_read_line(struct probe_io *io, const char **line_r, size_t *len_r,
		       const char **error_r);

/* Everything up to EOF (buffered input first) appended to out; -1 when
 * more than max bytes arrive, on error or at the deadline. */
int probe_io_read_all(struct probe_io *io, size_t max, str_t *out,
		      const char **error_r);

/* TLS handshake as a client of ssl_ctx, with SNI servername when it is
 * not an IP address. Input buffered before it is dropped, and reported
 * through *had_input_r (RFC 3207 4.2 / CVE-2011-0411 on the server side). */
int probe_io_starttls(struct probe_io *io, void *ssl_ctx, const char *servername,
		      bool *had_input_r, const char **error_r);

#endif
