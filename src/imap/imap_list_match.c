/* imap_list_match.c: LIST pattern matching, see imap_list_match.h. */
#include "imap/imap_list_match.h"

#include <string.h>
#include <strings.h>

int imap_list_pattern_make(const char *ref, size_t ref_len, const char *pattern,
			   size_t pattern_len, str_t *out, const char **error_r)
{
	str_truncate(out, 0);
	if (ref_len + pattern_len > IMAP_LIST_PATTERN_MAX) {
		*error_r = "pattern too long";
		return -1;
	}
	unsigned wild = 0;
	const char *parts[2] = { ref, pattern };
	size_t lens[2] = { ref_len, pattern_len };
	for (unsigned p = 0; p < 2; p++) {
		for (size_t i = 0; i < lens[p]; i++) {
			char c = parts[p][i];
			if (c == '\0') {
				*error_r = "NUL in pattern";
				return -1;
			}
			if (c == '*' || c == '%') {
				/* a run of '*' is one '*' */
				if (c == '*' && out->len > 0 && out->data[out->len - 1] == '*')
					continue;
				if (++wild > IMAP_LIST_WILDCARDS_MAX) {
					*error_r = "too many wildcards in pattern";
					return -1;
				}
			}
			str_appendc(out, c);
		}
	}
	return 0;
}

bool imap_list_has_wildcard(const char *pattern)
{
	return strpbrk(pattern, "*%") != NULL;
}

bool imap_list_match(const char *pattern, const char *name)
{
	size_t n = strlen(name);
	if (n > IMAP_LIST_NAME_MAX || strlen(pattern) > IMAP_LIST_PATTERN_MAX)
		return false;
	bool fold = strcmp(name, "INBOX") == 0;
	/* at[i]: the pattern read so far can match name[0..i) */
	bool at[IMAP_LIST_NAME_MAX + 1], next[IMAP_LIST_NAME_MAX + 1];
	memset(at, 0, (n + 1) * sizeof(at[0]));
	at[0] = true;
	size_t lo = 0; /* lowest true position */
	for (const char *p = pattern; *p != '\0'; p++) {
		memset(next, 0, (n + 1) * sizeof(next[0]));
		bool any = false;
		size_t new_lo = n + 1;
		if (*p == '*' || *p == '%') {
			/* positions reachable from a true one by skipping
			 * characters ('%': none of them a '/') */
			bool on = false;
			for (size_t i = lo; i <= n; i++) {
				if (on && *p == '%' && name[i - 1] == '/')
					on = false;
				if (at[i])
					on = true;
				next[i] = on;
				if (on) {
					any = true;
					if (new_lo > n)
						new_lo = i;
				}
			}
		} else {
			for (size_t i = lo; i < n; i++) {
				if (!at[i])
					continue;
				bool eq = fold ? strncasecmp(&name[i], p, 1) == 0 : name[i] == *p;
				if (eq) {
					next[i + 1] = true;
					any = true;
					if (new_lo > n)
						new_lo = i + 1;
				}
			}
		}
		if (!any)
			return false;
		memcpy(at, next, (n + 1) * sizeof(at[0]));
		lo = new_lo;
	}
	return at[n];
}
