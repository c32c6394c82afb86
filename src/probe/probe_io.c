/* probe_io.c: probe's deadline-bound client connection. See probe_io.h. */
#include "probe/probe_io.h"
#include "probe/probe_reply.h"
#include "lib/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

uint64_t probe_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait for events on the fd until the deadline: 0 ready, -1 timed out. */
static int probe_io_wait(struct probe_io *io, short events, const char **error_r)
{
	for (;;) {
		uint64_t now = probe_now_ms();
		if (now >= io->deadline) {
			io->timed_out = true;
			*error_r = "timed out";
			return -1;
		}
		struct pollfd pfd = { .fd = io->fd, .events = events };
		int n = poll(&pfd, 1, (int)(io->deadline - now));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR) {
			*error_r = t_printf("poll: %s", strerror(errno));
			return -1;
		}
	}
}

static enum probe_connect_error probe_connect_kind(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return PROBE_CONN_REFUSED;
	case ETIMEDOUT:
		return PROBE_CONN_TIMEOUT;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
		return PROBE_CONN_UNREACHABLE;
	default:
		return PROBE_CONN_OTHER;
	}
}

int probe_io_connect(struct probe_io *io, const struct sockaddr *addr,
		     socklen_t addr_len, uint64_t deadline,
		     enum probe_connect_error *kind_r, const char **error_r)
{
	memset(io, 0, sizeof(*io));
	io->deadline = deadline;
	io->fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	*kind_r = PROBE_CONN_OTHER;
	if (io->fd < 0) {
		*error_r = t_printf("socket: %s", strerror(errno));
		return -1;
	}
	int err = 0;
	if (connect(io->fd, addr, addr_len) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
		} else if (probe_io_wait(io, POLLOUT, error_r) < 0) {
			*kind_r = io->timed_out ? PROBE_CONN_TIMEOUT : PROBE_CONN_OTHER;
			return -1;
		} else {
			socklen_t len = sizeof(err);
			if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
				err = errno;
		}
	}
	if (err != 0) {
		*kind_r = probe_connect_kind(err);
		*error_r = strerror(err);
		return -1;
	}
	*kind_r = PROBE_CONN_NONE;
	return 0;
}

void probe_io_close(struct probe_io *io)
{
	if (io->ssl != NULL) {
		SSL_free(io->ssl);
		io->ssl = NULL;
	}
	if (io->fd >= 0)
		close(io->fd);
	io->fd = -1;
	str_free(&io->in);
}

static const char *probe_ssl_error(void)
{
	unsigned long e = ERR_get_error();
	if (e == 0)
		return "connection closed during TLS";
	char buf[256];
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return t_printf("%s", buf);
}

/* Retry an SSL_* call after waiting for what it wants. 0 retry, -1 error. */
static int probe_ssl_want(struct probe_io *io, int ret, const char **error_r)
{
	switch (SSL_get_error(io->ssl, ret)) {
	case SSL_ERROR_WANT_READ:
		return probe_io_wait(io, POLLIN, error_r);
	case SSL_ERROR_WANT_WRITE:
		return probe_io_wait(io, POLLOUT, error_r);
	case SSL_ERROR_ZERO_RETURN:
		*error_r = "connection closed";
		return -1;
	case SSL_ERROR_SYSCALL:
		*error_r = errno != 0 ? strerror(errno) : "connection closed";
		ERR_clear_error();
		return -1;
	default:
		*error_r = probe_ssl_error();
		return -1;
	}
}

/* One read or write of up to len bytes, waiting for the socket as needed:
 * the number of bytes moved, or -1 (EOF on read counts as an error). */
static ssize_t probe_io_once(struct probe_io *io, bool writing, void *buf,
			     size_t len, const char **error_r)
{
	int chunk = len > 65536 ? 65536 : (int)len;

	for (;;) {
		if (io->ssl != NULL) {
			ERR_clear_error();
			errno = 0;
			int r = writing ? SSL_write(io->ssl, buf, chunk) :
				SSL_read(io->ssl, buf, chunk);
			if (r > 0)
				return r;
			if (probe_ssl_want(io, r, error_r) < 0)
				return -1;
			continue;
		}
		ssize_t n = writing ? send(io->fd, buf, (size_t)chunk, MSG_NOSIGNAL) :
			recv(io->fd, buf, (size_t)chunk, 0);
		if (n > 0)
			return n;
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (probe_io_wait(io, writing ? POLLOUT : POLLIN, error_r) < 0)
				return -1;
			continue;
		}
		*error_r = n < 0 ? strerror(errno) : "connection closed";
		return -1;
	}
}

int probe_io_write(struct probe_io *io, const void *data, size_t len,
		   const char **error_r)
{
	char *p = (char *)data;
	while (len > 0) {
		ssize_t n = probe_io_once(io, true, p, len, error_r);
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int probe_io_write_line(struct probe_io *io, const char *line, const char **error_r)
{
	const char *s = t_printf("%s\r\n", line);
	return probe_io_write(io, s, strlen(s), error_r);
}

/* Read more into io->in. 0, or -1 on EOF, error or deadline. */
static int probe_io_fill(struct probe_io *io, const char **error_r)
{
	char buf[4096];
	ssize_t n = probe_io_once(io, false, buf, sizeof(buf), error_r);
	if (n < 0)
		return -1;
	str_append(&io->in, buf, (size_t)n);
	return 0;
}

int probe_io_read_line(struct probe_io *io, const char **line_r, size_t *len_r,
		       const char **error_r)
{
	/* drop the line returned by the previous call */
	str_consume(&io->in, io->consumed);
	io->consumed = 0;
	for (;;) {
		size_t consumed;
		int r = probe_line_next(str_c(&io->in), io->in.len, line_r, len_r,
					&consumed);
		if (r > 0) {
			io->consumed = consumed;
			return 0;
		}
		if (r < 0) {
			*error_r = "line too long";
			return -1;
		}
		if (probe_io_fill(io, error_r) < 0)
			return -1;
	}
}

int probe_io_read_all(struct probe_io *io, size_t max, str_t *out,
		      const char **error_r)
{
	char buf[4096];

	str_consume(&io->in, io->consumed);
	io->consumed = 0;
	str_append(out, str_c(&io->in), io->in.len);
	str_clear(&io->in);
	while (out->len <= max) {
		ssize_t n = probe_io_once(io, false, buf, sizeof(buf), error_r);
		if (n < 0)
			return io->timed_out ? -1 : 0; /* EOF or a close: the end */
		str_append(out, buf, (size_t)n);
	}
	*error_r = t_printf("more than %zu bytes", max);
	return -1;
}

static bool probe_is_ip(const char *name)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

int probe_io_starttls(struct probe_io *io, void *ssl_ctx, const char *servername,
		      bool *had_input_r, const char **error_r)
{
	io->ssl = SSL_new(ssl_ctx);
	if (io->ssl == NULL) {
		*error_r = probe_ssl_error();
		return -1;
	}
	*had_input_r = io->in.len > io->consumed;
	str_clear(&io->in);
	io->consumed = 0;
	SSL_set_fd(io->ssl, io->fd);
	if (servername != NULL && !probe_is_ip(servername))
		SSL_set_tlsext_host_name(io->ssl, servername);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		int r = SSL_connect(io->ssl);
		if (r == 1)
			return 0;
		if (probe_ssl_want(io, r, error_r) < 0)
			return -1;
	}
}
