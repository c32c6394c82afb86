/* commands.h: the postel subcommands, dispatched from main.c.
 *
 * Each takes the loaded configuration and the arguments after the
 * subcommand name (argv[0] is the subcommand). Returns the process exit
 * status: 0 success, 1 failure, 2 usage error. Each prints its own
 * --help when argv contains --help or -h. */
#ifndef POSTEL_CLI_COMMANDS_H
#define POSTEL_CLI_COMMANDS_H

#include <stdbool.h>

struct config;
struct queue;

struct cli_ctx {
	struct config *config; /* loaded with -d/-c/-o already applied */
	const char *config_file; /* NULL: the default DATA_DIR/postel.conf */
	/* the -d and -o arguments as given, so serve can reload on SIGHUP */
	const char *data_dir;
	const char *const *overrides;
	unsigned override_count;
};

int cmd_serve(struct cli_ctx *ctx, int argc, char **argv);  /* server/ */
int cmd_config(struct cli_ctx *ctx, int argc, char **argv); /* cmd_config.c */
int cmd_user(struct cli_ctx *ctx, int argc, char **argv);   /* cmd_user.c */
int cmd_domain(struct cli_ctx *ctx, int argc, char **argv); /* cmd_user.c */
int cmd_alias(struct cli_ctx *ctx, int argc, char **argv);  /* cmd_user.c */
int cmd_queue(struct cli_ctx *ctx, int argc, char **argv);  /* cmd_queue.c */
int queue_cmd_bounce(struct cli_ctx *ctx, int argc, char **argv); /* cmd_queue_bounce.c */
int cmd_dkim(struct cli_ctx *ctx, int argc, char **argv);   /* cmd_dkim.c */
int cmd_import(struct cli_ctx *ctx, int argc, char **argv); /* cmd_import.c */
/* cmd_queue_control.c; op is an enum queue_control_op (queue/queue.h) */
int queue_cmd_control(struct cli_ctx *ctx, int op, int argc, char **argv);
int queue_cmd_flush(struct cli_ctx *ctx);
/* cmd_queue.c: false, with the reason printed, unless every id is valid */
bool queue_ids_valid(int count, char *const *ids);
/* queue_open() read-write; NULL with the error printed */
struct queue *queue_cli_open(const struct cli_ctx *ctx);
int cmd_probe(struct cli_ctx *ctx, int argc, char **argv);  /* probe/ */

#endif
