/* import_dovecot.h: parsers for what a Dovecot Maildir++ tree keeps
 * beside the messages, for `postel import maildir` (cmd_import.c).
 *
 * Contract: every parser takes untrusted bytes with an explicit length,
 * never reads past it, allocates from the caller's pool and never aborts
 * on bad input. A line it cannot read is counted (and the first one
 * described), never silently dropped: the importer reports it.
 *
 * - dovecot-uidlist (Dovecot's "Maildir" documentation, "IMAP UID
 *   mapping"): version 3 header "3 V<uidvalidity> N<uidnext> G<guid>"
 *   (fields in any order, unknown ones ignored), version 1 header
 *   "1 <uidvalidity> <uidnext>"; lines "<uid> [extensions] :<base>"
 *   (v3) or "<uid> <base>" (v1), UIDs strictly ascending.
 * - dovecot-keywords: "<index> <name>" lines; index n is the letter
 *   'a' + n in a file name's ":2," info, so only 0..25 are kept.
 * - file names "<base>:2,<flags>": P R S T D F and a..z (keywords).
 * - dovecot.index.log: a HIGHESTMODSEQ Dovecot's cannot exceed (see
 *   import_modseq_bound()).
 * - folder names: Maildir++ ".A.B" with '.' as the separator, each
 *   component in modified UTF-7 (RFC 3501 5.1.3), to the store's "A/B". */
#ifndef POSTEL_CLI_IMPORT_DOVECOT_H
#define POSTEL_CLI_IMPORT_DOVECOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/mem.h"
#include "lib/str.h"

#define IMPORT_KEYWORD_LETTERS 26

struct import_uidlist_entry {
	uint32_t uid;
	const char *base; /* file name without the ":2,..." info */
};

struct import_uidlist {
	unsigned version;        /* 1 or 3 */
	uint32_t uidvalidity;    /* 0: none given */
	uint32_t uidnext;        /* Dovecot's next UID, >= every listed UID + 1 */
	struct import_uidlist_entry *entries; /* ascending UIDs */
	unsigned count;
	unsigned bad_lines;      /* lines not taken */
	const char *first_bad;   /* "line N: reason" of the first, or NULL */
};

/* 0: *list_r filled (bad lines counted in it); -1: the header is not a
 * dovecot-uidlist header, *error_r says why. */
int import_uidlist_parse(const char *data, size_t len, pool_t *pool,
			 struct import_uidlist *list_r, const char **error_r);

struct import_keywords {
	const char *names[IMPORT_KEYWORD_LETTERS]; /* NULL: no keyword */
	unsigned bad_lines;
	const char *first_bad;
};
void import_keywords_parse(const char *data, size_t len, pool_t *pool,
			   struct import_keywords *kw_r);

struct import_filename {
	size_t base_len;        /* the base: name[0 .. base_len) */
	unsigned sysflags;      /* STORE_FLAG_* (store_view.h) */
	uint32_t keyword_bits;  /* bit n: letter 'a' + n */
};
void import_filename_parse(const char *name, struct import_filename *fn_r);

/* An upper bound of the HIGHESTMODSEQ of the mailbox whose
 * dovecot.index.log this is: the log header's initial_modseq (or the
 * largest MODSEQ_UPDATE value, if higher) plus one for every record,
 * since a record raises the MODSEQ by one at most (Dovecot's
 * mail_transaction_update_modseq()), plus one for every 8 bytes past
 * the first record it cannot read. Too high is safe (RFC 7162 3.1.1:
 * a client only asks for more), too low is not. -1: not a log file, or
 * a MODSEQ above 2^62 in it (damaged: no room left to count up). */
int import_modseq_bound(const unsigned char *data, size_t len,
			uint64_t *bound_r, const char **error_r);

/* A Maildir++ folder directory name (".A.B") to the store's mailbox
 * name ("A/B", UTF-8), appended to out; -1 with *error_r for a name
 * that is not valid modified UTF-7 or that the store refuses. */
int import_folder_name(const char *dirname, str_t *out, const char **error_r);

/* One line of Dovecot's `subscriptions` file (version 2: components
 * separated by a TAB; version 1: by '.') to a store mailbox name. */
int import_subscription_name(const char *line, size_t len, bool v2,
			     str_t *out, const char **error_r);

#endif
