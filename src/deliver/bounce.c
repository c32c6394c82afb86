/* bounce.c: a DSN for a queue entry, delivered as mail (bounce.h). */
#include "deliver/bounce.h"
#include "deliver/local_deliver.h"
#include "auth/userdb.h"
#include "lib/log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* At most QUEUE_DSN_MAX_ORIGINAL bytes of the queued message. */
static int read_original(int fd, uint64_t size, str_t *out, const char **error_r)
{
	size_t want = size < QUEUE_DSN_MAX_ORIGINAL ? (size_t)size : QUEUE_DSN_MAX_ORIGINAL;
	char *buf = xmalloc(want + 1);
	size_t got = 0;
	while (got < want) {
		ssize_t n = pread(fd, buf + got, want - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ? "queued message shorter than its envelope says" :
				t_printf("reading the queued message: %s", strerror(errno));
			free(buf);
			return -1;
		}
		got += (size_t)n;
	}
	str_append(out, buf, got);
	free(buf);
	return 0;
}

/* The sender's local mailboxes and remote addresses. */
static int bounce_route(const struct bounce_context *ctx, const char *sender, pool_t *pool,
			struct local_delivery *d, const char **error_r)
{
	struct userdb_target *targets;
	unsigned count;
	int ret = userdb_resolve_rcpt(ctx->userdb, sender, pool, &targets, &count, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		/* a local domain without that user: nowhere to send it */
		log_warn("sid=%s event=dsn_dropped sender=%s reason=\"no such local address\"",
			 ctx->sid, log_str(sender));
		return 0;
	}
	d->local = pool_alloc(pool, (count + 1) * sizeof(*d->local));
	d->env.recipients = pool_alloc(pool, (count + 1) * sizeof(*d->env.recipients));
	for (unsigned i = 0; i < count; i++) {
		if (targets[i].local) {
			d->local[d->nlocal++] = targets[i].address;
		} else {
			struct queue_recipient *r = &d->env.recipients[d->env.recipient_count++];
			memset(r, 0, sizeof(*r));
			r->address = queue_str_c(targets[i].address);
			r->notify = QUEUE_NOTIFY_NEVER;
		}
	}
	return 1;
}

int bounce_entry(const struct bounce_context *ctx, struct queue_entry_info *entry,
		 int msg_fd, enum queue_dsn_kind kind, pool_t *pool,
		 char dsn_queue_id_r[QUEUE_ID_MAX], const char **error_r)
{
	struct queue_envelope *env = &entry->env;
	dsn_queue_id_r[0] = '\0';
	str_t original = STR_INIT, dsn = STR_INIT;
	if (read_original(msg_fd, entry->size, &original, error_r) < 0)
		return -1;
	bool *included = pool_alloc(pool, env->recipient_count * sizeof(*included));
	struct queue_dsn_input in = {
		.kind = kind, .hostname = ctx->hostname, .queue_id = entry->id, .env = env,
		.now = ctx->now, .retry_until = ctx->retry_until,
		.original = original.data != NULL ? original.data : "",
		.original_len = original.len, .original_size = entry->size,
	};
	int ret = queue_dsn_build(&in, &dsn, included);
	struct local_delivery d = {
		.sid = ctx->sid, .data_dir = ctx->data_dir, .committer = ctx->committer,
		.msg_fd = -1, .msg_mem = dsn.data, .msg_size = dsn.len, .sender = "",
		.env = { .sender = queue_str_c(""), .received = ctx->now, .body = env->body,
			 .smtputf8 = env->smtputf8 },
	};
	if (ret == 1)
		ret = bounce_route(ctx, env->sender.data, pool, &d, error_r);
	if (ret == 1) {
		local_deliver_run(&d);
		if (d.failed) {
			*error_r = t_printf("%s", d.error);
			ret = -1;
		} else if (d.loop) {
			*error_r = "the DSN would loop (Delivered-To)";
			ret = -1;
		}
	}
	if (ret == 1) {
		memcpy(dsn_queue_id_r, d.queue_id, QUEUE_ID_MAX);
		for (unsigned i = 0; i < env->recipient_count; i++) {
			if (included[i] && kind != QUEUE_DSN_DELAY)
				env->recipients[i].notified = true;
		}
		if (kind == QUEUE_DSN_DELAY)
			env->delay_warned = true;
		log_info("sid=%s event=dsn kind=%s queue_id=%s sender=%s local=%u remote=%u "
			 "dsn_queue_id=%s", ctx->sid, kind == QUEUE_DSN_FAILURE ? "failure" :
			 kind == QUEUE_DSN_SUCCESS ? "success" : "delay",
			 entry->id, log_value(env->sender.data, env->sender.len), d.nlocal,
			 d.env.recipient_count, d.queue_id[0] != '\0' ? d.queue_id : "-");
	}
	local_delivery_deinit(&d);
	str_free(&dsn);
	str_free(&original);
	return ret;
}
