/* imap_seqset.h: IMAP sequence sets (RFC 9051 section 9 sequence-set,
 * RFC 5182 "$" for SEARCHRES) as a compact sorted list of merged ranges.
 *
 * Contract: parsing is linear in the input and stops at max_ranges ranges
 * (TESTING.md item 14: a 1 MB set is refused, not walked); numbers are
 * nz-number, 1..4294967295 with no leading zero, and anything larger is
 * refused; "*" is kept symbolic until imap_seqset_resolve() replaces it
 * with the mailbox's largest number. Ranges are normalised (lo <= hi),
 * sorted and merged at parse time and again after resolution. */
#ifndef POSTEL_IMAP_SEQSET_H
#define POSTEL_IMAP_SEQSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_SEQ_STAR (UINT64_C(1) << 32) /* "*" before resolution */
#define IMAP_SEQ_MAX UINT32_MAX

struct imap_seq_range {
	uint64_t lo, hi; /* 1..IMAP_SEQ_MAX, or IMAP_SEQ_STAR */
};

struct imap_seqset {
	struct imap_seq_range *ranges; /* owned: imap_seqset_free() */
	unsigned count;
	bool saved;   /* "$": the saved SEARCH result (RFC 5182), no ranges */
	bool has_star;
};

/* 0 ok, -1 malformed or too many ranges (*error_r names the column). */
int imap_seqset_parse(const char *s, size_t len, unsigned max_ranges,
		      struct imap_seqset *set_r, const char **error_r);
void imap_seqset_free(struct imap_seqset *set);

/* "*" becomes max (the highest sequence number or UID in use); ranges
 * past max are clipped to it, so with max 0 the set is empty. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t max);

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);
/* Members, counting "*" as one number. */
uint64_t imap_seqset_count(const struct imap_seqset *set);

struct imap_seqset_iter {
	const struct imap_seqset *set;
	unsigned idx;
	uint64_t next;
};
void imap_seqset_iter_init(struct imap_seqset_iter *it, const struct imap_seqset *set);
/* Ascending; false at the end. Call on a resolved set. */
bool imap_seqset_iter_next(struct imap_seqset_iter *it, uint32_t *n_r);

#endif
