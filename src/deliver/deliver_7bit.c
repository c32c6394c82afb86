/* deliver_7bit.c: sign and queue the 7-bit copy (deliver_7bit.h).
 *
 * The converter is streamed twice over the same input, once into the
 * signer and once into the queue file: it is deterministic, so both see
 * the same octets, and memory stays bounded whatever the message size. */
#include "deliver/deliver_7bit.h"
#include "dkim/dkim_deliver.h"
#include "mime/mime_7bit.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DELIVER_7BIT_CHUNK (64 * 1024)

/* d->prefix, then the message, as one read(2)-like source */
struct deliver_src {
	const struct local_delivery *d;
	uint64_t pos;   /* in prefix + message */
};

static ssize_t deliver_src_read(void *ctx, void *buf, size_t size)
{
	struct deliver_src *s = ctx;
	const struct local_delivery *d = s->d;
	uint64_t plen = d->prefix.len;
	if (s->pos < plen) {
		size_t n = plen - s->pos < size ? (size_t)(plen - s->pos) : size;
		memcpy(buf, d->prefix.data + s->pos, n);
		s->pos += n;
		return (ssize_t)n;
	}
	uint64_t off = s->pos - plen;
	if (off >= d->msg_size)
		return 0;
	size_t n = d->msg_size - off < size ? (size_t)(d->msg_size - off) : size;
	if (d->msg_fd < 0) {
		memcpy(buf, d->msg_mem + off, n);
	} else {
		ssize_t r;
		do
			r = pread(d->msg_fd, buf, n, (off_t)off);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return -1;
		n = (size_t)r;
	}
	s->pos += n;
	return (ssize_t)n;
}

/* the converter's output, noting whether an 8-bit octet is left (header
 * text: the converter passes header fields as they are) */
struct deliver_conv {
	struct mime_7bit *conv;
	bool eightbit;
};

static ssize_t deliver_conv_read(void *ctx, void *buf, size_t size)
{
	struct deliver_conv *c = ctx;
	ssize_t n = mime_7bit_read(c->conv, buf, size);
	const unsigned char *p = buf;
	for (ssize_t i = 0; i < n && !c->eightbit; i++)
		c->eightbit = p[i] >= 0x80;
	return n;
}

bool deliver_7bit_sign(struct local_delivery *d, str_t *sig)
{
	if (d->env.body != QUEUE_BODY_7BIT && !d->env.smtputf8) {
		struct deliver_src src = { d, 0 };
		struct deliver_conv c = { mime_7bit_new(deliver_src_read, &src), false };
		int ret = dkim_deliver_sign_read(d->sid, d->data_dir, d->sender,
						 deliver_conv_read, &c, sig);
		const char *why = mime_7bit_error(c.conv);
		mime_7bit_free(&c.conv);
		/* 8-bit header text left: BODY stays 8BITMIME (the runner's
		 * converter passes the now 7-bit parts unchanged) */
		if (ret > 0 && !c.eightbit)
			d->env.body = QUEUE_BODY_7BIT;
		if (ret != -2)
			return ret > 0;
		log_info("sid=%s event=dkim_7bit_skipped reason=%s", d->sid,
			 log_str(why != NULL ? why : "reading the message failed"));
	}
	(void)dkim_deliver_sign(d->sid, d->data_dir, d->sender, &d->prefix,
				d->msg_fd, d->msg_mem, d->msg_size, sig);
	return false;
}

int deliver_7bit_write(struct local_delivery *d, const str_t *sig,
		       struct queue_writer *qw, const char **error_r)
{
	if (queue_writer_write(qw, sig->data, sig->len, error_r) < 0)
		return -1;
	struct deliver_src src = { d, 0 };
	struct mime_7bit *conv = mime_7bit_new(deliver_src_read, &src);
	char *buf = xmalloc(DELIVER_7BIT_CHUNK);
	ssize_t n;
	int ret = 0;
	while ((n = mime_7bit_read(conv, buf, DELIVER_7BIT_CHUNK)) > 0) {
		if (queue_writer_write(qw, buf, (size_t)n, error_r) < 0) {
			ret = -1;
			break;
		}
	}
	if (n < 0) {
		/* converted once already for the signature: only a file
		 * error can get here */
		const char *why = mime_7bit_error(conv);
		*error_r = t_printf("converting the message to 7 bit failed: %s",
				    why != NULL ? why : "reading the message failed");
		ret = -1;
	}
	free(buf);
	mime_7bit_free(&conv);
	return ret;
}
