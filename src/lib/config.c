/* config.c: the key table, the value parsers and the file/-o loader.
 *
 * Every key is one row of config_keys[]. Its name is the struct field's
 * name, its C type is checked against the field at compile time, and its
 * default is text run through the same parser as file and -o values, so
 * defaults, the file, overrides and config_dump() output share one path.
 * config_load() either returns a complete, checked config or nothing. */
#include "config.h"
#include "log.h"
#include "mem.h"
#include "suggest.h"
#include "config_private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG_LINE_MAX 4096
#define CONFIG_FILE_MAX (1024 * 1024)
/* Any one value: "key = value" must fit one line, so that config_dump()
 * output loads again (every key name is far shorter than 61 bytes). */
#define CONFIG_VALUE_MAX (CONFIG_LINE_MAX - 64)
/* Timers work in milliseconds; a week of them still fits in an int. */
#define CONFIG_DURATION_MAX (7ull * 24 * 3600)
/* Keeps sizes within off_t. */
#define CONFIG_SIZE_MAX ((unsigned long long)INT64_MAX)


static const char *config_check_hostname(const char *value);
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
const size_t config_key_count = CONFIG_KEY_COUNT;

static void *config_field(struct config *config, const struct config_key *key)
{
	return (char *)config + key->offset;
}

const void *config_field_const(const struct config *config,
			       const struct config_key *key)
{
	return (const char *)config + key->offset;
}

const struct config_key *config_key_find(const char *name)
{
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

static bool config_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Trim [*start, *start + *len) in place. */
void config_trim(const char **start, size_t *len)
{
	while (*len > 0 && config_is_space(**start)) {
		(*start)++;
		(*len)--;
	}
	while (*len > 0 && config_is_space((*start)[*len - 1]))
		(*len)--;
}

static const char *config_check_hostname(const char *value)
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

static int config_parse_bool(const char *value, bool *value_r,
			     const char **error_r)
{
	if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
	    strcmp(value, "1") == 0) {
		*value_r = true;
	} else if (strcasecmp(value, "no") == 0 ||
		   strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
		*value_r = false;
	} else {
		*error_r = t_printf("bad bool %s (yes or no)", log_str(value));
		return -1;
	}
	return 0;
}

/* A number with an optional unit suffix (size: k/M/G, duration: s/m/h/d). */
static int config_parse_number(const struct config_key *key, const char *value,
			       unsigned long long *value_r, const char **error_r)
{
	size_t len = strlen(value);
	unsigned long long unit = 1, v;
	const char *what = "number", *hint = "";

	if (key->type == CONFIG_SIZE) {
		what = "size";
		hint = " (bytes, or with a k, M or G suffix)";
		switch (len > 0 ? value[len - 1] : '\0') {
		case 'k': case 'K': unit = 1ull << 10; len--; break;
		case 'm': case 'M': unit = 1ull << 20; len--; break;
		case 'g': case 'G': unit = 1ull << 30; len--; break;
		}
	} else if (key->type == CONFIG_DURATION) {
		what = "duration";
		hint = " (seconds, or with an s, m, h or d suffix)";
		switch (len > 0 ? value[len - 1] : '\0') {
		case 's': unit = 1; len--; break;
		case 'm': unit = 60; len--; break;
		case 'h': unit = 3600; len--; break;
		case 'd': unit = 86400; len--; break;
		}
	}
	if (len > 0 && strspn(value, "0123456789") == len) {
		if (!parse_uint64(value, len, ULLONG_MAX / unit, &v) ||
		    v * unit < key->min || v * unit > key->max) {
			*error_r = t_printf("%s %s out of range (%llu to %llu)",
					    what, log_str(value), key->min,
					    key->max);
			return -1;
		}
		*value_r = v * unit;
		return 0;
	}
	*error_r = t_printf("bad %s %s%s", what, log_str(value), hint);
	return -1;
}

/* Set one key from text. Errors are bare ("bad port ..."): callers add
 * where the value came from. */
static int config_set(struct config *config, const struct config_key *key,
		      const char *value, const char **error_r)
{
	void *field = config_field(config, key);
	unsigned long long num;

	/* keeps every value printable on one config_dump() line */
	for (const char *c = value; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*error_r = t_printf("control character in value %s",
					    log_str(value));
			return -1;
		}
	}
	if (strlen(value) > CONFIG_VALUE_MAX) {
		*error_r = t_printf("value too long (max %d bytes)",
				    CONFIG_VALUE_MAX);
		return -1;
	}
	switch (key->type) {
	case CONFIG_STRING: {
		const char *error = key->check != NULL ? key->check(value) : NULL;
		if (error != NULL) {
			*error_r = error;
			return -1;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(value);
		return 0;
	}
	case CONFIG_BOOL:
		return config_parse_bool(value, field, error_r);
	case CONFIG_UINT:
	case CONFIG_DURATION:
		if (config_parse_number(key, value, &num, error_r) < 0)
			return -1;
		*(unsigned *)field = (unsigned)num; /* max <= UINT_MAX */
		return 0;
	case CONFIG_SIZE:
		if (config_parse_number(key, value, &num, error_r) < 0)
			return -1;
		*(uint64_t *)field = num;
		return 0;
	case CONFIG_LISTEN:
		return config_parse_listen(value, field, error_r);
	}
	panic("event=config_bad_type key=%s", key->name);
}

void config_set_defaults(struct config *config)
{
	const char *error;

	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		const struct config_key *key = &config_keys[i];
		if (key->default_value != NULL &&
		    config_set(config, key, key->default_value, &error) < 0)
			panic("event=config_bad_default key=%s error=%s",
			      key->name, error);
	}
}

/* hostname has no text default: gethostname() is asked only when neither
 * the file nor -o set it. A name without a dot is still used, as Postfix
 * does with myhostname. */
int config_default_hostname(struct config *config, const char **error_r)
{
	char host[256];

	if (config->hostname != NULL)
		return 0;
	if (gethostname(host, sizeof(host)) < 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	const char *error = config_check_hostname(host);
	if (error != NULL) {
		*error_r = t_printf("hostname: %s from gethostname(); set hostname in the config file",
				    error);
		return -1;
	}
	config->hostname = xstrdup(host);
	return 0;
}

/* Trim a NUL-terminated string in place; returns its new start. */
static char *config_strip(char *s)
{
	const char *start = s;
	size_t len = strlen(s);
	config_trim(&start, &len);
	s[(size_t)(start - s) + len] = '\0';
	return s + (start - s);
}

/* " (did you mean KEY?)" for a mistyped key name, or "". */
const char *config_key_suggestion(const char *name)
{
	const char *names[CONFIG_KEY_COUNT];
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
		names[i] = config_keys[i].name;
	const char *near = suggest_nearest(name, names, CONFIG_KEY_COUNT);
	return near == NULL ? "" : t_printf(" (did you mean %s?)", near);
}

/* A key set twice in one file: the second line would silently win, so
 * it is an error naming both lines. lines[] holds, per key, the line that
 * set it (0: not yet); NULL for -o, where a later -o wins by design. */
static int config_note_line(const struct config_key *key, unsigned *lines,
			    const char *file, unsigned lineno,
			    const char **error_r)
{
	if (lines == NULL)
		return 0;
	unsigned *first = &lines[key - config_keys];
	if (*first != 0) {
		*error_r = t_printf("%s:%u: %s is set twice, on lines %u and %u "
				    "(keep one)", file, lineno, key->name,
				    *first, lineno);
		return -1;
	}
	*first = lineno;
	return 0;
}

/* Apply one "key = value" line. file is NULL for -o, and errors read
 * "FILE:LINE: key: problem" or "-o key: problem". */
static int config_assign(struct config *config, char *line, const char *file,
			 unsigned lineno, unsigned *lines, const char **error_r)
{
	char *eq = strchr(line, '=');
	const char *name = "", *value = NULL, *error;
	const struct config_key *key = NULL;

	if (eq != NULL) {
		*eq = '\0';
		name = config_strip(line);
		value = config_strip(eq + 1);
		key = config_key_find(name);
	}
	if (key != NULL && config_note_line(key, lines, file, lineno, error_r) < 0)
		return -1;
	if (key != NULL && config_set(config, key, value, &error) == 0)
		return 0;

	const char *where = file != NULL ? t_printf("%s:%u", file, lineno) : "-o";
	if (eq == NULL && file == NULL)
		*error_r = t_printf("-o: expected key=value, got %s", log_str(line));
	else if (eq == NULL)
		*error_r = t_printf("%s: expected \"key = value\", got %s",
				    where, log_str(line));
	else if (name[0] == '\0')
		*error_r = t_printf("%s: missing key before \"=\"", where);
	else if (strcmp(name, "data_dir") == 0)
		*error_r = t_printf("%s: data_dir is set with -d, not here", where);
	else if (key == NULL)
		*error_r = t_printf("%s: unknown key %s%s", where, log_str(name),
				    config_key_suggestion(name));
	else
		*error_r = t_printf("%s%s%s: %s", where, file != NULL ? ": " : " ",
				    key->name, error);
	return -1;
}

static int config_read_file(const char *path, bool must_exist, str_t *out,
			    const char **error_r)
{
	FILE *f = fopen(path, "re");
	if (f == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		*error_r = t_printf("%s: %s", path, strerror(errno));
		return -1;
	}
	/* one read of up to the limit plus one byte tells "too large" apart */
	str_reserve(out, CONFIG_FILE_MAX + 1);
	out->len = fread(out->data, 1, CONFIG_FILE_MAX + 1, f);
	out->data[out->len] = '\0';
	int ret = 0;
	if (ferror(f)) {
		*error_r = t_printf("%s: %s", path, strerror(errno));
		ret = -1;
	} else if (out->len > CONFIG_FILE_MAX) {
		*error_r = t_printf("%s: file too large (max %d bytes)",
				    path, CONFIG_FILE_MAX);
		ret = -1;
	}
	fclose(f);
	return ret;
}

static int config_load_file(struct config *config, const char *path,
			    bool must_exist, const char **error_r)
{
	str_t text = STR_INIT;
	char line[CONFIG_LINE_MAX + 1];
	unsigned lines[CONFIG_KEY_COUNT] = { 0 };
	int ret = 0;

	if (config_read_file(path, must_exist, &text, error_r) < 0) {
		str_free(&text);
		return -1;
	}
	const char *p = str_c(&text), *end = p + text.len;
	for (unsigned lineno = 1; p < end && ret == 0; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		const char *start = p;

		p += len + 1;
		if (len > CONFIG_LINE_MAX) {
			*error_r = t_printf("%s:%u: line too long (max %d bytes)",
					    path, lineno, CONFIG_LINE_MAX);
			ret = -1;
			break;
		}
		if (memchr(start, '\0', len) != NULL) {
			*error_r = t_printf("%s:%u: NUL byte in line", path, lineno);
			ret = -1;
			break;
		}
		config_trim(&start, &len);
		if (len == 0 || start[0] == '#')
			continue;
		memcpy(line, start, len);
		line[len] = '\0';
		ret = config_assign(config, line, path, lineno, lines, error_r);
	}
	str_free(&text);
	return ret;
}

/* Settings that are each valid alone but not together. */
static int config_check_all(const struct config *config, const char **error_r)
{
	if ((config->tls_cert[0] == '\0') != (config->tls_key[0] == '\0')) {
		*error_r = "tls_cert and tls_key must be set together";
		return -1;
	}
	return 0;
}

int config_load(const char *data_dir, const char *file,
		const char *const *overrides, unsigned override_count,
		struct config **config_r, const char **error_r)
{
	if (data_dir == NULL || data_dir[0] == '\0') {
		*error_r = "no data directory (-d)";
		return -1;
	}
	struct config *config = xcalloc(1, sizeof(*config));
	config->data_dir = xstrdup(data_dir);

	config_set_defaults(config);
	int ret = file != NULL ?
		config_load_file(config, file, true, error_r) :
		config_load_file(config, t_printf("%s/postel.conf", data_dir),
				 false, error_r);
	for (unsigned i = 0; ret == 0 && i < override_count; i++) {
		char *line = t_strndup(overrides[i], strlen(overrides[i]));
		ret = config_assign(config, line, NULL, 0, NULL, error_r);
	}
	if (ret == 0)
		ret = config_default_hostname(config, error_r);
	if (ret == 0)
		ret = config_check_all(config, error_r);
	if (ret < 0) {
		config_free(&config);
		return -1;
	}
	*config_r = config;
	return 0;
}

void config_free(struct config **config)
{
	if (*config == NULL)
		return;
	for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
		if (config_keys[i].type == CONFIG_STRING)
			free(*(char **)config_field(*config, &config_keys[i]));
	}
	free((*config)->data_dir);
	xfree(config);
}
