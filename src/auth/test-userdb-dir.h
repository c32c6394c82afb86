/* test-userdb-dir.h: for unit tests and fuzz targets of src/auth only:
 * remove a temporary data directory holding nothing but accounts.db (and
 * its -wal and -shm files) in db/. Every handle must be closed first. */
#ifndef POSTEL_AUTH_TEST_USERDB_DIR_H
#define POSTEL_AUTH_TEST_USERDB_DIR_H

#include "auth/userdb.h"

#include <stdio.h>
#include <unistd.h>

static inline void test_userdb_dir_remove(const char *data_dir)
{
	static const char *const files[] = { "", "-wal", "-shm" };
	char path[256];
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/" USERDB_DIRNAME "/" USERDB_FILENAME "%s",
			 data_dir, files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/" USERDB_DIRNAME, data_dir);
	rmdir(path);
	rmdir(data_dir);
}

#endif
