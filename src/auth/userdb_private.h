/* userdb_private.h: what the userdb*.c files share. Not for other
 * modules. */
#ifndef POSTEL_AUTH_USERDB_PRIVATE_H
#define POSTEL_AUTH_USERDB_PRIVATE_H

#include <sqlite3.h>

#include "auth/userdb.h"

/* Statements used on the server's hot paths, prepared once. */
enum userdb_stmt_id {
	USERDB_STMT_DOMAIN_EXISTS,
	USERDB_STMT_USER_ADDRESS,
	USERDB_STMT_USER_AUTH,
	USERDB_STMT_ALIAS_TARGETS,
	USERDB_STMT_ALIAS_PAIR_EXISTS,
	USERDB_STMT_COUNT
};

struct userdb {
	sqlite3 *sql;
	sqlite3_stmt *stmts[USERDB_STMT_COUNT];
	unsigned char secret[USERDB_SECRET_LEN];
};

/* The cached statement, reset and with bindings cleared; NULL on error. */
sqlite3_stmt *userdb_stmt(struct userdb *db, enum userdb_stmt_id id,
			  const char **error_r);
/* Set *error_r to "what: sqlite message" and return -1. */
int userdb_sql_error(struct userdb *db, const char *what, const char **error_r);
int userdb_exec(struct userdb *db, const char *sql, const char **error_r);
/* Run a cached statement bound to one or two texts (arg2 may be NULL):
 * 1 it returned a row, 0 none, -1 error. */
int userdb_query_exists(struct userdb *db, enum userdb_stmt_id id,
			const char *arg1, const char *arg2, const char **error_r);
/* The canonical spelling of a user's address, from pool. 1/0/-1. */
int userdb_user_address(struct userdb *db, const char *address, pool_t *pool,
			const char **canonical_r, const char **error_r);

#endif
