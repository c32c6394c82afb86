/* base64.c: see base64.h. */
#include "base64.h"

#include <stdint.h>

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(const void *data, size_t len, str_t *out)
{
	const unsigned char *in = data;
	str_reserve(out, BASE64_ENCODED_LEN(len));
	char *p = out->data + out->len;
	size_t i = 0;

	for (; len - i >= 3; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*p++ = base64_alphabet[v >> 18];
		*p++ = base64_alphabet[(v >> 12) & 63];
		*p++ = base64_alphabet[(v >> 6) & 63];
		*p++ = base64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*p++ = base64_alphabet[v >> 18];
		*p++ = base64_alphabet[(v >> 12) & 63];
		*p++ = '=';
		*p++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*p++ = base64_alphabet[v >> 18];
		*p++ = base64_alphabet[(v >> 12) & 63];
		*p++ = base64_alphabet[(v >> 6) & 63];
		*p++ = '=';
	}
	out->len = (size_t)(p - out->data);
	out->data[out->len] = '\0';
}

int base64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int base64_decode(const char *in, size_t in_len, str_t *out)
{
	size_t orig_len = out->len;

	if (in_len % 4 != 0)
		return -1;
	str_reserve(out, BASE64_DECODED_MAX(in_len));
	unsigned char *p = (unsigned char *)out->data + out->len;

	for (size_t i = 0; i < in_len; i += 4) {
		bool last = i + 4 == in_len;
		int v[4];
		unsigned pad = 0;

		for (unsigned j = 0; j < 4; j++) {
			unsigned char c = (unsigned char)in[i + j];
			/* RFC 4648 3.2: "=" only as the last one or two chars */
			if (c == '=' && last && j >= 2) {
				pad++;
				v[j] = 0;
				continue;
			}
			if (pad > 0)
				goto fail; /* data after padding */
			v[j] = base64_value(c);
			if (v[j] < 0)
				goto fail;
		}
		uint32_t bits = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			(uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* RFC 4648 3.5: reject non-zero pad bits (non-canonical) */
		if ((pad == 1 && (bits & 0xff) != 0) ||
		    (pad == 2 && (bits & 0xffff) != 0))
			goto fail;
		*p++ = (unsigned char)(bits >> 16);
		if (pad < 2)
			*p++ = (unsigned char)(bits >> 8);
		if (pad < 1)
			*p++ = (unsigned char)bits;
	}
	out->len = (size_t)((char *)p - out->data);
	out->data[out->len] = '\0';
	return 0;
fail:
	out->data[orig_len] = '\0';
	return -1;
}
