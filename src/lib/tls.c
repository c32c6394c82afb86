/* tls.c: OpenSSL 3 server contexts. See tls.h.
 *
 * The master creates the context before dropping privileges, so the key
 * file may be readable by root only. A self-signed certificate is made
 * once in DATA_DIR/tls/ (0700, the master's own) when none is configured,
 * each file written under a fresh O_EXCL name and renamed into place, and
 * made again when hostname changes so that its SAN always names it. */
#include "tls.h"
#include "mem.h"
#include "log.h"
#include "str.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_SELF_SIGNED_CERT "selfsigned.crt"
#define TLS_SELF_SIGNED_KEY "selfsigned.key"
#define TLS_SERVER_SUITES \
	"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	char *cert_file;
	char *key_file;
};

static const char *tls_last_error(void)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return t_printf("%s", buf);
}

/* The protocol the server handshake running on this thread wants
 * (tls_alpn_expect around SSL_do_handshake): not in the SSL's ex_data,
 * whose stack an idle connection would keep (~96 bytes). */
static _Thread_local const char *tls_alpn_want;

void tls_alpn_expect(const char *proto)
{
	tls_alpn_want = proto;
}

/* ALPACA (alpaca-attack.com): a client that offers ALPN must offer the
 * protocol of this port; a browser offering only http/1.1 is refused. */
static int tls_alpn_select(SSL *ssl, const unsigned char **out,
			   unsigned char *outlen, const unsigned char *in,
			   unsigned int inlen, void *arg)
{
	const char *want = tls_alpn_want;
	(void)ssl;
	(void)arg;
	if (want == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	size_t wlen = strlen(want);
	for (unsigned i = 0; i < inlen;) {
		unsigned len = in[i];
		if (i + 1 + len > inlen)
			break;
		if (len == wlen && memcmp(in + i + 1, want, wlen) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)len;
			return SSL_TLSEXT_ERR_OK;
		}
		i += 1 + len;
	}
	log_info("event=tls_alpn_refused want=%s", want);
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Write a PEM file into dir_fd under name: a fresh temporary file
 * (O_EXCL, never a link's target) renamed over name once on disk. */
static int tls_write_file(int dir_fd, const char *dir, const char *name,
			  mode_t mode, EVP_PKEY *pkey, X509 *x509,
			  const char **error_r)
{
	const char *tmp = t_printf("%s.tmp", name);
	if (unlinkat(dir_fd, tmp, 0) < 0 && errno != ENOENT) {
		*error_r = t_printf("unlink(%s/%s): %s", dir, tmp, strerror(errno));
		return -1;
	}
	int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			O_CLOEXEC, mode);
	if (fd < 0) {
		*error_r = t_printf("open(%s/%s): %s", dir, tmp, strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		*error_r = t_printf("fdopen(%s/%s): %s", dir, tmp, strerror(errno));
		return -1;
	}
	int ok = pkey != NULL ? PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)
			      : PEM_write_X509(f, x509);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		ok = 0;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok || renameat(dir_fd, tmp, dir_fd, name) < 0) {
		*error_r = t_printf("writing %s/%s failed", dir, name);
		unlinkat(dir_fd, tmp, 0);
		return -1;
	}
	return 0;
}

/* A self-signed RSA-2048 certificate valid ten years for hostname. */
static int tls_make_self_signed(int dir_fd, const char *dir, const char *hostname,
				const char **error_r)
{
	int ret = -1;
	EVP_PKEY *pkey = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	if (pkey == NULL || x == NULL) {
		*error_r = t_printf("key generation failed: %s", tls_last_error());
		goto out;
	}
	X509_set_version(x, 2);
	unsigned char serial[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, serial, sizeof(serial)) != (ssize_t)sizeof(serial)) {
		if (fd >= 0)
			close(fd);
		*error_r = "cannot read /dev/urandom";
		goto out;
	}
	close(fd);
	serial[0] &= 0x7f;
	BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
	BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
	BN_free(bn);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3650L * 24 * 3600);
	X509_set_pubkey(x, pkey);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				   (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
						  t_printf("DNS:%s", hostname));
	if (ext != NULL) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, pkey, EVP_sha256()) == 0) {
		*error_r = t_printf("signing failed: %s", tls_last_error());
		goto out;
	}
	if (tls_write_file(dir_fd, dir, TLS_SELF_SIGNED_KEY, 0600, pkey, NULL,
			   error_r) < 0 ||
	    tls_write_file(dir_fd, dir, TLS_SELF_SIGNED_CERT, 0644, NULL, x,
			   error_r) < 0 || fsync(dir_fd) < 0)
		goto out;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	X509_digest(x, EVP_sha256(), md, &mdlen);
	str_t fp = STR_INIT;
	for (unsigned i = 0; i < mdlen; i++)
		str_printf(&fp, "%s%02X", i ? ":" : "", md[i]);
	log_info("event=tls_self_signed cert=%s/%s hostname=%s sha256=%s",
		 dir, TLS_SELF_SIGNED_CERT, hostname, str_c(&fp));
	str_free(&fp);
	ret = 0;
out:
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ret;
}

static SSL_CTX *tls_ssl_ctx_new(const char *cert, const char *key,
				const char **error_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		*error_r = tls_last_error();
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
			 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!MD5:!DSS");
	/* TLS 1.3: the suite every client has (RFC 8446 9.1) first; an idle
	 * connection keeps its transcript hash, and SHA-256's state is half
	 * of SHA-384's (OpenSSL's default order puts AES-256/SHA-384 first) */
	SSL_CTX_set_ciphersuites(ctx, TLS_SERVER_SUITES);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*error_r = t_printf("cannot load certificate %s: %s", cert, tls_last_error());
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		*error_r = t_printf("cannot load key %s: %s", key, tls_last_error());
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* The certificate at dir_fd/name, never through a link; NULL if absent. */
static X509 *tls_read_cert_at(int dir_fd, const char *name)
{
	int fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, "r");
	if (f == NULL) {
		close(fd);
		return NULL;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ERR_clear_error();
	return x;
}

/* Whether the certificate names hostname (RFC 6125 6.4: the SAN dNSName,
 * as X509_check_host matches it). */
static bool tls_cert_names(X509 *x, const char *hostname)
{
	return X509_check_host(x, hostname, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
			       NULL) == 1;
}

/* DATA/tls is the caller's own (root's, when the master runs as root),
 * 0700: the worker user can neither enter nor swap it, so the paths
 * loaded below name the files made here. A link or a directory someone
 * else owns is refused, never followed. */
static int tls_self_signed_ensure(const char *dir, const char *hostname,
				  const char **error_r)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		*error_r = t_printf("mkdir(%s): %s", dir, strerror(errno));
		return -1;
	}
	int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (dir_fd < 0 || fstat(dir_fd, &st) < 0) {
		*error_r = t_printf("open(%s): %s%s", dir, strerror(errno),
				    errno == ELOOP || errno == ENOTDIR ?
				    " (expected a directory, not a link)" : "");
		if (dir_fd >= 0)
			close(dir_fd);
		return -1;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 027) != 0) {
		*error_r = t_printf("%s is owned by uid %u with mode %04o; expected "
				    "owner uid %u, mode 0700 or 0750", dir, (unsigned)st.st_uid,
				    (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
		close(dir_fd);
		return -1;
	}
	struct stat cst, kst;
	int ret = 0;
	if (fstatat(dir_fd, TLS_SELF_SIGNED_CERT, &cst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    fstatat(dir_fd, TLS_SELF_SIGNED_KEY, &kst, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(cst.st_mode) || !S_ISREG(kst.st_mode)) {
		ret = tls_make_self_signed(dir_fd, dir, hostname, error_r);
	} else {
		/* made for another hostname (fixed after a warning): a
		 * certificate that does not name the server is useless */
		X509 *old = tls_read_cert_at(dir_fd, TLS_SELF_SIGNED_CERT);
		if (old == NULL || !tls_cert_names(old, hostname)) {
			log_info("event=tls_self_signed_renew hostname=%s reason=%s",
				 hostname, old == NULL ? "unreadable" : "hostname_changed");
			ret = tls_make_self_signed(dir_fd, dir, hostname, error_r);
		}
		X509_free(old);
	}
	close(dir_fd);
	return ret;
}

struct tls_ctx *tls_ctx_create(const char *cert_file, const char *key_file,
			       const char *data_dir, const char *hostname,
			       const char **error_r)
{
	struct tls_ctx *ctx = xcalloc(1, sizeof(*ctx));
	if (cert_file != NULL && cert_file[0] != '\0') {
		ctx->cert_file = xstrdup(cert_file);
		ctx->key_file = xstrdup(key_file != NULL && key_file[0] != '\0' ?
					key_file : cert_file);
	} else {
		const char *dir = t_printf("%s/tls", data_dir);
		ctx->cert_file = xstrdup(t_printf("%s/%s", dir, TLS_SELF_SIGNED_CERT));
		ctx->key_file = xstrdup(t_printf("%s/%s", dir, TLS_SELF_SIGNED_KEY));
		if (tls_self_signed_ensure(dir, hostname, error_r) < 0) {
			tls_ctx_destroy(&ctx);
			return NULL;
		}
	}
	ctx->ssl_ctx = tls_ssl_ctx_new(ctx->cert_file, ctx->key_file, error_r);
	if (ctx->ssl_ctx == NULL) {
		tls_ctx_destroy(&ctx);
		return NULL;
	}
	return ctx;
}

int tls_check(const char *cert_file, const char *key_file, const char *data_dir,
	      const char *hostname, const char **note_r, const char **error_r)
{
	*note_r = NULL;
	if (cert_file == NULL || cert_file[0] == '\0') {
		const char *dir = t_printf("%s/tls", data_dir);
		int dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		X509 *x = dir_fd >= 0 ? tls_read_cert_at(dir_fd, TLS_SELF_SIGNED_CERT) : NULL;
		if (dir_fd >= 0)
			close(dir_fd);
		if (x == NULL || !tls_cert_names(x, hostname)) {
			*note_r = t_printf("serve will make a self-signed certificate for %s "
					   "in %s", hostname, dir);
			X509_free(x);
			return 0;
		}
		X509_free(x);
		cert_file = t_printf("%s/%s", dir, TLS_SELF_SIGNED_CERT);
		key_file = t_printf("%s/%s", dir, TLS_SELF_SIGNED_KEY);
	} else if (key_file == NULL || key_file[0] == '\0') {
		key_file = cert_file;
	}
	SSL_CTX *ctx = tls_ssl_ctx_new(cert_file, key_file, error_r);
	if (ctx == NULL)
		return -1;
	X509 *x = SSL_CTX_get0_certificate(ctx);
	if (x != NULL && X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
		*note_r = t_printf("certificate %s has expired", cert_file);
	else if (x != NULL && !tls_cert_names(x, hostname))
		*note_r = t_printf("certificate %s does not name hostname %s",
				   cert_file, hostname);
	SSL_CTX_free(ctx);
	return 0;
}

int tls_ctx_reload(struct tls_ctx *ctx, const char **error_r)
{
	SSL_CTX *n = tls_ssl_ctx_new(ctx->cert_file, ctx->key_file, error_r);
	if (n == NULL)
		return -1;
	/* connections already running keep their reference to the old one */
	SSL_CTX_free(ctx->ssl_ctx);
	ctx->ssl_ctx = n;
	return 0;
}

void tls_ctx_destroy(struct tls_ctx **ctxp)
{
	struct tls_ctx *ctx = *ctxp;
	if (ctx == NULL)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	free(ctx->cert_file);
	free(ctx->key_file);
	free(ctx);
	*ctxp = NULL;
}

void *tls_ctx_ssl_ctx(struct tls_ctx *ctx)
{
	return ctx->ssl_ctx;
}
