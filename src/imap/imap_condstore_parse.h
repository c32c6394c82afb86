/* imap_condstore_parse.h: the parameters RFC 7162 adds to commands:
 * FETCH modifiers (CHANGEDSINCE n [VANISHED], 3.1.4.1, 3.2.6), STORE's
 * (UNCHANGEDSINCE n) (3.1.3), SELECT/EXAMINE parameters (CONDSTORE)
 * (3.1.8) and (QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]))
 * (3.2.5), and the SEARCH MODSEQ key's arguments (3.1.5).
 *
 * Contract: pure functions over parsed arguments (imap_parser.h), no
 * session state: each takes args[i] (a list, or SEARCH's first
 * argument) and fills a struct, or fails with *error_r for a BAD reply.
 * Numbers follow RFC 7162 7: mod-sequence-value 1..2^63-1,
 * mod-sequence-valzer 0..2^63-1, uidvalidity a nz-number. Sets are
 * parsed with at most max_ranges ranges each (imap_seqset.h); the result
 * owns them: imap_qresync_params_free(). */
#ifndef POSTEL_IMAP_CONDSTORE_PARSE_H
#define POSTEL_IMAP_CONDSTORE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_parser.h"
#include "imap/imap_seqset.h"

struct imap_fetch_modifiers {
	uint64_t changedsince;  /* 0: not given */
	bool vanished;          /* VANISHED (UID FETCH only, with CHANGEDSINCE) */
};

/* args[i] a list of fetch-modifiers; end: one past the list. */
int imap_condstore_fetch_modifiers(const struct imap_arg *args, unsigned i, unsigned end,
				   struct imap_fetch_modifiers *mods_r, const char **error_r);

/* args[i] a list of store-modifiers: (UNCHANGEDSINCE n); *has_r false
 * for an empty list. */
int imap_condstore_store_modifiers(const struct imap_arg *args, unsigned i, unsigned end,
				   uint64_t *unchangedsince_r, bool *has_r,
				   const char **error_r);

struct imap_qresync_params {
	bool condstore;         /* (CONDSTORE) or QRESYNC (which implies it) */
	bool qresync;
	uint32_t uidvalidity;
	uint64_t modseq;
	bool has_known_uids;
	struct imap_seqset known_uids;
	bool has_seq_match;
	struct imap_seqset match_seqs, match_uids;
};

/* args[i] SELECT's parameter list. */
int imap_qresync_params_parse(const struct imap_arg *args, unsigned i, unsigned end,
			      unsigned max_ranges, struct imap_qresync_params *params_r,
			      const char **error_r);
void imap_qresync_params_free(struct imap_qresync_params *params);

/* imap_qresync_match.c: the raw text of a seq-match set is in ascending
 * order (RFC 7162 7, known-sequence-set / known-uid-set). */
bool imap_qresync_match_ascending(const char *s, size_t len);

/* SEARCH MODSEQ: args[i] is the word after MODSEQ: either the value, or
 * entry-name then entry-type-req then the value (3.1.5: the entry is
 * accepted and ignored: every flag shares one MODSEQ here). The number
 * of arguments used goes to *used_r. */
int imap_condstore_search_modseq(const struct imap_arg *args, unsigned i, unsigned end,
				 uint64_t *modseq_r, unsigned *used_r, const char **error_r);

/* mod-sequence-value (zero false) or mod-sequence-valzer (zero true) */
int imap_condstore_modseq(const struct imap_arg *arg, bool zero, uint64_t *modseq_r);

#endif
