/* mime_decode.c: streaming content-transfer decoders (RFC 2045 6.7
 * quoted-printable, 6.8 base64; 7bit/8bit/binary pass through). See
 * mime_decode.h for the contract. */
#include <string.h>
#include <strings.h>

#include "lib/base64.h"
#include "mime/mime_decode.h"
#include "mime/mime_header.h"

enum mime_cte mime_cte_parse(const char *value)
{
	if (value == NULL)
		return MIME_CTE_IDENTITY;
	/* RFC 2045 6.1: the mechanism is a token, case-insensitive; a
	 * comment or spaces around it are tolerated */
	while (*value == ' ' || *value == '\t')
		value++;
	size_t n = strcspn(value, " \t(;");
	if (n == 6 && strncasecmp(value, "base64", 6) == 0)
		return MIME_CTE_BASE64;
	if (n == 16 && strncasecmp(value, "quoted-printable", 16) == 0)
		return MIME_CTE_QP;
	return MIME_CTE_IDENTITY;
}

void mime_decoder_init(struct mime_decoder *d, enum mime_cte cte)
{
	memset(d, 0, sizeof(*d));
	d->cte = cte;
}

/* RFC 2045 6.8: characters outside the alphabet are ignored; "=" ends
 * the data, and a partial quantum before it is dropped. A following
 * block (concatenated base64, seen in the wild) decodes afresh. */
static void base64_feed(struct mime_decoder *d, const unsigned char *in,
			size_t len, str_t *out)
{
	str_reserve(out, len / 4 * 3 + 3);
	unsigned char *dst = (unsigned char *)out->data + out->len;
	for (size_t i = 0; i < len; i++) {
		int v = base64_value(in[i]);
		if (v < 0) {
			if (in[i] == '=')
				d->b64_bits = d->b64_nbits = 0;
			continue;
		}
		d->b64_bits = (d->b64_bits << 6) | (unsigned)v;
		d->b64_nbits += 6;
		if (d->b64_nbits >= 8) {
			d->b64_nbits -= 8;
			*dst++ = (unsigned char)((d->b64_bits >> d->b64_nbits) & 0xff);
			d->b64_bits &= (1u << d->b64_nbits) - 1;
		}
	}
	out->len = (size_t)(dst - (unsigned char *)out->data);
	out->data[out->len] = '\0';
}

/* One byte after a pending "=" (RFC 2045 6.7 rules 1 and 5): true when
 * it was consumed, false when the byte must be read as plain text. */
static bool qp_pending(struct mime_decoder *d, unsigned char c, str_t *out)
{
	if (d->npend == 1) {
		if (c == '\n') {                /* soft break, bare LF */
			d->npend = 0;
			return true;
		}
		if (c == '\r' || mime_hex_value(c) >= 0) {
			d->pend[1] = c;
			d->npend = 2;
			return true;
		}
		str_appendc(out, '=');          /* a stray "=" is kept */
		d->npend = 0;
		return false;
	}
	d->npend = 0;
	if (d->pend[1] == '\r') {
		if (c == '\n')                  /* soft break "=" CRLF */
			return true;
		str_append(out, "=\r", 2);
		return false;
	}
	int hi = mime_hex_value(d->pend[1]), lo = mime_hex_value(c);
	if (lo >= 0) {
		str_appendc(out, (char)(hi << 4 | lo));
		return true;
	}
	str_appendc(out, '=');
	str_appendc(out, (char)d->pend[1]);
	return false;
}

static void qp_feed(struct mime_decoder *d, const unsigned char *in,
		    size_t len, str_t *out)
{
	size_t i = 0;
	while (i < len) {
		if (d->npend > 0) {
			if (qp_pending(d, in[i], out))
				i++;
			continue;
		}
		const unsigned char *eq = memchr(in + i, '=', len - i);
		size_t run = eq == NULL ? len - i : (size_t)(eq - (in + i));
		str_append(out, in + i, run);
		i += run;
		if (eq != NULL) {
			d->pend[0] = '=';
			d->npend = 1;
			i++;
		}
	}
}

void mime_decoder_feed(struct mime_decoder *d, const void *in, size_t len,
		       str_t *out)
{
	switch (d->cte) {
	case MIME_CTE_BASE64:
		base64_feed(d, in, len, out);
		break;
	case MIME_CTE_QP:
		qp_feed(d, in, len, out);
		break;
	case MIME_CTE_IDENTITY:
		str_append(out, in, len);
		break;
	}
}

void mime_decoder_finish(struct mime_decoder *d, str_t *out)
{
	if (d->cte == MIME_CTE_QP && d->npend > 0)
		str_append(out, d->pend, d->npend);
	d->npend = 0;
	d->b64_bits = d->b64_nbits = 0;
}
