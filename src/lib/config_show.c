/* config_show.c: a configuration as text: config_dump() (every key, in
 * a form config_load() reads back), config_show() (chosen keys, or only
 * those not at their default), config_restart_keys() (what a reload
 * cannot apply) and the host name checks `config check` and `serve`
 * share. */
#include "config_private.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void config_value_text(const struct config *config,
			      const struct config_key *key, str_t *out)
{
	const void *field = config_field_const(config, key);
	const struct config_listen_list *list = field;

	switch (key->type) {
	case CONFIG_STRING:
		str_appendz(out, *(char *const *)field);
		return;
	case CONFIG_BOOL:
		str_appendz(out, *(const bool *)field ? "yes" : "no");
		return;
	case CONFIG_UINT:
	case CONFIG_DURATION:
		str_printf(out, "%u", *(const unsigned *)field);
		return;
	case CONFIG_SIZE:
		str_printf(out, "%llu",
			   (unsigned long long)*(const uint64_t *)field);
		return;
	case CONFIG_LISTEN:
		for (unsigned i = 0; i < list->count; i++) {
			if (i > 0)
				str_appendc(out, ',');
			str_appendz(out, list->items[i].text);
		}
		return;
	}
	panic("event=config_bad_type key=%s", key->name);
}

static void config_dump_key(const struct config *config,
			    const struct config_key *key, str_t *out)
{
	size_t before;
	str_appendz(out, key->name);
	str_appendz(out, " = ");
	before = out->len;
	config_value_text(config, key, out);
	if (out->len == before)
		str_truncate(out, before - 1); /* no trailing space */
	str_appendc(out, '\n');
}

void config_dump(const struct config *config, str_t *out)
{
	str_printf(out, "# data_dir = %s (set with -d)\n", config->data_dir);
	for (size_t i = 0; i < config_key_count; i++)
		config_dump_key(config, &config_keys[i], out);
}

/* Whether key has the same value in a and b, compared as dumped text. */
static bool config_key_same(const struct config *a, const struct config *b,
			    const struct config_key *key)
{
	str_t ta = STR_INIT, tb = STR_INIT;
	if (key->type == CONFIG_STRING &&
	    *(char *const *)config_field_const(b, key) == NULL)
		return false; /* no default could be computed */
	config_value_text(a, key, &ta);
	config_value_text(b, key, &tb);
	bool same = ta.len == tb.len && memcmp(str_c(&ta), str_c(&tb), ta.len) == 0;
	str_free(&ta);
	str_free(&tb);
	return same;
}

int config_show(const struct config *config, const char *const *names,
		unsigned count, bool changed_only, str_t *out,
		const char **error_r)
{
	for (unsigned i = 0; i < count; i++) {
		if (strcmp(names[i], "data_dir") != 0 &&
		    config_key_find(names[i]) == NULL) {
			*error_r = t_printf("unknown key %s%s", log_str(names[i]),
					    config_key_suggestion(names[i]));
			return -1;
		}
	}
	struct config *def = NULL;
	if (changed_only) {
		const char *error;
		def = xcalloc(1, sizeof(*def));
		config_set_defaults(def);
		(void)config_default_hostname(def, &error); /* NULL: differs */
	}
	for (unsigned i = 0; i < (count > 0 ? count : config_key_count); i++) {
		if (count > 0 && strcmp(names[i], "data_dir") == 0) {
			str_printf(out, "data_dir = %s\n", config->data_dir);
			continue;
		}
		const struct config_key *key = count > 0 ?
			config_key_find(names[i]) : &config_keys[i];
		if (def == NULL || !config_key_same(config, def, key))
			config_dump_key(config, key, out);
	}
	config_free(&def);
	return 0;
}

const char *config_restart_keys(const struct config *old,
				const struct config *new_config)
{
	/* bound once by the master at start (listeners) or sized at start
	 * (worker count); every other key reaches the new workers */
	static const char *const names[] = {
		"smtp_listen", "submission_listen", "submissions_listen",
		"pop3_listen", "pop3s_listen", "imap_listen", "imaps_listen",
		"workers",
	};
	str_t keys = STR_INIT;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct config_key *key = config_key_find(names[i]);
		if (key == NULL)
			panic("event=config_restart_key_missing key=%s", names[i]);
		if (!config_key_same(old, new_config, key))
			str_printf(&keys, "%s%s", keys.len > 0 ? "," : "", key->name);
	}
	const char *ret = keys.len > 0 ? t_printf("%s", str_c(&keys)) : NULL;
	str_free(&keys);
	return ret;
}

const char *config_hostname_problem(const char *hostname)
{
	size_t len = strlen(hostname);
	if (len > 0 && hostname[len - 1] == '.')
		len--; /* the root label: "mail.example.org." is fully qualified */
	const char *dot = memrchr(hostname, '.', len);
	const char *last = dot != NULL ? dot + 1 : hostname;
	size_t last_len = len - (size_t)(last - hostname);
	if (dot == NULL)
		return "has no dot";
	if ((last_len == 9 && strncasecmp(last, "localhost", 9) == 0) ||
	    (last_len == 11 && strncasecmp(last, "localdomain", 11) == 0))
		return t_printf("ends in %.*s, which no other host can resolve",
				(int)last_len, last);
	if (strspn(last, "0123456789") >= last_len)
		return "looks like an address, not a name";
	return NULL;
}

const char *config_hostname_fix(const struct config *config)
{
	return t_printf("set \"hostname = mail.example.org\" (the name whose A/AAAA "
			"and MX records point here) in %s/postel.conf or pass "
			"-o hostname=mail.example.org", config->data_dir);
}

const char *config_hostname_warning(const struct config *config)
{
	const char *problem = config_hostname_problem(config->hostname);
	if (problem == NULL)
		return NULL;
	/* RFC 5321 4.1.1.1: EHLO gives the client's fully qualified domain
	 * name; other MTAs and TLS clients check this name */
	return t_printf("hostname %s is not a fully qualified domain name (it %s): "
			"it goes into EHLO, Received: and the self-signed certificate, "
			"and other servers and clients check it; %s",
			log_str(config->hostname), problem, config_hostname_fix(config));
}

void config_dump_keys(str_t *out)
{
	for (size_t i = 0; i < config_key_count; i++) {
		const struct config_key *key = &config_keys[i];
		const char *def = key->default_value;
		str_printf(out, "%s (%s, default %s)\n    %s\n", key->name,
			   config_type_names[key->type],
			   def == NULL ? "computed" : def[0] == '\0' ? "empty" : def,
			   key->help);
	}
}
