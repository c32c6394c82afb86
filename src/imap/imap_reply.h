/* imap_reply.h: what a command writes besides its tagged reply
 * (imap_reply.c): untagged data, IMAP strings, mailbox names as the
 * client's IMAP version wants them, the capability list, and large
 * answers written within the output cap as the client reads. Tagged
 * replies end a command: imap_session_private.h. */
#ifndef POSTEL_IMAP_REPLY_H
#define POSTEL_IMAP_REPLY_H

#include "lib/str.h"

#include <stddef.h>

struct imap_cmd;
struct imap_session;

/* Untagged data ("* ..."); CRLF added. */
void imap_untagged(struct imap_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The capability list for the current state, without "CAPABILITY". */
const char *imap_capabilities(const struct imap_session *s);
/* A string as an IMAP string: quoted when it can be, else a literal. */
void imap_append_string(str_t *out, const char *s, size_t len);
void imap_append_nstring(str_t *out, const char *s);
/* A mailbox name for the client: modified UTF-7 for rev1, UTF-8 for rev2
 * (RFC 9051 5.1), as an astring. */
void imap_append_mailbox(struct imap_session *s, str_t *out, const char *name);

/* A large answer (SEARCH, LIST, FETCH of many messages): append it to
 * the buffer imap_output_begin() gives, then imap_output_end() writes it
 * in pieces within the output cap as the client reads, and calls
 * final(cmd) (which replies) once all of it is queued. */
str_t *imap_output_begin(struct imap_session *s);
void imap_output_end(struct imap_cmd *cmd, void (*final)(struct imap_cmd *cmd));

#endif
