/* conn_client.c: the client side of conn: a non-blocking connect on the
 * loop with a connect timeout, then the same struct conn as the server
 * side; TLS as a client (implicit, or STARTTLS after the server's 220)
 * with SNI, verification against the system CA store or a given CA file,
 * strict or opportunistic (RFC 7435: an unverifiable certificate still
 * encrypts, and is logged), and a bounded per-destination session cache.
 * See conn.h for the contract.
 *
 * Verification runs with SSL_VERIFY_NONE so that the handshake always
 * completes and the result (SSL_get_verify_result, which includes the
 * host name check set with SSL_set1_host) is read afterwards: strict mode
 * then fails the conn with a clear reason before the session sends a
 * byte, opportunistic mode logs it and goes on. */
#include "conn_private.h"
#include "ioloop.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

struct conn_tls_cache_entry {
	char *key;        /* "sni:port:mode" */
	SSL_SESSION *sess;
	uint64_t used;    /* LRU stamp */
};

struct conn_tls_client {
	SSL_CTX *ssl_ctx;
	struct conn_tls_cache_entry *cache;
	unsigned cache_max;
	uint64_t clock;
};

struct conn_client {
	struct conn_client_settings set;
	struct conn_tls_client_params tls;
	char *sni;
	char *cache_key;
	unsigned port;
	bool have_peer;
	struct conn_tls_peer peer;
};

static int conn_tls_client_ex_index = -1;

static struct conn_tls_cache_entry *
conn_tls_cache_find(struct conn_tls_client *c, const char *key)
{
	for (unsigned i = 0; i < c->cache_max; i++) {
		if (c->cache[i].key != NULL && strcmp(c->cache[i].key, key) == 0)
			return &c->cache[i];
	}
	return NULL;
}

/* OpenSSL hands us each new session (TLS 1.3: from a ticket after the
 * handshake); returning 1 keeps its reference. */
static int conn_tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
	struct conn *conn = SSL_get_app_data(ssl);
	struct conn_tls_client *c = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl),
							conn_tls_client_ex_index);
	if (conn == NULL || c == NULL || conn->client == NULL ||
	    conn->client->cache_key == NULL || c->cache_max == 0 ||
	    conn->client->tls.prepare != NULL) /* DANE: never cached */
		return 0;
	struct conn_tls_cache_entry *e = conn_tls_cache_find(c, conn->client->cache_key);
	if (e == NULL) {
		e = &c->cache[0];
		for (unsigned i = 1; i < c->cache_max; i++) {
			if (c->cache[i].key == NULL || c->cache[i].used < e->used)
				e = &c->cache[i];
			if (e->key == NULL)
				break;
		}
		free(e->key);
		e->key = xstrdup(conn->client->cache_key);
	}
	if (e->sess != NULL)
		SSL_SESSION_free(e->sess);
	e->sess = sess;
	e->used = ++c->clock;
	return 1;
}

struct conn_tls_client *conn_tls_client_create(const char *ca_file,
					       unsigned cache_max,
					       const char **error_r)
{
	if (conn_tls_client_ex_index < 0)
		conn_tls_client_ex_index =
			SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	SSL_CTX *sc = SSL_CTX_new(TLS_client_method());
	if (sc == NULL) {
		*error_r = "SSL_CTX_new failed";
		return NULL;
	}
	SSL_CTX_set_min_proto_version(sc, TLS1_2_VERSION);
	SSL_CTX_set_mode(sc, SSL_MODE_RELEASE_BUFFERS);
	int ok = ca_file != NULL && ca_file[0] != '\0' ?
		SSL_CTX_load_verify_locations(sc, ca_file, NULL) :
		SSL_CTX_set_default_verify_paths(sc);
	if (ok != 1) {
		SSL_CTX_free(sc);
		ERR_clear_error();
		*error_r = "cannot load the CA certificates";
		return NULL;
	}
	SSL_CTX_set_verify(sc, SSL_VERIFY_NONE, NULL);
	(void)SSL_CTX_dane_enable(sc); /* for a prepare hook (relay/dane.c) */
	SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_CLIENT |
				       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(sc, conn_tls_new_session);
	struct conn_tls_client *c = xcalloc(1, sizeof(*c));
	c->ssl_ctx = sc;
	c->cache_max = cache_max;
	c->cache = xcalloc(cache_max > 0 ? cache_max : 1, sizeof(*c->cache));
	SSL_CTX_set_ex_data(sc, conn_tls_client_ex_index, c);
	return c;
}

void conn_tls_client_destroy(struct conn_tls_client **cp)
{
	struct conn_tls_client *c = *cp;
	if (c == NULL)
		return;
	for (unsigned i = 0; i < c->cache_max; i++) {
		free(c->cache[i].key);
		if (c->cache[i].sess != NULL)
			SSL_SESSION_free(c->cache[i].sess);
	}
	SSL_CTX_set_ex_data(c->ssl_ctx, conn_tls_client_ex_index, NULL);
	SSL_CTX_free(c->ssl_ctx);
	free(c->cache);
	free(c);
	*cp = NULL;
}

unsigned conn_tls_client_cached(const struct conn_tls_client *c)
{
	unsigned n = 0;
	for (unsigned i = 0; i < c->cache_max; i++)
		n += c->cache[i].sess != NULL;
	return n;
}

static void conn_client_set_tls(struct conn_client *cl,
				const struct conn_tls_client_params *tls)
{
	cl->tls = *tls;
	free(cl->sni);
	free(cl->cache_key);
	cl->sni = tls->sni != NULL ? xstrdup(tls->sni) : NULL;
	cl->tls.sni = cl->sni;
	str_t key = STR_INIT;
	str_printf(&key, "%s:%u:%d", cl->sni != NULL ? cl->sni : "", cl->port,
		   (int)tls->verify);
	cl->cache_key = xstrdup(str_c(&key));
	str_free(&key);
}

SSL *conn_client_ssl_new(struct conn *conn)
{
	struct conn_client *cl = conn->client;
	struct conn_tls_client *c = cl->tls.ctx;
	SSL *ssl = SSL_new(c->ssl_ctx);
	if (ssl == NULL)
		return NULL;
	SSL_set_app_data(ssl, conn);
	if (cl->sni != NULL) {
		/* RFC 6066 3: no SNI for an address literal */
		struct in6_addr a6;
		if (inet_pton(AF_INET6, cl->sni, &a6) != 1 &&
		    inet_pton(AF_INET, cl->sni, &a6) != 1)
			SSL_set_tlsext_host_name(ssl, cl->sni);
		SSL_set1_host(ssl, cl->sni);
	}
	if (cl->tls.prepare != NULL && cl->tls.prepare(ssl, cl->tls.prepare_ctx) < 0) {
		SSL_free(ssl);
		return NULL;
	}
	struct conn_tls_cache_entry *e = cl->tls.prepare != NULL ? NULL :
		conn_tls_cache_find(c, cl->cache_key);
	if (e != NULL && e->sess != NULL && SSL_SESSION_is_resumable(e->sess)) {
		SSL_set_session(ssl, e->sess);
		e->used = ++c->clock;
	}
	SSL_set_connect_state(ssl);
	return ssl;
}

static void conn_client_name(X509_NAME *name, char *buf, size_t size)
{
	buf[0] = '\0';
	if (name != NULL)
		X509_NAME_oneline(name, buf, (int)size);
}

static void conn_client_record_peer(struct conn *conn)
{
	struct conn_tls_peer *p = &conn->client->peer;
	memset(p, 0, sizeof(*p));
	conn->client->have_peer = true;
	long vr = SSL_get_verify_result(conn->ssl);
	X509 *cert = SSL_get1_peer_certificate(conn->ssl);
	p->verified = cert != NULL && vr == X509_V_OK;
	snprintf(p->verify_error, sizeof(p->verify_error), "%s",
		 cert == NULL ? "no certificate" :
		 vr == X509_V_OK ? "ok" : X509_verify_cert_error_string(vr));
	p->resumed = SSL_session_reused(conn->ssl) == 1;
	p->dane = p->verified && SSL_get0_dane(conn->ssl) != NULL &&
		SSL_get0_dane_authority(conn->ssl, NULL, NULL) >= 0;
	if (cert != NULL) {
		conn_client_name(X509_get_subject_name(cert), p->subject,
				 sizeof(p->subject));
		conn_client_name(X509_get_issuer_name(cert), p->issuer,
				 sizeof(p->issuer));
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned mdlen = 0;
		if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1) {
			for (unsigned i = 0; i < mdlen && i < 32; i++)
				snprintf(p->sha256 + 2 * i, 3, "%02x", md[i]);
		}
		X509_free(cert);
	}
}

static void conn_client_call_ready(struct conn *conn)
{
	bool was = conn->in_callback;
	conn->in_callback = true;
	conn->client->set.ready(conn->ctx);
	conn->in_callback = was;
}

int conn_client_tls_established(struct conn *conn)
{
	struct conn_client *cl = conn->client;
	conn_client_record_peer(conn);
	const struct conn_tls_peer *p = &cl->peer;
	log_info("event=tls_client ip=%s sni=%s verified=%s verify=%s mode=%s "
		 "resumed=%s dane=%s subject=%s sha256=%s", conn->peer_ip,
		 cl->sni != NULL ? log_value(cl->sni, strlen(cl->sni)) : "-",
		 p->verified ? "yes" : "no",
		 log_value(p->verify_error, strlen(p->verify_error)),
		 cl->tls.verify == CONN_TLS_VERIFY_STRICT ? "strict" : "opportunistic",
		 p->resumed ? "yes" : "no", p->dane ? "yes" : "no",
		 log_value(p->subject, strlen(p->subject)),
		 p->sha256[0] != '\0' ? p->sha256 : "-");
	if (!p->verified && cl->tls.verify == CONN_TLS_VERIFY_STRICT) {
		conn_fail(conn, "tls_verify");
		return -1;
	}
	conn_client_call_ready(conn);
	return 0;
}

void conn_client_free(struct conn *conn)
{
	struct conn_client *cl = conn->client;
	if (cl == NULL)
		return;
	free(cl->sni);
	free(cl->cache_key);
	free(cl);
	conn->client = NULL;
}

static void conn_client_on_connect_timeout(void *ctx)
{
	struct conn *conn = ctx;
	timeout_remove(&conn->handshake_to);
	conn_fail(conn, "connect_timeout");
}

static void conn_client_on_connected(void *ctx)
{
	struct conn *conn = ctx;
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == EINPROGRESS)
		return;
	timeout_remove(&conn->handshake_to);
	io_remove(&conn->io);
	if (err != 0) {
		log_info("event=connect_failed ip=%s error=%s", conn->peer_ip,
			 log_value(strerror(err), strlen(strerror(err))));
		conn_fail(conn, "connect_failed");
		return;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(conn->fd, (struct sockaddr *)&ss, &sl) == 0)
		conn->local_port = ss.ss_family == AF_INET6 ?
			ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) :
			ntohs(((struct sockaddr_in *)&ss)->sin_port);
	conn->state = CONN_PLAIN;
	conn->io = io_add(conn->loop, conn->fd, IO_READ, conn_handle, conn);
	conn->idle_to = timeout_add(conn->loop, conn->set.idle_timeout_ms,
				    conn_on_idle, conn);
	if (conn->client->tls.ctx != NULL) {
		conn_tls_start(conn, NULL);
		conn_handle(conn); /* send the ClientHello */
		return;
	}
	conn_client_call_ready(conn);
	conn_update_io(conn);
}

struct conn *conn_connect(struct ioloop *loop, const char *ip, unsigned port,
			  const struct conn_client_settings *set,
			  const struct conn_tls_client_params *tls,
			  conn_callback_t *cb, void *ctx, const char **error_r)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (port == 0 || port > 65535) {
		*error_r = "bad port";
		return NULL;
	}
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	} else {
		*error_r = "not an IP address";
		return NULL;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		*error_r = "socket() failed";
		return NULL;
	}
	/* a client's command, a message's last block and its dot are small
	 * writes waiting on a reply: Nagle would hold them for the peer's
	 * delayed ACK (40 ms a message on loopback) */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int r = connect(fd, (struct sockaddr *)&ss, sl);
	int err = r == 0 ? 0 : errno;

	struct conn_settings cs = set->conn;
	cs.peer_ip = ip;
	cs.alpn = NULL;
	struct conn *conn = conn_create(loop, fd, &cs, NULL, cb, ctx);
	conn->set.peer_ip = NULL;
	struct conn_client *cl = xcalloc(1, sizeof(*cl));
	cl->set = *set;
	cl->port = port;
	conn->client = cl;
	if (tls != NULL)
		conn_client_set_tls(cl, tls);
	/* until connected, the fd is watched for writability only */
	io_remove(&conn->io);
	timeout_remove(&conn->idle_to);
	conn->state = CONN_CONNECTING;
	if (err != 0 && err != EINPROGRESS) {
		log_info("event=connect_failed ip=%s port=%u error=%s", ip, port,
			 log_value(strerror(err), strlen(strerror(err))));
		conn_fail(conn, "connect_failed");
		return conn;
	}
	conn->io = io_add(loop, fd, IO_WRITE, conn_client_on_connected, conn);
	conn->handshake_to = timeout_add(loop, set->connect_timeout_ms,
					 conn_client_on_connect_timeout, conn);
	return conn;
}

int conn_starttls_client(struct conn *conn,
			 const struct conn_tls_client_params *tls)
{
	if (conn->client == NULL || conn->ssl != NULL || conn->state != CONN_PLAIN)
		return -1;
	conn_client_set_tls(conn->client, tls);
	conn->state = CONN_STARTTLS_FLUSH;
	/* RFC 3207 4.2: nothing the server sent before TLS is kept */
	conn_discard_input(conn);
	if (!conn->in_callback) {
		conn_update_io(conn);
		if (conn->out_pos >= conn->out.len)
			conn_handle(conn);
	}
	return 0;
}

const struct conn_tls_peer *conn_tls_peer(const struct conn *conn)
{
	return conn->client != NULL && conn->client->have_peer ?
		&conn->client->peer : NULL;
}
