/* userdb.c: opening accounts.db, and the lookups the servers run on every
 * RCPT TO, MAIL FROM and AUTH. See userdb.h. Recipient resolution is in
 * userdb_resolve.c, management in userdb_admin.c, address syntax in
 * userdb_address.c. */
#include "auth/userdb_private.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define USERDB_SCHEMA_VERSION 1

/* NOCASE is SQLite's ASCII case folding: the case-insensitive lookups of
 * userdb.h come from these column collations. The secrets table holds
 * server-side keys that must survive restarts (see userdb_secret()). */
static const char userdb_schema_v1[] =
	"CREATE TABLE domains ("
	"  name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY);"
	"CREATE TABLE users ("
	"  address TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,"
	"  password_hash TEXT NOT NULL,"
	"  scram_salt BLOB, scram_iterations INTEGER,"
	"  scram_stored_key BLOB, scram_server_key BLOB);"
	"CREATE TABLE aliases ("
	"  source TEXT NOT NULL COLLATE NOCASE,"
	"  target TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (source, target));"
	"CREATE TABLE secrets ("
	"  name TEXT NOT NULL PRIMARY KEY, value BLOB NOT NULL);";

static const char *const userdb_stmt_sql[USERDB_STMT_COUNT] = {
	[USERDB_STMT_DOMAIN_EXISTS] = "SELECT 1 FROM domains WHERE name = ?1",
	[USERDB_STMT_USER_ADDRESS] = "SELECT address FROM users WHERE address = ?1",
	[USERDB_STMT_USER_AUTH] =
		("SELECT address, password_hash, scram_salt, scram_iterations,"
		 " scram_stored_key, scram_server_key FROM users WHERE address = ?1"),
	[USERDB_STMT_ALIAS_TARGETS] =
		"SELECT target FROM aliases WHERE source = ?1 ORDER BY rowid",
	[USERDB_STMT_ALIAS_PAIR_EXISTS] =
		"SELECT 1 FROM aliases WHERE source = ?1 AND target = ?2",
};

int userdb_sql_error(struct userdb *db, const char *what, const char **error_r)
{
	*error_r = t_printf("%s: %s", what, sqlite3_errmsg(db->sql));
	return -1;
}

int userdb_exec(struct userdb *db, const char *sql, const char **error_r)
{
	if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK)
		return userdb_sql_error(db, "accounts.db", error_r);
	return 0;
}

sqlite3_stmt *userdb_stmt(struct userdb *db, enum userdb_stmt_id id,
			  const char **error_r)
{
	sqlite3_stmt *stmt = db->stmts[id];
	if (stmt == NULL) {
		if (sqlite3_prepare_v3(db->sql, userdb_stmt_sql[id], -1,
				       SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
			userdb_sql_error(db, "prepare", error_r);
			return NULL;
		}
		db->stmts[id] = stmt;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

static int userdb_schema(struct userdb *db, const char **error_r)
{
	sqlite3_stmt *stmt = NULL;
	unsigned char secret[USERDB_SECRET_LEN];
	int version;

	/* IMMEDIATE: a CLI and a server opening a new file at once must not
	 * both create the schema */
	if (userdb_exec(db, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (sqlite3_prepare_v2(db->sql, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW)
		goto sql_fail;
	version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	stmt = NULL;

	if (version > USERDB_SCHEMA_VERSION) {
		*error_r = t_printf("accounts.db has schema version %d, newer than this "
				    "postel understands (%d)", version, USERDB_SCHEMA_VERSION);
		goto fail;
	}
	if (version == 0) {
		if (userdb_exec(db, userdb_schema_v1, error_r) < 0)
			goto fail;
		if (RAND_bytes(secret, sizeof(secret)) != 1) {
			*error_r = "RAND_bytes failed";
			goto fail;
		}
		if (sqlite3_prepare_v2(db->sql, "INSERT INTO secrets (name, value) "
				       "VALUES ('scram_fake_salt', ?1)", -1, &stmt, NULL) != SQLITE_OK ||
		    sqlite3_bind_blob(stmt, 1, secret, sizeof(secret), SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_step(stmt) != SQLITE_DONE)
			goto sql_fail;
		sqlite3_finalize(stmt);
		stmt = NULL;
		OPENSSL_cleanse(secret, sizeof(secret));
		if (userdb_exec(db, "PRAGMA user_version = 1", error_r) < 0)
			goto fail;
	}
	if (userdb_exec(db, "COMMIT", error_r) < 0)
		goto fail;
	return 0;
sql_fail:
	userdb_sql_error(db, "accounts.db schema", error_r);
fail:
	OPENSSL_cleanse(secret, sizeof(secret));
	sqlite3_finalize(stmt);
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

static int userdb_load_secret(struct userdb *db, const char **error_r)
{
	sqlite3_stmt *stmt;
	int ret = -1;

	if (sqlite3_prepare_v2(db->sql, "SELECT value FROM secrets "
			       "WHERE name = 'scram_fake_salt'", -1, &stmt, NULL) != SQLITE_OK)
		return userdb_sql_error(db, "accounts.db", error_r);
	if (sqlite3_step(stmt) == SQLITE_ROW &&
	    sqlite3_column_bytes(stmt, 0) == USERDB_SECRET_LEN) {
		memcpy(db->secret, sqlite3_column_blob(stmt, 0), USERDB_SECRET_LEN);
		ret = 0;
	} else {
		*error_r = "accounts.db: secrets table is damaged";
	}
	sqlite3_finalize(stmt);
	return ret;
}

/* Create the file 0600 before SQLite does (it would use 0644 & umask):
 * it holds password hashes. The -wal and -shm files copy its mode.
 * An existing file is not opened: closing any descriptor of it drops
 * every POSIX lock this process holds on it, those of an open connection
 * too (a second handle, for a thread, would make the CLI think it is the
 * last user of the WAL, checkpoint and delete it under us). */
static int userdb_create_file(const char *path, const char **error_r)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return 0;
	if (fd < 0) {
		*error_r = t_printf("open(%s): %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	return 0;
}

/* The file's directory: DATA/db, made here when missing (as the server
 * user; a root master makes it in server_privs.c). */
static const char *userdb_dir(const char *data_dir, const char **error_r)
{
	const char *dir = t_printf("%s/%s", data_dir, USERDB_DIRNAME);
	if ((mkdir(data_dir, 0750) < 0 && errno != EEXIST) ||
	    (mkdir(dir, 0700) < 0 && errno != EEXIST)) {
		*error_r = t_printf("mkdir(%s): %s", dir, strerror(errno));
		return NULL;
	}
	return dir;
}

static int userdb_open_path(const char *path, struct userdb **db_r,
			    const char **error_r)
{
	struct userdb *db;
	sqlite3_stmt *stmt;

	if (userdb_create_file(path, error_r) < 0)
		return -1;
	db = xcalloc(1, sizeof(*db));
	if (sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		if (db->sql == NULL)
			fatal("event=out_of_memory what=sqlite3_open");
		userdb_sql_error(db, "open", error_r);
		goto fail;
	}
	sqlite3_busy_timeout(db->sql, 5000);
	/* WAL: the server reads while the CLI writes. secure_delete: an old
	 * password hash does not linger in free pages. The master switches
	 * a new file to WAL before any worker opens it (server_prepare.c):
	 * that switch takes a lock the busy timeout does not wait for. */
	if (sqlite3_prepare_v2(db->sql, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) != SQLITE_OK) {
		userdb_sql_error(db, "journal_mode", error_r);
		goto fail;
	}
	bool wal = sqlite3_step(stmt) == SQLITE_ROW &&
		strcmp((const char *)sqlite3_column_text(stmt, 0), "wal") == 0;
	sqlite3_finalize(stmt);
	if (!wal) {
		userdb_sql_error(db, "cannot enable WAL", error_r);
		goto fail;
	}
	if (userdb_exec(db, "PRAGMA secure_delete = ON", error_r) < 0 ||
	    userdb_schema(db, error_r) < 0 || userdb_load_secret(db, error_r) < 0)
		goto fail;
	*db_r = db;
	return 0;
fail:
	userdb_close(&db);
	return -1;
}

int userdb_open(const char *data_dir, struct userdb **db_r, const char **error_r)
{
	const char *dir = userdb_dir(data_dir, error_r);
	if (dir == NULL)
		return -1;
	const char *path = t_printf("%s/%s", dir, USERDB_FILENAME);
	if (userdb_open_path(path, db_r, error_r) < 0) {
		/* every error names the file, so an operator knows which */
		*error_r = t_printf("%s: %s", path, *error_r);
		return -1;
	}
	return 0;
}

int userdb_check(struct userdb *db, const char **error_r)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db->sql, "PRAGMA quick_check(1)", -1, &stmt, NULL) != SQLITE_OK)
		return userdb_sql_error(db, "quick_check", error_r);
	int rc = sqlite3_step(stmt);
	const char *verdict = rc == SQLITE_ROW ?
		(const char *)sqlite3_column_text(stmt, 0) : NULL;
	int ret = 0;
	if (verdict == NULL) {
		userdb_sql_error(db, "quick_check", error_r);
		ret = -1;
	} else if (strcmp(verdict, "ok") != 0) {
		*error_r = t_printf("damaged (quick_check: %s)", verdict);
		ret = -1;
	}
	sqlite3_finalize(stmt);
	return ret;
}

int userdb_ready(const char *data_dir, const char **error_r)
{
	struct userdb *db;
	if (userdb_open(data_dir, &db, error_r) < 0)
		return -1;
	int ret = userdb_check(db, error_r);
	if (ret < 0)
		*error_r = t_printf("%s/%s/%s: %s", data_dir, USERDB_DIRNAME,
				    USERDB_FILENAME, *error_r);
	userdb_close(&db);
	return ret;
}

void userdb_close(struct userdb **_db)
{
	struct userdb *db = *_db;
	if (db == NULL)
		return;
	*_db = NULL;
	for (unsigned i = 0; i < USERDB_STMT_COUNT; i++)
		sqlite3_finalize(db->stmts[i]);
	sqlite3_close(db->sql);
	OPENSSL_cleanse(db->secret, sizeof(db->secret));
	free(db);
}

const unsigned char *userdb_secret(struct userdb *db)
{
	return db->secret;
}

int userdb_query_exists(struct userdb *db, enum userdb_stmt_id id,
			const char *arg1, const char *arg2, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_stmt(db, id, error_r);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, arg1, -1, SQLITE_STATIC);
	if (arg2 != NULL)
		sqlite3_bind_text(stmt, 2, arg2, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return userdb_sql_error(db, "accounts.db", error_r);
}

/* error is read through its address after ret was computed: passed by
 * value it could be read before the query set it (C leaves the order of
 * argument evaluation unspecified), and the log said error="". */
static int userdb_log_error(int ret, const char *const *error)
{
	if (ret < 0)
		log_error("event=userdb_error error=%s", log_str(*error));
	return ret;
}

int userdb_is_local_domain(struct userdb *db, const char *domain)
{
	const char *error = NULL;
	return userdb_log_error(userdb_query_exists(db, USERDB_STMT_DOMAIN_EXISTS,
						    domain, NULL, &error), &error);
}

int userdb_user_address(struct userdb *db, const char *address, pool_t *pool,
			const char **canonical_r, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_stmt(db, USERDB_STMT_USER_ADDRESS, error_r);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*canonical_r = pool_strdup(pool, (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_reset(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return userdb_sql_error(db, "accounts.db", error_r);
}

int userdb_user_exists(struct userdb *db, const char *address)
{
	const char *error = NULL;
	return userdb_log_error(userdb_query_exists(db, USERDB_STMT_USER_ADDRESS,
						    address, NULL, &error), &error);
}

int userdb_may_send_as(struct userdb *db, const char *user, const char *address)
{
	const char *error = NULL;
	if (strcasecmp(user, address) == 0)
		return 1;
	return userdb_log_error(userdb_query_exists(db, USERDB_STMT_ALIAS_PAIR_EXISTS,
						    address, user, &error), &error);
}

static bool userdb_blob_copy(sqlite3_stmt *stmt, int col, unsigned char *dest,
			     size_t min, size_t max, size_t *len_r)
{
	int len = sqlite3_column_bytes(stmt, col);
	const void *blob = sqlite3_column_blob(stmt, col);
	if (blob == NULL || len < 0 || (size_t)len < min || (size_t)len > max)
		return false;
	memcpy(dest, blob, (size_t)len);
	*len_r = (size_t)len;
	return true;
}

int userdb_auth_lookup(struct userdb *db, const char *address, pool_t *pool,
		       struct userdb_auth *auth_r, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_stmt(db, USERDB_STMT_USER_AUTH, error_r);
	struct password_scram *scram = &auth_r->scram;
	size_t len;

	if (stmt == NULL)
		return -1;
	memset(auth_r, 0, sizeof(*auth_r));
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		return rc == SQLITE_DONE ? 0 : userdb_sql_error(db, "accounts.db", error_r);
	}
	auth_r->address = pool_strdup(pool, (const char *)sqlite3_column_text(stmt, 0));
	auth_r->password_hash = pool_strdup(pool, (const char *)sqlite3_column_text(stmt, 1));
	sqlite3_int64 iter = sqlite3_column_int64(stmt, 3);
	/* all four SCRAM columns or none: a partial set counts as none */
	auth_r->has_scram =
		userdb_blob_copy(stmt, 2, scram->salt, 1, sizeof(scram->salt), &scram->salt_len) &&
		iter >= PASSWORD_SCRAM_ITERATIONS_MIN && iter <= PASSWORD_SCRAM_ITERATIONS_MAX &&
		userdb_blob_copy(stmt, 4, scram->stored_key, PASSWORD_SCRAM_KEY_LEN,
				 PASSWORD_SCRAM_KEY_LEN, &len) &&
		userdb_blob_copy(stmt, 5, scram->server_key, PASSWORD_SCRAM_KEY_LEN,
				 PASSWORD_SCRAM_KEY_LEN, &len);
	if (auth_r->has_scram)
		scram->iterations = (unsigned)iter;
	else
		OPENSSL_cleanse(scram, sizeof(*scram));
	sqlite3_reset(stmt);
	return 1;
}
