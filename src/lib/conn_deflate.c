/* conn_deflate.c: the compression layer of a connection (RFC 4978
 * COMPRESS=DEFLATE, usable by any protocol): a struct conn_stream stacked
 * on the layer it replaces (plain or TLS), raw deflate both ways (RFC
 * 1951, no zlib header: windowBits negative, RFC 4978 section 4).
 *
 * Promises:
 * - Output: each write() deflates what the buffer code hands it, which
 *   is all output queued so far, and ends it with Z_SYNC_FLUSH, so the
 *   peer can decode every reply as soon as it arrives (RFC 4978 section
 *   4: flush at the end of each burst). Compressed bytes the lower layer
 *   did not take wait in `zout` (at most one chunk) and the conn keeps
 *   the fd writable until flush() pushed them.
 * - Input: read() inflates into the caller's buffer, never more than it
 *   asked for, so the conn's input cap (and the line and literal limits
 *   above it) bound what a small compressed input can expand to: an
 *   inflate bomb costs CPU, not memory. Compressed bytes not yet inflated
 *   wait in `zin` (at most one read chunk); the socket is read only when
 *   zin is empty.
 * - Memory: inflate keeps its 32 KiB window (windowBits -15: the peer may
 *   refer back that far) and about 7 KiB of state for the life of the
 *   layer. Deflate uses windowBits -12 and memLevel 5, about 38 KiB, and
 *   only while output is moving: once the connection is quiet (the
 *   conn's shrink timer) and the last burst was flushed, the deflater is
 *   freed and made afresh on the next write. That is valid deflate: after
 *   a sync flush the stream is byte aligned between blocks, and a new
 *   deflater simply never refers back to bytes sent before. So an idle
 *   compressed connection costs the inflate side only.
 * - A corrupt stream (or a final block, after which nothing may follow)
 *   ends the connection with close reason "compress_error" and one log
 *   line. */
#include "conn_private.h"
#include "log.h"
#include "mem.h"

#include <stddef.h>
#include <string.h>
#include <zlib.h>

/* RFC 4978 4: raw deflate; the client may use a 32 KiB window */
#define CONN_INFLATE_WBITS (-15)
/* A 4 KiB window and a small hash keep a busy connection's deflater near
 * 38 KiB ((1 << (12 + 2)) + (1 << (5 + 9)) plus the 6 KiB state) instead
 * of zlib's default 268 KiB; IMAP replies repeat themselves within a few
 * lines (FETCH items, flag lists), which a 4 KiB window still finds. */
#define CONN_DEFLATE_WBITS (-12)
#define CONN_DEFLATE_MEMLEVEL 5
#define CONN_DEFLATE_LEVEL 6
#define CONN_DEFLATE_CHUNK 16384

struct conn_deflate {
	const struct conn_stream *lower;
	z_stream in;
	z_stream out;
	bool out_ready;    /* deflateInit2 done for `out` */
	bool inflate_more; /* the last inflate filled its output: ask again */
	bool flush_owed;   /* a sync flush did not fit: finish it */
	size_t raw_left;   /* queued before the switch: sent as it is */
	str_t zin, zout;
	size_t memory;     /* bytes zlib holds through our allocator */
	uint64_t bytes_in, bytes_out; /* compressed bytes, for the log */
};

/* zlib allocates through these, so the layer knows what it holds: each
 * block carries its size in a header that keeps malloc's alignment. */
union conn_deflate_block {
	size_t size;
	max_align_t align;
};

static voidpf conn_deflate_alloc(voidpf opaque, uInt items, uInt size)
{
	struct conn_deflate *d = opaque;
	size_t bytes = (size_t)items * size;
	union conn_deflate_block *b = xmalloc(sizeof(*b) + bytes);
	b->size = bytes;
	d->memory += bytes;
	return b + 1;
}

static void conn_deflate_release(voidpf opaque, voidpf ptr)
{
	struct conn_deflate *d = opaque;
	union conn_deflate_block *b = (union conn_deflate_block *)ptr - 1;
	d->memory -= b->size;
	free(b);
}

static void conn_deflate_fail(struct conn *conn, const char *what, const char *msg)
{
	log_info("event=compress_error ip=%s op=%s error=%s", conn->peer_ip, what,
		 log_str(msg != NULL ? msg : "unknown"));
	conn->close_reason = "compress_error";
	conn->peer_eof = true;
}

/* Inflate from src into buf; leftover input is kept in zin. Returns bytes
 * produced, or -1 on a corrupt stream. */
static ssize_t conn_deflate_inflate(struct conn *conn, const void *src, size_t len,
				    void *buf, size_t size)
{
	struct conn_deflate *d = conn->layer;
	d->in.next_in = (Bytef *)src;
	d->in.avail_in = (uInt)len;
	d->in.next_out = buf;
	d->in.avail_out = (uInt)(size > UINT32_MAX ? UINT32_MAX : size);
	int r = inflate(&d->in, Z_SYNC_FLUSH);
	if (r == Z_STREAM_END) {
		/* RFC 4978 4: the stream never ends while the connection lives */
		conn_deflate_fail(conn, "inflate", "final block");
		return -1;
	}
	if (r != Z_OK && r != Z_BUF_ERROR) {
		conn_deflate_fail(conn, "inflate", d->in.msg);
		return -1;
	}
	size_t used = len - d->in.avail_in;
	size_t produced = (size > UINT32_MAX ? UINT32_MAX : size) - d->in.avail_out;
	d->inflate_more = d->in.avail_out == 0;
	if (src == d->zin.data)
		str_consume(&d->zin, used);
	else if (used < len)
		str_append(&d->zin, (const char *)src + used, len - used);
	if (d->zin.len == 0 && d->zin.cap > 0)
		str_free(&d->zin);
	return (ssize_t)produced;
}

static ssize_t conn_deflate_read(struct conn *conn, void *buf, size_t size)
{
	struct conn_deflate *d = conn->layer;
	/* a peer sending empty blocks gets a few rounds, then waits for the
	 * next readiness like everyone else */
	for (unsigned round = 0; round < 4; round++) {
		ssize_t n;
		if (d->zin.len > 0 || d->inflate_more) {
			n = conn_deflate_inflate(conn, d->zin.data, d->zin.len, buf, size);
		} else {
			char raw[CONN_READ_CHUNK];
			ssize_t got = d->lower->read(conn, raw, sizeof(raw));
			if (got <= 0)
				return got;
			d->bytes_in += (uint64_t)got;
			n = conn_deflate_inflate(conn, raw, (size_t)got, buf, size);
		}
		if (n != 0)
			return n;
	}
	return 0;
}

/* Push zout down; 1 all gone, 0 the lower layer is full, -1 dead. */
static int conn_deflate_push(struct conn *conn)
{
	struct conn_deflate *d = conn->layer;
	while (d->zout.len > 0) {
		ssize_t n = d->lower->write(conn, d->zout.data, d->zout.len);
		if (n <= 0)
			return (int)n;
		d->bytes_out += (uint64_t)n;
		str_consume(&d->zout, (size_t)n);
	}
	if (d->zout.cap > 0)
		str_free(&d->zout);
	return 1;
}

static bool conn_deflate_out_init(struct conn *conn)
{
	struct conn_deflate *d = conn->layer;
	if (d->out_ready)
		return true;
	memset(&d->out, 0, sizeof(d->out));
	d->out.zalloc = conn_deflate_alloc;
	d->out.zfree = conn_deflate_release;
	d->out.opaque = d;
	if (deflateInit2(&d->out, CONN_DEFLATE_LEVEL, Z_DEFLATED, CONN_DEFLATE_WBITS,
			 CONN_DEFLATE_MEMLEVEL, Z_DEFAULT_STRATEGY) != Z_OK) {
		conn_deflate_fail(conn, "deflate_init", d->out.msg);
		return false;
	}
	d->out_ready = true;
	return true;
}

/* One deflate call into a stack chunk, which goes down at once; what the
 * lower layer does not take waits in zout. Returns input consumed, or -1. */
static ssize_t conn_deflate_step(struct conn *conn, const void *data, size_t len)
{
	struct conn_deflate *d = conn->layer;
	if (!conn_deflate_out_init(conn))
		return -1;
	unsigned char chunk[CONN_DEFLATE_CHUNK];
	d->out.next_in = (Bytef *)data;
	d->out.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	uInt given = d->out.avail_in;
	d->out.next_out = chunk;
	d->out.avail_out = sizeof(chunk);
	int r = deflate(&d->out, Z_SYNC_FLUSH);
	if (r != Z_OK && r != Z_BUF_ERROR) {
		conn_deflate_fail(conn, "deflate", d->out.msg);
		return -1;
	}
	size_t used = given - d->out.avail_in;
	/* output full: the flush may be unfinished (zlib: call again) */
	d->flush_owed = d->out.avail_out == 0;
	str_append(&d->zout, chunk, sizeof(chunk) - d->out.avail_out);
	if (conn_deflate_push(conn) < 0)
		return -1;
	return (ssize_t)used;
}

static ssize_t conn_deflate_write(struct conn *conn, const void *data, size_t len)
{
	struct conn_deflate *d = conn->layer;
	if (d->raw_left > 0) {
		/* RFC 4978 3: compression starts after the tagged OK's CRLF */
		ssize_t n = d->lower->write(conn, data, len < d->raw_left ? len : d->raw_left);
		if (n > 0)
			d->raw_left -= (size_t)n;
		return n;
	}
	int r = conn_deflate_push(conn);
	if (r <= 0)
		return r;
	return conn_deflate_step(conn, data, len);
}

static int conn_deflate_flush(struct conn *conn)
{
	struct conn_deflate *d = conn->layer;
	for (unsigned round = 0; round < 64; round++) {
		int r = conn_deflate_push(conn);
		if (r <= 0)
			return r;
		if (!d->flush_owed)
			return 1;
		if (conn_deflate_step(conn, NULL, 0) < 0)
			return -1;
	}
	return 0;
}

static bool conn_deflate_out_pending(const struct conn *conn)
{
	const struct conn_deflate *d = conn->layer;
	return d->zout.len > 0 || d->flush_owed;
}

static bool conn_deflate_pending(const struct conn *conn)
{
	const struct conn_deflate *d = conn->layer;
	return d->zin.len > 0 || d->inflate_more || d->lower->pending(conn);
}

/* Quiet: the deflater goes (see the top of the file); zin and zout are
 * freed as they empty. */
static void conn_deflate_idle(struct conn *conn)
{
	struct conn_deflate *d = conn->layer;
	if (d->out_ready && d->zout.len == 0 && !d->flush_owed) {
		deflateEnd(&d->out);
		d->out_ready = false;
	}
}

static void conn_deflate_free(struct conn *conn)
{
	struct conn_deflate *d = conn->layer;
	log_debug("event=compress_end ip=%s in=%llu out=%llu", conn->peer_ip,
		  (unsigned long long)d->bytes_in, (unsigned long long)d->bytes_out);
	if (d->out_ready)
		deflateEnd(&d->out);
	inflateEnd(&d->in);
	str_free(&d->zin);
	str_free(&d->zout);
	conn->stream = d->lower;
	conn->layer = NULL;
	free(d);
}

static const struct conn_stream conn_stream_deflate = {
	.name = "deflate",
	.read = conn_deflate_read,
	.write = conn_deflate_write,
	.pending = conn_deflate_pending,
	.flush = conn_deflate_flush,
	.out_pending = conn_deflate_out_pending,
	.idle = conn_deflate_idle,
	.free = conn_deflate_free,
};

int conn_compress_start(struct conn *conn, const char **error_r)
{
	if (conn->layer != NULL) {
		*error_r = "already compressed";
		return -1;
	}
	if (conn->state != CONN_PLAIN && conn->state != CONN_TLS) {
		*error_r = "connection not established";
		return -1;
	}
	struct conn_deflate *d = xcalloc(1, sizeof(*d));
	d->in.zalloc = conn_deflate_alloc;
	d->in.zfree = conn_deflate_release;
	d->in.opaque = d;
	if (inflateInit2(&d->in, CONN_INFLATE_WBITS) != Z_OK) {
		free(d);
		*error_r = "inflateInit2 failed";
		return -1;
	}
	d->lower = conn->stream;
	d->raw_left = conn->out.len - conn->out_pos;
	/* RFC 4978 3: the client compresses from the CRLF of its COMPRESS
	 * command on, so what it pipelined after it is compressed already */
	str_append(&d->zin, conn->in.data, conn->in.len);
	str_clear(&conn->in);
	d->bytes_in = d->zin.len;
	conn->layer = d;
	conn->stream = &conn_stream_deflate;
	log_debug("event=compress_start ip=%s lower=%s", conn->peer_ip, d->lower->name);
	if (d->zin.len > 0 && !conn->in_callback)
		conn_input_resume(conn);
	return 0;
}

bool conn_is_compressed(const struct conn *conn)
{
	return conn->layer != NULL;
}

size_t conn_compress_memory(const struct conn *conn)
{
	const struct conn_deflate *d = conn->layer;
	return d == NULL ? 0 : d->memory + d->zin.cap + d->zout.cap + sizeof(*d);
}
