/* channel.c: see channel.h. The codec is a fixed field list per message
 * type over a small cursor that refuses to read or write out of bounds;
 * the transport reads at most one buffer per wakeup (the loop is
 * level-triggered) and decodes every whole frame in it. */
#include "channel.h"
#include "ioloop.h"
#include "mem.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct cursor {
	unsigned char *w;       /* encoding: output */
	const unsigned char *r; /* decoding: input */
	size_t pos, size;
	bool failed;
};

static bool cursor_room(struct cursor *c, size_t n)
{
	if (c->failed || c->size - c->pos < n) {
		c->failed = true;
		return false;
	}
	return true;
}

static void put_uint(struct cursor *c, uint64_t v, unsigned bytes)
{
	if (!cursor_room(c, bytes))
		return;
	for (unsigned i = 0; i < bytes; i++)
		c->w[c->pos + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	c->pos += bytes;
}

static uint64_t get_uint(struct cursor *c, unsigned bytes)
{
	uint64_t v = 0;
	if (!cursor_room(c, bytes))
		return 0;
	for (unsigned i = 0; i < bytes; i++)
		v = (v << 8) | c->r[c->pos + i];
	c->pos += bytes;
	return v;
}

static bool str_valid(const char *s, size_t len)
{
	if (len == 0 || len > CHANNEL_STR_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
	}
	return true;
}

static void put_str(struct cursor *c, const char *s)
{
	size_t len = strnlen(s, CHANNEL_STR_MAX + 1);
	if (!str_valid(s, len)) {
		c->failed = true;
		return;
	}
	put_uint(c, len, 2);
	if (!cursor_room(c, len))
		return;
	memcpy(c->w + c->pos, s, len);
	c->pos += len;
}

static void get_str(struct cursor *c, char out[CHANNEL_STR_MAX + 1])
{
	size_t len = (size_t)get_uint(c, 2);
	out[0] = '\0';
	if (c->failed || !cursor_room(c, len))
		return;
	if (!str_valid((const char *)c->r + c->pos, len)) {
		c->failed = true;
		return;
	}
	memcpy(out, c->r + c->pos, len);
	out[len] = '\0';
	c->pos += len;
}

/* The field list of each type, both ways: one place to read. */
static bool msg_fields(struct cursor *c, struct channel_msg *m, bool encode)
{
#define U(field, bytes) do { if (encode) put_uint(c, m->field, bytes); \
		else m->field = (__typeof__(m->field))get_uint(c, bytes); } while (0)
#define S(field) do { if (encode) put_str(c, m->field); \
		else get_str(c, m->field); } while (0)
	switch (m->type) {
	case CHANNEL_MSG_HELLO:
		U(kind, 2);
		U(generation, 4);
		break;
	case CHANNEL_MSG_MAILBOX_CHANGED:
		S(user);
		S(mailbox);
		U(modseq, 8);
		break;
	case CHANNEL_MSG_QUEUE_ENTRY_COMMITTED:
		S(queue_id);
		break;
	default:
		return false;
	}
#undef U
#undef S
	return !c->failed;
}

const char *channel_msg_type_name(enum channel_msg_type type)
{
	switch (type) {
	case CHANNEL_MSG_HELLO: return "hello";
	case CHANNEL_MSG_MAILBOX_CHANGED: return "mailbox_changed";
	case CHANNEL_MSG_QUEUE_ENTRY_COMMITTED: return "queue_entry_committed";
	}
	return "unknown";
}

int channel_frame_encode(const struct channel_msg *msg, unsigned char *buf,
			 size_t size, size_t *len_r, const char **error_r)
{
	if (size > CHANNEL_FRAME_MAX)
		size = CHANNEL_FRAME_MAX;
	struct cursor c = { .w = buf, .size = size, .pos = CHANNEL_HEADER_SIZE };
	if (size < CHANNEL_HEADER_SIZE) {
		*error_r = "buffer smaller than a frame header";
		return -1;
	}
	struct channel_msg copy = *msg;
	if (!msg_fields(&c, &copy, true)) {
		*error_r = t_printf("cannot encode %s: a field is invalid or too long",
				    channel_msg_type_name(msg->type));
		return -1;
	}
	size_t len = c.pos;
	c.pos = 0;
	put_uint(&c, len - CHANNEL_HEADER_SIZE, 4);
	put_uint(&c, (uint64_t)msg->type, 2);
	put_uint(&c, 0, 2);
	*len_r = len;
	return 0;
}

int channel_frame_decode(const unsigned char *data, size_t len,
			 struct channel_msg *msg_r, size_t *used_r,
			 const char **error_r)
{
	if (len < CHANNEL_HEADER_SIZE)
		return 0;
	struct cursor c = { .r = data, .size = CHANNEL_HEADER_SIZE };
	uint32_t plen = (uint32_t)get_uint(&c, 4);
	uint16_t type = (uint16_t)get_uint(&c, 2);
	uint16_t flags = (uint16_t)get_uint(&c, 2);
	if (plen > CHANNEL_PAYLOAD_MAX) {
		*error_r = t_printf("frame of %u bytes over the limit of %u",
				    plen, CHANNEL_PAYLOAD_MAX);
		return -1;
	}
	if (flags != 0) {
		*error_r = "frame with unknown flags";
		return -1;
	}
	if (type < CHANNEL_MSG_HELLO || type > CHANNEL_MSG_QUEUE_ENTRY_COMMITTED) {
		*error_r = t_printf("frame of unknown type %u", type);
		return -1;
	}
	if (len - CHANNEL_HEADER_SIZE < plen)
		return 0;
	memset(msg_r, 0, sizeof(*msg_r));
	msg_r->type = (enum channel_msg_type)type;
	c.size = CHANNEL_HEADER_SIZE + plen;
	if (!msg_fields(&c, msg_r, false)) {
		*error_r = t_printf("malformed %s frame", channel_msg_type_name(type));
		return -1;
	}
	if (c.pos != c.size) {
		*error_r = t_printf("%zu bytes left over in a %s frame",
				    c.size - c.pos, channel_msg_type_name(type));
		return -1;
	}
	*used_r = c.size;
	return 1;
}

int channel_pair(int fds_r[2], const char **error_r)
{
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       fds_r) < 0) {
		*error_r = t_printf("socketpair failed: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct channel {
	struct ioloop *loop;
	int fd;
	struct io *io;
	channel_msg_callback_t *on_msg;
	channel_closed_callback_t *on_closed;
	void *ctx;
	bool closed;
	bool *destroyed; /* set while a callback runs */
	unsigned char in[CHANNEL_FRAME_MAX];
	size_t in_len;
	unsigned char *out; /* CHANNEL_OUTBUF_MAX, allocated on first need */
	size_t out_start, out_end;
};

/* Stop reading and writing, and tell the owner once. Returns false if
 * the owner destroyed the channel in its callback. */
static bool channel_fail(struct channel *c, const char *reason)
{
	if (c->closed)
		return true;
	c->closed = true;
	io_remove(&c->io);
	bool destroyed = false;
	c->destroyed = &destroyed;
	c->on_closed(reason, c->ctx);
	if (destroyed)
		return false;
	c->destroyed = NULL;
	return true;
}

static void channel_update_io(struct channel *c)
{
	if (c->io != NULL)
		io_set_conds(c->io, IO_READ | (c->out_end > c->out_start ? IO_WRITE : 0));
}

/* Write what is queued; false if the channel failed (and maybe is gone). */
static bool channel_flush(struct channel *c)
{
	while (c->out_end > c->out_start) {
		ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			(void)channel_fail(c, t_printf("write failed: %s",
						       n < 0 ? strerror(errno) : "no progress"));
			return false; /* c may be gone */
		}
		c->out_start += (size_t)n;
	}
	if (c->out_start == c->out_end)
		c->out_start = c->out_end = 0;
	channel_update_io(c);
	return true;
}

static void channel_read(struct channel *c)
{
	ssize_t n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		(void)channel_fail(c, n == 0 ? (c->in_len > 0 ? "end of file inside a frame" :
						"peer closed") :
				   t_printf("read failed: %s", strerror(errno)));
		return;
	}
	c->in_len += (size_t)n;
	size_t pos = 0;
	bool destroyed = false;
	c->destroyed = &destroyed;
	while (!c->closed) {
		struct channel_msg msg;
		size_t used;
		const char *error;
		int ret = channel_frame_decode(c->in + pos, c->in_len - pos, &msg, &used, &error);
		if (ret == 0)
			break;
		if (ret < 0) {
			c->destroyed = NULL;
			(void)channel_fail(c, error);
			return;
		}
		pos += used;
		c->on_msg(&msg, c->ctx);
		if (destroyed)
			return;
	}
	c->destroyed = NULL;
	memmove(c->in, c->in + pos, c->in_len - pos);
	c->in_len -= pos;
}

static void channel_on_io(void *ctx)
{
	struct channel *c = ctx;
	if (c->out_end > c->out_start && !channel_flush(c))
		return;
	if (!c->closed)
		channel_read(c);
}

struct channel *channel_create(struct ioloop *loop, int fd,
			       channel_msg_callback_t *on_msg,
			       channel_closed_callback_t *on_closed, void *ctx)
{
	struct channel *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->fd = fd;
	c->on_msg = on_msg;
	c->on_closed = on_closed;
	c->ctx = ctx;
	c->io = io_add(loop, fd, IO_READ, channel_on_io, c);
	return c;
}

void channel_destroy(struct channel **cp)
{
	struct channel *c = *cp;
	if (c == NULL)
		return;
	*cp = NULL;
	if (c->destroyed != NULL)
		*c->destroyed = true;
	io_remove(&c->io);
	close(c->fd);
	free(c->out);
	free(c);
}

int channel_send(struct channel *c, const struct channel_msg *msg,
		 const char **error_r)
{
	unsigned char frame[CHANNEL_FRAME_MAX];
	size_t len;
	if (c->closed) {
		*error_r = "channel closed";
		return -1;
	}
	if (channel_frame_encode(msg, frame, sizeof(frame), &len, error_r) < 0)
		return -1;
	if (c->out == NULL)
		c->out = xmalloc(CHANNEL_OUTBUF_MAX);
	if (CHANNEL_OUTBUF_MAX - c->out_end < len && c->out_start > 0) {
		memmove(c->out, c->out + c->out_start, c->out_end - c->out_start);
		c->out_end -= c->out_start;
		c->out_start = 0;
	}
	if (CHANNEL_OUTBUF_MAX - c->out_end < len) {
		*error_r = "output buffer full: the peer does not read";
		return -1;
	}
	memcpy(c->out + c->out_end, frame, len);
	c->out_end += len;
	/* A write failure is reported by the io callback through
	 * on_closed, like a read one, so the caller never sees its channel
	 * vanish inside this call. */
	ssize_t n = send(c->fd, c->out + c->out_start, c->out_end - c->out_start,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n > 0)
		c->out_start += (size_t)n;
	if (c->out_start == c->out_end)
		c->out_start = c->out_end = 0;
	channel_update_io(c);
	return 0;
}

size_t channel_output_pending(const struct channel *c)
{
	return c->out_end - c->out_start;
}

int channel_fd(const struct channel *c)
{
	return c->fd;
}
