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
	/* the store's UID of a delivery a kill cut short (import_resume.c),
	 * to be expunged and done again; 0: none */
	uint32_t orphan_uid;
};

struct import_run {
	struct store *store;
	const char *address;
	pool_t *pool;
	unsigned problems;
	unsigned imported, already;
	unsigned progress_every;
};

/* A file's bytes (LF line ends) to the wire form (CRLF) into out (room
 * for 2 * n); *prev carries the last byte across calls ('\0' first). */
size_t import_lf_to_crlf(const char *in, size_t n, char *out, char *prev);

/* Printed on stderr and counted: "postel: import: what: why". */
void import_problem(struct import_run *run, const char *what, const char *why);

/* 0 ok (problems reported); -1 the folder cannot be read at all. */
int import_folder_scan(struct import_run *run, const char *dir,
		       const char *mailbox, struct import_folder *folder_r);
/* The message this folder gives uid, or NULL. */
const struct import_msg *import_folder_msg(const struct import_folder *folder,
					   uint32_t uid);
/* The flags and keywords of m's file name (keywords: pool_temp()). */
struct store_flags_update;
void import_message_flags(struct import_run *run, const struct import_folder *f,
			  const struct import_msg *m,
			  struct store_flags_update *update);
/* 0 done (problems reported); -1 a store failure stopped it. */
int import_folder_run(struct import_run *run, struct import_folder *folder);

/* import_resume.c: after a kill. A delivery cut short between the
 * rename of its file into the store's Maildir and its index commit is
 * taken back by the store at its next open (store.h durability) under
 * the mailbox's UIDNEXT and without its flags. */
struct store_message_info;
/* 1: msgs (the store's mailbox, UID order) holds exactly one UID this
 * import does not give, above every one it does, with the content of
 * the next message to import: that cut-short delivery (its UID in
 * folder->orphan_uid); 0: it is not; -1: error. */
int import_resume_find_orphan(struct import_run *run, struct import_folder *folder,
			      const struct store_message_info *msgs,
			      unsigned count, const char **error_r);
/* Expunge folder->orphan_uid, and give the highest UID of the import
 * the store holds the flags of its file if it lacks them (a cut-short
 * delivery that had its right UID). */
int import_resume_repair(struct import_run *run, struct import_folder *folder,
			 const struct store_message_info *msgs, unsigned count,
			 const char **error_r);

#endif
