/* store_read.c: reading a stored message back in wire form (store.h).
 *
 * The file is read in chunks of at most STORE_READ_CHUNK and each chunk's
 * LFs become CRLF (store_eol.h), so a reader of any message size holds at
 * most one chunk: POP3 RETR of a 200 MB message keeps memory flat. */
#include "store/store_private.h"
#include "store/store_eol.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define STORE_READ_CHUNK 65536

struct store_message_reader {
	int fd;
	struct store_eol_state eol;
	unsigned char buf[STORE_READ_CHUNK];
};

struct store_message_reader *store_message_reader_fd(int fd)
{
	/* not xcalloc: the chunk buffer needs no zeroing, once per message */
	struct store_message_reader *r = xmalloc(sizeof(*r));
	r->fd = fd;
	r->eol = (struct store_eol_state){ 0 };
	return r;
}

ssize_t store_message_read(struct store_message_reader *r, void *buf,
			   size_t size, const char **error_r)
{
	size_t want = size / 2;
	if (want > sizeof(r->buf))
		want = sizeof(r->buf);
	if (want == 0) {
		*error_r = "read buffer too small";
		return -1;
	}
	ssize_t n;
	do {
		n = read(r->fd, r->buf, want);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		*error_r = t_printf("reading message failed: %s", strerror(errno));
		return -1;
	}
	return (ssize_t)store_eol_to_crlf(&r->eol, r->buf, (size_t)n, buf);
}

void store_message_close(struct store_message_reader **rp)
{
	struct store_message_reader *r = *rp;
	if (r == NULL)
		return;
	close(r->fd);
	free(r);
	*rp = NULL;
}
