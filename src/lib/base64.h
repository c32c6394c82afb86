/* base64.h: RFC 4648 section 4 base64, strict.
 *
 * Contract: base64_encode() appends the padded encoding of any bytes to a
 * str_t. base64_decode() accepts only canonical input: characters from the
 * RFC 4648 alphabet, a length that is a multiple of 4, "=" padding only at
 * the end (section 3.2), zero pad bits (section 3.5), and no whitespace or
 * line breaks (section 3.3). On error it returns -1 and leaves out exactly
 * as it was. The empty string decodes to zero bytes. */
#ifndef POSTEL_BASE64_H
#define POSTEL_BASE64_H

#include <stddef.h>

#include "str.h"

/* Length of the encoding of len bytes, without the NUL. */
#define BASE64_ENCODED_LEN(len) ((((len) + 2) / 3) * 4)
/* Upper bound of the bytes decoded from len characters. */
#define BASE64_DECODED_MAX(len) (((len) / 4) * 3)

void base64_encode(const void *data, size_t len, str_t *out);
/* 0 on success, -1 on malformed input. Appends to out. */
int base64_decode(const char *in, size_t in_len, str_t *out);
/* The 6-bit value of c, or -1 when c is outside the alphabet. */
int base64_value(unsigned char c);

#endif
