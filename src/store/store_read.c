/* store_read.c: reading a stored message back in wire form (store.h).
 *
 * The file is read in chunks of at most STORE_READ_CHUNK and each chunk's
 * LFs become CRLF (store_eol.h), so a reader of any message size holds at
 * most one chunk: POP3 RETR of a 200 MB message keeps memory flat.
 *
 * store_message_seek() starts from the last LF/CRLF checkpoint at or
 * before the wanted wire offset (store_seek.h) and drops the converted
 * bytes before it, so what follows is byte for byte what a read from the
 * start would give after that many bytes. */
#include "store/store_private.h"
#include "store/store_eol.h"
#include "store/store_seek.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_READ_CHUNK 65536

struct store_read_region {
	uint64_t old_off, old_len; /* stored wire octets replaced */
	uint64_t new_off;          /* where the new octets start when shown */
	unsigned char *data;
	size_t len;
};

struct store_message_reader {
	int fd;
	struct store_eol_state eol;
	uint64_t skip;          /* wire bytes still to drop (a seek) */
	uint64_t wire_size;     /* from the index; 0: unknown */
	unsigned char *ckpt;    /* checkpoint blob, or NULL */
	size_t ckpt_len;
	/* store_message_reader_replace(): regions shown in place of stored
	 * ones, ascending; npos is the position in the shown form */
	struct store_read_region *regions;
	unsigned region_count;
	uint64_t npos;
	unsigned char buf[STORE_READ_CHUNK];
};

struct store_message_reader *store_message_reader_fd(int fd)
{
	/* not xcalloc: the chunk buffer needs no zeroing, once per message */
	struct store_message_reader *r = xmalloc(sizeof(*r));
	r->fd = fd;
	r->eol = (struct store_eol_state){ 0 };
	r->skip = 0;
	r->wire_size = 0;
	r->ckpt = NULL;
	r->ckpt_len = 0;
	r->regions = NULL;
	r->region_count = 0;
	r->npos = 0;
	return r;
}

void store_message_reader_set_info(struct store_message_reader *r,
				   uint64_t wire_size, const void *ckpt,
				   size_t ckpt_len)
{
	r->wire_size = wire_size;
	free(r->ckpt);
	r->ckpt = NULL;
	r->ckpt_len = 0;
	if (ckpt != NULL && ckpt_len > 0) {
		r->ckpt = xmalloc(ckpt_len);
		memcpy(r->ckpt, ckpt, ckpt_len);
		r->ckpt_len = ckpt_len;
	}
}

static int seek_stored(struct store_message_reader *r, uint64_t wire_offset,
		       const char **error_r)
{
	uint64_t file = 0, wire = 0;
	if (store_ckpt_find(r->ckpt, r->ckpt_len, wire_offset, &file, &wire) < 0) {
		/* a damaged blob costs speed, not correctness */
		log_warn("event=store_checkpoints_damaged len=%zu", r->ckpt_len);
		file = wire = 0;
	}
	if (lseek(r->fd, (off_t)file, SEEK_SET) < 0) {
		*error_r = t_printf("seeking in message failed: %s", strerror(errno));
		return -1;
	}
	r->eol = (struct store_eol_state){ 0 };
	if (file > 0) {
		/* an LF right after the checkpoint gets a CR unless one
		 * ends the bytes before it (store_eol_to_crlf()) */
		unsigned char c;
		ssize_t n;
		do {
			n = pread(r->fd, &c, 1, (off_t)file - 1);
		} while (n < 0 && errno == EINTR);
		if (n != 1) {
			*error_r = n < 0 ? t_printf("reading message failed: %s",
						    strerror(errno)) :
				"message file shorter than its checkpoints";
			return -1;
		}
		r->eol.last_cr = c == '\r';
	}
	r->skip = wire_offset - wire;
	return 0;
}

int store_message_reader_replace(struct store_message_reader *r, uint64_t old_off,
				 uint64_t old_len, const void *data, size_t len)
{
	struct store_read_region *last = r->region_count == 0 ? NULL :
		&r->regions[r->region_count - 1];
	if (r->region_count >= STORE_READ_REGIONS_MAX || len == 0 ||
	    (last != NULL && old_off < last->old_off + last->old_len))
		return -1;
	/* shown offsets: the stored ones moved by every region before */
	uint64_t new_off = last == NULL ? old_off :
		old_off - (last->old_off + last->old_len) + last->new_off + last->len;
	r->regions = xrealloc(r->regions, (r->region_count + 1) * sizeof(*r->regions));
	struct store_read_region *g = &r->regions[r->region_count++];
	g->old_off = old_off;
	g->old_len = old_len;
	g->new_off = new_off;
	g->data = xmalloc(len + 1);
	memcpy(g->data, data, len);
	g->len = len;
	(void)store_message_seek(r, 0, &(const char *){ NULL });
	return 0;
}

void store_message_reader_replace_header(struct store_message_reader *r, const void *hdr,
					 size_t len, uint64_t old_len)
{
	(void)store_message_reader_replace(r, 0, old_len, hdr, len);
}

/* The region shown at or after npos: the first whose new octets end
 * past it (region_count if none). */
static unsigned region_at(const struct store_message_reader *r, uint64_t npos)
{
	unsigned i = 0;
	while (i < r->region_count && r->regions[i].new_off + r->regions[i].len <= npos)
		i++;
	return i;
}

int store_message_seek(struct store_message_reader *r, uint64_t wire_offset,
		       const char **error_r)
{
	if (r->region_count == 0)
		return seek_stored(r, wire_offset, error_r);
	r->npos = wire_offset;
	unsigned i = region_at(r, wire_offset);
	if (i < r->region_count && wire_offset >= r->regions[i].new_off)
		return 0; /* inside region i: no file position needed yet */
	if (i == 0)
		return seek_stored(r, wire_offset, error_r);
	const struct store_read_region *g = &r->regions[i - 1];
	return seek_stored(r, wire_offset - (g->new_off + g->len) + g->old_off + g->old_len,
			   error_r);
}

int store_message_physical(struct store_message_reader *r,
			   struct store_message_physical *phys_r,
			   const char **error_r)
{
	struct stat st;
	memset(phys_r, 0, sizeof(*phys_r));
	if (fstat(r->fd, &st) < 0) {
		*error_r = t_printf("fstat of message failed: %s", strerror(errno));
		return -1;
	}
	phys_r->file_size = (uint64_t)st.st_size;
	phys_r->checkpoints = store_ckpt_count(r->ckpt, r->ckpt_len);
	if (r->wire_size == 0 && st.st_size > 0 &&
	    store_eol_wire_size(r->fd, &r->wire_size) < 0) {
		*error_r = t_printf("reading message failed: %s", strerror(errno));
		return -1;
	}
	phys_r->wire_size = r->wire_size;
	return 0;
}

/* Up to n file bytes into r->buf. */
static ssize_t read_chunk(struct store_message_reader *r, size_t n,
			  const char **error_r)
{
	ssize_t got;
	do {
		got = read(r->fd, r->buf, n);
	} while (got < 0 && errno == EINTR);
	if (got < 0)
		*error_r = t_printf("reading message failed: %s", strerror(errno));
	return got;
}

static ssize_t read_stored(struct store_message_reader *r, void *buf, size_t size,
			   const char **error_r);

ssize_t store_message_read(struct store_message_reader *r, void *buf,
			   size_t size, const char **error_r)
{
	if (r->region_count == 0)
		return read_stored(r, buf, size, error_r);
	unsigned i = region_at(r, r->npos);
	const struct store_read_region *g = i < r->region_count ? &r->regions[i] : NULL;
	if (g != NULL && r->npos >= g->new_off) {
		size_t at = (size_t)(r->npos - g->new_off), n = g->len - at;
		if (n > size)
			n = size;
		memcpy(buf, g->data + at, n);
		r->npos += n;
		/* the stored message goes on after the octets replaced */
		if (at + n == g->len &&
		    seek_stored(r, g->old_off + g->old_len, error_r) < 0)
			return -1;
		return (ssize_t)n;
	}
	ssize_t n = read_stored(r, buf, size, error_r);
	if (n <= 0)
		return n;
	if (g != NULL && r->npos + (uint64_t)n > g->new_off)
		n = (ssize_t)(g->new_off - r->npos); /* the rest is the region's */
	r->npos += (uint64_t)n;
	return n;
}

static ssize_t read_stored(struct store_message_reader *r, void *buf, size_t size,
			   const char **error_r)
{
	size_t want = size / 2;
	if (want > sizeof(r->buf))
		want = sizeof(r->buf);
	if (want == 0) {
		*error_r = "read buffer too small";
		return -1;
	}
	/* skip in whole chunks, counting instead of converting: a file
	 * byte is at most two wire bytes, so skip / 2 of them never
	 * overshoot; the last byte or so is converted and dropped below */
	while (r->skip >= 2) {
		size_t n = r->skip / 2 < sizeof(r->buf) ?
			(size_t)(r->skip / 2) : sizeof(r->buf);
		ssize_t got = read_chunk(r, n, error_r);
		if (got <= 0)
			return got;
		r->skip -= store_eol_crlf_len(&r->eol, r->buf, (size_t)got);
	}
	/* bounded: every round reads file bytes, and drops at most skip */
	for (;;) {
		ssize_t n = read_chunk(r, want, error_r);
		if (n < 0)
			return -1;
		size_t out = store_eol_to_crlf(&r->eol, r->buf, (size_t)n, buf);
		if (r->skip == 0 || n == 0)
			return (ssize_t)out;
		if (r->skip >= out) {
			r->skip -= out;
			continue;
		}
		size_t drop = (size_t)r->skip;
		r->skip = 0;
		memmove(buf, (unsigned char *)buf + drop, out - drop);
		return (ssize_t)(out - drop);
	}
}

void store_message_close(struct store_message_reader **rp)
{
	struct store_message_reader *r = *rp;
	if (r == NULL)
		return;
	close(r->fd);
	free(r->ckpt);
	for (unsigned i = 0; i < r->region_count; i++)
		free(r->regions[i].data);
	free(r->regions);
	free(r);
	*rp = NULL;
}
