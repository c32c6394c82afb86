/* smarthost.c: the relayhost keys to a destination. See smarthost.h. */
#include "relay/smarthost.h"
#include "lib/config.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/secret.h"
#include "relay/smtp_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool smarthost_port(const char *s, unsigned *port_r)
{
	char *end;
	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0 || v > 65535)
		return false;
	*port_r = (unsigned)v;
	return true;
}

int smarthost_parse(const char *spec, char **host_r, unsigned *port_r,
		    const char **error_r)
{
	const char *host = spec, *rest;
	size_t len;
	*port_r = SMARTHOST_PORT_DEFAULT;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (close == NULL) {
			*error_r = "relayhost: missing ]";
			return -1;
		}
		host = spec + 1;
		len = (size_t)(close - host);
		rest = close + 1;
	} else {
		const char *colon = strchr(spec, ':');
		len = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
		rest = spec + len;
	}
	if (rest[0] == ':') {
		if (!smarthost_port(rest + 1, port_r)) {
			*error_r = "relayhost: bad port";
			return -1;
		}
	} else if (rest[0] != '\0') {
		*error_r = "relayhost: [HOST]:PORT expected";
		return -1;
	}
	if (len == 0 || len > 253) {
		*error_r = "relayhost: empty or too long host name";
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)host[i];
		if (ch <= ' ' || ch >= 0x7f || ch == '[' || ch == ']' || ch == '@') {
			*error_r = "relayhost: bad host name";
			return -1;
		}
	}
	*host_r = xstrndup(host, len);
	return 0;
}

/* One line from a file only root and the postel group may read. */
static char *smarthost_read_password(const char *path, const char **error_r)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = t_printf("relayhost_password_file %s: cannot open: %s "
				    "(a file holding the password, owner root, group "
				    "postel, mode 0640)", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		*error_r = t_printf("relayhost_password_file %s: not a regular file",
				    path);
		return NULL;
	}
	if ((st.st_mode & 007) != 0) {
		close(fd);
		*error_r = t_printf("relayhost_password_file %s: mode %04o lets others "
				    "read or write it (chmod 0640, owner root, group "
				    "postel)", path, (unsigned)(st.st_mode & 07777));
		return NULL;
	}
	char buf[SMARTHOST_PASSWORD_MAX + 2];
	ssize_t n = secret_read_line(fd, buf, sizeof(buf), error_r);
	close(fd);
	if (n < 0 || n > SMARTHOST_PASSWORD_MAX) {
		explicit_bzero(buf, sizeof(buf));
		if (n >= 0 || *error_r == NULL)
			*error_r = "relayhost_password_file: password longer than 255 bytes";
		return NULL;
	}
	if (n == 0) {
		*error_r = "relayhost_password_file: empty";
		return NULL;
	}
	char *pw = xstrndup(buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return pw;
}

int smarthost_load(const struct config *config, struct smarthost **sh_r,
		   const char **error_r)
{
	*sh_r = NULL;
	if (config->relayhost == NULL || config->relayhost[0] == '\0')
		return 0;
	struct smarthost *sh = xcalloc(1, sizeof(*sh));
	if (smarthost_parse(config->relayhost, &sh->host, &sh->port, error_r) < 0) {
		free(sh);
		return -1;
	}
	/* RFC 8314 3.3: 465 is implicit TLS; other ports when configured so */
	sh->implicit_tls = sh->port == 465 || config->relayhost_implicit_tls;
	bool has_user = config->relayhost_user != NULL &&
		config->relayhost_user[0] != '\0';
	bool has_pw = config->relayhost_password_file != NULL &&
		config->relayhost_password_file[0] != '\0';
	if (has_user != has_pw) {
		smarthost_free(&sh);
		*error_r = "relayhost_user and relayhost_password_file go together";
		return -1;
	}
	if (has_user) {
		sh->user = xstrdup(config->relayhost_user);
		sh->password = smarthost_read_password(config->relayhost_password_file,
						       error_r);
		if (sh->password == NULL) {
			smarthost_free(&sh);
			return -1;
		}
	}
	sh->ca_file = xstrdup(config->relayhost_ca_file != NULL &&
		config->relayhost_ca_file[0] != '\0' ? config->relayhost_ca_file :
		config->relay_ca_file != NULL ? config->relay_ca_file : "");
	*sh_r = sh;
	return 0;
}

int smarthost_check(const struct config *config, const char **error_r)
{
	struct smarthost *sh;
	if (smarthost_load(config, &sh, error_r) < 0)
		return -1;
	if (sh == NULL)
		return 0;
	/* what the runner loads at its start: a CA file it cannot load would
	 * make it fail at every restart, so serve and reload refuse it here */
	struct conn_tls_client *tls = conn_tls_client_create(sh->ca_file, 1, error_r);
	int ret = 0;
	if (tls == NULL) {
		*error_r = t_printf("relayhost CA file %s: %s", sh->ca_file[0] != '\0' ?
				    sh->ca_file : "(system store)", *error_r);
		ret = -1;
	}
	conn_tls_client_destroy(&tls);
	smarthost_free(&sh);
	return ret;
}

void smarthost_free(struct smarthost **shp)
{
	struct smarthost *sh = *shp;
	if (sh == NULL)
		return;
	if (sh->password != NULL) {
		explicit_bzero(sh->password, strlen(sh->password));
		free(sh->password);
	}
	free(sh->user);
	free(sh->host);
	free(sh->ca_file);
	free(sh);
	*shp = NULL;
}

const char *smarthost_ca_file(const struct smarthost *sh)
{
	return sh->ca_file;
}

void smarthost_dest(const struct smarthost *sh, const char *ip,
		    struct conn_tls_client *tls, struct smtp_client_dest *dest)
{
	memset(dest, 0, sizeof(*dest));
	dest->host = sh->host;
	dest->ip = ip;
	dest->port = sh->port;
	/* issue 10 item 5: TLS required and verified, never plaintext */
	dest->tls_mode = sh->implicit_tls ? SMTP_CLIENT_TLS_IMPLICIT :
		SMTP_CLIENT_TLS_REQUIRED;
	dest->tls = tls;
	dest->auth_user = sh->user;
	dest->auth_password = sh->password;
}
