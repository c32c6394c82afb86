/* fuzz-import-uidlist.c: libFuzzer target for the Dovecot parsers of
 * `postel import` (cli/import_dovecot.h): dovecot-uidlist, and the same
 * bytes as dovecot-keywords, as a dovecot.index.log and as a file name.
 * Invariants, checked with abort(): a parsed uidlist's UIDs are
 * nonzero and strictly ascending, below its UIDNEXT, every base is
 * non-empty without '/'; the MODSEQ bound is at least one; a file
 * name's base never runs past the name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/import_dovecot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pool_t *pool = pool_create(4096);
	const char *error;
	struct import_uidlist list;
	if (import_uidlist_parse((const char *)data, size, pool, &list, &error) == 0) {
		for (unsigned i = 0; i < list.count; i++) {
			const struct import_uidlist_entry *e = &list.entries[i];
			if (e->uid == 0 || e->uid >= list.uidnext ||
			    (i > 0 && e->uid <= list.entries[i - 1].uid) ||
			    e->base[0] == '\0' || strchr(e->base, '/') != NULL)
				abort();
		}
		if (list.bad_lines > 0 && list.first_bad == NULL)
			abort();
	}
	struct import_keywords kw;
	import_keywords_parse((const char *)data, size, pool, &kw);
	uint64_t bound;
	if (import_modseq_bound(data, size, &bound, &error) == 0 && bound == 0)
		abort();
	char *name = pool_strndup(pool, (const char *)data, size);
	struct import_filename fn;
	import_filename_parse(name, &fn);
	if (fn.base_len > strlen(name))
		abort();
	str_t folder = STR_INIT;
	(void)import_folder_name(name, &folder, &error);
	str_free(&folder);
	pool_destroy(&pool);
	return 0;
}
