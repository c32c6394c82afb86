/* mime_preview.h: the text of an RFC 8970 PREVIEW from a message's MIME
 * tree and the body of one of its parts.
 *
 * Contract: pure. mime_preview_part() picks the part to preview: the
 * first text/plain part that is not an attachment, walking the tree in
 * order (in a multipart/alternative its text/plain wins), else the first
 * such text/html; enclosed messages (message/rfc822) are not entered.
 * MIME_NONE: no text part, and the preview is empty (RFC 8970 3.1).
 * mime_preview_text() takes the first MIME_PREVIEW_INPUT_MAX bytes (or
 * fewer) of that part's encoded body, decodes the transfer encoding,
 * converts the charset to UTF-8, strips HTML tags (with the contents of
 * style, script and head) and the common entities, turns control
 * characters into spaces, collapses white space runs, trims, and keeps
 * at most MIME_PREVIEW_CHARS characters (3.1: 256), never cutting a
 * UTF-8 sequence. The result is valid UTF-8 (invalid bytes become
 * U+FFFD). */
#ifndef POSTEL_MIME_PREVIEW_H
#define POSTEL_MIME_PREVIEW_H

#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"
#include "mime/mime_parser.h"

#define MIME_PREVIEW_CHARS 256
#define MIME_PREVIEW_INPUT_MAX (64 * 1024)

uint32_t mime_preview_part(const struct mime_tree *tree);
void mime_preview_text(const struct mime_part *part, const void *body,
		       size_t len, str_t *out);

#endif
