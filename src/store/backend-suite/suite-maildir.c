/* suite-maildir.c: the backend suite's fixture for the maildir-sqlite
 * backend: each instance is a fresh temporary data directory, opened
 * with store_open_backend("maildir-sqlite"), removed at destroy. The
 * suite never looks inside the directory. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/backend-suite/suite.h"

static char data_dir[64];

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st; (void)flag; (void)ftw;
	return remove(path);
}

static int maildir_create(struct store_backend_fixture *fx, const char **error_r)
{
	snprintf(data_dir, sizeof(data_dir), "/tmp/test-store-suite.XXXXXX");
	if (mkdtemp(data_dir) == NULL) {
		*error_r = "mkdtemp failed";
		return -1;
	}
	fx->priv = data_dir;
	return 0;
}

static int maildir_open(struct store_backend_fixture *fx, struct store **store_r,
			const char **error_r)
{
	return store_open_backend("maildir-sqlite", fx->priv, store_r, error_r);
}

static void maildir_destroy(struct store_backend_fixture *fx)
{
	if (fx->priv != NULL)
		nftw(fx->priv, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	fx->priv = NULL;
}

static struct store_backend_fixture maildir_fixture = {
	.name = "maildir-sqlite",
	.create = maildir_create,
	.open = maildir_open,
	.destroy = maildir_destroy,
};

struct store_backend_fixture *suite_backend(void)
{
	return &maildir_fixture;
}
