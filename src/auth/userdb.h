/* userdb.h: local domains, users and aliases in DATA_DIR/db/accounts.db.
 *
 * Contract: one SQLite database (WAL, busy_timeout 5000 ms, schema created
 * on open, version in PRAGMA user_version, file mode 0600). Nothing is
 * cached: every call runs fresh queries, so changes made by the CLI are
 * seen by a running server at once. A struct userdb belongs to one thread.
 *
 * Addresses are stored with the domain in lower case and the local part
 * as given; every lookup is case-insensitive (ASCII, SQLite NOCASE), so
 * Bob@Example.ORG finds "bob@example.org". Stored local parts never hold
 * '@', '/' or "..": a stored address is safe to use as a path component.
 *
 * Aliases map a source to one or more targets. A source "@domain" is the
 * catch-all of that domain, used only when a recipient matches no user and
 * no alias. Targets may be local users, other aliases, or external
 * addresses. Unless said otherwise, functions return 1 (yes / changed),
 * 0 (no / nothing to change) or -1 (error, error_r set when it exists). */
#ifndef POSTEL_AUTH_USERDB_H
#define POSTEL_AUTH_USERDB_H

#include <stdbool.h>

#include "auth/password.h"
#include "lib/mem.h"

#define USERDB_DIRNAME "db"
#define USERDB_FILENAME "accounts.db"
#define USERDB_ALIAS_MAX_DEPTH 8
#define USERDB_MAX_TARGETS 1000
/* RFC 5321 4.5.3.1.1 and 4.5.3.1.2 */
#define USERDB_LOCAL_PART_MAX 64
#define USERDB_DOMAIN_MAX 255

struct userdb;

struct userdb_target {
	const char *address;
	bool local; /* a local user's canonical address */
};

/* Errors name the file. */
int userdb_open(const char *data_dir, struct userdb **db_r, const char **error_r);
/* PRAGMA quick_check: -1 with error_r when the file is damaged. */
int userdb_check(struct userdb *db, const char **error_r);
/* Create or migrate the file, switch it to WAL and check it, then close:
 * what the master has done (as the server user) before workers start. */
int userdb_ready(const char *data_dir, const char **error_r);
void userdb_close(struct userdb **db);
/* The calling thread's own handle (a struct userdb belongs to one
 * thread), opened on first use from data_dir and kept until the thread
 * exits, when it is closed; the first data_dir a thread names is the
 * one it keeps. For thread-pool jobs: accounts.db waits up to its busy
 * timeout for a lock, which must never happen on an event loop. NULL
 * with error_r when it cannot be opened (tried again on the next call).
 * userdb_thread_close(): close it now (a thread that does not exit, the
 * main thread of a test). */
struct userdb *userdb_thread(const char *data_dir, const char **error_r);
void userdb_thread_close(void);

/* 1 yes, 0 no, -1 error. */
int userdb_is_local_domain(struct userdb *db, const char *domain);

/* Resolve a recipient. 1: deliverable; *targets_r (allocated from pool)
 * holds the deduplicated local users and external addresses, aliases
 * expanded up to USERDB_ALIAS_MAX_DEPTH levels. A non-local domain gives
 * one external target, the address itself. 0: the domain is local but
 * nothing matches (SMTP 550 5.1.1), also for an address without '@' or
 * with an empty local part. -1: database error, or aliases nested too
 * deeply or expanding to more than USERDB_MAX_TARGETS (SMTP 451). */
int userdb_resolve_rcpt(struct userdb *db, const char *address, pool_t *pool,
			struct userdb_target **targets_r, unsigned *count_r,
			const char **error_r);

/* 1 if the authenticated user (a canonical address) may use address as
 * envelope sender: its own address, or an alias whose direct targets
 * include user. Catch-alls do not count. 0 no, -1 error. */
int userdb_may_send_as(struct userdb *db, const char *user, const char *address);

/* 1 yes, 0 no, -1 error. */
int userdb_user_exists(struct userdb *db, const char *address);

/* What SASL needs to check a login. */
struct userdb_auth {
	const char *address;       /* canonical */
	const char *password_hash;
	bool has_scram;            /* false for hashes imported with --hash */
	struct password_scram scram;
};
/* 1 found (strings from pool), 0 unknown user, -1 error. */
int userdb_auth_lookup(struct userdb *db, const char *address, pool_t *pool,
		       struct userdb_auth *auth_r, const char **error_r);
/* 32 random bytes created with the database, never changed: a stable key
 * for the fake SCRAM salts of unknown users (RFC 5802 section 9). */
#define USERDB_SECRET_LEN 32
const unsigned char *userdb_secret(struct userdb *db);

/* Validation, no database access. A domain is a DNS name: labels of
 * letters, digits and inner hyphens, 1-63 bytes each, no trailing dot.
 * An address is local@domain with a dot-atom local part (RFC 5322 atext
 * without '/'; no leading, trailing or double dot). allow_catchall also
 * accepts "@domain". false with error_r when invalid. */
bool userdb_domain_valid(const char *domain, const char **error_r);
bool userdb_address_valid(const char *address, bool allow_catchall,
			  const char **error_r);
/* The address with its domain (after the last '@') lower-cased. */
char *userdb_address_normalize(pool_t *pool, const char *address);

/* Management, for the CLI. Inputs are validated again here. */
int userdb_domain_add(struct userdb *db, const char *domain, const char **error_r);
/* -1 if users or aliases of the domain remain. */
int userdb_domain_del(struct userdb *db, const char *domain, const char **error_r);
int userdb_domain_list(struct userdb *db, pool_t *pool, const char ***names_r,
		       unsigned *count_r, const char **error_r);
/* Adds the domain too. scram may be NULL (imported hash). 0: exists. */
int userdb_user_add(struct userdb *db, const char *address, const char *password_hash,
		    const struct password_scram *scram, const char **error_r);
int userdb_user_del(struct userdb *db, const char *address, const char **error_r);
/* 0: no such user. */
int userdb_user_set_password(struct userdb *db, const char *address,
			     const char *password_hash,
			     const struct password_scram *scram, const char **error_r);
/* The user added first (the lowest rowid): where postmaster mail goes
 * when nothing else is set. 1 found (*address_r from pool), 0 no users. */
int userdb_user_first(struct userdb *db, pool_t *pool, const char **address_r,
		      const char **error_r);
/* domain NULL: all users. */
int userdb_user_list(struct userdb *db, const char *domain, pool_t *pool,
		     const char ***addresses_r, unsigned *count_r, const char **error_r);

struct userdb_alias {
	const char *source, *target;
};
/* -1 if the source's domain is not local. 0: the pair exists. */
int userdb_alias_add(struct userdb *db, const char *source, const char *target,
		     const char **error_r);
/* target NULL: every target of source. 0: nothing matched. */
int userdb_alias_del(struct userdb *db, const char *source, const char *target,
		     const char **error_r);
int userdb_alias_list(struct userdb *db, pool_t *pool, struct userdb_alias **aliases_r,
		      unsigned *count_r, const char **error_r);

#endif
