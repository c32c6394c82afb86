/* utf8.c: RFC 3629 4 UTF-8 validation (see utf8.h). */
#include "lib/utf8.h"

bool utf8_valid(const void *data, size_t len)
{
	const unsigned char *u = data;
	for (size_t i = 0; i < len;) {
		unsigned char c = u[i];
		size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 :
			   c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
		/* 0: a continuation byte, 0xc0/0xc1 (overlong), > 0xf4 */
		if (n == 0 || n > len - i)
			return false;
		for (size_t k = 1; k < n; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				return false;
		/* the second byte's range rules out overlong 3- and 4-byte
		 * forms, surrogates and > U+10FFFF (RFC 3629 4's table) */
		if ((c == 0xe0 && u[i + 1] < 0xa0) || (c == 0xed && u[i + 1] > 0x9f) ||
		    (c == 0xf0 && u[i + 1] < 0x90) || (c == 0xf4 && u[i + 1] > 0x8f))
			return false;
		i += n;
	}
	return true;
}
