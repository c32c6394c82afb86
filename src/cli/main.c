/* main.c: the postel command: global options, configuration, dispatch.
 *
 *   postel [-d DIR] [-c FILE] [-o key=value]... COMMAND [ARGS]
 *
 * Global options come before the command. The configuration is loaded,
 * and so fully checked, before any command runs: a bad configuration
 * prints "postel: <error>" and exits 1. A usage error (unknown option or
 * command) exits 2. Each command is one row of cli_commands[]; it gets
 * argv starting at its own name and returns the exit status. */
#include "lib/proctitle.h"
#include "lib/sqlite_mem.h"
#include "lib/tls_mem.h"
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/log.h"
#include "server/server.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CLI_DEFAULT_DATA_DIR "/var/lib/postel"
#define CLI_MAX_OVERRIDES 64
#ifndef POSTEL_VERSION
#define POSTEL_VERSION "0.1.0" /* keep in step with meson.build */
#endif

struct cli_command {
	const char *name;
	int (*run)(struct cli_ctx *ctx, int argc, char **argv);
	const char *help;
	/* touches the data directory: run as run_user, never as root, so
	 * the files it makes stay writable by the server's workers */
	bool as_run_user;
};

static const struct cli_command cli_commands[] = {
	{ "serve", cmd_serve, "run the mail server", false },
	{ "config", cmd_config, "check and print the effective configuration", false },
	{ "user", cmd_user, "manage mail users and their passwords", true },
	{ "domain", cmd_domain, "manage the local mail domains", true },
	{ "alias", cmd_alias, "manage address aliases", true },
	{ "queue", cmd_queue, "inspect and manage the outbound queue", true },
	{ "import", cmd_import, "take a Dovecot Maildir++ tree into a user's mailboxes", true },
	/* root: keys are root's, readable by run_user's group (cmd_dkim.c) */
	{ "dkim", cmd_dkim, "create and list DKIM signing keys", false },
	{ "probe", cmd_probe, "check a mail server's ports and say what to use", false },
};
#define CLI_COMMAND_COUNT (sizeof(cli_commands) / sizeof(cli_commands[0]))

static void cli_usage(FILE *out)
{
	fprintf(out,
		"usage: postel [-d DIR] [-c FILE] [-o key=value]... COMMAND [ARGS]\n"
		"\n"
		"options:\n"
		"  -d DIR        data directory (default %s)\n"
		"  -c FILE       config file (default DIR/postel.conf, if it exists)\n"
		"  -o key=value  override a config key; repeatable, up to %d times\n"
		"  -h, --help    show this help\n"
		"  --version     show the version\n"
		"\n"
		"commands:\n",
		CLI_DEFAULT_DATA_DIR, CLI_MAX_OVERRIDES);
	for (size_t i = 0; i < CLI_COMMAND_COUNT; i++)
		fprintf(out, "  %-8s  %s\n", cli_commands[i].name,
			cli_commands[i].help);
	fprintf(out, "\nRun \"postel COMMAND --help\" for the options of a command.\n");
}

static int cli_usage_error(const char *message, const char *arg)
{
	fprintf(stderr, "postel: %s \"%s\"\nTry \"postel --help\".\n", message, arg);
	return 2;
}

static const struct cli_command *cli_command_find(const char *name)
{
	for (size_t i = 0; i < CLI_COMMAND_COUNT; i++) {
		if (strcmp(cli_commands[i].name, name) == 0)
			return &cli_commands[i];
	}
	return NULL;
}

static bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* A mistyped -d must not quietly start an empty data directory: of the
 * commands that use one, only "domain add" (the first step of a setup)
 * creates it, besides serve. */
static bool cli_data_dir_missing(const struct cli_command *command, int argc,
				 char **argv, const char *data_dir)
{
	if (strcmp(command->name, "domain") == 0 && argc > 1 && strcmp(argv[1], "add") == 0)
		return false;
	struct stat st;
	return stat(data_dir, &st) < 0 && errno == ENOENT;
}

int main(int argc, char **argv)
{
	static const struct option long_options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *data_dir = CLI_DEFAULT_DATA_DIR, *file = NULL;
	const char *overrides[CLI_MAX_OVERRIDES];
	char optname[3] = "-?";
	unsigned override_count = 0;
	int opt;

	/* before anything calls OpenSSL: its record buffers get a pool of
	 * their own (lib/tls_mem.h); off under ASan */
	if (tls_mem_init() < 0)
		fprintf(stderr, "postel: OpenSSL allocated before main\n");
	/* likewise SQLite's blocks (lib/sqlite_mem.h) */
	if (sqlite_mem_init() < 0)
		fprintf(stderr, "postel: SQLite initialised before main\n");
	proctitle_init(argc, argv); /* before getopt may permute argv */
	opterr = 0; /* our own messages, prefixed "postel:" */
	/* '+': stop at the command name, its options are its own */
	while ((opt = getopt_long(argc, argv, "+:d:c:o:h", long_options,
				  NULL)) != -1) {
		switch (opt) {
		case 'd':
			data_dir = optarg;
			break;
		case 'c':
			file = optarg;
			break;
		case 'o':
			if (override_count == CLI_MAX_OVERRIDES) {
				fprintf(stderr, "postel: too many -o options (max %d)\n",
					CLI_MAX_OVERRIDES);
				return 2;
			}
			overrides[override_count++] = optarg;
			break;
		case 'h':
			cli_usage(stdout);
			return 0;
		case 'V':
			printf("postel %s\n", POSTEL_VERSION);
			return 0;
		case ':':
			optname[1] = (char)optopt;
			return cli_usage_error("missing argument to", optname);
		default:
			if (optopt == 0) /* an unknown long option */
				return cli_usage_error("unknown option", argv[optind - 1]);
			optname[1] = (char)optopt;
			return cli_usage_error("unknown option", optname);
		}
	}
	if (optind >= argc) {
		cli_usage(stderr);
		return 2;
	}
	const struct cli_command *command = cli_command_find(argv[optind]);
	if (command == NULL)
		return cli_usage_error("unknown command", argv[optind]);

	struct config *config = NULL;
	const char *error;
	if (config_load(data_dir, file, overrides, override_count,
			&config, &error) < 0) {
		fprintf(stderr, "postel: %s\n", error);
		return 1;
	}
	log_init("postel", config_log_level(config));

	struct cli_ctx ctx = { .config = config, .config_file = file,
			       .data_dir = data_dir, .overrides = overrides,
			       .override_count = override_count };
	/* --help touches no data directory */
	bool uses_data = command->as_run_user && !cli_wants_help(argc - optind, argv + optind);
	if (uses_data && cli_data_dir_missing(command, argc - optind, argv + optind,
					      config->data_dir)) {
		fprintf(stderr, "postel: data directory %s does not exist (check -d; "
			"\"postel domain add DOMAIN\" or \"postel serve\" creates it)\n",
			config->data_dir);
		config_free(&ctx.config);
		return 1;
	}
	if (uses_data &&
	    (server_prepare_data_dir(config, &error) < 0 ||
	     server_drop_privileges(config, &error) < 0)) {
		fprintf(stderr, "postel: %s\n", error);
		config_free(&ctx.config);
		return 1;
	}
	int command_argc = argc - optind;
	char **command_argv = argv + optind;
	optind = 0; /* a command may run getopt() on its own argv afresh */
	int ret = command->run(&ctx, command_argc, command_argv);
	/* a command may take the config over and set ctx.config to NULL */
	config_free(&ctx.config);
	return ret;
}
