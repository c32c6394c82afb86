/* pop3_retrieve.c: the load generator of bench/pop3.py (not part of
 * postel). One thread per user, all started together: connect, USER/PASS,
 * STAT, RETR 1..N one at a time (as fetchmail does), QUIT. Prints
 * "<messages> <seconds>" for the whole run; exits 1 on any error.
 *
 *   pop3_retrieve PORT PASSWORD USER...
 *
 * Written in C so that the client's own CPU time, on a machine with two
 * cores shared with the server, stays small next to the server's. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)

static int port;
static const char *password;

struct client {
	pthread_t thread;
	const char *user;
	int fd;
	char *buf;
	size_t start, len; /* unread bytes: buf[start, start + len) */
	long messages;
	int failed;
};

static int fill(struct client *c)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->len);
		c->start = 0;
	}
	if (c->len == BUF_SIZE)
		return -1;
	ssize_t n = recv(c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

/* One reply line; it must start with +OK. */
static int reply(struct client *c, char *line, size_t size)
{
	for (;;) {
		char *eol = memmem(c->buf + c->start, c->len, "\r\n", 2);
		if (eol != NULL) {
			size_t n = (size_t)(eol - (c->buf + c->start));
			snprintf(line, size, "%.*s", (int)n, c->buf + c->start);
			c->start += n + 2;
			c->len -= n + 2;
			return strncmp(line, "+OK", 3) == 0 ? 0 : -1;
		}
		if (fill(c) < 0)
			return -1;
	}
}

static int command(struct client *c, const char *cmd, char *line, size_t size)
{
	size_t len = strlen(cmd);
	if (send(c->fd, cmd, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	return reply(c, line, size);
}

/* Skip a multi-line body up to and including CRLF "." CRLF. The reply
 * line's CRLF counts as the start of the first line. */
static int skip_body(struct client *c)
{
	int at_line_start = 1;
	for (;;) {
		char *p = c->buf + c->start, *end = p + c->len;
		if (at_line_start && c->len >= 3 && memcmp(p, ".\r\n", 3) == 0) {
			c->start += 3;
			c->len -= 3;
			return 0;
		}
		char *term = memmem(p, c->len, "\r\n.\r\n", 5);
		if (term != NULL) {
			size_t used = (size_t)(term + 5 - p);
			c->start += used;
			c->len -= used;
			return 0;
		}
		/* keep the last 4 bytes: a terminator may straddle reads */
		if (c->len > 4) {
			at_line_start = 0;
			c->start += c->len - 4;
			c->len = 4;
		}
		(void)end;
		if (fill(c) < 0)
			return -1;
	}
}

static void *client_run(void *arg)
{
	struct client *c = arg;
	char line[512], cmd[600];
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	c->buf = malloc(BUF_SIZE);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->buf == NULL || c->fd < 0 ||
	    connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    reply(c, line, sizeof(line)) < 0)
		goto fail;
	snprintf(cmd, sizeof(cmd), "USER %s\r\n", c->user);
	if (command(c, cmd, line, sizeof(line)) < 0)
		goto fail;
	snprintf(cmd, sizeof(cmd), "PASS %s\r\n", password);
	if (command(c, cmd, line, sizeof(line)) < 0 ||
	    command(c, "STAT\r\n", line, sizeof(line)) < 0)
		goto fail;
	long count = strtol(line + 4, NULL, 10);
	for (long i = 1; i <= count; i++) {
		snprintf(cmd, sizeof(cmd), "RETR %ld\r\n", i);
		if (command(c, cmd, line, sizeof(line)) < 0 || skip_body(c) < 0)
			goto fail;
		c->messages++;
	}
	if (command(c, "QUIT\r\n", line, sizeof(line)) < 0)
		goto fail;
	close(c->fd);
	free(c->buf);
	return NULL;
fail:
	fprintf(stderr, "pop3_retrieve: %s: failed after %ld messages: %s\n", c->user,
		c->messages, line);
	c->failed = 1;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: pop3_retrieve PORT PASSWORD USER...\n");
		return 2;
	}
	port = atoi(argv[1]);
	password = argv[2];
	int n = argc - 3;
	struct client *clients = calloc((size_t)n, sizeof(*clients));
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		clients[i].user = argv[3 + i];
		clients[i].fd = -1;
		pthread_create(&clients[i].thread, NULL, client_run, &clients[i]);
	}
	long total = 0;
	int failed = 0;
	for (int i = 0; i < n; i++) {
		pthread_join(clients[i].thread, NULL);
		total += clients[i].messages;
		failed |= clients[i].failed;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("%ld %.3f\n", total,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	free(clients);
	return failed;
}
