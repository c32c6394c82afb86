/* userdb_resolve.c: recipient resolution, userdb_resolve_rcpt() of
 * userdb.h. A depth-first walk over aliases with a list of addresses
 * already expanded (loops and duplicates end there). Per address: an
 * alias of the exact address, else a user, else the domain's catch-all. */
#include "auth/userdb_private.h"
#include "lib/log.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Recipient resolution state: the results and every address already
 * expanded (dedup and loop protection). Arrays are heap, strings pool. */
struct userdb_resolve {
	struct userdb *db;
	pool_t *pool;
	struct userdb_target *targets;
	unsigned count, alloc;
	const char **seen;
	unsigned seen_count, seen_alloc;
	const char *error;
};

/* 1 if address was expanded before, else remember it: 0, or -1 when the
 * expansion visits too many addresses. */
static int userdb_resolve_seen(struct userdb_resolve *ctx, const char *address)
{
	for (unsigned i = 0; i < ctx->seen_count; i++) {
		if (strcasecmp(ctx->seen[i], address) == 0)
			return 1;
	}
	if (ctx->seen_count >= USERDB_MAX_TARGETS * 4) {
		ctx->error = t_printf("aliases expand to more than %d addresses",
				      USERDB_MAX_TARGETS * 4);
		return -1;
	}
	if (ctx->seen_count == ctx->seen_alloc) {
		ctx->seen_alloc = ctx->seen_alloc == 0 ? 16 : ctx->seen_alloc * 2;
		ctx->seen = xrealloc(ctx->seen, ctx->seen_alloc * sizeof(*ctx->seen));
	}
	ctx->seen[ctx->seen_count++] = address;
	return 0;
}

static int userdb_resolve_add(struct userdb_resolve *ctx, const char *address, bool local)
{
	for (unsigned i = 0; i < ctx->count; i++) {
		if (strcasecmp(ctx->targets[i].address, address) == 0)
			return 0;
	}
	if (ctx->count >= USERDB_MAX_TARGETS) {
		ctx->error = t_printf("aliases expand to more than %d targets",
				      USERDB_MAX_TARGETS);
		return -1;
	}
	if (ctx->count == ctx->alloc) {
		ctx->alloc = ctx->alloc == 0 ? 8 : ctx->alloc * 2;
		ctx->targets = xrealloc(ctx->targets, ctx->alloc * sizeof(*ctx->targets));
	}
	ctx->targets[ctx->count].address = address;
	ctx->targets[ctx->count].local = local;
	ctx->count++;
	return 0;
}

/* The targets of an alias source, read fully before the caller recurses
 * (the cached statement is reused below). */
static int userdb_alias_targets(struct userdb_resolve *ctx, const char *source,
				const char ***targets_r, unsigned *count_r)
{
	sqlite3_stmt *stmt = userdb_stmt(ctx->db, USERDB_STMT_ALIAS_TARGETS, &ctx->error);
	const char **targets = NULL;
	unsigned count = 0, alloc = 0;
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, source, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (count == USERDB_MAX_TARGETS) {
			sqlite3_reset(stmt);
			free(targets);
			ctx->error = t_printf("alias %s has more than %d targets",
					      log_str(source), USERDB_MAX_TARGETS);
			return -1;
		}
		if (count == alloc) {
			alloc = alloc == 0 ? 8 : alloc * 2;
			targets = xrealloc(targets, alloc * sizeof(*targets));
		}
		targets[count++] = userdb_address_normalize(ctx->pool,
			(const char *)sqlite3_column_text(stmt, 0));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(targets);
		return userdb_sql_error(ctx->db, "accounts.db", &ctx->error);
	}
	*targets_r = targets;
	*count_r = count;
	return 0;
}

static int userdb_resolve_address(struct userdb_resolve *ctx, const char *address,
				  unsigned depth);

static int userdb_resolve_list(struct userdb_resolve *ctx, const char *source,
			       const char *self, unsigned depth, bool *found_r)
{
	const char **targets = NULL, *canonical;
	unsigned count = 0;
	int ret = 0;

	if (userdb_alias_targets(ctx, source, &targets, &count) < 0)
		return -1;
	*found_r = count > 0;
	for (unsigned i = 0; i < count && ret == 0; i++) {
		if (self != NULL && strcasecmp(targets[i], self) == 0) {
			/* "a -> a, b": keep a copy in a's own mailbox */
			ret = userdb_user_address(ctx->db, self, ctx->pool, &canonical,
						  &ctx->error);
			if (ret > 0)
				ret = userdb_resolve_add(ctx, canonical, true);
		} else {
			ret = userdb_resolve_address(ctx, targets[i], depth + 1);
		}
	}
	free(targets);
	return ret < 0 ? -1 : 0;
}

/* address has its domain lower-cased. Adds what it resolves to. */
static int userdb_resolve_address(struct userdb_resolve *ctx, const char *address,
				  unsigned depth)
{
	const char *at = strrchr(address, '@'), *canonical;
	bool found;
	int ret;

	if (depth > USERDB_ALIAS_MAX_DEPTH) {
		ctx->error = t_printf("aliases nested deeper than %d levels at %s",
				      USERDB_ALIAS_MAX_DEPTH, log_str(address));
		return -1;
	}
	ret = userdb_resolve_seen(ctx, address);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	if (at == NULL || at == address)
		return 0;
	ret = userdb_query_exists(ctx->db, USERDB_STMT_DOMAIN_EXISTS, at + 1, NULL,
				  &ctx->error);
	if (ret <= 0)
		return ret < 0 ? -1 : userdb_resolve_add(ctx, address, false);

	/* an alias of the exact address wins over a user of that name */
	if (userdb_resolve_list(ctx, address, address, depth, &found) < 0)
		return -1;
	if (found)
		return 0;
	ret = userdb_user_address(ctx->db, address, ctx->pool, &canonical, &ctx->error);
	if (ret != 0)
		return ret < 0 ? -1 : userdb_resolve_add(ctx, canonical, true);
	/* the catch-all "@domain", only when nothing exact exists */
	if (userdb_resolve_list(ctx, at, NULL, depth, &found) < 0)
		return -1;
	if (!found && depth > 0)
		log_warn("event=alias_target_unknown target=%s", log_str(address));
	return 0;
}

int userdb_resolve_rcpt(struct userdb *db, const char *address, pool_t *pool,
			struct userdb_target **targets_r, unsigned *count_r,
			const char **error_r)
{
	struct userdb_resolve ctx = { .db = db, .pool = pool };
	const char *normalized = userdb_address_normalize(pool, address);
	const char *at = strrchr(normalized, '@');
	int ret;

	*targets_r = NULL;
	*count_r = 0;
	if (at == NULL || at == normalized)
		return 0;
	ret = userdb_resolve_address(&ctx, normalized, 0);
	if (ret == 0 && ctx.count > 0) {
		*targets_r = pool_alloc(pool, ctx.count * sizeof(**targets_r));
		memcpy(*targets_r, ctx.targets, ctx.count * sizeof(**targets_r));
		*count_r = ctx.count;
		ret = 1;
	}
	if (ret < 0)
		*error_r = ctx.error;
	free(ctx.targets);
	free(ctx.seen);
	return ret;
}
