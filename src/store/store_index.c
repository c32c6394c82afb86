/* store_index.c: see store_index.h. */
#include "store/store_index_private.h"
#include "store/store_private.h"
#include "store/fileio.h"
#include "lib/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool rc_is_corrupt(int rc)
{
	rc &= 0xff; /* primary code of an extended result code */
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB;
}

/* The errno behind a failure for lack of space, or 0: SQLITE_FULL (the
 * unix VFS turns a write's ENOSPC into it), or an I/O error after a call
 * that failed with EDQUOT or ENOSPC (a quota; a -shm that cannot grow).
 * SQLite records the system errno only on some paths (not for COMMIT),
 * so errno as the failed call left it (err, read first) counts too. */
static int rc_space_errno(sqlite3 *db, int rc, int err)
{
	int sys = sqlite3_system_errno(db);
	if ((rc & 0xff) == SQLITE_FULL)
		return sys == EDQUOT || err == EDQUOT ? EDQUOT : ENOSPC;
	if ((rc & 0xff) != SQLITE_IOERR)
		return 0;
	if (sys == ENOSPC || sys == EDQUOT)
		return sys;
	return err == ENOSPC || err == EDQUOT ? err : 0;
}

/* Record the error in *error_r and remember corruption for the caller.
 * Lack of space is named with strerror() as the file writes name it, so
 * that callers give one answer for a full disk (SMTP 452 4.3.1). */
int index_error(struct store_index *idx, int rc, const char *what,
		const char **error_r)
{
	int err = errno;
	int space = idx->db == NULL ? 0 : rc_space_errno(idx->db, rc, err);
	if (rc_is_corrupt(rc))
		idx->corrupt = true;
	if (space != 0)
		*error_r = t_printf("index %s: %s (%s) (%s)", what, strerror(space),
				    sqlite3_errmsg(idx->db), idx->path);
	else
		*error_r = t_printf("index %s: %s (%s)", what,
				    sqlite3_errmsg(idx->db), idx->path);
	return -1;
}

bool store_index_is_corrupt(const struct store_index *idx)
{
	return idx->corrupt;
}

int index_prepare(struct store_index *idx, enum index_stmt which,
		  const char *sql, sqlite3_stmt **stmt_r)
{
	if (idx->stmts[which] == NULL) {
		/* SQLite re-prepares a kept statement itself after a schema
		 * change (sqlite3_prepare_v3), so keeping them is safe */
		int rc = sqlite3_prepare_v3(idx->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
					    &idx->stmts[which], NULL);
		if (rc != SQLITE_OK)
			return rc;
	} else if (sqlite3_stmt_busy(idx->stmts[which])) {
		panic("index statement %d asked for while in use: %s",
		      (int)which, sql);
	}
	*stmt_r = idx->stmts[which];
	return SQLITE_OK;
}

void index_stmt_done(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Run a cached statement that returns no rows. */
static int index_run(struct store_index *idx, enum index_stmt which,
		     const char *sql, const char *what, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, which, sql, &stmt);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		index_stmt_done(stmt);
		if (rc == SQLITE_DONE)
			return 0;
	}
	return index_error(idx, rc, what, error_r);
}

static int index_exec(struct store_index *idx, const char *sql,
		      const char *what, const char **error_r)
{
	int rc = sqlite3_exec(idx->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, what, error_r);
	return 0;
}

static int index_user_version(struct store_index *idx, int *version_r,
			      const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db, "PRAGMA user_version", -1, &stmt,
				    NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*version_r = sqlite3_column_int(stmt, 0);
		sqlite3_finalize(stmt);
		return 0;
	}
	sqlite3_finalize(stmt);
	return index_error(idx, rc, "version", error_r);
}

static int index_lock(struct store_index *idx, unsigned wait_msecs,
		      const char **error_r);
static void index_unlock(struct store_index *idx);

/* 1 if the database is already in WAL mode (the query changes nothing). */
static int index_is_wal(struct store_index *idx, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db, "PRAGMA journal_mode", -1, &stmt,
				    NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(stmt, 0);
		int ret = mode != NULL && strcmp(mode, "wal") == 0;
		sqlite3_finalize(stmt);
		return ret;
	}
	sqlite3_finalize(stmt);
	return index_error(idx, rc, "open", error_r);
}

/* Create the schema or bring an older one up to date. */
static int index_schema_update(struct store_index *idx, const char **error_r)
{
	int version;
	if (index_user_version(idx, &version, error_r) < 0)
		return -1;
	if (version > STORE_INDEX_VERSION) {
		/* newer software wrote it: refuse, never set aside */
		*error_r = t_printf("index has version %d, newer than %d (%s)",
				    version, STORE_INDEX_VERSION, idx->path);
		return -1;
	}
	if (version == STORE_INDEX_VERSION)
		return 0;
	if (store_index_begin(idx, error_r) < 0)
		return -1;
	/* again under the lock: another opener may have done it */
	if (index_user_version(idx, &version, error_r) < 0) {
		store_index_rollback(idx);
		return -1;
	}
	if (version < STORE_INDEX_VERSION &&
	    index_exec(idx, index_schema_sql(version), version == 0 ? "create" : "migrate",
		       error_r) < 0) {
		store_index_rollback(idx);
		return -1;
	}
	if (store_index_commit(idx, error_r) < 0)
		return -1;
	if (version > 0)
		log_info("event=index_migrated path=%s from=%d to=%d",
			 log_str(idx->path), version, STORE_INDEX_VERSION);
	return 0;
}

/* Open and prepare the database file. -1 with idx->corrupt set when the
 * file is damaged; *idx_r is returned either way for the caller to close. */
static int index_try_open(const char *path, bool check,
			  struct store_index **idx_r, const char **error_r)
{
	struct store_index *idx = xcalloc(1, sizeof(*idx));
	idx->path = xstrdup(path);
	idx->lock_fd = -1;
	*idx_r = idx;
	store_stats_count(STORE_STAT_INDEX_OPENS);
	int rc = sqlite3_open_v2(path, &idx->db,
				 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		if (idx->db == NULL)
			fatal("event=out_of_memory what=sqlite3_open");
		return index_error(idx, rc, "open", error_r);
	}
	sqlite3_extended_result_codes(idx->db, 1);
	sqlite3_busy_timeout(idx->db, STORE_INDEX_BUSY_MSECS);
	/* journal_mode reads the header first: a non-database fails here.
	 * Switching to WAL happens under the write lock: the first opener of
	 * a new index needs SQLite's exclusive lock for it, and a concurrent
	 * opener (two deliveries to a new user at once) got "database is
	 * locked" at once instead of waiting. An index already in WAL mode
	 * (every open but the first) takes no lock. */
	int wal = index_is_wal(idx, error_r);
	if (wal < 0)
		return -1;
	if (wal == 0) {
		if (index_lock(idx, STORE_INDEX_LOCK_MSECS, error_r) <= 0)
			return -1;
		int ret = index_exec(idx, "PRAGMA journal_mode=WAL", "open",
				     error_r);
		index_unlock(idx);
		if (ret < 0)
			return -1;
	}
	/* temp_store: statement journals (a trigger's UPDATE inside a long
	 * transaction, a rebuild adding thousands of rows) stay in memory;
	 * the worker's sandbox allows no temporary file outside DATA */
	if (index_exec(idx, "PRAGMA synchronous=FULL", "open", error_r) < 0 ||
	    index_exec(idx, "PRAGMA temp_store=MEMORY", "open", error_r) < 0 ||
	    index_exec(idx, "PRAGMA foreign_keys=ON", "open", error_r) < 0)
		return -1;
	if (check && index_check_integrity(idx, error_r) < 0)
		return -1;
	if (index_txn_modseq_register(idx, error_r) < 0)
		return -1;
	return index_schema_update(idx, error_r);
}

/* Rename path (and its WAL) to path.corrupt-TIME; drop the shm file. */
static int index_set_aside(const char *path, const char **error_r)
{
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	const char *aside = NULL;
	for (unsigned i = 0; i < 100; i++) {
		aside = i == 0 ? t_printf("%s.corrupt-%s", path, stamp) :
			t_printf("%s.corrupt-%s-%u", path, stamp, i);
		if (fileio_rename_noreplace(path, aside) == 0)
			break;
		if (errno != EEXIST) {
			*error_r = t_printf("rename(%s, %s) failed: %s", path,
					    aside, strerror(errno));
			return -1;
		}
		aside = NULL;
	}
	if (aside == NULL) {
		*error_r = t_printf("no free name to set aside %s", path);
		return -1;
	}
	const char *wal = t_printf("%s-wal", path);
	if (rename(wal, t_printf("%s-wal", aside)) < 0 && errno != ENOENT)
		log_warn("event=index_set_aside_wal_failed path=%s error=%s",
			 log_str(wal), log_str(strerror(errno)));
	(void)unlink(t_printf("%s-shm", path));
	if (fileio_fsync_parent(path) < 0) {
		*error_r = t_printf("fsync of directory of %s failed: %s",
				    path, strerror(errno));
		return -1;
	}
	log_error("event=index_set_aside path=%s moved_to=%s",
		  log_str(path), log_str(aside));
	return 0;
}

/* A new index where an older one was set aside (found damaged after it
 * was opened): its UIDVALIDITYs were assigned no later than its last
 * change, so go past the newest set-aside file's mtime (RFC 3501
 * 2.3.1.1: a new UIDVALIDITY must be larger). Only for a missing index:
 * a readdir of the user's directory, which holds a few entries. */
static uint32_t index_set_aside_uidvalidity(const char *path, uint32_t floor)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return floor;
	const char *dir_path = t_strndup(path, (size_t)(slash - path));
	const char *prefix = t_printf("%s.corrupt-", slash + 1);
	DIR *dir = opendir(dir_path);
	if (dir == NULL)
		return floor;
	struct dirent *de;
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (st.st_mtime >= (time_t)floor && st.st_mtime < (time_t)UINT32_MAX)
			floor = (uint32_t)st.st_mtime + 1;
	}
	closedir(dir);
	return floor;
}

int store_index_open(const char *path, struct store_index **idx_r,
		     bool *rebuilt_r, uint32_t *min_uidvalidity_r,
		     const char **error_r)
{
	struct stat st;
	bool existed = stat(path, &st) == 0;
	uint32_t min_uidvalidity = (uint32_t)time(NULL);
	if (!existed)
		min_uidvalidity = index_set_aside_uidvalidity(path, min_uidvalidity);
	*rebuilt_r = !existed;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct store_index *idx;
		const char *error;
		bool check = existed && index_checked_memo_first(st.st_dev, st.st_ino);
		if (index_try_open(path, check, &idx, &error) == 0) {
			if (!existed && fileio_fsync_parent(path) < 0) {
				*error_r = t_printf("fsync of directory of %s "
						    "failed: %s", path,
						    strerror(errno));
				store_index_close(&idx);
				return -1;
			}
			/* a new file has nothing to check */
			if (!check && stat(path, &st) == 0)
				(void)index_checked_memo_first(st.st_dev, st.st_ino);
			*idx_r = idx;
			*min_uidvalidity_r = min_uidvalidity;
			return 0;
		}
		bool corrupt = idx->corrupt;
		/* closing the last connection would checkpoint the WAL into
		 * the damaged file: keep both exactly as found for whoever
		 * inspects the set-aside copy */
		if (corrupt && idx->db != NULL)
			(void)sqlite3_db_config(idx->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
						1, NULL);
		store_index_close(&idx);
		if (!corrupt || attempt > 0) {
			*error_r = error;
			return -1;
		}
		log_error("event=index_corrupt path=%s error=%s",
			  log_str(path), log_str(error));
		/* the old UIDVALIDITYs were all assigned no later than the
		 * file's last change: go past that so clients resync */
		if (existed && st.st_mtime >= (time_t)min_uidvalidity &&
		    st.st_mtime < (time_t)UINT32_MAX)
			min_uidvalidity = (uint32_t)st.st_mtime + 1;
		if (index_set_aside(path, error_r) < 0)
			return -1;
		existed = false;
		*rebuilt_r = true;
	}
	*error_r = "index open failed";
	return -1;
}

void store_index_close(struct store_index **idx)
{
	if (*idx == NULL)
		return;
	for (unsigned i = 0; i < INDEX_STMT_COUNT; i++)
		sqlite3_finalize((*idx)->stmts[i]);
	sqlite3_close_v2((*idx)->db);
	if ((*idx)->lock_fd >= 0)
		close((*idx)->lock_fd); /* also drops a held flock */
	free((*idx)->path);
	xfree(idx);
}

int store_index_close_set_aside(struct store_index **idx,
				const char **error_r)
{
	char *path = xstrdup((*idx)->path);
	store_index_close(idx);
	int ret = index_set_aside(path, error_r);
	free(path);
	return ret;
}

static void index_unlock(struct store_index *idx)
{
	const char *error;
	if (idx->cache_txn) {
		idx->cache_txn = false;
		(void)index_run(idx, INDEX_STMT_SYNC_FULL, "PRAGMA synchronous=FULL",
				"synchronous", &error);
	}
	if (idx->locked) {
		(void)flock(idx->lock_fd, LOCK_UN);
		idx->locked = false;
	}
}

/* Take the write lock, waiting at most wait_msecs: the kernel has no
 * flock() with a timeout, so poll with LOCK_NB and a growing sleep (1 ms
 * up to 16 ms). A holder that never lets go (a hung process, a hand-held
 * flock) then costs a caller a temporary error, never a thread forever.
 * 1 locked, 0 still held by someone else (*error_r says so), -1 error. */
static int index_lock(struct store_index *idx, unsigned wait_msecs,
		      const char **error_r)
{
	if (idx->lock_fd < 0) {
		const char *lock_path = t_printf("%s.lock", idx->path);
		idx->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (idx->lock_fd < 0) {
			*error_r = t_printf("open(%s): %s", lock_path, strerror(errno));
			return -1;
		}
	}
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	long sleep_usecs = 1000;
	for (;;) {
		if (flock(idx->lock_fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			*error_r = t_printf("flock(%s.lock): %s", idx->path,
					    strerror(errno));
			return -1;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		long waited = (now.tv_sec - start.tv_sec) * 1000L +
			(now.tv_nsec - start.tv_nsec) / 1000000L;
		if (waited >= (long)wait_msecs) {
			store_stats_count(STORE_STAT_LOCK_TIMEOUTS);
			*error_r = t_printf("index locked by another process for "
					    "%ld ms (%s)", waited, idx->path);
			return 0;
		}
		struct timespec ts = { 0, sleep_usecs * 1000L };
		nanosleep(&ts, NULL);
		if (sleep_usecs < 16000)
			sleep_usecs *= 2;
	}
	idx->locked = true;
	return 1;
}

static int index_begin_wait(struct store_index *idx, unsigned wait_msecs,
			    const char **error_r)
{
	int r = index_lock(idx, wait_msecs, error_r);
	if (r <= 0)
		return r;
	if (index_run(idx, INDEX_STMT_BEGIN, "BEGIN IMMEDIATE", "begin", error_r) < 0) {
		index_unlock(idx);
		return -1;
	}
	return 1;
}

int store_index_begin(struct store_index *idx, const char **error_r)
{
	return index_begin_wait(idx, STORE_INDEX_LOCK_MSECS, error_r) > 0 ? 0 : -1;
}

int store_index_begin_try(struct store_index *idx, const char **error_r)
{
	return index_begin_wait(idx, 0, error_r);
}

int store_index_begin_cache(struct store_index *idx, const char **error_r)
{
	int r = index_lock(idx, 0, error_r);
	if (r <= 0)
		return r;
	/* WAL mode: a commit without fsync may be lost, never corrupt; the
	 * level may not change inside a transaction: before BEGIN, and
	 * index_unlock() sets FULL again after COMMIT or ROLLBACK */
	idx->cache_txn = true;
	if (index_run(idx, INDEX_STMT_SYNC_NORMAL, "PRAGMA synchronous=NORMAL",
		      "synchronous", error_r) < 0 ||
	    index_run(idx, INDEX_STMT_BEGIN, "BEGIN IMMEDIATE", "begin", error_r) < 0) {
		index_unlock(idx);
		return -1;
	}
	return 1;
}

int store_index_commit(struct store_index *idx, const char **error_r)
{
	if (index_run(idx, INDEX_STMT_COMMIT, "COMMIT", "commit", error_r) < 0) {
		store_index_rollback(idx);
		return -1;
	}
	index_unlock(idx);
	return 0;
}

void store_index_rollback(struct store_index *idx)
{
	if (!sqlite3_get_autocommit(idx->db))
		(void)sqlite3_exec(idx->db, "ROLLBACK", NULL, NULL, NULL);
	index_unlock(idx);
}

