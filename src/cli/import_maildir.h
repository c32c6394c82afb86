/* import_maildir.h: one folder of a Dovecot Maildir++ tree read and put
 * into the store, for `postel import maildir` (cmd_import.c).
 *
 * Contract: import_folder_scan() reads the folder (its cur/ and new/,
 * dovecot-uidlist, dovecot-keywords, dovecot.index.log) and gives every
 * message a UID: the uidlist's for a file it names, new ones from the
 * uidlist's UIDNEXT up, in file-name order, for the others (so a second
 * run after a kill gives them the same UIDs). import_folder_run() then
 * delivers, through the store API only (store.h durability), every
 * message whose UID the store's mailbox does not hold yet, in ascending
 * UID order, each with its flags, keywords and internal date (the file's
 * mtime, as Dovecot's Maildir takes it), and finally raises UIDNEXT and
 * HIGHESTMODSEQ to Dovecot's. What it cannot take is reported through
 * import_problem() and counted, never silently skipped. */
#ifndef POSTEL_CLI_IMPORT_MAILDIR_H
#define POSTEL_CLI_IMPORT_MAILDIR_H

#include <stdbool.h>
#include <stdint.h>

#include "cli/import_dovecot.h"

struct store;

struct import_msg {
	const char *path;   /* relative to the folder: "cur/NAME" */
	const char *name;   /* the file name */
	uint32_t uid;
};

struct import_folder {
	const char *dir;      /* the folder's directory */
	const char *mailbox;  /* the store's (UTF-8) name */
	bool has_uidlist;
	struct import_uidlist uidlist;
	struct import_keywords keywords;
	uint64_t modseq_bound; /* 0: no dovecot.index.log */
	uint32_t uidnext;      /* after every message here */
	struct import_msg *msgs; /* ascending UIDs */
	unsigned count;
};

struct import_run {
	struct store *store;
	const char *address;
	pool_t *pool;
	unsigned problems;
	unsigned imported, already;
	unsigned progress_every;
};

/* Printed on stderr and counted: "postel: import: what: why". */
void import_problem(struct import_run *run, const char *what, const char *why);

/* 0 ok (problems reported); -1 the folder cannot be read at all. */
int import_folder_scan(struct import_run *run, const char *dir,
		       const char *mailbox, struct import_folder *folder_r);
/* Whether uid is one this folder gives a message. */
bool import_folder_has_uid(const struct import_folder *folder, uint32_t uid);
/* 0 done (problems reported); -1 a store failure stopped it. */
int import_folder_run(struct import_run *run, struct import_folder *folder);

#endif
