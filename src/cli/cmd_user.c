/* cmd_user.c: "postel domain", "postel user" and "postel alias", the
 * accounts in DATA_DIR/db/accounts.db (auth/userdb.h).
 *
 *   postel domain add DOMAIN | del DOMAIN | list
 *   postel user add ADDRESS [--hash HASH] [--create-domain]
 *                 | del ADDRESS [--keep-mail] | list [DOMAIN]
 *                 | passwd ADDRESS [--hash HASH]
 *   postel alias add SOURCE TARGET... | del SOURCE [TARGET...] | list
 *
 * Each group is a table of subcommands with argument counts and the
 * options each takes; arguments are validated before anything is written.
 * "user add" also creates the user's mail store (store/store.h), and only
 * in a local domain unless --create-domain; "user del" removes the mail
 * store too unless --keep-mail, so a user added again later under the same
 * address does not inherit the mail. Aliases that would shadow a user or
 * close a loop are refused (userdb_alias_add()). Passwords are read and
 * checked by cmd_password.h. Exit status: 0 done, 1 failure ("postel:
 * reason" on stderr), 2 usage error. Lists go to stdout, one item per
 * line. */
#include "auth/password.h"
#include "auth/userdb.h"
#include "cli/commands.h"
#include "cli/cmd_password.h"
#include "lib/config.h"
#include "store/store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define CMD_ARGS_MAX 64

enum cmd_option {
	CMD_OPT_HASH = 1u << 0,          /* --hash HASH */
	CMD_OPT_CREATE_DOMAIN = 1u << 1, /* --create-domain */
	CMD_OPT_KEEP_MAIL = 1u << 2,     /* --keep-mail */
};

struct cmd_args {
	const char *data_dir;
	unsigned password_min; /* characters */
	const char *hash; /* --hash HASH, or NULL */
	bool create_domain, keep_mail;
	const char *pos[CMD_ARGS_MAX];
	int count;
};

struct cmd_sub {
	const char *name;
	int min_args, max_args;
	unsigned options; /* enum cmd_option */
	int (*run)(struct userdb *db, const struct cmd_args *args);
	const char *synopsis, *help;
};

struct cmd_group {
	const char *name;
	const struct cmd_sub *subs;
	const char *notes;
};

static int cmd_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int cmd_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("postel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int cmd_domain_add(struct userdb *db, const struct cmd_args *args)
{
	const char *error;
	int ret = userdb_domain_add(db, args->pos[0], &error);
	if (ret < 0)
		return cmd_fail("domain %s: %s", args->pos[0], error);
	printf("%s domain %s\n", ret > 0 ? "added" : "already have", args->pos[0]);
	return 0;
}

static int cmd_domain_del(struct userdb *db, const struct cmd_args *args)
{
	const char *error;
	int ret = userdb_domain_del(db, args->pos[0], &error);
	if (ret <= 0)
		return ret < 0 ? cmd_fail("%s", error) : cmd_fail("no such domain: %s", args->pos[0]);
	printf("deleted domain %s\n", args->pos[0]);
	return 0;
}

static int cmd_print_list(int ret, const char **items, unsigned count, const char *error)
{
	if (ret < 0)
		return cmd_fail("%s", error);
	for (unsigned i = 0; i < count; i++)
		printf("%s\n", items[i]);
	return 0;
}

static int cmd_domain_list(struct userdb *db, const struct cmd_args *args)
{
	const char **names, *error;
	unsigned count;
	(void)args;
	int ret = userdb_domain_list(db, pool_temp(), &names, &count, &error);
	return cmd_print_list(ret, names, count, error);
}

static int cmd_user_add(struct userdb *db, const struct cmd_args *args)
{
	const char *address = args->pos[0], *error = NULL;
	struct password_scram keys;
	const struct password_scram *scram;
	struct store *store;
	char *hash;
	int ret;

	if (!userdb_address_valid(address, false, &error))
		return cmd_fail("invalid address %s: %s", address, error);
	ret = userdb_user_exists(db, address);
	if (ret != 0)
		return ret < 0 ? cmd_fail("accounts.db lookup failed") :
			cmd_fail("user %s already exists", address);
	/* a typo in the domain must not quietly make a new local domain */
	const char *domain = strrchr(userdb_address_normalize(pool_temp(), address), '@') + 1;
	ret = userdb_is_local_domain(db, domain);
	if (ret < 0)
		return cmd_fail("accounts.db lookup failed");
	if (ret == 0 && !args->create_domain)
		return cmd_fail("%s is not a local domain: add it first (postel domain add %s), "
				"or pass --create-domain", domain, domain);
	ret = 0;
	if (cmd_password_material(args->hash, args->password_min, &hash, &keys, &scram) != 0)
		return 1;

	/* the mail store first: store_user_create() is idempotent, so if
	 * the account insert fails a retry completes the job */
	const char *normalized = userdb_address_normalize(pool_temp(), address);
	if (store_open(args->data_dir, &store, &error) < 0) {
		ret = cmd_fail("mail store: %s", error);
	} else {
		if (store_user_create(store, normalized, &error) < 0)
			ret = cmd_fail("creating the mail store of %s: %s", normalized, error);
		store_close(&store);
	}
	if (ret == 0) {
		ret = userdb_user_add(db, normalized, hash, scram, &error);
		ret = ret > 0 ? 0 : ret == 0 ? cmd_fail("user %s already exists", address) :
			cmd_fail("%s", error);
	}
	if (ret == 0)
		printf("added user %s\n", normalized);
	OPENSSL_cleanse(&keys, sizeof(keys));
	OPENSSL_cleanse(hash, strlen(hash));
	free(hash);
	return ret;
}

static int cmd_user_del(struct userdb *db, const struct cmd_args *args)
{
	const char *error;
	const char *address = userdb_address_normalize(pool_temp(), args->pos[0]);
	/* the account first: no new mail arrives for it meanwhile */
	int ret = userdb_user_del(db, address, &error);
	if (ret <= 0)
		return ret < 0 ? cmd_fail("%s", error) : cmd_fail("no such user: %s", address);
	if (args->keep_mail) {
		printf("deleted user %s (the mail store is kept)\n", address);
		return 0;
	}
	struct store *store;
	if (store_open(args->data_dir, &store, &error) < 0)
		return cmd_fail("deleted user %s, but its mail is kept: %s", address, error);
	ret = store_user_delete(store, address, &error);
	store_close(&store);
	if (ret < 0)
		return cmd_fail("deleted user %s, but removing its mail failed: %s", address,
				error);
	printf("deleted user %s and its mail\n", address);
	return 0;
}

static int cmd_user_list(struct userdb *db, const struct cmd_args *args)
{
	const char **addresses, *error;
	unsigned count;
	int ret = userdb_user_list(db, args->count > 0 ? args->pos[0] : NULL, pool_temp(),
				   &addresses, &count, &error);
	return cmd_print_list(ret, addresses, count, error);
}

static int cmd_user_passwd(struct userdb *db, const struct cmd_args *args)
{
	struct password_scram keys;
	const struct password_scram *scram;
	const char *error = NULL;
	char *hash;

	int ret = userdb_user_exists(db, args->pos[0]);
	if (ret <= 0)
		return ret < 0 ? cmd_fail("accounts.db lookup failed") :
			cmd_fail("no such user: %s", args->pos[0]);
	if (cmd_password_material(args->hash, args->password_min, &hash, &keys, &scram) != 0)
		return 1;
	ret = userdb_user_set_password(db, args->pos[0], hash, scram, &error);
	ret = ret > 0 ? 0 : ret == 0 ? cmd_fail("no such user: %s", args->pos[0]) :
		cmd_fail("%s", error);
	if (ret == 0)
		printf("password changed for %s\n", args->pos[0]);
	OPENSSL_cleanse(&keys, sizeof(keys));
	OPENSSL_cleanse(hash, strlen(hash));
	free(hash);
	return ret;
}

static int cmd_alias_add(struct userdb *db, const struct cmd_args *args)
{
	const char *error;

	/* every argument checked before the first write */
	if (!userdb_address_valid(args->pos[0], true, &error))
		return cmd_fail("invalid alias source %s: %s", args->pos[0], error);
	for (int i = 1; i < args->count; i++) {
		if (!userdb_address_valid(args->pos[i], false, &error))
			return cmd_fail("invalid alias target %s: %s", args->pos[i], error);
	}
	for (int i = 1; i < args->count; i++) {
		int ret = userdb_alias_add(db, args->pos[0], args->pos[i], &error);
		if (ret < 0)
			return cmd_fail("%s", error);
		printf("%s alias %s -> %s\n", ret > 0 ? "added" : "already have",
		       args->pos[0], args->pos[i]);
	}
	return 0;
}

static int cmd_alias_del(struct userdb *db, const struct cmd_args *args)
{
	const char *error;
	int ret, deleted = 0;

	if (args->count == 1) {
		ret = userdb_alias_del(db, args->pos[0], NULL, &error);
		if (ret < 0)
			return cmd_fail("%s", error);
		deleted = ret;
	}
	for (int i = 1; i < args->count; i++) {
		ret = userdb_alias_del(db, args->pos[0], args->pos[i], &error);
		if (ret < 0)
			return cmd_fail("%s", error);
		if (ret == 0)
			fprintf(stderr, "postel: no alias %s -> %s\n", args->pos[0], args->pos[i]);
		deleted += ret;
	}
	if (deleted == 0)
		return cmd_fail("nothing deleted for alias %s", args->pos[0]);
	printf("deleted alias %s\n", args->pos[0]);
	return 0;
}

static int cmd_alias_list(struct userdb *db, const struct cmd_args *args)
{
	struct userdb_alias *aliases;
	const char *error;
	unsigned count;
	(void)args;

	if (userdb_alias_list(db, pool_temp(), &aliases, &count, &error) < 0)
		return cmd_fail("%s", error);
	for (unsigned i = 0; i < count; i++)
		printf("%s %s\n", aliases[i].source, aliases[i].target);
	return 0;
}

static const struct cmd_sub cmd_domain_subs[] = {
	{ "add", 1, 1, 0, cmd_domain_add, "add DOMAIN", "add a local domain" },
	{ "del", 1, 1, 0, cmd_domain_del, "del DOMAIN",
	  "delete a local domain that has no users or aliases left" },
	{ "list", 0, 0, 0, cmd_domain_list, "list", "list the local domains" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static const struct cmd_sub cmd_user_subs[] = {
	{ "add", 1, 1, CMD_OPT_HASH | CMD_OPT_CREATE_DOMAIN, cmd_user_add,
	  "add ADDRESS [--hash HASH] [--create-domain]",
	  "create a user and its mail store; its\n"
	  "                                              domain must be local (or use --create-domain)" },
	{ "del", 1, 1, CMD_OPT_KEEP_MAIL, cmd_user_del, "del ADDRESS [--keep-mail]",
	  "delete a user and its mail (--keep-mail: keep the mail store)" },
	{ "list", 0, 1, 0, cmd_user_list, "list [DOMAIN]",
	  "list the users, of one domain or all" },
	{ "passwd", 1, 1, CMD_OPT_HASH, cmd_user_passwd, "passwd ADDRESS [--hash HASH]",
	  "set a user's password" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static const struct cmd_sub cmd_alias_subs[] = {
	{ "add", 2, CMD_ARGS_MAX, 0, cmd_alias_add, "add SOURCE TARGET...",
	  "deliver mail for SOURCE to each TARGET" },
	{ "del", 1, CMD_ARGS_MAX, 0, cmd_alias_del, "del SOURCE [TARGET...]",
	  "delete some or all targets of SOURCE" },
	{ "list", 0, 0, 0, cmd_alias_list, "list",
	  "list the aliases, \"SOURCE TARGET\" per line" },
	{ NULL, 0, 0, 0, NULL, NULL, NULL }
};

static const struct cmd_group cmd_domain_group = { "domain", cmd_domain_subs,
	"\"user add --create-domain\" adds the user's domain too.\n" };
static const struct cmd_group cmd_user_group = { "user", cmd_user_subs,
	"The password is read from the terminal without echo (asked twice), or as\n"
	"one line from stdin when stdin is not a terminal; it needs at least\n"
	"password_min_length characters (default 8). --hash HASH stores an\n"
	"existing crypt(3) hash instead ($y$, $6$, $2b$, ..., also with a Dovecot\n"
	"{SHA512-CRYPT}/{BLF-CRYPT}/{CRYPT}/... prefix); SCRAM-SHA-256 then stays\n"
	"unavailable for that user until a password is set without --hash.\n" };
static const struct cmd_group cmd_alias_group = { "alias", cmd_alias_subs,
	"SOURCE \"@DOMAIN\" is the catch-all of a local domain, used only for\n"
	"addresses with no user or alias of their own. A TARGET may be a local\n"
	"user, another alias, or an external address. A SOURCE that is a user,\n"
	"or a TARGET that leads back to SOURCE (a loop), is refused.\n" };

static void cmd_usage(const struct cmd_group *group, FILE *out)
{
	fprintf(out, "usage: postel [-d DIR] [-c FILE] [-o key=value]... %s COMMAND [ARGS]\n"
		"\ncommands:\n", group->name);
	for (const struct cmd_sub *sub = group->subs; sub->name != NULL; sub++)
		fprintf(out, "  %-43s %s\n", sub->synopsis, sub->help);
	fprintf(out, "\n%s", group->notes);
}

static int cmd_usage_error(const struct cmd_group *group, const char *message,
			   const char *arg)
{
	fprintf(stderr, "postel %s: %s%s%s\nTry \"postel %s --help\".\n", group->name,
		message, arg != NULL ? " " : "", arg != NULL ? arg : "", group->name);
	return 2;
}

static int cmd_group_run(const struct cmd_group *group, struct cli_ctx *ctx,
			 int argc, char **argv)
{
	const struct cmd_sub *sub = NULL;
	struct cmd_args args = { .data_dir = ctx->config->data_dir,
				 .password_min = ctx->config->password_min_length };
	bool options_done = false;

	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cmd_usage(group, stdout);
			return 0;
		}
	}
	if (argc < 2)
		return cmd_usage_error(group, "missing command", NULL);
	for (sub = group->subs; sub->name != NULL; sub++) {
		if (strcmp(sub->name, argv[1]) == 0)
			break;
	}
	if (sub->name == NULL)
		return cmd_usage_error(group, "unknown command", argv[1]);
	for (int i = 2; i < argc; i++) {
		if (!options_done && strcmp(argv[i], "--") == 0) {
			options_done = true;
		} else if (!options_done && (sub->options & CMD_OPT_HASH) &&
			   strcmp(argv[i], "--hash") == 0) {
			if (i + 1 == argc || args.hash != NULL)
				return cmd_usage_error(group, "--hash needs one HASH", NULL);
			args.hash = argv[++i];
		} else if (!options_done && (sub->options & CMD_OPT_CREATE_DOMAIN) &&
			   strcmp(argv[i], "--create-domain") == 0) {
			args.create_domain = true;
		} else if (!options_done && (sub->options & CMD_OPT_KEEP_MAIL) &&
			   strcmp(argv[i], "--keep-mail") == 0) {
			args.keep_mail = true;
		} else if (!options_done && argv[i][0] == '-') {
			return cmd_usage_error(group, "unknown option", argv[i]);
		} else if (args.count == CMD_ARGS_MAX) {
			return cmd_usage_error(group, "too many arguments", NULL);
		} else {
			args.pos[args.count++] = argv[i];
		}
	}
	if (args.count < sub->min_args || args.count > sub->max_args)
		return cmd_usage_error(group, "wrong number of arguments for", sub->name);

	struct userdb *db;
	const char *error;
	if (userdb_open(args.data_dir, &db, &error) < 0)
		return cmd_fail("%s", error);
	int ret = sub->run(db, &args);
	userdb_close(&db);
	if (fflush(stdout) != 0)
		ret = cmd_fail("writing to stdout: %s", strerror(errno));
	return ret;
}

int cmd_domain(struct cli_ctx *ctx, int argc, char **argv)
{
	return cmd_group_run(&cmd_domain_group, ctx, argc, argv);
}

int cmd_user(struct cli_ctx *ctx, int argc, char **argv)
{
	return cmd_group_run(&cmd_user_group, ctx, argc, argv);
}

int cmd_alias(struct cli_ctx *ctx, int argc, char **argv)
{
	return cmd_group_run(&cmd_alias_group, ctx, argc, argv);
}
