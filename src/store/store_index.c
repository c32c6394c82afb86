/* store_index.c: see store_index.h. */
#include "store/store_index.h"
#include "store/fileio.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STORE_INDEX_VERSION 1

enum index_stmt {
	INDEX_STMT_MAILBOX_LOOKUP,
	INDEX_STMT_UIDNEXT,
	INDEX_STMT_MESSAGE_INSERT,
	INDEX_STMT_MAILBOX_UPDATE,
	INDEX_STMT_BEGIN,
	INDEX_STMT_COMMIT,
	INDEX_STMT_COUNT
};

struct store_index {
	sqlite3 *db;
	char *path;
	bool corrupt;
	/* PATH.lock, flock()ed around every write transaction: writers in
	 * every process and thread queue in the kernel and wake the moment
	 * the lock is free, instead of in SQLite's sleep-and-retry busy
	 * handler, which under concurrent delivery costs milliseconds */
	int lock_fd;
	bool locked;
	/* statements of the delivery path, prepared once */
	sqlite3_stmt *stmts[INDEX_STMT_COUNT];
};

static const char store_index_schema[] =
	"CREATE TABLE IF NOT EXISTS mailboxes ("
	" id INTEGER PRIMARY KEY,"
	" name TEXT NOT NULL UNIQUE,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highestmodseq INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS messages ("
	" mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),"
	" uid INTEGER NOT NULL,"
	" modseq INTEGER NOT NULL,"
	" flags TEXT NOT NULL DEFAULT '',"
	" filename TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" internaldate INTEGER NOT NULL,"
	" PRIMARY KEY (mailbox_id, uid),"
	" UNIQUE (mailbox_id, filename));";

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
static int index_error(struct store_index *idx, int rc, const char *what,
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

/* A cached statement: prepared on first use, reset after each. */
static int index_prepare(struct store_index *idx, enum index_stmt which,
			 const char *sql, sqlite3_stmt **stmt_r)
{
	if (idx->stmts[which] == NULL) {
		int rc = sqlite3_prepare_v3(idx->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
					    &idx->stmts[which], NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	*stmt_r = idx->stmts[which];
	return SQLITE_OK;
}

static void index_stmt_done(sqlite3_stmt *stmt)
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

/* 0 ok, -1 error (idx->corrupt tells whether it was damage). */
static int index_check_integrity(struct store_index *idx, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db, "PRAGMA quick_check", -1, &stmt,
				    NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "integrity check", error_r);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(stmt);
		return index_error(idx, rc, "integrity check", error_r);
	}
	const char *result = (const char *)sqlite3_column_text(stmt, 0);
	if (result == NULL || strcmp(result, "ok") != 0) {
		/* the report is multi-line: keep the first problem only */
		char *first = t_printf("%s", result != NULL ? result : "");
		char *nl = strchr(first, '\n');
		if (nl != NULL && strncmp(first, "*** ", 4) == 0)
			first = nl + 1;
		first[strcspn(first, "\r\n")] = '\0';
		*error_r = t_printf("index integrity check failed: %s (%s)",
				    first, idx->path);
		idx->corrupt = true;
		sqlite3_finalize(stmt);
		return -1;
	}
	sqlite3_finalize(stmt);
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

/* Open and prepare the database file. -1 with idx->corrupt set when the
 * file is damaged; *idx_r is returned either way for the caller to close. */
static int index_lock(struct store_index *idx, const char **error_r);
static void index_unlock(struct store_index *idx);

static int index_try_open(const char *path, bool check,
			  struct store_index **idx_r, const char **error_r)
{
	struct store_index *idx = xcalloc(1, sizeof(*idx));
	idx->path = xstrdup(path);
	idx->lock_fd = -1;
	*idx_r = idx;
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
	 * Under the write lock: the first opener of a new index turns it to
	 * WAL, which needs SQLite's exclusive lock, and a concurrent opener
	 * (two deliveries to a new user at once) got "database is locked"
	 * at once instead of waiting in the busy handler. */
	if (index_lock(idx, error_r) < 0)
		return -1;
	int ret = 0;
	if (index_exec(idx, "PRAGMA journal_mode=WAL", "open", error_r) < 0 ||
	    index_exec(idx, "PRAGMA synchronous=FULL", "open", error_r) < 0 ||
	    index_exec(idx, "PRAGMA foreign_keys=ON", "open", error_r) < 0)
		ret = -1;
	index_unlock(idx);
	if (ret < 0)
		return -1;
	if (check && index_check_integrity(idx, error_r) < 0)
		return -1;
	int version = 0;
	if (index_user_version(idx, &version, error_r) < 0)
		return -1;
	if (version > STORE_INDEX_VERSION) {
		/* newer software wrote it: refuse, never set aside */
		*error_r = t_printf("index has version %d, newer than %d (%s)",
				    version, STORE_INDEX_VERSION, path);
		return -1;
	}
	if (version == STORE_INDEX_VERSION)
		return 0;
	if (store_index_begin(idx, error_r) < 0)
		return -1;
	if (index_exec(idx, store_index_schema, "create", error_r) < 0 ||
	    index_exec(idx, "PRAGMA user_version=1", "create", error_r) < 0) {
		store_index_rollback(idx);
		return -1;
	}
	return store_index_commit(idx, error_r);
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

int store_index_open(const char *path, struct store_index **idx_r,
		     bool *rebuilt_r, uint32_t *min_uidvalidity_r,
		     const char **error_r)
{
	struct stat st;
	bool existed = stat(path, &st) == 0;
	uint32_t min_uidvalidity = (uint32_t)time(NULL);
	*rebuilt_r = !existed;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct store_index *idx;
		const char *error;
		if (index_try_open(path, existed, &idx, &error) == 0) {
			if (!existed && fileio_fsync_parent(path) < 0) {
				*error_r = t_printf("fsync of directory of %s "
						    "failed: %s", path,
						    strerror(errno));
				store_index_close(&idx);
				return -1;
			}
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
	if (idx->locked) {
		(void)flock(idx->lock_fd, LOCK_UN);
		idx->locked = false;
	}
}

static int index_lock(struct store_index *idx, const char **error_r)
{
	if (idx->lock_fd < 0) {
		const char *lock_path = t_printf("%s.lock", idx->path);
		idx->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (idx->lock_fd < 0) {
			*error_r = t_printf("open(%s): %s", lock_path, strerror(errno));
			return -1;
		}
	}
	int r;
	while ((r = flock(idx->lock_fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		*error_r = t_printf("flock(%s.lock): %s", idx->path, strerror(errno));
		return -1;
	}
	idx->locked = true;
	return 0;
}

int store_index_begin(struct store_index *idx, const char **error_r)
{
	if (index_lock(idx, error_r) < 0)
		return -1;
	if (index_run(idx, INDEX_STMT_BEGIN, "BEGIN IMMEDIATE", "begin", error_r) < 0) {
		index_unlock(idx);
		return -1;
	}
	return 0;
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

int store_index_mailbox_lookup(struct store_index *idx, const char *name,
			       struct store_index_mailbox *mailbox_r,
			       const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_MAILBOX_LOOKUP,
		"SELECT id, uidvalidity, uidnext, highestmodseq"
		" FROM mailboxes WHERE name = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox lookup", error_r);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	int ret;
	if (rc == SQLITE_ROW) {
		mailbox_r->id = sqlite3_column_int64(stmt, 0);
		mailbox_r->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 1);
		mailbox_r->uidnext = (uint32_t)sqlite3_column_int64(stmt, 2);
		mailbox_r->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 3);
		mailbox_r->messages = 0; /* see store_index_mailbox_count() */
		ret = 1;
	} else if (rc == SQLITE_DONE) {
		ret = 0;
	} else {
		ret = index_error(idx, rc, "mailbox lookup", error_r);
	}
	index_stmt_done(stmt);
	return ret;
}

int store_index_mailbox_count(struct store_index *idx, int64_t mailbox_id,
			      uint32_t *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db,
		"SELECT count(*) FROM messages WHERE mailbox_id = ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message count", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	int ret = 0;
	if (rc == SQLITE_ROW)
		*count_r = (uint32_t)sqlite3_column_int64(stmt, 0);
	else
		ret = index_error(idx, rc, "message count", error_r);
	sqlite3_finalize(stmt);
	return ret;
}

int store_index_mailbox_add(struct store_index *idx, const char *name,
			    uint32_t uidvalidity, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db,
		"INSERT OR IGNORE INTO mailboxes"
		" (name, uidvalidity, uidnext, highestmodseq)"
		" VALUES (?1, ?2, 1, 1)", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "mailbox add", error_r);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, uidvalidity == 0 ? 1 : uidvalidity);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "mailbox add", error_r);
	return 0;
}

int store_index_message_add(struct store_index *idx, int64_t mailbox_id,
			    const char *filename, uint64_t size,
			    int64_t internaldate, const char *flags,
			    uint32_t *uid_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = index_prepare(idx, INDEX_STMT_UIDNEXT,
		"SELECT uidnext, highestmodseq FROM mailboxes WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		index_stmt_done(stmt);
		if (rc == SQLITE_DONE) {
			*error_r = "index message add: mailbox vanished";
			return -1;
		}
		return index_error(idx, rc, "message add", error_r);
	}
	int64_t uid = sqlite3_column_int64(stmt, 0);
	int64_t modseq = sqlite3_column_int64(stmt, 1) + 1;
	index_stmt_done(stmt);
	if (uid < 1 || uid >= (int64_t)UINT32_MAX || modseq < 1) {
		/* RFC 3501 2.3.1.1: UIDs are 32-bit; a new UIDVALIDITY would
		 * be needed to go on */
		*error_r = t_printf("mailbox UIDs exhausted (%s)", idx->path);
		return -1;
	}
	if (size > (uint64_t)INT64_MAX)
		size = (uint64_t)INT64_MAX;

	rc = index_prepare(idx, INDEX_STMT_MESSAGE_INSERT,
		"INSERT INTO messages (mailbox_id, uid, modseq, flags, filename,"
		" size, internaldate) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, modseq);
	sqlite3_bind_text(stmt, 4, flags, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, filename, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, (int64_t)size);
	sqlite3_bind_int64(stmt, 7, internaldate);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message add", error_r);

	rc = index_prepare(idx, INDEX_STMT_MAILBOX_UPDATE,
		"UPDATE mailboxes SET uidnext = ?2, highestmodseq = ?3"
		" WHERE id = ?1", &stmt);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message add", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid + 1);
	sqlite3_bind_int64(stmt, 3, modseq);
	rc = sqlite3_step(stmt);
	index_stmt_done(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message add", error_r);
	*uid_r = (uint32_t)uid;
	return 0;
}

int store_index_message_exists(struct store_index *idx, int64_t mailbox_id,
			       const char *filename, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db,
		"SELECT 1 FROM messages WHERE mailbox_id = ?1 AND filename = ?2",
		-1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message lookup", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_text(stmt, 2, filename, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	int ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 :
		index_error(idx, rc, "message lookup", error_r);
	sqlite3_finalize(stmt);
	return ret;
}

int store_index_message_list(struct store_index *idx, int64_t mailbox_id,
			     pool_t *pool,
			     struct store_index_message **messages_r,
			     unsigned *count_r, const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db,
		"SELECT uid, modseq, size, internaldate, flags, filename"
		" FROM messages WHERE mailbox_id = ?1 ORDER BY uid", -1, &stmt,
		NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message list", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	struct store_index_message *messages = NULL;
	unsigned count = 0, cap = 0;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			struct store_index_message *bigger =
				pool_alloc(pool, cap * sizeof(*bigger));
			if (count > 0)
				memcpy(bigger, messages, count * sizeof(*bigger));
			messages = bigger;
		}
		struct store_index_message *m = &messages[count++];
		m->uid = (uint32_t)sqlite3_column_int64(stmt, 0);
		m->modseq = (uint64_t)sqlite3_column_int64(stmt, 1);
		m->size = (uint64_t)sqlite3_column_int64(stmt, 2);
		m->internaldate = sqlite3_column_int64(stmt, 3);
		const char *flags = (const char *)sqlite3_column_text(stmt, 4);
		const char *filename = (const char *)sqlite3_column_text(stmt, 5);
		m->flags = pool_strdup(pool, flags != NULL ? flags : "");
		m->filename = pool_strdup(pool, filename != NULL ? filename : "");
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message list", error_r);
	*messages_r = messages;
	*count_r = count;
	return 0;
}

int store_index_messages_remove(struct store_index *idx, int64_t mailbox_id,
				const uint32_t *uids, unsigned count,
				const char **error_r)
{
	sqlite3_stmt *stmt;
	int rc = sqlite3_prepare_v2(idx->db,
		"DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2", -1,
		&stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message remove", error_r);
	for (unsigned i = 0; i < count; i++) {
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, uids[i]);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE) {
			sqlite3_finalize(stmt);
			return index_error(idx, rc, "message remove", error_r);
		}
	}
	sqlite3_finalize(stmt);
	/* the mailbox changed: a CONDSTORE client must see a new MODSEQ */
	rc = sqlite3_prepare_v2(idx->db,
		"UPDATE mailboxes SET highestmodseq = highestmodseq + 1"
		" WHERE id = ?1", -1, &stmt, NULL);
	if (rc != SQLITE_OK)
		return index_error(idx, rc, "message remove", error_r);
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return index_error(idx, rc, "message remove", error_r);
	return 0;
}
