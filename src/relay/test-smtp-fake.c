/* test-smtp-fake.c: the scripted SMTP server of the relay tests. See
 * test-smtp-fake.h. */
#include "relay/test-smtp-fake.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/ssl.h>

struct fake_conn {
	struct fake_smtp *f;
	int fd;
	SSL *ssl;
	char buf[65536];
	size_t len;
	bool closed;
};

static ssize_t fake_recv(struct fake_conn *c)
{
	if (c->len == sizeof(c->buf))
		return -1;
	ssize_t n = c->ssl != NULL ?
		SSL_read(c->ssl, c->buf + c->len, (int)(sizeof(c->buf) - c->len)) :
		recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return n;
}

static void fake_send(struct fake_conn *c, const char *s, size_t len)
{
	if (c->ssl != NULL)
		(void)SSL_write(c->ssl, s, (int)len);
	else
		(void)send(c->fd, s, len, MSG_NOSIGNAL);
}

static void fake_sends(struct fake_conn *c, const char *s)
{
	fake_send(c, s, strlen(s));
}

/* One line into line (NUL-terminated, with its CRLF); false at EOF. */
static bool fake_line(struct fake_conn *c, char *line, size_t size)
{
	for (unsigned tries = 0; tries < 1000; tries++) {
		char *lf = memchr(c->buf, '\n', c->len);
		if (lf != NULL) {
			size_t n = (size_t)(lf - c->buf) + 1;
			size_t k = n < size - 1 ? n : size - 1;
			memcpy(line, c->buf, k);
			line[k] = '\0';
			memmove(c->buf, c->buf + n, c->len - n);
			c->len -= n;
			return true;
		}
		if (fake_recv(c) < 0)
			return false;
	}
	return false;
}

static unsigned fake_buffered_lines(const struct fake_conn *c)
{
	unsigned n = 0;
	for (size_t i = 0; i < c->len; i++)
		n += c->buf[i] == '\n';
	return n;
}

static bool fake_data(struct fake_conn *c)
{
	/* until CRLF.CRLF at a line start, kept byte for byte */
	size_t start = c->f->data.len;
	for (unsigned tries = 0; tries < 100000; tries++) {
		while (c->len > 0) {
			str_append(&c->f->data, c->buf, c->len);
			c->len = 0;
		}
		const str_t *d = &c->f->data;
		size_t n = d->len - start;
		if ((n == 3 && memcmp(d->data + start, ".\r\n", 3) == 0) ||
		    (n >= 5 && memcmp(d->data + d->len - 5, "\r\n.\r\n", 5) == 0))
			return true;
		if (fake_recv(c) < 0)
			return false;
	}
	return false;
}

static bool fake_bdat(struct fake_conn *c, size_t want)
{
	for (unsigned tries = 0; tries < 100000 && want > 0; tries++) {
		if (c->len == 0 && fake_recv(c) < 0)
			return false;
		size_t k = c->len < want ? c->len : want;
		str_append(&c->f->data, c->buf, k);
		memmove(c->buf, c->buf + k, c->len - k);
		c->len -= k;
		want -= k;
	}
	return want == 0;
}

static const char *fake_default(struct fake_conn *c, const char *line)
{
	struct fake_smtp *f = c->f;
	if (strncasecmp(line, "EHLO", 4) == 0)
		return f->ehlo != NULL ? f->ehlo : "250 fake\r\n";
	if (strncasecmp(line, "HELO", 4) == 0)
		return "250 fake\r\n";
	if (strncasecmp(line, "MAIL", 4) == 0)
		return "250 2.1.0 sender ok\r\n";
	if (strncasecmp(line, "RCPT TO:<temp", 13) == 0)
		return "451 4.2.0 try later\r\n";
	if (strncasecmp(line, "RCPT TO:<perm", 13) == 0)
		return "550 5.1.1 no such user\r\n";
	if (strncasecmp(line, "RCPT", 4) == 0)
		return "250 2.1.5 recipient ok\r\n";
	if (strncasecmp(line, "DATA", 4) == 0)
		return "354 go ahead\r\n";
	if (strncasecmp(line, "RSET", 4) == 0)
		return "250 2.0.0 reset\r\n";
	if (strncasecmp(line, "QUIT", 4) == 0)
		return "221 2.0.0 bye\r\n";
	if (strncasecmp(line, "STARTTLS", 8) == 0)
		return "220 2.0.0 ready for TLS\r\n";
	if (strncasecmp(line, "BDAT", 4) == 0)
		return "250 2.0.0 chunk ok\r\n";
	return "500 5.5.1 what\r\n";
}

static void fake_session(struct fake_conn *c)
{
	struct fake_smtp *f = c->f;
	if (f->implicit_tls) {
		c->ssl = SSL_new(f->ssl_ctx);
		SSL_set_fd(c->ssl, c->fd);
		if (SSL_accept(c->ssl) != 1)
			return;
		f->tls_done = true;
	}
	fake_sends(c, f->greeting != NULL ? f->greeting : "220 fake ESMTP\r\n");
	char line[2048];
	while (!c->closed && fake_line(c, line, sizeof(line))) {
		str_appendz(&f->transcript, line);
		if (strncasecmp(line, "MAIL", 4) == 0) {
			unsigned n = fake_buffered_lines(c) + 1;
			if (n > f->mail_batch)
				f->mail_batch = n;
		}
		if (strncasecmp(line, "BDAT ", 5) == 0 &&
		    !fake_bdat(c, strtoul(line + 5, NULL, 10)))
			return;
		const char *r = f->reply != NULL ? f->reply(f, line) : NULL;
		if (r == NULL)
			r = fake_default(c, line);
		fake_sends(c, r);
		if (strncasecmp(line, "DATA", 4) == 0 && r[0] == '3') {
			if (f->stall_data_ms > 0)
				usleep(f->stall_data_ms * 1000);
			if (!fake_data(c))
				return;
			const char *end = f->reply != NULL ? f->reply(f, ".\r\n") : NULL;
			fake_sends(c, end != NULL ? end : "250 2.0.0 queued as FAKE\r\n");
		}
		if (strncasecmp(line, "QUIT", 4) == 0)
			return;
		if (strncasecmp(line, "STARTTLS", 8) == 0 && r[0] == '2' &&
		    f->ssl_ctx != NULL) {
			c->len = 0;
			c->ssl = SSL_new(f->ssl_ctx);
			SSL_set_fd(c->ssl, c->fd);
			if (SSL_accept(c->ssl) != 1)
				return;
			f->tls_done = true;
		}
	}
}

static void *fake_thread(void *ctx)
{
	struct fake_smtp *f = ctx;
	for (unsigned i = 0; i < f->sessions; i++) {
		int fd = accept(f->listen_fd, NULL, NULL);
		if (fd < 0)
			break;
		struct timeval tv = { .tv_sec = 5 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		f->connections++;
		struct fake_conn *c = calloc(1, sizeof(*c));
		c->f = f;
		c->fd = fd;
		fake_session(c);
		if (c->ssl != NULL) {
			SSL_shutdown(c->ssl);
			SSL_free(c->ssl);
		}
		close(fd);
		free(c);
	}
	return NULL;
}

void fake_smtp_start(struct fake_smtp *f)
{
	if (f->sessions == 0)
		f->sessions = 1;
	f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&sin, sl) < 0 ||
	    listen(f->listen_fd, 4) < 0 ||
	    getsockname(f->listen_fd, (struct sockaddr *)&sin, &sl) < 0)
		abort();
	/* accept() gives up after 5 s too */
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(f->listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	f->port = ntohs(sin.sin_port);
	if (pthread_create(&f->thread, NULL, fake_thread, f) != 0)
		abort();
}

void fake_smtp_join(struct fake_smtp *f)
{
	pthread_join(f->thread, NULL);
}

void fake_smtp_free(struct fake_smtp *f)
{
	close(f->listen_fd);
	str_free(&f->transcript);
	str_free(&f->data);
}
