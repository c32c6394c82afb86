/* suggest.c: nearest name by edit distance. See suggest.h. */
#include "suggest.h"

#include <stdint.h>
#include <string.h>

size_t suggest_distance(const char *a, const char *b)
{
	size_t alen = strlen(a), blen = strlen(b);
	size_t row[SUGGEST_NAME_MAX + 1];

	if (alen > SUGGEST_NAME_MAX || blen > SUGGEST_NAME_MAX)
		return SIZE_MAX;
	/* one row of the Wagner-Fischer table, over b */
	for (size_t j = 0; j <= blen; j++)
		row[j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t diag = row[0]; /* table[i-1][j-1] */
		row[0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t up = row[j]; /* table[i-1][j] */
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[blen];
}

const char *suggest_nearest(const char *word, const char *const *candidates,
			    size_t count)
{
	size_t limit = strlen(word) / 3;
	const char *best = NULL;
	size_t best_distance = SIZE_MAX;

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	for (size_t i = 0; i < count; i++) {
		size_t d = suggest_distance(word, candidates[i]);
		if (d <= limit && d < best_distance) {
			best = candidates[i];
			best_distance = d;
		}
	}
	return best;
}
