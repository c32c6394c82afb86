/* imap_sort.h: SORT (RFC 5256 3, RFC 5957 DISPLAYFROM/DISPLAYTO, RFC
 * 5267 ESORT RETURN options) and THREAD (RFC 5256 4) programs, the
 * per-message sort record, its comparison and the sort.
 *
 * Contract: imap_sort_parse() takes the arguments after "SORT" or
 * "THREAD": SORT [RETURN (opts)] (criteria) charset search-key...;
 * THREAD algorithm charset search-key.... The charset is UTF-8 or
 * US-ASCII, else IMAP_SEARCH_FAIL_BADCHARSET (NO [BADCHARSET]); the
 * search keys go through imap_search_parse() with its limits; anything
 * malformed is IMAP_SEARCH_FAIL_BAD. Strings compare as
 * i;unicode-casemap would for the scripts mime_utf8_fold() folds (simple
 * case folding; no decomposition), so i;ascii-casemap's answers are kept
 * for ASCII (RFC 5256 3 requires at least that).
 * imap_sort_msg_fill() reads what the program's keys need from a raw
 * header block (no other message data); imap_sort_messages() orders
 * records, ties broken by sequence number (RFC 5256 3). */
#ifndef POSTEL_IMAP_SORT_H
#define POSTEL_IMAP_SORT_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_search_parse.h"
#include "imap/imap_thread.h"
#include "lib/mem.h"

enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM,
	IMAP_SORT_SIZE, IMAP_SORT_SUBJECT, IMAP_SORT_TO,
	IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO,
};

enum imap_thread_algorithm { IMAP_THREAD_ORDEREDSUBJECT, IMAP_THREAD_REFERENCES };

#define IMAP_SORT_MAX_KEYS 16

struct imap_sort_program {
	bool thread;                    /* THREAD, else SORT */
	enum imap_thread_algorithm algorithm;
	enum imap_sort_key keys[IMAP_SORT_MAX_KEYS];
	bool reverse[IMAP_SORT_MAX_KEYS];
	unsigned key_count;
	/* the search keys; has_return and return_opts from SORT RETURN */
	struct imap_search_program search;
};

/* 0 ok; -1 with prog_r->search.failure and *error_r. */
int imap_sort_parse(const struct imap_arg *args, unsigned first, unsigned end, bool thread,
		    const struct imap_search_limits *limits,
		    struct imap_sort_program *prog_r, const char **error_r);
void imap_sort_program_free(struct imap_sort_program *prog);
/* The program needs the message header (not only ARRIVAL/SIZE). */
bool imap_sort_needs_header(const struct imap_sort_program *prog);

struct imap_sort_msg {
	uint32_t uid, seq;
	uint64_t size;
	int64_t arrival;        /* INTERNALDATE */
	int64_t date;           /* Date: in UTC, else INTERNALDATE (RFC 5256 3) */
	/* case-folded UTF-8, "" when absent */
	const char *subject;    /* base subject (RFC 5256 2.1) */
	const char *from, *to, *cc;       /* addr-mailbox of the first address */
	const char *dfrom, *dto;          /* RFC 5957 display names */
	bool reply;             /* the subject was a reply or forward */
	struct mime_references ids; /* THREAD=REFERENCES (mime_references.h) */
};

/* Fill m's header-derived fields the program needs from hdr (the raw
 * header block; NULL/0: none), strings from pool. uid, seq, size,
 * arrival must be set. */
void imap_sort_msg_fill(const struct imap_sort_program *prog, const char *hdr, size_t len,
			pool_t *pool, struct imap_sort_msg *m);
/* RFC 5322 3.3 date-time (obsolete forms of 4.3 too) to seconds UTC;
 * false if it cannot be parsed. */
bool imap_sort_parse_date(const char *s, size_t len, int64_t *epoch_r);

int imap_sort_compare(const struct imap_sort_program *prog, const struct imap_sort_msg *a,
		      const struct imap_sort_msg *b);
/* Sort msgs in place by the program's keys. */
void imap_sort_messages(const struct imap_sort_program *prog, struct imap_sort_msg *msgs,
			unsigned count);
/* imap_sort_cache.c: a record's keys kept in the index (schema 11).
 * imap_sort_cache_program: every key, the program a record is filled
 * with (imap_sort_msg_fill()); covers: whether records serve prog (all
 * but THREAD=REFERENCES); encode: m's keys into out (cleared first);
 * decode: into m (its strings point into blob, which must outlive m),
 * false when blob is not a record of this version (m unchanged). */
extern const struct imap_sort_program imap_sort_cache_program;
bool imap_sort_cache_covers(const struct imap_sort_program *prog);
struct str;
void imap_sort_cache_encode(const struct imap_sort_msg *m, struct str *out);
bool imap_sort_cache_decode(const void *blob, size_t len, struct imap_sort_msg *m);

/* THREAD records from sort records (uid: ids are UIDs, else seqs). */
struct imap_thread_msg *imap_sort_thread_input(const struct imap_sort_msg *msgs, unsigned count,
					       bool uid, pool_t *pool);

#endif
