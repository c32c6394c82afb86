/* mime_cache.h: compact, versioned serialisation of a parsed MIME tree, for
 * the store to keep in a BLOB and decode without reparsing the message.
 *
 * Contract: mime_cache_encode() appends to out. mime_cache_decode() accepts
 * any bytes: it validates every length, count, offset and parent link
 * (parts stay within msg_size, parents precede children) and returns -1
 * with error_r for anything else, never reading outside the input. */
#ifndef POSTEL_MIME_CACHE_H
#define POSTEL_MIME_CACHE_H

#include "lib/str.h"
#include "mime/mime_parser.h"

/* 2: MIME_PART_HDR_8BIT (older records are parsed again, once)
 * 3: an 8-bit type or subtype token is refused (mime_params.c): a tree
 *    that kept one is parsed again */
#define MIME_CACHE_VERSION 3

void mime_cache_encode(const struct mime_tree *tree, str_t *out);
int mime_cache_decode(const void *data, size_t len, uint64_t msg_size,
		      struct mime_tree **tree_r, const char **error_r);
/* *error_r of mime_cache_decode() for a record of another version (to be
 * parsed again: no damage) */
extern const char mime_cache_error_version[];

#endif
