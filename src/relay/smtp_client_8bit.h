/* smtp_client_8bit.h: 8-bit MIME content made 7-bit for a server that
 * does not offer 8BITMIME (RFC 6152 3: the client converts or bounces).
 *
 * A message source wrapped by another that reads the same message with
 * every leaf part whose Content-Transfer-Encoding is 8bit, binary or
 * absent re-encoded as quoted-printable (RFC 2045 6.7, lines of at most
 * 76 characters) and its header saying so; multipart and message/rfc822
 * entities labelled 8bit are relabelled 7bit (RFC 2045 6.4) and walked
 * into; parts already 7bit, quoted-printable or base64 pass unchanged.
 * Streamed a line at a time (lines longer than SMTP_CLIENT_8BIT_LINE_MAX
 * are handled in pieces): memory is bounded whatever the message size.
 * Header fields pass as they are (8-bit header text needs SMTPUTF8, which
 * the client checks before). A message it cannot convert (MIME nesting
 * deeper than SMTP_CLIENT_8BIT_DEPTH_MAX, an overlong boundary) makes
 * read() return -1 with smtp_client_8bit_error() set: a permanent
 * failure, 554 5.6.3. */
#ifndef POSTEL_SMTP_CLIENT_8BIT_H
#define POSTEL_SMTP_CLIENT_8BIT_H

#include "relay/smtp_client.h"

#define SMTP_CLIENT_8BIT_LINE_MAX 4096
#define SMTP_CLIENT_8BIT_DEPTH_MAX 16

struct smtp_client_8bit;

/* in is copied; its ctx must stay valid while the converter reads. */
struct smtp_client_8bit *smtp_client_8bit_new(const struct smtp_client_source *in);
/* The source contract of smtp_client.h; ctx is the converter. */
ssize_t smtp_client_8bit_read(void *ctx, void *buf, size_t size);
/* Why the message cannot be converted, or NULL. */
const char *smtp_client_8bit_error(const struct smtp_client_8bit *c);
void smtp_client_8bit_free(struct smtp_client_8bit **c);

#endif
