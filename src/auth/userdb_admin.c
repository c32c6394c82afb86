/* userdb_admin.c: adding, deleting and listing domains, users and aliases
 * (the CLI's side of userdb.h). Every write is one transaction. These are
 * not hot paths: statements are prepared per call. An alias is refused
 * when its source is a user (it would shadow the user, unless the user is
 * among its targets, which keeps a copy) or when its target
 * leads back to its source (a loop: a -> b -> a, also through a catch-all),
 * as far as the accounts decide it: external addresses end a path. */
#include "auth/userdb_private.h"

#include <stdlib.h>
#include <string.h>

/* The domain part of a stored address or "@domain" source. Local parts
 * never contain '@' (userdb_address_valid), so the first '@' is it. */
#define USERDB_SQL_DOMAIN_OF(col) "substr(" col ", instr(" col ", '@') + 1)"

/* Prepare sql and bind up to two texts (NULL: left unbound). */
static sqlite3_stmt *userdb_prepare(struct userdb *db, const char *sql, const char *arg1,
				    const char *arg2, const char **error_r)
{
	sqlite3_stmt *stmt;
	if (sqlite3_prepare_v2(db->sql, sql, -1, &stmt, NULL) != SQLITE_OK) {
		userdb_sql_error(db, "prepare", error_r);
		return NULL;
	}
	if (arg1 != NULL)
		sqlite3_bind_text(stmt, 1, arg1, -1, SQLITE_STATIC);
	if (arg2 != NULL)
		sqlite3_bind_text(stmt, 2, arg2, -1, SQLITE_STATIC);
	return stmt;
}

/* Run a write: the number of rows changed, or -1. */
static int userdb_write(struct userdb *db, const char *sql, const char *arg1,
			const char *arg2, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_prepare(db, sql, arg1, arg2, error_r);
	if (stmt == NULL)
		return -1;
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return userdb_sql_error(db, "accounts.db", error_r);
	return sqlite3_changes(db->sql);
}

static int userdb_count(struct userdb *db, const char *sql, const char *arg,
			int *count_r, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_prepare(db, sql, arg, NULL, error_r);
	if (stmt == NULL)
		return -1;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*count_r = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : userdb_sql_error(db, "accounts.db", error_r);
}

/* Rows of one or two text columns, copied to pool. */
static int userdb_list(struct userdb *db, const char *sql, const char *arg,
		       unsigned columns, pool_t *pool, const char ***strings_r,
		       unsigned *rows_r, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_prepare(db, sql, arg, NULL, error_r);
	const char **strings = NULL;
	size_t count = 0, alloc = 0;
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count + columns > alloc) {
			alloc = alloc == 0 ? 32 : alloc * 2;
			strings = xrealloc(strings, alloc * sizeof(*strings));
		}
		for (unsigned i = 0; i < columns; i++) {
			const char *text = (const char *)sqlite3_column_text(stmt, (int)i);
			strings[count++] = pool_strdup(pool, text != NULL ? text : "");
		}
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		free(strings);
		return userdb_sql_error(db, "accounts.db", error_r);
	}
	*strings_r = pool_alloc(pool, (count + 1) * sizeof(*strings));
	if (count > 0)
		memcpy(*strings_r, strings, count * sizeof(*strings));
	*rows_r = (unsigned)(count / columns);
	free(strings);
	return 0;
}

static int userdb_rollback(struct userdb *db)
{
	sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int userdb_domain_add(struct userdb *db, const char *domain, const char **error_r)
{
	if (!userdb_domain_valid(domain, error_r))
		return -1;
	/* normalizing "@domain" lower-cases the whole domain */
	const char *name = userdb_address_normalize(pool_temp(), t_printf("@%s", domain)) + 1;
	int ret = userdb_write(db, "INSERT OR IGNORE INTO domains (name) VALUES (?1)",
			       name, NULL, error_r);
	return ret < 0 ? -1 : ret > 0;
}

int userdb_domain_del(struct userdb *db, const char *domain, const char **error_r)
{
	int users, aliases, ret;

	if (userdb_exec(db, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (userdb_count(db, "SELECT count(*) FROM users WHERE "
			 USERDB_SQL_DOMAIN_OF("address") " = ?1 COLLATE NOCASE",
			 domain, &users, error_r) < 0 ||
	    userdb_count(db, "SELECT count(*) FROM aliases WHERE "
			 USERDB_SQL_DOMAIN_OF("source") " = ?1 COLLATE NOCASE",
			 domain, &aliases, error_r) < 0)
		return userdb_rollback(db);
	if (users > 0 || aliases > 0) {
		*error_r = t_printf("domain %s still has %d user(s) and %d alias "
				    "entries; delete them first", domain, users, aliases);
		return userdb_rollback(db);
	}
	ret = userdb_write(db, "DELETE FROM domains WHERE name = ?1", domain, NULL, error_r);
	if (ret < 0 || userdb_exec(db, "COMMIT", error_r) < 0)
		return userdb_rollback(db);
	return ret > 0;
}

int userdb_domain_list(struct userdb *db, pool_t *pool, const char ***names_r,
		       unsigned *count_r, const char **error_r)
{
	return userdb_list(db, "SELECT name FROM domains ORDER BY name", NULL, 1,
			   pool, names_r, count_r, error_r);
}

/* Bind hash and SCRAM keys to ?1..?5 and the address to ?6, then step. */
static int userdb_write_password(struct userdb *db, const char *sql, const char *address,
				 const char *password_hash,
				 const struct password_scram *scram, const char **error_r)
{
	sqlite3_stmt *stmt = userdb_prepare(db, sql, password_hash, NULL, error_r);
	if (stmt == NULL)
		return -1;
	if (scram != NULL) {
		sqlite3_bind_blob(stmt, 2, scram->salt, (int)scram->salt_len, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, scram->iterations);
		sqlite3_bind_blob(stmt, 4, scram->stored_key, PASSWORD_SCRAM_KEY_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(stmt, 5, scram->server_key, PASSWORD_SCRAM_KEY_LEN, SQLITE_STATIC);
	}
	sqlite3_bind_text(stmt, 6, address, -1, SQLITE_STATIC);
	int rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return userdb_sql_error(db, "accounts.db", error_r);
	return sqlite3_changes(db->sql);
}

static bool userdb_password_valid(const char *password_hash,
				  const struct password_scram *scram, const char **error_r)
{
	if (password_hash[0] == '\0') {
		*error_r = "empty password hash";
		return false;
	}
	if (scram != NULL && (scram->salt_len == 0 || scram->salt_len > PASSWORD_SCRAM_SALT_MAX ||
			      scram->iterations < PASSWORD_SCRAM_ITERATIONS_MIN ||
			      scram->iterations > PASSWORD_SCRAM_ITERATIONS_MAX)) {
		*error_r = "bad SCRAM parameters";
		return false;
	}
	return true;
}

int userdb_user_add(struct userdb *db, const char *address, const char *password_hash,
		    const struct password_scram *scram, const char **error_r)
{
	if (!userdb_address_valid(address, false, error_r) ||
	    !userdb_password_valid(password_hash, scram, error_r))
		return -1;
	const char *normalized = userdb_address_normalize(pool_temp(), address);
	int ret;

	if (userdb_exec(db, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (userdb_write(db, "INSERT OR IGNORE INTO domains (name) VALUES (?1)",
			 strchr(normalized, '@') + 1, NULL, error_r) < 0)
		return userdb_rollback(db);
	ret = userdb_write_password(db, "INSERT OR IGNORE INTO users (password_hash, "
				    "scram_salt, scram_iterations, scram_stored_key, "
				    "scram_server_key, address) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				    normalized, password_hash, scram, error_r);
	if (ret <= 0) {
		userdb_rollback(db);
		return ret;
	}
	if (userdb_exec(db, "COMMIT", error_r) < 0)
		return userdb_rollback(db);
	return 1;
}

int userdb_user_del(struct userdb *db, const char *address, const char **error_r)
{
	int ret = userdb_write(db, "DELETE FROM users WHERE address = ?1",
			       userdb_address_normalize(pool_temp(), address), NULL, error_r);
	return ret < 0 ? -1 : ret > 0;
}

int userdb_user_set_password(struct userdb *db, const char *address,
			     const char *password_hash,
			     const struct password_scram *scram, const char **error_r)
{
	if (!userdb_password_valid(password_hash, scram, error_r))
		return -1;
	/* unset SCRAM columns become NULL: an imported hash drops old keys */
	int ret = userdb_write_password(db, "UPDATE users SET password_hash = ?1, "
					"scram_salt = ?2, scram_iterations = ?3, "
					"scram_stored_key = ?4, scram_server_key = ?5 "
					"WHERE address = ?6",
					userdb_address_normalize(pool_temp(), address),
					password_hash, scram, error_r);
	return ret < 0 ? -1 : ret > 0;
}

int userdb_user_list(struct userdb *db, const char *domain, pool_t *pool,
		     const char ***addresses_r, unsigned *count_r, const char **error_r)
{
	if (domain == NULL) {
		return userdb_list(db, "SELECT address FROM users ORDER BY address",
				   NULL, 1, pool, addresses_r, count_r, error_r);
	}
	return userdb_list(db, "SELECT address FROM users WHERE "
			   USERDB_SQL_DOMAIN_OF("address") " = ?1 COLLATE NOCASE "
			   "ORDER BY address", domain, 1, pool, addresses_r, count_r, error_r);
}

int userdb_user_first(struct userdb *db, pool_t *pool, const char **address_r,
		      const char **error_r)
{
	const char **rows;
	unsigned count;
	if (userdb_list(db, "SELECT address FROM users ORDER BY rowid LIMIT 1", NULL, 1,
			pool, &rows, &count, error_r) < 0)
		return -1;
	if (count == 0)
		return 0;
	*address_r = rows[0];
	return 1;
}

/* the most addresses the loop check follows; past it, refuse */
#define USERDB_ALIAS_CHECK_MAX 4096

/* What one address delivers to next, in the accounts: the targets of its
 * alias, else (no user, no alias, local domain) those of its domain's
 * catch-all; nothing for a user or an external address. *falls_r: the
 * address has no user or alias of its own. */
static int userdb_alias_next(struct userdb *db, const char *address, pool_t *pool,
			     const char ***next_r, unsigned *count_r, bool *falls_r,
			     const char **error_r)
{
	*falls_r = false;
	if (userdb_list(db, "SELECT target FROM aliases WHERE source = ?1", address, 1,
			pool, next_r, count_r, error_r) < 0)
		return -1;
	if (*count_r > 0 || address[0] == '@')
		return 0;
	int ret = userdb_user_exists(db, address);
	if (ret != 0) {
		if (ret < 0)
			*error_r = "accounts.db lookup failed";
		return ret < 0 ? -1 : 0;
	}
	*falls_r = true;
	const char *catch_all = strchr(address, '@');
	return userdb_list(db, "SELECT target FROM aliases WHERE source = ?1", catch_all, 1,
			   pool, next_r, count_r, error_r);
}

/* -1 with error_r if source -> target would shadow a user or close a
 * loop; both normalized. Breadth first over what target delivers to. */
static int userdb_alias_check(struct userdb *db, const char *source, const char *target,
			      const char **error_r)
{
	bool catch_all = source[0] == '@';
	int ret = catch_all ? 0 : userdb_user_exists(db, source);
	if (ret < 0) {
		*error_r = "accounts.db lookup failed";
		return -1;
	}
	if (ret > 0) {
		/* a user's alias that lists the user keeps a copy there: no
		 * shadow, and every path back to it ends in the mailbox */
		int own;
		if (strcmp(source, target) == 0)
			return 0;
		if (userdb_count(db, "SELECT count(*) FROM aliases WHERE source = ?1 AND "
				 "target = source", source, &own, error_r) < 0)
			return -1;
		if (own > 0)
			return 0;
		*error_r = t_printf("%s is a user: an alias would shadow it (to forward and "
				    "keep a copy, list the user first: postel alias add %s %s %s)",
				    source, source, source, target);
		return -1;
	}
	pool_t *pool = pool_create(4096);
	const char **queue = xmalloc(USERDB_ALIAS_CHECK_MAX * sizeof(*queue));
	unsigned head = 0, tail = 0;
	queue[tail++] = target;
	ret = 0;
	while (ret == 0 && head < tail) {
		const char *address = queue[head++];
		const char **next;
		unsigned count;
		bool falls;
		if (strcmp(address, source) == 0) {
			*error_r = t_printf("alias %s -> %s would make a loop back to %s",
					    source, target, source);
			ret = -1;
			break;
		}
		if (userdb_alias_next(db, address, pool, &next, &count, &falls, error_r) < 0) {
			ret = -1;
			break;
		}
		/* an address of source's domain with nothing of its own would
		 * go to the catch-all being added */
		const char *at = strchr(address, '@');
		if (catch_all && falls && at != NULL && strcmp(at, source) == 0) {
			*error_r = t_printf("alias %s -> %s would make a loop: %s has no user or "
					    "alias, so it goes to %s again", source, target,
					    address, source);
			ret = -1;
			break;
		}
		for (unsigned i = 0; i < count && ret == 0; i++) {
			bool seen = false;
			for (unsigned j = 0; j < tail && !seen; j++)
				seen = strcmp(queue[j], next[i]) == 0;
			if (seen)
				continue;
			if (tail == USERDB_ALIAS_CHECK_MAX) {
				*error_r = t_printf("alias %s -> %s: too many addresses to check "
						    "for a loop", source, target);
				ret = -1;
			} else {
				queue[tail++] = next[i];
			}
		}
	}
	free(queue);
	pool_destroy(&pool); /* error_r strings are temp strings, not in pool */
	return ret;
}

int userdb_alias_add(struct userdb *db, const char *source, const char *target,
		     const char **error_r)
{
	const char *error;

	if (!userdb_address_valid(source, true, &error)) {
		*error_r = t_printf("alias source: %s", error);
		return -1;
	}
	if (!userdb_address_valid(target, false, &error)) {
		*error_r = t_printf("alias target: %s", error);
		return -1;
	}
	source = userdb_address_normalize(pool_temp(), source);
	target = userdb_address_normalize(pool_temp(), target);
	const char *domain = strchr(source, '@') + 1;
	int ret = userdb_is_local_domain(db, domain);
	if (ret <= 0) {
		*error_r = ret < 0 ? "accounts.db lookup failed" :
			t_printf("%s is not a local domain (postel domain add %s)",
				 domain, domain);
		return -1;
	}
	if (userdb_alias_check(db, source, target, error_r) < 0)
		return -1;
	ret = userdb_write(db, "INSERT OR IGNORE INTO aliases (source, target) "
			   "VALUES (?1, ?2)", source, target, error_r);
	return ret < 0 ? -1 : ret > 0;
}

int userdb_alias_del(struct userdb *db, const char *source, const char *target,
		     const char **error_r)
{
	source = userdb_address_normalize(pool_temp(), source);
	int ret = target == NULL ?
		userdb_write(db, "DELETE FROM aliases WHERE source = ?1",
			     source, NULL, error_r) :
		userdb_write(db, "DELETE FROM aliases WHERE source = ?1 AND target = ?2",
			     source, userdb_address_normalize(pool_temp(), target), error_r);
	return ret < 0 ? -1 : ret > 0;
}

int userdb_alias_list(struct userdb *db, pool_t *pool, struct userdb_alias **aliases_r,
		      unsigned *count_r, const char **error_r)
{
	const char **strings;
	unsigned rows;

	if (userdb_list(db, "SELECT source, target FROM aliases ORDER BY source, rowid",
			NULL, 2, pool, &strings, &rows, error_r) < 0)
		return -1;
	*aliases_r = pool_alloc(pool, (rows + 1) * sizeof(**aliases_r));
	for (unsigned i = 0; i < rows; i++) {
		(*aliases_r)[i].source = strings[i * 2];
		(*aliases_r)[i].target = strings[i * 2 + 1];
	}
	*count_r = rows;
	return 0;
}
