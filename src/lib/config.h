/* config.h: Postfix-style "key = value" configuration.
 *
 * Every key is declared once in a table in config.c (name, type, default,
 * help). config_load() reads the built-in defaults, then the file (if it
 * exists; a missing default file is fine, a missing -c file is an error),
 * then "-o key=value" overrides. Unknown key, bad value or bad listen
 * address is an error naming file, line and key. The result is a plain
 * struct; listen lists are parsed into addresses ready for bind(). */
#ifndef POSTEL_CONFIG_H
#define POSTEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "log.h"
#include "str.h"

#define CONFIG_MAX_LISTEN 8

struct config_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[80]; /* as written: "127.0.0.1:25", "[::1]:25" */
};

struct config_listen_list {
	unsigned count;
	struct config_listen items[CONFIG_MAX_LISTEN];
};

struct config {
	char *data_dir;
	char *hostname;
	/* listeners; empty list = service disabled */
	struct config_listen_list smtp_listen;        /* default 0.0.0.0:25,[::]:25 */
	struct config_listen_list submission_listen;  /* 587 */
	struct config_listen_list submissions_listen; /* 465 */
	struct config_listen_list pop3_listen;        /* 110 */
	struct config_listen_list pop3s_listen;       /* 995 */
	struct config_listen_list imap_listen;        /* 143 */
	struct config_listen_list imaps_listen;       /* 993 */
	char *tls_cert;   /* empty: self-signed in data_dir */
	char *tls_key;
	uint64_t message_size_limit; /* bytes, default 50 MiB */
	unsigned max_recipients;     /* default 1000 */
	unsigned max_connections;    /* per worker, default 10000 */
	unsigned max_connections_per_ip; /* default 50 */
	unsigned smtp_timeout;       /* seconds idle, default 300 (RFC 5321 4.5.3.2) */
	unsigned imap_timeout;       /* seconds idle after login, default and minimum 1800 (RFC 9051 5.4) */
	unsigned expunge_log_days;   /* expunge log kept at least this long (RFC 7162), default 30 */
	unsigned expunge_log_max;    /* ... or this many per mailbox, default 100000 */
	unsigned pop3_timeout;       /* seconds idle, default and minimum 600 (RFC 1939 3) */
	unsigned tls_handshake_timeout; /* seconds, default 30 */
	unsigned login_timeout;      /* seconds to log in (POP3, submission), default 60; 0 off */
	unsigned smtp_min_data_rate; /* DATA/BDAT octets per second, default 500; 0 off */
	unsigned max_bad_commands;   /* default 20 */
	unsigned workers;            /* 0 = one per core */
	unsigned retire_timeout;     /* seconds old workers serve after a reload, default 300 */
	bool allow_plaintext_auth;   /* default no */
	char *run_user;              /* default "postel" when started as root */
	char *log_level;             /* debug|info|warn|error */
	char *dns_resolver;          /* ADDR:PORT, empty: /etc/resolv.conf (dns/dns.h) */
	char *dns_trust_anchor;      /* DNSSEC anchor file, "none": off (dns/dns.h) */
	/* relay SMTP client timeouts, seconds (relay/smtp_client.h) */
	unsigned relay_timeout_connect, relay_timeout_greeting, relay_timeout_mail,
		 relay_timeout_rcpt, relay_timeout_data, relay_timeout_data_block,
		 relay_timeout_data_end;
	char *relay_ca_file;         /* MTA-STS and relayhost CAs, empty: system */
	/* smarthost (relay/smarthost.h) */
	char *relayhost;             /* [HOST]:PORT, empty: MX delivery */
	char *relayhost_user, *relayhost_password_file, *relayhost_ca_file;
	bool relayhost_implicit_tls; /* TLS from the first byte on any port */
	bool relay;                  /* run the queue runner (relay/runner.h) */
	unsigned relay_port;         /* remote MX port, default 25 */
	unsigned mta_sts_port;       /* MTA-STS policy HTTPS port, 443; tests */
	unsigned relay_max_connections, relay_max_per_domain;
	bool sandbox;                /* workers: seccomp + Landlock, default yes */
	char *postmaster_address;    /* empty: the first user added */
	unsigned password_min_length; /* characters, default 8 */
	unsigned queue_lifetime;     /* seconds, default 5 days (queue.h) */
	unsigned delay_warning_time; /* seconds, default 4 h; 0 off */
	unsigned queue_retry_min;    /* seconds, default 5 min */
	unsigned queue_retry_max;    /* seconds, default 4 h */
};

/* file: NULL means DATA_DIR/postel.conf if it exists. overrides: "k=v". */
int config_load(const char *data_dir, const char *file,
		const char *const *overrides, unsigned override_count,
		struct config **config_r, const char **error_r);
void config_free(struct config **config);
/* Print every key and its effective value, one "key = value" per line. */
void config_dump(const struct config *config, str_t *out);
/* Print the keys named (all when count is 0; "data_dir" too when named)
 * as "key = value" lines, in the order given; changed_only keeps only
 * those whose value differs from the built-in default (as postconf -n).
 * An unknown name is an error suggesting the nearest key. */
int config_show(const struct config *config, const char *const *names,
		unsigned count, bool changed_only, str_t *out,
		const char **error_r);
/* The keys (comma-separated) whose change from old to new_config takes
 * a restart to apply (listen addresses, workers); NULL when none did. */
const char *config_restart_keys(const struct config *old,
				const struct config *new_config);
/* Why hostname is not a fully qualified domain name ("has no dot"), or
 * NULL when it is one. */
const char *config_hostname_problem(const char *hostname);
/* The warning for a hostname that is not fully qualified, with the fix;
 * NULL when it is fine. */
const char *config_hostname_warning(const struct config *config);
/* The fix that warning gives, alone (for a log line's fix= field). */
const char *config_hostname_fix(const struct config *config);
/* Print every key with its type, default and help line. */
void config_dump_keys(str_t *out);
/* Parse "addr:port,[v6]:port" ("" = empty list). Numeric addresses only
 * (no DNS); port 1-65535; at most CONFIG_MAX_LISTEN entries. */
int config_parse_listen(const char *value, struct config_listen_list *list_r,
			const char **error_r);
/* config->log_level as the log.h enum (validated by config_load). */
enum log_level config_log_level(const struct config *config);

#endif
