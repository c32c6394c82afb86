/* fuzz-imap-list.c: libFuzzer target for imap_list_match.h.
 *
 * The input is "reference\0pattern\0name" (missing parts are empty).
 * Invariants, checked with abort():
 *   - an accepted pattern is within the length and wildcard caps, with no
 *     run of '*';
 *   - matching is deterministic, and a pattern without wildcards matches
 *     exactly the name equal to it (INBOX in any case);
 *   - "*" matches every name within the cap, and a name matches itself
 *     when it holds no wildcard. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap/imap_list_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4000)
		return 0;
	const char *parts[3] = { "", "", "" };
	size_t lens[3] = { 0, 0, 0 };
	char *copy = malloc(size + 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	unsigned p = 0;
	size_t start = 0;
	for (size_t i = 0; i <= size && p < 3; i++) {
		if (i == size || copy[i] == '\0') {
			parts[p] = &copy[start];
			lens[p] = i - start;
			p++;
			start = i + 1;
		}
	}
	str_t pat = STR_INIT;
	const char *error = NULL;
	if (imap_list_pattern_make(parts[0], lens[0], parts[1], lens[1], &pat, &error) < 0) {
		if (error == NULL)
			abort();
	} else {
		const char *pz = pat.data != NULL ? pat.data : "";
		unsigned wild = 0;
		for (size_t i = 0; i < pat.len; i++) {
			if (pz[i] == '*' || pz[i] == '%')
				wild++;
			if (i > 0 && pz[i] == '*' && pz[i - 1] == '*')
				abort();
		}
		if (pat.len > IMAP_LIST_PATTERN_MAX || wild > IMAP_LIST_WILDCARDS_MAX)
			abort();
		const char *name = parts[2];
		bool r = imap_list_match(pz, name);
		if (r != imap_list_match(pz, name))
			abort();
		if (!imap_list_has_wildcard(pz)) {
			bool eq = strcmp(pz, name) == 0 ||
				(strcmp(name, "INBOX") == 0 && strcasecmp(pz, name) == 0);
			if (r != eq)
				abort();
		}
		if (lens[2] <= IMAP_LIST_NAME_MAX) {
			if (!imap_list_match("*", name))
				abort();
			if (lens[2] <= IMAP_LIST_PATTERN_MAX && !imap_list_has_wildcard(name) &&
			    !imap_list_match(name, name))
				abort();
		}
	}
	str_free(&pat);
	free(copy);
	return 0;
}
