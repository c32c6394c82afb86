/* store_maildir_scan.c: list a Maildir folder's files (new/, and cur/
 * for a full sync) in Maildir name order, which is delivery-time order,
 * and find one by its base name. The reconciliation with the index that
 * uses the list is store_maildir_sync.c. */
#include "store/store_maildir.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Maildir names begin "SECONDS.M<usec>P<pid>..." with unpadded numbers,
 * so plain strcmp() puts "M99999" after "M100000" and a rebuild would
 * number two messages of one second out of delivery order: compare runs
 * of digits by value, everything else byte by byte. */
static bool i_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

static int maildir_name_cmp(const char *a, const char *b)
{
	while (*a != '\0' && *b != '\0') {
		if (i_isdigit(*a) && i_isdigit(*b)) {
			while (*a == '0')
				a++;
			while (*b == '0')
				b++;
			size_t la = 0, lb = 0;
			while (i_isdigit(a[la]))
				la++;
			while (i_isdigit(b[lb]))
				lb++;
			if (la != lb)
				return la < lb ? -1 : 1;
			int r = memcmp(a, b, la);
			if (r != 0)
				return r;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++;
		b++;
	}
	return (unsigned char)*a - (unsigned char)*b;
}

static int maildir_file_cmp(const void *a, const void *b)
{
	const struct maildir_file *fa = a, *fb = b;
	int r = maildir_name_cmp(fa->base, fb->base);
	/* equal by value ("01" and "1"): keep a total order */
	return r != 0 ? r : strcmp(fa->base, fb->base);
}

static int scan_subdir(const char *folder_dir, const char *sub, pool_t *pool,
		       struct maildir_file **files, unsigned *count,
		       unsigned *cap, const char **error_r)
{
	const char *path = t_printf("%s/%s", folder_dir, sub);
	DIR *dir = opendir(path);
	if (dir == NULL) {
		if (errno == ENOENT)
			return 0;
		*error_r = t_printf("opendir(%s) failed: %s", path,
				    strerror(errno));
		return -1;
	}
	struct dirent *de;
	errno = 0;
	while ((de = readdir(dir)) != NULL) {
		/* dot files are not messages (Maildir spec) */
		if (de->d_name[0] == '.')
			continue;
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (*count == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			struct maildir_file *bigger =
				pool_alloc(pool, *cap * sizeof(*bigger));
			if (*count > 0)
				memcpy(bigger, *files, *count * sizeof(*bigger));
			*files = bigger;
		}
		const char *colon = strchr(de->d_name, ':');
		size_t base_len = colon != NULL ? (size_t)(colon - de->d_name) :
			strlen(de->d_name);
		struct maildir_file *f = &(*files)[(*count)++];
		f->base = pool_strndup(pool, de->d_name, base_len);
		f->relpath = pool_printf(pool, "%s/%s", sub, de->d_name);
		errno = 0;
	}
	int e = errno;
	closedir(dir);
	if (e != 0) {
		*error_r = t_printf("readdir(%s) failed: %s", path, strerror(e));
		return -1;
	}
	return 0;
}

int maildir_folder_scan(const char *folder_dir, bool with_cur, pool_t *pool,
			struct maildir_file **files_r, unsigned *count_r,
			const char **error_r)
{
	struct maildir_file *files = NULL;
	unsigned count = 0, cap = 0;
	struct stat st;
	if (stat(folder_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		*error_r = t_printf("mailbox folder %s missing", folder_dir);
		return -1;
	}
	if (with_cur)
		store_stats_count(STORE_STAT_FOLDER_LISTS);
	/* new/ before cur/: a reader moving a file from new/ to cur/
	 * meanwhile is then seen at least once (duplicates removed below) */
	if (scan_subdir(folder_dir, "new", pool, &files, &count, &cap,
			error_r) < 0 ||
	    (with_cur && scan_subdir(folder_dir, "cur", pool, &files, &count,
				     &cap, error_r) < 0))
		return -1;
	if (count > 0)
		qsort(files, count, sizeof(*files), maildir_file_cmp);
	unsigned out = 0;
	for (unsigned i = 0; i < count; i++) {
		if (out > 0 && strcmp(files[out - 1].base, files[i].base) == 0) {
			/* the cur/ copy is the newer state */
			if (strncmp(files[i].relpath, "cur/", 4) == 0)
				files[out - 1] = files[i];
			continue;
		}
		files[out++] = files[i];
	}
	*files_r = files;
	*count_r = out;
	return 0;
}

const struct maildir_file *
maildir_file_find(const struct maildir_file *files, unsigned count,
		  const char *base)
{
	struct maildir_file key = { .base = base, .relpath = NULL };
	if (count == 0)
		return NULL;
	return bsearch(&key, files, count, sizeof(*files), maildir_file_cmp);
}
