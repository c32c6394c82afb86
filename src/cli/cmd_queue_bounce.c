/* cmd_queue_bounce.c: "postel queue bounce ID...": give up on entries now.
 *
 * Every recipient still pending or deferred becomes failed ("5.0.0
 * bounced by the administrator"), one failure DSN (RFC 3464,
 * deliver/bounce.h) goes to the sender (its INBOX when local, else a new
 * queue entry with MAIL FROM:<>), then the entry is removed. The entry is
 * leased first (owner "cli-PID"), so a queue runner that is sending it
 * right now is not raced; a leased entry is refused with exit 1. */
#include "cli/commands.h"
#include "auth/userdb.h"
#include "deliver/bounce.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "store/store_committer.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BOUNCE_LEASE_SECS 300

static int bounce_one(struct queue *q, const struct bounce_context *bctx, const char *id,
		      pool_t *pool)
{
	const char *owner = t_printf("cli-%ld", (long)getpid());
	struct queue_entry_info entry;
	const char *error = NULL;
	int fd = -1, ret = queue_lease(q, id, owner, bctx->now, BOUNCE_LEASE_SECS, pool,
				       &entry, &error);
	if (ret == 0) {
		fprintf(stderr, "postel queue: %s: being delivered right now, try again\n", id);
		return 1;
	}
	if (ret < 0 || (fd = queue_message_open(q, id, &error)) < 0) {
		fprintf(stderr, "postel queue: %s: %s\n", id, error);
		return 1;
	}
	for (unsigned i = 0; i < entry.env.recipient_count; i++) {
		struct queue_recipient *r = &entry.env.recipients[i];
		if (r->state != QUEUE_RCPT_PENDING && r->state != QUEUE_RCPT_DEFERRED)
			continue;
		r->state = QUEUE_RCPT_FAILED;
		r->reply_status = queue_str_c("5.0.0");
		r->reply_text = queue_str_c("bounced by the administrator");
	}
	char dsn_id[QUEUE_ID_MAX];
	ret = bounce_entry(bctx, &entry, fd, QUEUE_DSN_FAILURE, pool, dsn_id, &error);
	close(fd);
	if (ret < 0) {
		fprintf(stderr, "postel queue: %s: sending the DSN failed: %s\n", id, error);
		/* leave the entry as it was, without the lease */
		(void)queue_lease_update(q, id, owner, &entry.env, entry.size, true, &error);
		return 1;
	}
	if (queue_remove(q, id, &error) < 0) {
		fprintf(stderr, "postel queue: %s: %s\n", id, error);
		return 1;
	}
	if (ret == 0)
		printf("bounced %s (no DSN: %s)\n", id,
		       entry.env.sender.len == 0 ? "null sender" : "not requested");
	else if (dsn_id[0] != '\0')
		printf("bounced %s (DSN queued as %s)\n", id, dsn_id);
	else
		printf("bounced %s (DSN delivered)\n", id);
	return 0;
}

int queue_cmd_bounce(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct config *config = ctx->config;
	struct queue *q = NULL;
	struct userdb *db = NULL;
	struct store_committer *committer = NULL;
	const char *error;
	if (queue_open(config->data_dir, &q, &error) < 0 ||
	    userdb_open(config->data_dir, &db, &error) < 0 ||
	    store_committer_create(config->data_dir, &committer, &error) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
		if (db != NULL)
			userdb_close(&db);
		if (q != NULL)
			queue_close(&q);
		return 1;
	}
	queue_lease_held_entries(q); /* a held entry can be bounced */
	struct bounce_context bctx = {
		.sid = "cli", .data_dir = config->data_dir, .hostname = config->hostname,
		.committer = committer, .userdb = db, .now = time(NULL),
	};
	pool_t *pool = pool_create(8192);
	int ret = 0;
	for (int i = 0; i < argc; i++) {
		if (!queue_id_is_valid(argv[i])) {
			fprintf(stderr, "postel queue: invalid queue id \"%s\"\n", argv[i]);
			ret = 1;
		} else if (bounce_one(q, &bctx, argv[i], pool) != 0) {
			ret = 1;
		}
		pool_clear(pool);
	}
	pool_destroy(&pool);
	store_committer_destroy(&committer);
	userdb_close(&db);
	queue_close(&q);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}
