/* cmd_config.c: "postel config", the configuration seen from outside.
 *
 *   postel config check  print the effective configuration (defaults, the
 *                        file, then -o) as "key = value" lines; main.c has
 *                        already loaded and so validated it, so reaching
 *                        here means it is valid: exit 0
 *   postel config keys   list every key with its type, default and help
 *
 * Output goes to stdout; a failed write (full disk, closed pipe) exits 1
 * rather than pretend the configuration was printed. */
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/str.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct cmd_config_sub {
	const char *name;
	void (*print)(const struct config *config, str_t *out);
	const char *help;
};

static void cmd_config_keys(const struct config *config, str_t *out)
{
	(void)config;
	config_dump_keys(out);
}

static const struct cmd_config_sub cmd_config_subs[] = {
	{ "check", config_dump, "validate and print the effective configuration" },
	{ "keys", cmd_config_keys, "list every key with its type, default and help" },
};
#define CMD_CONFIG_SUB_COUNT (sizeof(cmd_config_subs) / sizeof(cmd_config_subs[0]))

static void cmd_config_usage(FILE *out)
{
	fprintf(out, "usage: postel [-d DIR] [-c FILE] [-o key=value]... config COMMAND\n"
		"\ncommands:\n");
	for (size_t i = 0; i < CMD_CONFIG_SUB_COUNT; i++)
		fprintf(out, "  %-6s  %s\n", cmd_config_subs[i].name,
			cmd_config_subs[i].help);
	fprintf(out, "\nA configuration error exits 1 with the file, line and key.\n");
}

int cmd_config(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cmd_config_sub *sub = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_config_usage(stdout);
			return 0;
		}
	}
	for (size_t i = 0; argc >= 2 && i < CMD_CONFIG_SUB_COUNT; i++) {
		if (strcmp(argv[1], cmd_config_subs[i].name) == 0)
			sub = &cmd_config_subs[i];
	}
	if (sub == NULL || argc > 2) {
		if (argc >= 2) {
			fprintf(stderr, "postel config: %s \"%s\"\n",
				sub == NULL ? "unknown command" : "unexpected argument",
				argv[sub == NULL ? 1 : 2]);
		}
		cmd_config_usage(stderr);
		return 2;
	}

	str_t out = STR_INIT;
	int ret = 0;
	sub->print(ctx->config, &out);
	if (fwrite(out.data, 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		fprintf(stderr, "postel config: writing to stdout: %s\n",
			strerror(errno));
		ret = 1;
	}
	str_free(&out);
	return ret;
}
