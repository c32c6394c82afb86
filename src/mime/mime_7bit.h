/* mime_7bit.h: 8-bit MIME content made 7-bit: for a server that does
 * not offer 8BITMIME (RFC 6152 3: the client converts or bounces), and
 * before DKIM signing (RFC 6376 5.3: signers SHOULD convert first), so
 * one implementation serves relay/ and deliver/.
 *
 * A message source wrapped by another that reads the same message with
 * every leaf part whose Content-Transfer-Encoding is 8bit, binary or
 * absent re-encoded as quoted-printable (RFC 2045 6.7, lines of at most
 * 76 characters) and its header saying so; multipart and message/rfc822
 * entities labelled 8bit are relabelled 7bit (RFC 2045 6.4) and walked
 * into; parts already 7bit, quoted-printable or base64 pass unchanged.
 * Streamed a line at a time (lines longer than MIME_7BIT_LINE_MAX
 * are handled in pieces): memory is bounded whatever the message size.
 * Header fields pass as they are (8-bit header text needs SMTPUTF8, which
 * the client checks before). A message it cannot convert (MIME nesting
 * deeper than MIME_7BIT_DEPTH_MAX, an overlong boundary) makes
 * read() return -1 with mime_7bit_error() set: a permanent
 * failure, 554 5.6.3. */
#ifndef POSTEL_MIME_7BIT_H
#define POSTEL_MIME_7BIT_H

#include <stddef.h>
#include <sys/types.h>

#define MIME_7BIT_LINE_MAX 4096
#define MIME_7BIT_DEPTH_MAX 16
#define MIME_7BIT_READ_CHUNK 8192

/* A message source: read() as read(2) (octets, 0 at the end, -1 on error). */
typedef ssize_t mime_7bit_read_fn(void *ctx, void *buf, size_t size);

struct mime_7bit;

/* ctx must stay valid while the converter reads. */
struct mime_7bit *mime_7bit_new(mime_7bit_read_fn *read, void *ctx);
/* A mime_7bit_read_fn (and the source contract of smtp_client.h); ctx is
 * the converter. */
ssize_t mime_7bit_read(void *ctx, void *buf, size_t size);
/* Why the message cannot be converted, or NULL. */
const char *mime_7bit_error(const struct mime_7bit *c);
void mime_7bit_free(struct mime_7bit **c);

#endif
