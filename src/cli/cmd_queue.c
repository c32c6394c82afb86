/* cmd_queue.c: "postel queue": inspect and manage the outbound queue.
 *
 *   postel queue list        one line per entry:
 *                            ID DATE SIZE SENDER RECIPIENT[,RECIPIENT...]
 *                            or "queue is empty"
 *   postel queue show ID     the envelope, one "key: value" a line, an
 *                            empty line, then the message's header section
 *   postel queue delete ID...  remove entries (no bounce is sent)
 *   postel queue bounce ID...  fail the open recipients, send the sender
 *                            a DSN, remove (cmd_queue_bounce.c)
 *   postel queue flush | retry ID... | hold ID... | release ID...
 *                            when entries are sent (cmd_queue_control.c)
 *
 * IDs are the ones the 250 reply ("queued as ID") and the log (queue_id=)
 * show. list and show open the queue read-only: they never create
 * directories or run recovery, so they are safe next to a running server.
 * Values from the network are printed with non-printable bytes as \xNN,
 * so an address or a header cannot forge lines or terminal escapes.
 * Exit 1 for an unknown or invalid ID. */
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "queue/queue.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* the most of a message's header section "queue show" prints */
#define QUEUE_SHOW_HEADER_MAX (64 * 1024)

static void queue_usage(FILE *out)
{
	fputs("usage: postel queue list\n"
	      "       postel queue show ID\n"
	      "       postel queue delete ID...\n"
	      "       postel queue bounce ID...\n"
	      "       postel queue flush\n"
	      "       postel queue retry ID...\n"
	      "       postel queue hold ID...\n"
	      "       postel queue release ID...\n"
	      "\n"
	      "  list    show queued outbound mail, one line per entry:\n"
	      "          id, date queued (UTC), size in bytes, sender,\n"
	      "          recipients, and \"held\" for a held entry\n"
	      "  show    the envelope and the header section of one entry\n"
	      "  delete  remove entries for good (no bounce is sent)\n"
	      "  bounce  give up: the sender gets a DSN, the entry goes\n"
	      "  flush   every entry not held is due now; the running\n"
	      "          queue runner is told at once\n"
	      "  retry   these entries are due now (not held ones)\n"
	      "  hold    never send these until released, across restarts;\n"
	      "          one being sent finishes its current attempt\n"
	      "  release send held entries again, now\n", out);
}

/* space_ok: keep spaces and tabs (header text), else escape them too */
static void append_text(str_t *out, const char *data, size_t len, bool space_ok)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)data[i];
		if ((c > 0x20 && c < 0x7f && c != '\\') ||
		    (space_ok && (c == ' ' || c == '\t')))
			str_appendc(out, (char)c);
		else
			str_printf(out, "\\x%02x", c);
	}
}

static void append_printable(str_t *out, struct queue_str value)
{
	for (size_t i = 0; i < value.len; i++) {
		unsigned char c = (unsigned char)value.data[i];
		if (c > 0x20 && c < 0x7f && c != '\\')
			str_appendc(out, (char)c);
		else
			str_printf(out, "\\x%02x", c);
	}
}

static void format_date(time_t t, char date[32])
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(date, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(date, 32, "%lld", (long long)t);
}

static void format_entry(const struct queue_entry_info *entry, str_t *out)
{
	char date[32];
	format_date(entry->env.received, date);
	str_printf(out, "%s  %s  %llu  ", entry->id, date,
		   (unsigned long long)entry->size);
	if (entry->env.sender.len == 0)
		str_appendz(out, "<>");
	else
		append_printable(out, entry->env.sender);
	str_appendz(out, "  ");
	for (unsigned i = 0; i < entry->env.recipient_count; i++) {
		if (i > 0)
			str_appendc(out, ',');
		append_printable(out, entry->env.recipients[i].address);
	}
	str_appendz(out, entry->env.hold ? "  held\n" : "\n");
}

/* Issue 10 item 2: each recipient's state and the last attempt. */
static void format_recipient_state(const struct queue_recipient *r, str_t *out)
{
	char date[32];
	str_printf(out, "  state: %s", queue_rcpt_state_name(r->state));
	if (r->state == QUEUE_RCPT_DEFERRED ||
	    (r->state == QUEUE_RCPT_PENDING && r->next_attempt != 0)) {
		format_date(r->next_attempt, date);
		str_printf(out, " next-attempt=%s", date);
	}
	if (r->mx.data != NULL) {
		str_appendz(out, " mx=");
		append_printable(out, r->mx);
	}
	if (r->reply_code != 0 || r->reply_text.data != NULL) {
		str_appendz(out, " reply=\"");
		if (r->reply_code != 0)
			str_printf(out, "%u ", r->reply_code);
		if (r->reply_status.data != NULL) {
			append_printable(out, r->reply_status);
			str_appendc(out, ' ');
		}
		if (r->reply_text.data != NULL)
			append_text(out, r->reply_text.data, r->reply_text.len, true);
		str_appendc(out, '"');
	}
	str_appendc(out, '\n');
}

static void format_envelope(const struct queue_entry_info *entry, str_t *out)
{
	static const char *const bodies[] = { "7BIT", "8BITMIME", "BINARYMIME" };
	static const char *const rets[] = { "-", "FULL", "HDRS" };
	const struct queue_envelope *env = &entry->env;
	char date[32];
	format_date(env->received, date);
	str_printf(out, "id: %s\nqueued: %s\nsize: %llu\nsender: ", entry->id, date,
		   (unsigned long long)entry->size);
	if (env->sender.len == 0)
		str_appendz(out, "<>");
	else
		append_printable(out, env->sender);
	str_appendz(out, "\nauth-user: ");
	if (env->auth_user.data == NULL)
		str_appendc(out, '-');
	else
		append_printable(out, env->auth_user);
	str_appendz(out, "\nclient-ip: ");
	append_printable(out, env->client_ip);
	str_printf(out, "\nbody: %s\nsmtputf8: %s\nret: %s\n", bodies[env->body],
		   env->smtputf8 ? "yes" : "no", rets[env->dsn_ret]);
	if (env->requiretls)	/* RFC 8689 */
		str_appendz(out, "requiretls: yes\n");
	for (unsigned i = 0; i < env->recipient_count; i++) {
		const struct queue_recipient *r = &env->recipients[i];
		str_appendz(out, "recipient: ");
		append_printable(out, r->address);
		str_printf(out, " attempts=%u", r->attempts);
		if (r->orcpt.data != NULL) {
			str_appendz(out, " orcpt=");
			append_printable(out, r->orcpt);
		}
		str_appendc(out, '\n');
		format_recipient_state(r, out);
	}
	if (env->lease_owner.data != NULL) {
		format_date(env->lease_expires, date);
		str_appendz(out, "lease: ");
		append_printable(out, env->lease_owner);
		str_printf(out, " until %s\n", date);
	}
	if (env->delay_warned)
		str_appendz(out, "delay-warning: sent\n");
	/* issue 11 item 8: where it stands */
	if (env->hold)
		str_appendz(out, "hold: yes\n");
	str_appendz(out, env->lease_owner.data != NULL ? "status: being delivered\n" :
		    env->hold ? "status: held (postel queue release ID)\n" :
		    "status: waiting for the queue runner\n");
}

/* The header section of the message: up to the first empty line, cut at
 * QUEUE_SHOW_HEADER_MAX. One line per header line, LF-terminated. */
static int format_headers(int fd, str_t *out, const char **error_r)
{
	str_t head = STR_INIT;
	char buf[8192];
	while (head.len < QUEUE_SHOW_HEADER_MAX) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*error_r = t_printf("reading the message: %s", strerror(errno));
			str_free(&head);
			return -1;
		}
		if (n == 0)
			break;
		str_append(&head, buf, (size_t)n);
		if (memmem(head.data, head.len, "\n\r\n", 3) != NULL ||
		    memmem(head.data, head.len, "\n\n", 2) != NULL)
			break;
	}
	size_t pos = 0, end = head.len < QUEUE_SHOW_HEADER_MAX ? head.len : QUEUE_SHOW_HEADER_MAX;
	while (pos < end) {
		const char *nl = memchr(head.data + pos, '\n', end - pos);
		size_t line_end = nl != NULL ? (size_t)(nl - head.data) : end;
		size_t len = line_end - pos;
		if (len > 0 && head.data[pos + len - 1] == '\r')
			len--;
		if (len == 0)
			break; /* the empty line: end of the header section */
		append_text(out, head.data + pos, len, true);
		str_appendc(out, '\n');
		pos = line_end + 1;
	}
	str_free(&head);
	return 0;
}

bool queue_ids_valid(int count, char *const *ids)
{
	for (int i = 0; i < count; i++) {
		if (!queue_id_is_valid(ids[i])) {
			fprintf(stderr, "postel queue: invalid queue id \"%s\" (ids are %d hex "
				"digits, as \"postel queue list\" shows)\n", ids[i], QUEUE_ID_LEN);
			return false;
		}
	}
	return true;
}

/* 0, or -1 with the reason printed */
static int queue_read_entry(struct queue *q, const char *id, pool_t *pool,
			    struct queue_entry_info *entry_r)
{
	const char *error;
	errno = 0;
	if (queue_entry_read(q, id, pool, entry_r, &error) == 0)
		return 0;
	if (errno == ENOENT)
		fprintf(stderr, "postel queue: no queue entry %s\n", id);
	else
		fprintf(stderr, "postel queue: %s: %s\n", id, error);
	return -1;
}

static int queue_cmd_show(struct cli_ctx *ctx, char *const *argv)
{
	const char *id = argv[0];
	if (!queue_ids_valid(1, argv))
		return 1;
	struct queue *q;
	const char *error;
	if (queue_open_readonly(ctx->config->data_dir, &q, &error) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
		return 1;
	}
	pool_t *pool = pool_create(4096);
	struct queue_entry_info entry;
	str_t out = STR_INIT;
	int ret = 1, fd = -1;
	if (queue_read_entry(q, id, pool, &entry) < 0) {
		/* said */
	} else if ((fd = queue_message_open(q, id, &error)) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
	} else {
		format_envelope(&entry, &out);
		str_appendc(&out, '\n');
		ret = format_headers(fd, &out, &error) < 0 ? 1 : 0;
	}
	if (ret != 0 && fd >= 0) {
		fprintf(stderr, "postel queue: %s\n", error);
	} else if (fd >= 0) {
		fwrite(out.data, 1, out.len, stdout);
		ret = fflush(stdout) == 0 ? 0 : 1;
	}
	if (fd >= 0)
		close(fd);
	str_free(&out);
	pool_destroy(&pool);
	queue_close(&q);
	return ret;
}

struct queue *queue_cli_open(const struct cli_ctx *ctx)
{
	struct queue *q;
	const char *error;
	if (queue_open(ctx->config->data_dir, &q, &error) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
		return NULL;
	}
	return q;
}

static int queue_cmd_delete(struct cli_ctx *ctx, int argc, char **argv)
{
	struct queue *q;
	if (!queue_ids_valid(argc, argv) || (q = queue_cli_open(ctx)) == NULL)
		return 1;
	const char *error;
	pool_t *pool = pool_create(4096);
	int ret = 0;
	for (int i = 0; i < argc; i++) {
		struct queue_entry_info entry;
		if (queue_read_entry(q, argv[i], pool, &entry) < 0) {
			ret = 1;
		} else if (queue_remove(q, argv[i], &error) < 0) {
			fprintf(stderr, "postel queue: %s: %s\n", argv[i], error);
			ret = 1;
		} else {
			printf("deleted %s\n", argv[i]);
		}
	}
	pool_destroy(&pool);
	queue_close(&q);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}

static int queue_cmd_list(struct cli_ctx *ctx)
{
	struct queue *q;
	const char *error;
	if (queue_open_readonly(ctx->config->data_dir, &q, &error) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
		return 1;
	}
	pool_t *pool = pool_create(65536);
	struct queue_entry_info *entries;
	unsigned count;
	int ret = 0;
	if (queue_list(q, pool, &entries, &count, &error) < 0) {
		fprintf(stderr, "postel queue: %s\n", error);
		ret = 1;
	} else if (count == 0) {
		puts("queue is empty");
	} else {
		str_t line = STR_INIT;
		for (unsigned i = 0; i < count; i++) {
			str_clear(&line);
			format_entry(&entries[i], &line);
			fwrite(line.data, 1, line.len, stdout);
		}
		str_free(&line);
	}
	pool_destroy(&pool);
	queue_close(&q);
	if (fflush(stdout) != 0)
		ret = 1;
	return ret;
}

int cmd_queue(struct cli_ctx *ctx, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			queue_usage(stdout);
			return 0;
		}
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return queue_cmd_list(ctx);
	if (argc == 3 && strcmp(argv[1], "show") == 0)
		return queue_cmd_show(ctx, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "delete") == 0)
		return queue_cmd_delete(ctx, argc - 2, argv + 2);
	if (argc >= 3 && strcmp(argv[1], "bounce") == 0)
		return queue_cmd_bounce(ctx, argc - 2, argv + 2);
	if (argc == 2 && strcmp(argv[1], "flush") == 0)
		return queue_cmd_flush(ctx);
	static const struct { const char *name; enum queue_control_op op; } ops[] = {
		{ "retry", QUEUE_CONTROL_RETRY }, { "hold", QUEUE_CONTROL_HOLD },
		{ "release", QUEUE_CONTROL_RELEASE },
	};
	for (size_t i = 0; argc >= 3 && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(argv[1], ops[i].name) == 0)
			return queue_cmd_control(ctx, (int)ops[i].op, argc - 2, argv + 2);
	}
	if (argc >= 2)
		fprintf(stderr, "postel queue: unknown command or extra "
			"arguments: %s\n", argv[1]);
	queue_usage(stderr);
	return 2;
}
