/* config_keys.c: the key table, config_keys[], one row per key, and the
 * checks of string values some rows name (hostname, address, log level).
 *
 * Every key is one row. Its name is the struct field's name, its C type
 * is checked against the field at compile time, and its default is text
 * run through the same parser as file and -o values (config.c), so
 * defaults, the file, overrides and config_dump() output share one path. */
#include "config.h"
#include "log.h"
#include "mem.h"
#include "config_private.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

/* Timers work in milliseconds; a week of them still fits in an int. */
#define CONFIG_DURATION_MAX (7ull * 24 * 3600)
/* Keeps sizes within off_t. */
#define CONFIG_SIZE_MAX ((unsigned long long)INT64_MAX)

static const char *config_check_log_level(const char *value);
static const char *config_check_address(const char *value);

/* Offset of a field, failing to compile unless the field has type ctype. */
#define FIELD(name, ctype) \
	(offsetof(struct config, name) + \
	 0 * sizeof(_Generic(((struct config *)0)->name, ctype: 1)))
#define KEY_STRING(n, def, check, help) \
	{ #n, CONFIG_STRING, FIELD(n, char *), def, 0, 0, check, help }
#define KEY_BOOL(n, def, help) \
	{ #n, CONFIG_BOOL, FIELD(n, bool), def, 0, 0, NULL, help }
#define KEY_UINT(n, def, lo, hi, help) \
	{ #n, CONFIG_UINT, FIELD(n, unsigned), def, lo, hi, NULL, help }
#define KEY_SIZE(n, def, lo, help) \
	{ #n, CONFIG_SIZE, FIELD(n, uint64_t), def, lo, CONFIG_SIZE_MAX, NULL, help }
#define KEY_DURATION(n, def, lo, help) \
	{ #n, CONFIG_DURATION, FIELD(n, unsigned), def, lo, CONFIG_DURATION_MAX, NULL, help }
#define KEY_LISTEN(n, port, help) \
	{ #n, CONFIG_LISTEN, FIELD(n, struct config_listen_list), \
	  "0.0.0.0:" port ",[::]:" port, 0, 0, NULL, help }

const struct config_key config_keys[] = {
	KEY_STRING(hostname, NULL, config_check_hostname,
		   "name in greetings and Received: (default: gethostname())"),
	KEY_LISTEN(smtp_listen, "25", "SMTP (MX) listeners; empty disables"),
	KEY_LISTEN(submission_listen, "587", "submission (STARTTLS) listeners"),
	KEY_LISTEN(submissions_listen, "465", "submission over implicit TLS"),
	KEY_LISTEN(pop3_listen, "110", "POP3 (STLS) listeners"),
	KEY_LISTEN(pop3s_listen, "995", "POP3 over implicit TLS"),
	KEY_LISTEN(imap_listen, "143", "IMAP (STARTTLS) listeners"),
	KEY_LISTEN(imaps_listen, "993", "IMAP over implicit TLS"),
	KEY_STRING(tls_cert, "", NULL,
		   "PEM certificate chain; empty: self-signed in data_dir"),
	KEY_STRING(tls_key, "", NULL, "PEM private key for tls_cert"),
	KEY_SIZE(message_size_limit, "50M", 1, "largest message accepted"),
	KEY_UINT(max_recipients, "1000", 1, UINT_MAX, "RCPT TO per message"),
	KEY_UINT(max_connections, "10000", 1, UINT_MAX,
		 "open connections per worker"),
	KEY_UINT(max_connections_per_ip, "50", 1, UINT_MAX,
		 "open connections from one client address"),
	KEY_DURATION(smtp_timeout, "300", 1,
		     "SMTP idle timeout (RFC 5321 4.5.3.2)"),
	KEY_DURATION(pop3_timeout, "600", 600,
		     "POP3 autologout timer (RFC 1939 3: at least 10 minutes)"),
	KEY_DURATION(imap_timeout, "1800", 1800,
		     "IMAP autologout timer after login (RFC 9051 5.4: at least 30 minutes)"),
	KEY_UINT(expunge_log_days, "30", 0, 36500,
		 "IMAP QRESYNC: days an expunge is remembered (RFC 7162 3.2.5.2)"),
	KEY_UINT(expunge_log_max, "100000", 0, UINT_MAX,
		 "IMAP QRESYNC: expunges a mailbox remembers whatever their age"),
	KEY_DURATION(tls_handshake_timeout, "30", 1,
		     "time allowed for a TLS handshake"),
	KEY_DURATION(login_timeout, "60", 0,
		     "time to log in on POP3 and submission; 0: no limit"),
	KEY_UINT(smtp_min_data_rate, "500", 0, UINT_MAX,
		 "DATA/BDAT: smtp_timeout plus 1 s per this many octets; 0: off"),
	KEY_UINT(max_bad_commands, "20", 1, UINT_MAX,
		 "bad commands before disconnecting"),
	KEY_UINT(workers, "0", 0, 1024, "worker processes; 0: one per core"),
	KEY_DURATION(retire_timeout, "300", 1,
		     "after a reload, how long old workers serve their clients"),
	KEY_BOOL(allow_plaintext_auth, "no",
		 "allow AUTH/LOGIN/USER without TLS"),
	KEY_STRING(run_user, "postel", NULL,
		   "user the workers run as when started as root"),
	KEY_STRING(log_level, "info", config_check_log_level,
		   "debug, info, warn or error"),
	KEY_STRING(dns_resolver, "", NULL,
		   "DNS resolver ADDR:PORT (or ADDR@PORT); empty: /etc/resolv.conf"),
	KEY_STRING(dns_trust_anchor, "/usr/share/dns/root.key", NULL,
		   "DNSSEC trust anchor file (the default only when installed: "
		   "dns-root-data); none: no validation"),
	KEY_DURATION(relay_timeout_connect, "30", 1,
		     "relay: time to connect to a remote SMTP server"),
	KEY_DURATION(relay_timeout_greeting, "300", 1,
		     "relay: wait for the 220 greeting (RFC 5321 4.5.3.2.1)"),
	KEY_DURATION(relay_timeout_mail, "300", 1,
		     "relay: wait for the MAIL reply, also EHLO/STARTTLS/AUTH/RSET "
		     "(RFC 5321 4.5.3.2.2)"),
	KEY_DURATION(relay_timeout_rcpt, "300", 1,
		     "relay: wait for each RCPT reply (RFC 5321 4.5.3.2.3)"),
	KEY_DURATION(relay_timeout_data, "120", 1,
		     "relay: wait for the 354 to DATA (RFC 5321 4.5.3.2.4)"),
	KEY_DURATION(relay_timeout_data_block, "180", 1,
		     "relay: for each block of message data to be taken, or a "
		     "BDAT reply (RFC 5321 4.5.3.2.5)"),
	KEY_DURATION(relay_timeout_data_end, "600", 1,
		     "relay: wait for the reply to the final dot (RFC 5321 4.5.3.2.6)"),
	KEY_STRING(relay_ca_file, "", NULL,
		   "relay: CA file for MTA-STS policy servers and the relayhost; "
		   "empty: the system store"),
	KEY_STRING(relayhost, "", NULL,
		   "relay: send all outbound mail through [HOST]:PORT (587: "
		   "STARTTLS, 465: implicit TLS); empty: MX delivery"),
	KEY_STRING(relayhost_user, "", NULL,
		   "relay: AUTH user for the relayhost; empty: no AUTH"),
	KEY_STRING(relayhost_password_file, "", NULL,
		   "relay: file holding the relayhost password (root:postel 0640)"),
	KEY_STRING(relayhost_ca_file, "", NULL,
		   "relay: CA file the relayhost must verify against; empty: "
		   "relay_ca_file"),
	KEY_BOOL(relayhost_implicit_tls, "no",
		 "relay: implicit TLS (RFC 8314 3.3) to the relayhost on any port; "
		 "port 465 always"),
	KEY_BOOL(relay, "yes",
		 "run the queue runner that sends queued mail to other domains"),
	KEY_UINT(relay_port, "25", 1, 65535,
		 "relay: the port of remote MX hosts (RFC 5321 4.5.4)"),
	KEY_UINT(mta_sts_port, "443", 1, 65535,
		 "relay: the HTTPS port of MTA-STS policy hosts (RFC 8461 3.3: 443; "
		 "another only for tests)"),
	KEY_UINT(relay_max_connections, "100", 1, 100000,
		 "relay: outbound SMTP connections at once, all domains"),
	KEY_UINT(relay_max_per_domain, "20", 1, 100000,
		 "relay: outbound SMTP connections at once to one domain"),
	KEY_BOOL(sandbox, "yes",
		 "workers run under no_new_privs, seccomp and Landlock"),
	KEY_UINT(password_min_length, "8", 1, 255,
		 "postel user add/passwd: fewest characters a password may have"),
	KEY_STRING(postmaster_address, "", config_check_address,
		   "gets postmaster mail (RFC 5321 4.5.1) when postmaster@domain "
		   "has no alias; empty: the first user added"),
	KEY_DURATION(queue_lifetime, "5d", 60,
		     "outbound mail undelivered this long bounces (RFC 5321 4.5.4.1)"),
	KEY_DURATION(delay_warning_time, "4h", 0,
		     "a delay DSN to the sender after this long; 0: none"),
	KEY_DURATION(queue_retry_min, "5m", 1,
		     "first retry of a deferred recipient after this long"),
	KEY_DURATION(queue_retry_max, "4h", 1,
		     "retries back off, doubling, up to this interval"),
};
#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(CONFIG_KEY_COUNT <= CONFIG_KEY_MAX, "raise CONFIG_KEY_MAX");
const size_t config_key_count = CONFIG_KEY_COUNT;

const char *config_check_hostname(const char *value)
{
	size_t len = strlen(value);
	if (len == 0 || len > 253)
		return t_printf("bad hostname %s (1 to 253 bytes)", log_str(value));
	for (size_t i = 0; i < len; i++) {
		char c = value[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
			return t_printf("bad hostname %s", log_str(value));
	}
	return NULL;
}

/* Empty, or local@domain without spaces or control characters (the
 * accounts database decides at delivery whether it exists). */
static const char *config_check_address(const char *value)
{
	const char *at = strrchr(value, '@');
	if (value[0] == '\0')
		return NULL;
	if (at == NULL || at == value || at[1] == '\0' || strlen(value) > 320)
		return t_printf("bad address %s (local@domain)", log_str(value));
	for (const char *p = value; *p != '\0'; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>')
			return t_printf("bad address %s", log_str(value));
	}
	return NULL;
}

static const char *const config_log_levels[] = {
	[LOG_DEBUG] = "debug", [LOG_INFO] = "info",
	[LOG_WARN] = "warn", [LOG_ERROR] = "error",
};

static int config_log_level_find(const char *name)
{
	for (int i = 0; i < (int)(sizeof(config_log_levels) / sizeof(char *)); i++) {
		if (strcmp(name, config_log_levels[i]) == 0)
			return i;
	}
	return -1;
}

static const char *config_check_log_level(const char *value)
{
	if (config_log_level_find(value) < 0)
		return t_printf("bad log level %s (debug, info, warn or error)",
				log_str(value));
	return NULL;
}

enum log_level config_log_level(const struct config *config)
{
	int level = config_log_level_find(config->log_level);
	if (level < 0)
		panic("event=config_bad_log_level"); /* checked at load */
	return (enum log_level)level;
}
