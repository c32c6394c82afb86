/* store_maildir_flags.c: where a message file is now, and its Maildir
 * info suffix (":2,FLAGS") kept in step with the index's flags.
 *
 * The index is the truth for flags (store_view.h); after a flag change
 * is committed, the file is renamed to cur/BASE:2,LETTERS as Dovecot
 * does, so mutt, Dovecot and an index rebuild (store_maildir_sync.c reads
 * the letters back) see the flags too. Letters (Maildir spec, in ASCII
 * order): D draft, F flagged, R replied (\Answered), S seen, T trashed
 * (\Deleted). Only system flags are written: keywords would need the
 * letters a-z of a dovecot-keywords file, which is not written yet.
 * Letters we do not manage (P, a-z from another program) are kept. The
 * rename is not fsync'd: a crash may lose it, never the flags, which the
 * index holds durably. */
#include "store/store_maildir.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const struct {
	char letter;
	unsigned bit;
} maildir_letters[] = {
	{ 'D', STORE_FLAG_DRAFT },
	{ 'F', STORE_FLAG_FLAGGED },
	{ 'R', STORE_FLAG_ANSWERED },
	{ 'S', STORE_FLAG_SEEN },
	{ 'T', STORE_FLAG_DELETED },
};
#define MAILDIR_LETTER_COUNT (sizeof(maildir_letters) / sizeof(*maildir_letters))

static bool letter_managed(char c)
{
	for (unsigned i = 0; i < MAILDIR_LETTER_COUNT; i++) {
		if (maildir_letters[i].letter == c)
			return true;
	}
	return false;
}

const char *maildir_flags_info(unsigned sysflags, const char *old_info)
{
	bool present[128] = { false };
	for (unsigned i = 0; i < MAILDIR_LETTER_COUNT; i++) {
		if ((sysflags & maildir_letters[i].bit) != 0)
			present[(unsigned char)maildir_letters[i].letter] = true;
	}
	for (const char *p = old_info; p != NULL && *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c > 0x20 && c < 0x7f && c != ',' && !letter_managed((char)c))
			present[c] = true;
	}
	char out[128];
	size_t n = 0;
	for (unsigned c = 0x21; c < 0x7f; c++) {
		if (present[c])
			out[n++] = (char)c;
	}
	out[n] = '\0';
	return t_printf(":2,%s", out);
}

/* cur/NAME for the first entry of cur/ whose base is base, or NULL. */
static const char *locate_in_cur(const char *folder, const char *base,
				 pool_t *pool)
{
	DIR *dir = opendir(t_printf("%s/cur", folder));
	if (dir == NULL)
		return NULL;
	size_t len = strlen(base);
	const char *found = NULL;
	struct dirent *de;
	while (found == NULL && (de = readdir(dir)) != NULL) {
		if (strncmp(de->d_name, base, len) == 0 &&
		    (de->d_name[len] == ':' || de->d_name[len] == '\0'))
			found = pool_printf(pool, "cur/%s", de->d_name);
	}
	closedir(dir);
	return found;
}

const char *maildir_message_locate(const char *folder, const char *base,
				   unsigned sysflags, pool_t *pool)
{
	struct stat st;
	/* where a delivery put it, where our last rename put it, a bare
	 * cur/ name, then any suffix another program gave it */
	const char *guesses[3] = {
		pool_printf(pool, "new/%s", base),
		pool_printf(pool, "cur/%s%s", base, maildir_flags_info(sysflags, NULL)),
		pool_printf(pool, "cur/%s", base),
	};
	for (unsigned i = 0; i < 3; i++) {
		if (stat(t_printf("%s/%s", folder, guesses[i]), &st) == 0 &&
		    S_ISREG(st.st_mode))
			return guesses[i];
	}
	return locate_in_cur(folder, base, pool);
}

void maildir_message_rename_flags(const char *folder, const char *base,
				  unsigned old_sysflags, unsigned sysflags,
				  pool_t *pool)
{
	for (unsigned attempt = 0; attempt < 2; attempt++) {
		const char *rel = maildir_message_locate(folder, base, old_sysflags,
							 pool);
		if (rel == NULL)
			return; /* expunged meanwhile: nothing to show */
		const char *info = strstr(rel, ":2,");
		const char *new_rel = pool_printf(pool, "cur/%s%s", base,
			maildir_flags_info(sysflags, info != NULL ? info + 3 : NULL));
		if (strcmp(rel, new_rel) == 0)
			return;
		const char *from = t_printf("%s/%s", folder, rel);
		const char *to = t_printf("%s/%s", folder, new_rel);
		if (rename(from, to) == 0)
			return;
		if (errno != ENOENT || attempt > 0) {
			log_warn("event=maildir_flags_rename_failed path=%s error=%s",
				 log_str(from), log_str(strerror(errno)));
			return;
		}
		/* another reader renamed it meanwhile: look again */
	}
}
