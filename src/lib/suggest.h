/* suggest.h: "did you mean ...?" for a mistyped name.
 *
 * suggest_nearest() returns the candidate with the smallest edit distance
 * (Levenshtein: insert, delete, substitute one byte) to word, or NULL when
 * none is close enough to be a plausible typo: at most a third of the
 * word's length (and at least 1, at most 3) edits. Names longer than
 * SUGGEST_NAME_MAX are never compared, so the work is bounded. On a tie
 * the earlier candidate wins. */
#ifndef POSTEL_SUGGEST_H
#define POSTEL_SUGGEST_H

#include <stddef.h>

#define SUGGEST_NAME_MAX 64

/* Edit distance between a and b, or SIZE_MAX if either is too long. */
size_t suggest_distance(const char *a, const char *b);
const char *suggest_nearest(const char *word, const char *const *candidates,
			    size_t count);

#endif
