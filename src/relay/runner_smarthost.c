/* runner_smarthost.c: the relayhost as the destination of every
 * recipient (issue 10 item 5; runner_private.h).
 *
 * When relayhost is set, runner_attempt.c asks here instead of the MX
 * records: the one host is the relayhost's name, looked up as is (A and
 * AAAA, no MX lookup: the brackets of "[smtp.example.net]:587" mean that,
 * and a name without them is taken the same way), or an address literal
 * used as it stands. The connection is TLS or nothing: STARTTLS required
 * and verified (RFC 3207), or implicit TLS on 465 or with
 * relayhost_implicit_tls (RFC 8314 3.3), the certificate checked against
 * relayhost_ca_file, else relay_ca_file, else the system store. The
 * credentials go only over that TLS (smtp_client refuses AUTH without
 * it).
 *
 * The password and CA files lie outside the data directory, which is all
 * the runner's sandbox lets it open: runner_smarthost_open() runs in the
 * runner before server_child_enter(), and keeps the password and the
 * loaded CA store in memory.
 *
 * A relayhost that refuses our AUTH (535 5.7.8, RFC 4954 6) says our
 * configuration is wrong, not that the recipients are: every recipient
 * of the attempt is deferred (451 4.7.8) with one relayhost_auth_failed
 * line naming the keys to check, never bounced. A 5xx to RCPT or to the
 * data is the relayhost's verdict on the message and bounces as usual. */
#include "relay/runner_private.h"
#include "relay/smarthost.h"
#include "lib/conn.h"
#include "lib/log.h"
#include "lib/mem.h"
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* TLS sessions kept for resumption: one host, a few connections */
#define RUNNER_SMARTHOST_TLS_CACHE 16

struct runner_smarthost {
	struct smarthost *sh;
	struct conn_tls_client *tls;
};

int runner_smarthost_open(const struct config *config, struct runner_smarthost **rs_r,
			  const char **error_r)
{
	struct smarthost *sh;
	*rs_r = NULL;
	if (smarthost_load(config, &sh, error_r) < 0)
		return -1;
	if (sh == NULL)
		return 0;
	const char *ca = smarthost_ca_file(sh);
	struct conn_tls_client *tls =
		conn_tls_client_create(ca, RUNNER_SMARTHOST_TLS_CACHE, error_r);
	if (tls == NULL) {
		*error_r = t_printf("relayhost CA file %s: %s", ca[0] != '\0' ? ca :
				    "(system store)", *error_r);
		smarthost_free(&sh);
		return -1;
	}
	struct runner_smarthost *rs = xcalloc(1, sizeof(*rs));
	rs->sh = sh;
	rs->tls = tls;
	log_info("event=relayhost host=%s port=%u tls=%s auth=%s ca=%s", log_str(sh->host),
		 sh->port, sh->implicit_tls ? "implicit" : "starttls",
		 sh->user != NULL ? "yes" : "no", ca[0] != '\0' ? log_str(ca) : "system");
	*rs_r = rs;
	return 0;
}

void runner_smarthost_close(struct runner_smarthost **rsp)
{
	struct runner_smarthost *rs = *rsp;
	if (rs == NULL)
		return;
	conn_tls_client_destroy(&rs->tls);
	smarthost_free(&rs->sh);
	free(rs);
	*rsp = NULL;
}

void runner_smarthost_host(const struct runner_smarthost *rs, struct runner_mx *host_r)
{
	host_r->pref = 0;
	(void)snprintf(host_r->host, sizeof(host_r->host), "%s", rs->sh->host);
}

unsigned runner_smarthost_literal(const struct runner_smarthost *rs, char (*addrs)[64])
{
	unsigned char buf[16];
	const char *host = rs->sh->host;
	if (inet_pton(AF_INET6, host, buf) != 1 && inet_pton(AF_INET, host, buf) != 1)
		return 0;
	(void)snprintf(addrs[0], sizeof(addrs[0]), "%s", host);
	return 1;
}

void runner_smarthost_dest(const struct runner_smarthost *rs, const char *ip,
			   struct smtp_client_dest *dest)
{
	smarthost_dest(rs->sh, ip, rs->tls, dest);
}

void runner_smarthost_replies(const struct runner_smarthost *rs, const char *queue_id,
			      const struct smtp_client_result *res,
			      struct smtp_client_reply *rep, unsigned count)
{
	if (!res->auth_refused)
		return;
	const struct smtp_client_reply *f = &res->final;
	log_error("event=relayhost_auth_failed queue_id=%s host=%s user=%s reply=%s "
		  "action=deferred hint=%s", queue_id, log_str(rs->sh->host),
		  log_str(rs->sh->user),
		  log_str(t_printf("%u %s %s", f->code, f->enhanced,
				   f->text != NULL ? f->text : "")),
		  log_str("check relayhost_user and relayhost_password_file"));
	const char *text = t_printf("relayhost %s refused our credentials (%u %s): "
				    "check relayhost_user and relayhost_password_file",
				    rs->sh->host, f->code, f->enhanced);
	for (unsigned i = 0; i < count; i++) {
		rep[i].code = 451;
		(void)snprintf(rep[i].enhanced, sizeof(rep[i].enhanced), "4.7.8");
		rep[i].text = text;
		rep[i].local = true;
	}
}
