/* dkim_deliver.c: sign a message about to be queued (dkim_deliver.h). */
#include "dkim/dkim_deliver.h"
#include "dkim/dkim_key_cache.h"
#include "dkim/dkim_sign.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static int feed_message(struct dkim_sign *ds, const str_t *prefix, int msg_fd,
			const char *msg_mem, uint64_t msg_size, const char **error_r)
{
	dkim_sign_feed(ds, prefix->data, prefix->len);
	if (msg_fd < 0) {
		dkim_sign_feed(ds, msg_mem, msg_size);
		return 0;
	}
	char *buf = xmalloc(DKIM_DELIVER_CHUNK);
	uint64_t off = 0;
	int ret = 0;
	while (off < msg_size) {
		uint64_t want = msg_size - off;
		ssize_t n = pread(msg_fd, buf, want < DKIM_DELIVER_CHUNK ? want :
				  DKIM_DELIVER_CHUNK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*error_r = n == 0 ? "message file shorter than the message" :
				t_printf("reading the message failed: %s", strerror(errno));
			ret = -1;
			break;
		}
		dkim_sign_feed(ds, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	return ret;
}

/* The signing once ds holds the message (fed < 0: reading it failed with
 * error); frees ds. */
static int sign_fed(struct dkim_sign *ds, int fed, const char *error,
		    const char *sid, const char *data_dir, const char *sender, str_t *out)
{
	const char *at = strrchr(sender, '@');
	const struct dkim_key *keys = NULL;
	unsigned count = 0;
	const char *domain = NULL;
	int ret = 0;
	if (fed < 0) {
		ret = -1;
	} else if (dkim_sign_from_domain(ds, &domain, &error) < 0) {
		log_info("sid=%s event=dkim_skipped reason=%s", sid, log_str(error));
	} else if (at == NULL || strcasecmp(at + 1, domain) != 0) {
		log_info("sid=%s event=dkim_skipped domain=%s reason=\"From: domain is not "
			 "the sender's\"", sid, domain);
	} else if (dkim_key_cache_get(data_dir, domain, &keys, &count, &error) < 0) {
		ret = -1;
	} else if (count == 0) {
		log_debug("sid=%s event=dkim_skipped domain=%s reason=no_key", sid, domain);
	}
	time_t now = time(NULL);
	size_t start = out->len;
	for (unsigned i = 0; i < count && ret >= 0; i++) {
		if (dkim_sign_field(ds, &keys[i], now, out, &error) < 0) {
			str_truncate(out, start);
			ret = -1;
			break;
		}
		log_info("sid=%s event=dkim_signed domain=%s selector=%s algorithm=%s-sha256",
			 sid, keys[i].domain, keys[i].selector,
			 dkim_key_type_name(keys[i].type));
		ret = 1;
	}
	if (ret < 0)
		log_error("sid=%s event=dkim_failed domain=%s error=%s", sid,
			  domain != NULL ? domain : "-", log_str(error));
	dkim_sign_free(&ds);
	return ret;
}

int dkim_deliver_sign(const char *sid, const char *data_dir, const char *sender,
		      const str_t *prefix, int msg_fd, const char *msg_mem,
		      uint64_t msg_size, str_t *out)
{
	struct dkim_sign *ds = dkim_sign_begin();
	const char *error = NULL;
	int fed = feed_message(ds, prefix, msg_fd, msg_mem, msg_size, &error);
	return sign_fed(ds, fed, error, sid, data_dir, sender, out);
}

int dkim_deliver_sign_read(const char *sid, const char *data_dir, const char *sender,
			   dkim_deliver_read_fn *read, void *ctx, str_t *out)
{
	struct dkim_sign *ds = dkim_sign_begin();
	char *buf = xmalloc(DKIM_DELIVER_CHUNK);
	ssize_t n;
	while ((n = read(ctx, buf, DKIM_DELIVER_CHUNK)) > 0)
		dkim_sign_feed(ds, buf, (size_t)n);
	free(buf);
	if (n < 0) {
		dkim_sign_free(&ds);
		return -2;
	}
	return sign_fed(ds, 0, NULL, sid, data_dir, sender, out);
}
