/* cmd_queue.c: "postel queue": inspect the outbound queue.
 *
 *   postel queue list   one line per entry:
 *                       ID DATE SIZE SENDER RECIPIENT[,RECIPIENT...]
 *                       or "queue is empty"
 *
 * The queue is opened read-only: listing never creates directories or
 * runs recovery, so it is safe as root next to a running server. Values
 * from the network are printed with non-printable bytes as \xNN, so an
 * address cannot forge lines or terminal escapes. */
#include "cli/commands.h"
#include "lib/config.h"
#include "lib/mem.h"
#include "lib/str.h"
#include "queue/queue.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void queue_usage(FILE *out)
{
	fputs("usage: postel queue list\n"
	      "\n"
	      "  list    show queued outbound mail, one line per entry:\n"
	      "          id, date queued (UTC), size in bytes, sender,\n"
	      "          recipients\n", out);
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

static void format_entry(const struct queue_entry_info *entry, str_t *out)
{
	char date[32];
	struct tm tm;
	time_t received = entry->env.received;
	if (gmtime_r(&received, &tm) == NULL ||
	    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(date, sizeof(date), "%lld", (long long)received);
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
	str_appendc(out, '\n');
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
	if (argc >= 2)
		fprintf(stderr, "postel queue: unknown command or extra "
			"arguments: %s\n", argv[1]);
	queue_usage(stderr);
	return 2;
}
