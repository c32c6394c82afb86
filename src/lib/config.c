/* config.c: the value parsers and the file/-o loader over the key table
 * of config_keys.c. config_load() either returns a complete, checked
 * config or nothing. */
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
	for (size_t i = 0; i < config_key_count; i++) {
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

	for (size_t i = 0; i < config_key_count; i++) {
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
	const char *names[CONFIG_KEY_MAX];
	for (size_t i = 0; i < config_key_count; i++)
		names[i] = config_keys[i].name;
	const char *near = suggest_nearest(name, names, config_key_count);
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
	unsigned lines[CONFIG_KEY_MAX] = { 0 };
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
	for (size_t i = 0; i < config_key_count; i++) {
		if (config_keys[i].type == CONFIG_STRING)
			free(*(char **)config_field(*config, &config_keys[i]));
	}
	free((*config)->data_dir);
	xfree(config);
}
