/* cmd_import.c: "postel import maildir PATH ADDRESS", a migration from
 * Dovecot (or any Maildir++ tree) keeping what clients have synced.
 *
 * PATH is a Maildir++ tree: INBOX is PATH/{cur,new}, every other folder
 * PATH/.Name.Sub ('.' the hierarchy separator, names in modified UTF-7
 * as Dovecot keeps them on disk, import_dovecot.h). ADDRESS is an
 * existing user (postel user add). Every folder, empty ones included,
 * keeps its UIDVALIDITY and UIDs from dovecot-uidlist, a UIDNEXT and a
 * HIGHESTMODSEQ no lower than Dovecot's, flags and keywords
 * (import_maildir.h); PATH/subscriptions becomes the user's
 * subscriptions. So a client synced with Dovecot sees the same UIDs
 * afterwards and downloads nothing again.
 *
 * Promises:
 * - Only into mailboxes that are still empty: if one of the user's
 *   mailboxes holds a message that is not one of this import's (same
 *   UIDVALIDITY, a UID the source gives), nothing is written and it
 *   exits 1 naming the mailbox.
 * - Idempotent and resumable: a run after a kill continues where the
 *   last commit left off; a run after a complete one changes nothing.
 * - Every message goes in through the store API (store.h durability);
 *   as every command touching the data directory it runs as run_user
 *   (main.c), so PATH must be readable by that user.
 * - A progress line per 100 messages on stdout; whatever it cannot take
 *   (an unreadable file, a bad folder name, a bad uidlist line) is
 *   reported on stderr and makes the exit status 1, after the rest is
 *   imported. Exit 2: usage. */
#include "auth/userdb.h"
#include "cli/commands.h"
#include "cli/import_maildir.h"
#include "lib/config.h"
#include "lib/log.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define IMPORT_FOLDERS_MAX 100000u
#define IMPORT_PROGRESS_EVERY 100u

static const char import_usage[] =
	"usage: postel import maildir PATH ADDRESS\n"
	"\n"
	"Take the Maildir++ tree PATH (Dovecot's included: INBOX in PATH,\n"
	"folders in PATH/.Name.Sub) into the mailboxes of user ADDRESS,\n"
	"which must still be empty, keeping UIDVALIDITY, UIDs (dovecot-uidlist),\n"
	"UIDNEXT, HIGHESTMODSEQ, flags, keywords and subscriptions. Safe to run\n"
	"again: it continues an interrupted import and changes nothing after a\n"
	"complete one. Exit 1 if anything could not be taken (listed on stderr).\n";

struct import_tree {
	struct import_folder *folders;
	unsigned count, cap;
};

static int folder_cmp(const void *a, const void *b)
{
	const struct import_folder *x = a, *y = b;
	return strcmp(x->mailbox, y->mailbox);
}

static bool is_maildir(const char *dir)
{
	struct stat st;
	return (stat(t_printf("%s/cur", dir), &st) == 0 && S_ISDIR(st.st_mode)) ||
		(stat(t_printf("%s/new", dir), &st) == 0 && S_ISDIR(st.st_mode));
}

static void tree_add(struct import_run *run, struct import_tree *tree,
		     const char *dir, const char *mailbox)
{
	if (tree->count == tree->cap) {
		tree->cap = tree->cap == 0 ? 16 : tree->cap * 2;
		struct import_folder *grown =
			pool_alloc(run->pool, tree->cap * sizeof(*grown));
		if (tree->count > 0)
			memcpy(grown, tree->folders, tree->count * sizeof(*grown));
		tree->folders = grown;
	}
	if (import_folder_scan(run, dir, mailbox, &tree->folders[tree->count]) == 0)
		tree->count++;
}

/* INBOX and every .Folder of PATH, sorted by mailbox name. */
static int tree_scan(struct import_run *run, const char *path,
		     struct import_tree *tree)
{
	if (!is_maildir(path)) {
		fprintf(stderr, "postel: import: %s is not a Maildir (no cur/ or new/)\n",
			path);
		return -1;
	}
	tree_add(run, tree, path, "INBOX");
	DIR *dir = opendir(path);
	if (dir == NULL) {
		fprintf(stderr, "postel: import: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct dirent *de;
	str_t name = STR_INIT;
	while ((de = readdir(dir)) != NULL && tree->count < IMPORT_FOLDERS_MAX) {
		const char *error, *canonical;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		const char *sub = pool_printf(run->pool, "%s/%s", path, de->d_name);
		struct stat st;
		if (lstat(sub, &st) < 0 || !S_ISDIR(st.st_mode))
			continue; /* a file such as .customflags: not a folder */
		str_clear(&name);
		if (import_folder_name(de->d_name, &name, &error) < 0 ||
		    store_mailbox_name_check(str_c(&name), &canonical, &error) < 0) {
			import_problem(run, sub, t_printf("bad folder name: %s", error));
			continue;
		}
		if (!is_maildir(sub)) {
			import_problem(run, sub, "no cur/ or new/: not a folder");
			continue;
		}
		tree_add(run, tree, sub, canonical);
	}
	closedir(dir);
	str_free(&name);
	if (tree->count > 0)
		qsort(tree->folders, tree->count, sizeof(*tree->folders), folder_cmp);
	for (unsigned i = 1; i < tree->count; i++) {
		if (strcmp(tree->folders[i - 1].mailbox, tree->folders[i].mailbox) == 0)
			import_problem(run, tree->folders[i].dir, "a second folder "
				       "of the same name: only one is taken");
	}
	return 0;
}

static struct import_folder *tree_find(const struct import_tree *tree,
				       const char *mailbox)
{
	for (unsigned i = 0; i < tree->count; i++) {
		if (strcmp(tree->folders[i].mailbox, mailbox) == 0)
			return &tree->folders[i];
	}
	return NULL;
}

/* Refuse, before anything is written, a user one of whose mailboxes
 * holds a message this import would not have put there. */
static int check_empty(struct import_run *run, const struct import_tree *tree)
{
	const char **names, *error;
	unsigned count, refused = 0;
	if (store_mailbox_list(run->store, run->address, run->pool, &names, &count,
			       &error) < 0) {
		fprintf(stderr, "postel: import: %s\n", error);
		return -1;
	}
	for (unsigned i = 0; i < count; i++) {
		struct store_mailbox_status st;
		struct store_message_info *msgs;
		unsigned n;
		if (store_mailbox_status(run->store, run->address, names[i], &st,
					 &error) < 0 ||
		    store_mailbox_list_messages(run->store, run->address, names[i],
						run->pool, &msgs, &n, &error) < 0) {
			fprintf(stderr, "postel: import: %s: %s\n", names[i], error);
			return -1;
		}
		struct import_folder *f = tree_find(tree, names[i]);
		const char *why = NULL;
		if (n > 0 && f == NULL)
			why = "is not in the import";
		else if (n > 0 && f->has_uidlist && f->uidlist.uidvalidity != 0 &&
			 f->uidlist.uidvalidity != st.uidvalidity)
			why = t_printf("has UIDVALIDITY %u, the import's is %u",
				       st.uidvalidity, f->uidlist.uidvalidity);
		unsigned foreign = 0;
		for (unsigned j = 0; f != NULL && why == NULL && j < n; j++) {
			if (import_folder_msg(f, msgs[j].uid) == NULL && foreign++ == 0)
				why = t_printf("holds UID %u, which the import does "
					       "not give", msgs[j].uid);
			/* the one message a killed run may have left under a
			 * UID of the store's choosing is no reason to refuse */
			if (foreign == 1 && j + 1 == n) {
				int ret = import_resume_find_orphan(run, f, msgs, n,
								    &error);
				if (ret < 0) {
					fprintf(stderr, "postel: import: %s: %s\n",
						names[i], error);
					return -1;
				}
				if (ret > 0)
					why = NULL;
				break;
			}
		}
		if (why != NULL) {
			fprintf(stderr, "postel: import: refused: mailbox %s of %s "
				"already holds %u messages and %s; import only into "
				"empty mailboxes\n", names[i], run->address, n, why);
			refused++;
		}
	}
	return refused > 0 ? -1 : 0;
}

static void import_subscriptions(struct import_run *run, const char *path)
{
	const char *file = t_printf("%s/subscriptions", path), *error;
	FILE *f = fopen(file, "re");
	if (f == NULL) {
		if (errno != ENOENT)
			import_problem(run, file, strerror(errno));
		return;
	}
	char line[1024];
	unsigned line_no = 0, taken = 0;
	bool v2 = false;
	str_t name = STR_INIT;
	while (fgets(line, sizeof(line), f) != NULL && line_no < 1000000) {
		size_t len = strlen(line);
		line_no++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line_no == 1 && strcmp(line, "V\t2") == 0) {
			v2 = true; /* Dovecot 2.2+: TAB-separated components */
			continue;
		}
		if (len == 0)
			continue;
		str_clear(&name);
		if (import_subscription_name(line, len, v2, &name, &error) < 0 ||
		    store_mailbox_subscribe(run->store, run->address, str_c(&name),
					    true, &error) < 0) {
			import_problem(run, t_printf("%s line %u", file, line_no), error);
			continue;
		}
		taken++;
	}
	fclose(f);
	str_free(&name);
	fprintf(stdout, "import: subscriptions=%u\n", taken);
}

static int import_user_check(const struct cli_ctx *ctx, const char *address)
{
	struct userdb *db;
	const char *error;
	if (userdb_open(ctx->config->data_dir, &db, &error) < 0) {
		fprintf(stderr, "postel: %s\n", error);
		return -1;
	}
	int ret = userdb_user_exists(db, address);
	userdb_close(&db);
	if (ret <= 0)
		fprintf(stderr, "postel: import: %s\n", ret < 0 ? "account database error" :
			t_printf("no user %s (postel user add it first)", address));
	return ret > 0 ? 0 : -1;
}

static int import_maildir(struct cli_ctx *ctx, const char *path,
			  const char *address)
{
	struct import_run run = { .address = address,
				  .progress_every = IMPORT_PROGRESS_EVERY };
	struct import_tree tree = { 0 };
	const char *error;
	int ret = -1;
	if (import_user_check(ctx, address) < 0)
		return 1;
	if (store_open(ctx->config->data_dir, &run.store, &error) < 0) {
		fprintf(stderr, "postel: mail store: %s\n", error);
		return 1;
	}
	run.pool = pool_create(65536);
	if (store_user_create(run.store, address, &error) < 0)
		fprintf(stderr, "postel: import: %s\n", error);
	else if (tree_scan(&run, path, &tree) == 0 && check_empty(&run, &tree) == 0)
		ret = 0;
	for (unsigned i = 0; ret == 0 && i < tree.count; i++) {
		fprintf(stdout, "import: mailbox=%s messages=%u uidvalidity=%u\n",
			tree.folders[i].mailbox, tree.folders[i].count,
			tree.folders[i].uidlist.uidvalidity);
		fflush(stdout);
		if (import_folder_run(&run, &tree.folders[i]) < 0)
			ret = -1;
	}
	if (ret == 0)
		import_subscriptions(&run, path);
	fprintf(stdout, "import: %s mailboxes=%u imported=%u already=%u problems=%u\n",
		ret == 0 ? "done" : "stopped", tree.count, run.imported, run.already,
		run.problems);
	log_info("event=import user=%s mailboxes=%u imported=%u already=%u "
		 "problems=%u result=%s", log_str(address), tree.count, run.imported,
		 run.already, run.problems, ret == 0 ? "done" : "stopped");
	pool_destroy(&run.pool);
	store_close(&run.store);
	return ret == 0 && run.problems == 0 ? 0 : 1;
}

int cmd_import(struct cli_ctx *ctx, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(import_usage, stdout);
			return 0;
		}
	}
	if (argc != 4 || strcmp(argv[1], "maildir") != 0) {
		fputs(import_usage, stderr);
		return 2;
	}
	return import_maildir(ctx, argv[2], argv[3]);
}
