/* imap-load.c: the IMAP load generator of bench/imap.py and
 * bench/imap_idle.py (not part of postel, not installed).
 *
 *   imap-load mix PORT PASSWORD SECONDS CLIENTS USER...
 *     CLIENTS threads (client i works as USER[i % users]), each running
 *     sessions until SECONDS have passed: LOGIN, SELECT INBOX, then 5
 *     rounds of LIST, STATUS, FETCH FLAGS (all), FETCH ENVELOPE (10),
 *     FETCH BODY.PEEK[] (1), STORE +FLAGS (5), APPEND, STORE \Deleted on
 *     the last message, EXPUNGE; then LOGOUT. A mix close to imaptest's
 *     default (many fetches and flag changes, a login per few commands).
 *     Prints one line per command: "cmd NAME ok N no N bad N ms MS" (MS:
 *     the summed time from sending each command to its tagged answer) and
 *     "elapsed SECONDS". A command answered BAD is counted as bad (the
 *     driver prints it as unsupported) and that client sends it no more
 *     (a server closes a session after too many BADs); the session goes on.
 *
 *   imap-load idle PORT PASSWORD CONNS USER...
 *     CONNS connections over implicit TLS (connection i as USER[i % users]),
 *     opened by 8 threads: LOGIN, SELECT INBOX, IDLE when the
 *     server answers "+" (else the connection just stays selected). Then
 *     prints "ready CONNS IDLING" and holds them all until stdin closes
 *     (the driver measures the server's memory meanwhile).
 *
 * Written in C so that its own CPU time, on two cores shared with the
 * server, stays small next to the server's. Blocking I/O, bounded by
 * SO_RCVTIMEO/SO_SNDTIMEO (60 s) on every socket. Exits 1 on an error. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE (256 * 1024)
#define ROUNDS_PER_SESSION 5

enum cmd { C_LOGIN, C_SELECT, C_LIST, C_STATUS, C_FETCH_FLAGS, C_FETCH_ENV,
	   C_FETCH_BODY, C_STORE, C_APPEND, C_EXPUNGE, C_LOGOUT, C_COUNT };
static const char *const cmd_names[C_COUNT] = {
	"LOGIN", "SELECT", "LIST", "STATUS", "FETCH-FLAGS", "FETCH-ENVELOPE",
	"FETCH-BODY", "STORE", "APPEND", "EXPUNGE", "LOGOUT" };
enum { RES_OK, RES_NO, RES_BAD };

static int port;
static const char *password;
static char **users;
static int nusers;
static double deadline;

struct conn {
	int fd;
	SSL *ssl;
	char *buf;
	size_t start, len; /* unread bytes: buf[start, start + len) */
	unsigned tag;
	long exists; /* from the last "* N EXISTS" */
};

struct client {
	pthread_t thread;
	int index;
	long counts[C_COUNT][3];
	double ms[C_COUNT];      /* summed command latency */
	int unsupported[C_COUNT];
	int failed;
	char why[256];
};

/* when this thread last sent a command's first byte (count() reads it) */
static __thread double cmd_sent;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int conn_open(struct conn *c, SSL_CTX *ctx)
{
	memset(c, 0, sizeof(*c));
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		return -1;
	struct timeval tv = { .tv_sec = 60 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		return -1;
	}
	if (ctx != NULL) {
		c->ssl = SSL_new(ctx);
		if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
			ERR_print_errors_fp(stderr);
			return -1;
		}
		/* the idle figure is the server's; keep the client's own small */
		c->buf = malloc(4096);
	} else {
		c->buf = malloc(BUF_SIZE);
	}
	return c->buf == NULL ? -1 : 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->buf = NULL;
}

static size_t conn_cap(const struct conn *c)
{
	return c->ssl != NULL ? 4096 : BUF_SIZE;
}

static int conn_send(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = c->ssl != NULL ? SSL_write(c->ssl, data, (int)len) :
			send(c->fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static int conn_fill(struct conn *c)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->len);
		c->start = 0;
	}
	if (c->len == conn_cap(c))
		return -1;
	ssize_t n = c->ssl != NULL ?
		SSL_read(c->ssl, c->buf + c->len, (int)(conn_cap(c) - c->len)) :
		recv(c->fd, c->buf + c->len, conn_cap(c) - c->len, 0);
	if (n <= 0)
		return -1;
	c->len += (size_t)n;
	return 0;
}

/* Drop n bytes of literal data (any size: consumed as it arrives). */
static int conn_skip(struct conn *c, size_t n)
{
	while (n > 0) {
		if (c->len == 0 && conn_fill(c) < 0)
			return -1;
		size_t k = c->len < n ? c->len : n;
		c->start += k;
		c->len -= k;
		n -= k;
	}
	return 0;
}

/* One response line into line (truncated to size), its literals skipped:
 * a line ending in {N} is followed by N bytes and the rest of the line. */
static int conn_line(struct conn *c, char *line, size_t size)
{
	size_t used = 0;
	line[0] = '\0';
	for (;;) {
		char *start = c->buf + c->start;
		char *eol = memmem(start, c->len, "\r\n", 2);
		if (eol == NULL) {
			if (conn_fill(c) < 0)
				return -1;
			continue;
		}
		size_t n = (size_t)(eol - start);
		if (used + 1 < size) {
			size_t k = n < size - used - 1 ? n : size - used - 1;
			memcpy(line + used, start, k);
			used += k;
			line[used] = '\0';
		}
		c->start += n + 2;
		c->len -= n + 2;
		if (n < 3 || start[n - 1] != '}')
			return 0;
		char *open = memrchr(start, '{', n);
		if (open == NULL)
			return 0;
		unsigned long lit = strtoul(open + 1, NULL, 10);
		if (conn_skip(c, lit) < 0)
			return -1;
	}
}

/* Reads to the tagged reply of c->tag; notes EXISTS on the way. */
static int conn_reply(struct conn *c)
{
	char line[512], tag[32];
	snprintf(tag, sizeof(tag), "a%u ", c->tag);
	for (;;) {
		if (conn_line(c, line, sizeof(line)) < 0)
			return -1;
		if (strncmp(line, tag, strlen(tag)) == 0) {
			const char *st = line + strlen(tag);
			return strncmp(st, "OK", 2) == 0 ? RES_OK :
				strncmp(st, "NO", 2) == 0 ? RES_NO : RES_BAD;
		}
		long n;
		char word[16];
		if (sscanf(line, "* %ld %15s", &n, word) == 2 && strcmp(word, "EXISTS") == 0)
			c->exists = n;
	}
}

/* Sends "aTAG <fmt>\r\n" and reads the tagged reply. */
static int conn_cmd(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int conn_cmd(struct conn *c, const char *fmt, ...)
{
	char out[1024];
	int n = snprintf(out, sizeof(out), "a%u ", ++c->tag);
	cmd_sent = now();
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(out + n, sizeof(out) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n + 2 >= (int)sizeof(out))
		return -1;
	memcpy(out + n, "\r\n", 2);
	if (conn_send(c, out, (size_t)n + 2) < 0)
		return -1;
	return conn_reply(c);
}

static int count(struct client *cl, enum cmd k, int r)
{
	if (r < 0) {
		snprintf(cl->why, sizeof(cl->why), "%s: connection lost", cmd_names[k]);
		return -1;
	}
	cl->counts[k][r]++;
	cl->ms[k] += (now() - cmd_sent) * 1000;
	if (r == RES_BAD)
		cl->unsupported[k] = 1;
	return 0;
}

/* APPEND with a synchronizing literal (RFC 9051 7.5: wait for "+"). */
static int do_append(struct conn *c, unsigned serial)
{
	char msg[1024], out[128], line[512];
	int len = snprintf(msg, sizeof(msg),
			   "From: Bench <bench@remote.example>\r\nTo: user@bench.example\r\n"
			   "Subject: appended %u\r\nMessage-ID: <a%u.bench@remote.example>\r\n\r\n"
			   "An appended message of the IMAP load generator.\r\n", serial, serial);
	int n = snprintf(out, sizeof(out), "a%u APPEND INBOX (\\Seen) {%d}\r\n", ++c->tag, len);
	cmd_sent = now();
	if (conn_send(c, out, (size_t)n) < 0 || conn_line(c, line, sizeof(line)) < 0)
		return -1;
	if (line[0] != '+') { /* the tagged answer already: BAD or NO */
		char tag[32];
		snprintf(tag, sizeof(tag), "a%u ", c->tag);
		if (strncmp(line, tag, strlen(tag)) != 0)
			return conn_reply(c);
		return strncmp(line + strlen(tag), "NO", 2) == 0 ? RES_NO : RES_BAD;
	}
	if (conn_send(c, msg, (size_t)len) < 0 || conn_send(c, "\r\n", 2) < 0)
		return -1;
	return conn_reply(c);
}

static int session(struct client *cl, const char *user, unsigned *serial)
{
	struct conn c;
	char line[512];
	if (conn_open(&c, NULL) < 0) {
		snprintf(cl->why, sizeof(cl->why), "connect: %s", strerror(errno));
		return -1;
	}
	int rc = -1;
	if (conn_line(&c, line, sizeof(line)) < 0 || strncmp(line, "* OK", 4) != 0) {
		snprintf(cl->why, sizeof(cl->why), "greeting: %.200s", line);
		goto out;
	}
	int r = conn_cmd(&c, "LOGIN \"%s\" \"%s\"", user, password);
	if (count(cl, C_LOGIN, r) < 0)
		goto out;
	if (r != RES_OK) {
		snprintf(cl->why, sizeof(cl->why), "LOGIN %s refused", user);
		goto out;
	}
	if (count(cl, C_SELECT, conn_cmd(&c, "SELECT INBOX")) < 0)
		goto out;
	for (int round = 0; round < ROUNDS_PER_SESSION && now() < deadline; round++) {
		long e = c.exists > 0 ? c.exists : 1;
		long pick = 1 + rand() % e;
		long env = e > 10 ? 1 + rand() % (e - 9) : 1;
		/* a command answered BAD once is not sent again by this client:
		 * counted as unsupported, the session goes on */
#define RUN(k, ...) \
		if (!cl->unsupported[k] && count(cl, k, __VA_ARGS__) < 0) \
			goto out
		RUN(C_LIST, conn_cmd(&c, "LIST \"\" \"*\""));
		RUN(C_STATUS, conn_cmd(&c, "STATUS INBOX (MESSAGES UIDNEXT UNSEEN)"));
		RUN(C_FETCH_FLAGS, conn_cmd(&c, "FETCH 1:* (UID FLAGS)"));
		RUN(C_FETCH_ENV, conn_cmd(&c, "FETCH %ld:%ld (UID ENVELOPE)", env,
					  env + 9 < e ? env + 9 : e));
		RUN(C_FETCH_BODY, conn_cmd(&c, "FETCH %ld BODY.PEEK[]", pick));
		RUN(C_STORE, conn_cmd(&c, "STORE %ld:%ld %sFLAGS.SILENT (\\Seen)", env,
				      env + 4 < e ? env + 4 : e, round % 2 ? "-" : "+"));
		RUN(C_APPEND, do_append(&c, (*serial)++));
		/* the message just appended (the last one, when the server
		 * reported the new EXISTS) goes again: the mailbox keeps its size */
		if (c.exists > e && !cl->unsupported[C_EXPUNGE]) {
			RUN(C_STORE, conn_cmd(&c, "STORE %ld +FLAGS.SILENT (\\Deleted)",
					      c.exists));
			RUN(C_EXPUNGE, conn_cmd(&c, "EXPUNGE"));
		}
#undef RUN
	}
	if (count(cl, C_LOGOUT, conn_cmd(&c, "LOGOUT")) < 0)
		goto out;
	rc = 0;
out:
	conn_close(&c);
	return rc;
}

static void *client_main(void *arg)
{
	struct client *cl = arg;
	const char *user = users[cl->index % nusers];
	unsigned serial = (unsigned)cl->index * 1000000u;
	srand((unsigned)cl->index + 1);
	while (now() < deadline) {
		if (session(cl, user, &serial) < 0) {
			cl->failed = 1;
			break;
		}
	}
	return NULL;
}

static int run_mix(int seconds, int nclients)
{
	struct client *cls = calloc((size_t)nclients, sizeof(*cls));
	if (cls == NULL)
		return 1;
	double t0 = now();
	deadline = t0 + seconds;
	for (int i = 0; i < nclients; i++) {
		cls[i].index = i;
		if (pthread_create(&cls[i].thread, NULL, client_main, &cls[i]) != 0)
			return 1;
	}
	int failed = 0;
	long total[C_COUNT][3] = { { 0 } };
	double ms[C_COUNT] = { 0 };
	for (int i = 0; i < nclients; i++) {
		pthread_join(cls[i].thread, NULL);
		if (cls[i].failed) {
			fprintf(stderr, "imap-load: client %d: %s\n", i, cls[i].why);
			failed = 1;
		}
		for (int k = 0; k < C_COUNT; k++)
			for (int r = 0; r < 3; r++)
				total[k][r] += cls[i].counts[k][r];
		for (int k = 0; k < C_COUNT; k++)
			ms[k] += cls[i].ms[k];
	}
	double elapsed = now() - t0;
	for (int k = 0; k < C_COUNT; k++)
		printf("cmd %s ok %ld no %ld bad %ld ms %.1f\n", cmd_names[k], total[k][RES_OK],
		       total[k][RES_NO], total[k][RES_BAD], ms[k]);
	printf("elapsed %.3f\n", elapsed);
	free(cls);
	return failed;
}

#define IDLE_THREADS 8

struct opener {
	pthread_t thread;
	SSL_CTX *ctx;
	struct conn *cs;
	int first, step, nconns, idling, failed;
};

/* Opens connections first, first + step, ... (logins run in parallel on
 * the server, as they would with many clients arriving). */
static void *opener_main(void *arg)
{
	struct opener *o = arg;
	char line[512], out[32];
	for (int i = o->first; i < o->nconns; i += o->step) {
		struct conn *c = &o->cs[i];
		const char *user = users[i % nusers];
		if (conn_open(c, o->ctx) < 0) {
			fprintf(stderr, "imap-load: connection %d: connect/TLS: %s\n", i,
				strerror(errno));
			c->fd = -1;
			o->failed = 1;
			return NULL;
		}
		if (conn_line(c, line, sizeof(line)) < 0 || strncmp(line, "* OK", 4) != 0 ||
		    conn_cmd(c, "LOGIN \"%s\" \"%s\"", user, password) != RES_OK ||
		    conn_cmd(c, "SELECT INBOX") != RES_OK) {
			fprintf(stderr, "imap-load: connection %d (%s): login/select failed\n",
				i, user);
			o->failed = 1;
			return NULL;
		}
		int n = snprintf(out, sizeof(out), "a%u IDLE\r\n", ++c->tag);
		if (conn_send(c, out, (size_t)n) < 0 || conn_line(c, line, sizeof(line)) < 0) {
			fprintf(stderr, "imap-load: connection %d: IDLE: lost\n", i);
			o->failed = 1;
			return NULL;
		}
		o->idling += line[0] == '+';
		if ((i + 1) % 1000 == 0)
			fprintf(stderr, "imap-load: %d connections\n", i + 1);
	}
	return NULL;
}

static int run_idle(int nconns)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (ctx == NULL)
		return 1;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* loopback, self-signed */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	struct conn *cs = calloc((size_t)nconns, sizeof(*cs));
	if (cs == NULL)
		return 1;
	for (int i = 0; i < nconns; i++)
		cs[i].fd = -1;
	struct opener os[IDLE_THREADS];
	int failed = 0, idling = 0;
	for (int t = 0; t < IDLE_THREADS; t++) {
		os[t] = (struct opener){ .ctx = ctx, .cs = cs, .first = t,
					 .step = IDLE_THREADS, .nconns = nconns };
		if (pthread_create(&os[t].thread, NULL, opener_main, &os[t]) != 0)
			return 1;
	}
	for (int t = 0; t < IDLE_THREADS; t++) {
		pthread_join(os[t].thread, NULL);
		failed |= os[t].failed;
		idling += os[t].idling;
	}
	if (failed)
		return 1;
	printf("ready %d %d\n", nconns, idling);
	fflush(stdout);
	char hold[64];
	while (fread(hold, 1, sizeof(hold), stdin) > 0)
		;
	for (int i = 0; i < nconns; i++)
		conn_close(&cs[i]);
	free(cs);
	SSL_CTX_free(ctx);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 7 && strcmp(argv[1], "mix") == 0) {
		port = atoi(argv[2]);
		password = argv[3];
		users = argv + 6;
		nusers = argc - 6;
		return run_mix(atoi(argv[4]), atoi(argv[5]));
	}
	if (argc >= 6 && strcmp(argv[1], "idle") == 0) {
		port = atoi(argv[2]);
		password = argv[3];
		users = argv + 5;
		nusers = argc - 5;
		return run_idle(atoi(argv[4]));
	}
	fprintf(stderr, "usage: imap-load mix PORT PASSWORD SECONDS CLIENTS USER...\n"
			"       imap-load idle PORT PASSWORD CONNS USER...\n");
	return 2;
}
