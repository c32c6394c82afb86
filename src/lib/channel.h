/* channel.h: the typed channel between the master and each child.
 *
 * A Unix stream socketpair per child, made by the master before fork
 * (channel_pair()). Both ends run it non-blocking on their ioloop.
 * Messages travel as frames, never as raw structs:
 *
 *   u32 payload length | u16 type | u16 flags (0) | payload
 *
 * all integers big-endian. Each type has a fixed list of fields, encoded
 * one after another: u16/u32/u64 big-endian, strings as u16 length then
 * that many bytes (1..CHANNEL_STR_MAX, no control characters, no NUL).
 * Promises:
 * - A frame is at most CHANNEL_FRAME_MAX bytes; the decoder never reads
 *   past what it was given and rejects a longer length, an unknown type,
 *   non-zero flags, a bad string or bytes left over after the last field.
 * - A malformed frame or the peer's end of file calls on_closed() once
 *   with a reason; nothing is read from that peer again (it is dropped).
 * - Memory is bounded: one frame of input, CHANNEL_OUTBUF_MAX of output.
 *   A send that does not fit is refused (-1), never queued without limit,
 *   so a stuck peer cannot grow its sender.
 * - Callbacks run on the loop; channel_destroy() is safe inside them. */
#ifndef POSTEL_CHANNEL_H
#define POSTEL_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHANNEL_HEADER_SIZE 8
#define CHANNEL_PAYLOAD_MAX 2048
#define CHANNEL_FRAME_MAX (CHANNEL_HEADER_SIZE + CHANNEL_PAYLOAD_MAX)
/* "local@domain" (64 + 1 + 255) and mailbox names (255) fit */
#define CHANNEL_STR_MAX 512
#define CHANNEL_OUTBUF_MAX (64 * CHANNEL_FRAME_MAX)

struct ioloop;
struct channel;

enum channel_msg_type {
	/* child -> master, first: kind (enum child_kind), generation */
	CHANNEL_MSG_HELLO = 1,
	/* either way: user, mailbox, modseq (0: unknown) */
	CHANNEL_MSG_MAILBOX_CHANGED = 2,
	/* worker -> master -> queue runner: queue_id */
	CHANNEL_MSG_QUEUE_ENTRY_COMMITTED = 3,
};

struct channel_msg {
	enum channel_msg_type type;
	uint16_t kind;
	uint32_t generation;
	uint64_t modseq;
	char user[CHANNEL_STR_MAX + 1];
	char mailbox[CHANNEL_STR_MAX + 1];
	char queue_id[CHANNEL_STR_MAX + 1];
};

const char *channel_msg_type_name(enum channel_msg_type type);

/* Encode msg as one frame into buf. -1 with *error_r if a string is
 * invalid or the frame would not fit size. */
int channel_frame_encode(const struct channel_msg *msg, unsigned char *buf,
			 size_t size, size_t *len_r, const char **error_r);
/* Decode the frame at the start of data[0..len): 1 and *used_r bytes
 * consumed; 0 when more bytes are needed; -1 with *error_r if the frame
 * is malformed (what has arrived already proves it). */
int channel_frame_decode(const unsigned char *data, size_t len,
			 struct channel_msg *msg_r, size_t *used_r,
			 const char **error_r);

/* A non-blocking, close-on-exec stream socketpair. */
int channel_pair(int fds_r[2], const char **error_r);

typedef void channel_msg_callback_t(const struct channel_msg *msg, void *ctx);
/* The peer closed, failed or sent a malformed frame (reason says which). */
typedef void channel_closed_callback_t(const char *reason, void *ctx);

/* Takes ownership of fd. */
struct channel *channel_create(struct ioloop *loop, int fd,
			       channel_msg_callback_t *on_msg,
			       channel_closed_callback_t *on_closed, void *ctx);
/* Closes the fd; unsent output is lost. */
void channel_destroy(struct channel **c);
/* Queue msg; -1 with *error_r if it is invalid, the channel is closed,
 * or the output buffer is full. */
int channel_send(struct channel *c, const struct channel_msg *msg,
		 const char **error_r);
/* The socket, for a child after fork to close its inherited copy. */
int channel_fd(const struct channel *c);
/* Bytes waiting to be written (tests, stats). */
size_t channel_output_pending(const struct channel *c);

#endif
