/* secret.h: read a password from the terminal without echo, or as one
 * line from a file descriptor (stdin that is not a terminal).
 *
 * Both read byte by byte so no stdio buffer keeps a copy, cut the newline
 * (and a CR before it), NUL-terminate, and return the length or -1 with
 * *error_r. A line that does not fit in size - 1 bytes is an error
 * ("password longer than 255 bytes": callers size buf for that limit and
 * check it themselves). secret_read_tty() turns echo off on stdin, prints
 * the prompt on stderr, and restores the terminal even when SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT or SIGTSTP arrives meanwhile. Callers wipe buf. */
#ifndef POSTEL_SECRET_H
#define POSTEL_SECRET_H

#include <stddef.h>
#include <sys/types.h>

ssize_t secret_read_line(int fd, char *buf, size_t size, const char **error_r);
ssize_t secret_read_tty(const char *prompt, char *buf, size_t size,
			const char **error_r);

#endif
