/* config_private.h: the key table (config_keys.c) that config.c (loading) and
 * config_show.c (dump, show, restart keys) share, and the helpers the
 * value parsers of config_listen.c use. Not for other layers: they read
 * struct config and call config.h. */
#ifndef POSTEL_CONFIG_PRIVATE_H
#define POSTEL_CONFIG_PRIVATE_H

#include "config.h"

#include <stddef.h>

enum config_type {
	CONFIG_STRING, CONFIG_BOOL, CONFIG_UINT, CONFIG_SIZE, CONFIG_DURATION,
	CONFIG_LISTEN,
};

static const char *const config_type_names[] = {
	"string", "bool", "number", "size", "duration", "listen list",
};

struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	const char *default_value; /* NULL: computed at load (hostname) */
	unsigned long long min, max; /* CONFIG_UINT, _SIZE, _DURATION */
	/* extra check for a string value; returns a bare error or NULL */
	const char *(*check)(const char *value);
	const char *help;
};

/* config_keys.c: the table; CONFIG_KEY_MAX bounds it at compile time
 * for the loader's per-key arrays */
#define CONFIG_KEY_MAX 128
extern const struct config_key config_keys[];
extern const size_t config_key_count;
extern const char *const config_type_names[];

const void *config_field_const(const struct config *config,
			       const struct config_key *key);
const struct config_key *config_key_find(const char *name);
/* " (did you mean KEY?)" for a mistyped key name, or "". */
const char *config_key_suggestion(const char *name);
/* Every key at its default, hostname still unset. */
void config_set_defaults(struct config *config);
/* hostname from gethostname() when neither file nor -o set it. */
int config_default_hostname(struct config *config, const char **error_r);
/* NULL, or why value is not a host name (config_keys.c). */
const char *config_check_hostname(const char *value);
/* Trim ASCII space around [*start, *start + *len) in place. */
void config_trim(const char **start, size_t *len);

#endif
