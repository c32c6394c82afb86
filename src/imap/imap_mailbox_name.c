/* imap_mailbox_name.c: modified UTF-7 and mailbox names (see
 * imap_mailbox_name.h). */
#include "imap/imap_mailbox_name.h"

#include <stdint.h>
#include <string.h>

#include "imap/imap_args.h"
#include "store/store.h"

static int mutf7_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	/* RFC 3501 5.1.3: "," replaces "/" of RFC 2152 base64 */
	return c == '+' ? 62 : c == ',' ? 63 : -1;
}

static void append_utf8(str_t *out, uint32_t cp)
{
	char b[4];
	size_t n;
	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	str_append(out, b, n);
}

/* One base64 run s[*i..'-'), *i after the '-'. */
static int decode_run(const char *s, size_t len, size_t *i, str_t *out)
{
	uint32_t bits = 0, high = 0;
	unsigned nbits = 0;
	size_t k = *i;
	for (; k < len && s[k] != '-'; k++) {
		int v = mutf7_value(s[k]);
		if (v < 0)
			return -1;
		bits = (bits << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits < 16)
			continue;
		nbits -= 16;
		uint32_t unit = (bits >> nbits) & 0xffff;
		bits &= (1u << nbits) - 1;
		if (high != 0) {
			if (unit < 0xdc00 || unit > 0xdfff)
				return -1;
			append_utf8(out, 0x10000 + ((high - 0xd800) << 10) + (unit - 0xdc00));
			high = 0;
		} else if (unit >= 0xd800 && unit <= 0xdbff) {
			high = unit;
		} else if ((unit >= 0xdc00 && unit <= 0xdfff) ||
			   (unit >= 0x20 && unit <= 0x7e)) {
			/* a lone low surrogate; printable ASCII must stand as itself */
			return -1;
		} else {
			append_utf8(out, unit);
		}
	}
	/* closed by '-', whole units, zero padding */
	if (k == len || k == *i || high != 0 || nbits >= 6 || bits != 0)
		return -1;
	*i = k + 1;
	return 0;
}

int imap_mutf7_to_utf8(const char *s, size_t len, str_t *out, const char **error_r)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f) {
			*error_r = "Mailbox name is not modified UTF-7";
			return -1;
		}
		if (c != '&') {
			str_appendc(out, (char)c);
			i++;
		} else if (i + 1 < len && s[i + 1] == '-') {
			str_appendc(out, '&');
			i += 2;
		} else {
			i++;
			if (decode_run(s, len, &i, out) < 0) {
				*error_r = "Invalid modified UTF-7 in mailbox name";
				return -1;
			}
		}
	}
	return 0;
}

static bool utf8_valid(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			(c & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || i + n > len || (n == 2 && c < 0xc2))
			return false;
		uint32_t cp = n == 1 ? c : c & (0x7f >> n);
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* no overlong forms, surrogates or values past U+10FFFF */
		if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

int imap_mailbox_name_get(const struct imap_arg *arg, bool utf8_accept, str_t *buf,
			  const char **name_r, const char **error_r)
{
	const char *s;
	size_t len;
	if (imap_arg_get_astring(arg, &s, &len, error_r) < 0)
		return -1;
	buf->len = 0;
	if (utf8_accept) {
		if (!utf8_valid((const unsigned char *)s, len)) {
			*error_r = "Mailbox name is not UTF-8";
			return -1;
		}
		str_append(buf, s, len);
	} else if (imap_mutf7_to_utf8(s, len, buf, error_r) < 0) {
		return -1;
	}
	str_appendc(buf, '\0');
	/* a NUL from a literal, or one decoded, ends the check early */
	if (strlen(buf->data) != buf->len - 1) {
		*error_r = "Invalid mailbox name";
		return -1;
	}
	/* RFC 3501 5.1.2: a leading "~" names another user's hierarchy,
	 * which Postel does not offer */
	if (buf->data[0] == '~') {
		*error_r = "No access to other users' mailboxes";
		return -1;
	}
	return store_mailbox_name_check(buf->data, name_r, error_r);
}
