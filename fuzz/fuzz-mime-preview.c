/* fuzz-mime-preview.c: libFuzzer target for mime_preview.h and
 * mime_msgid.h over a whole message. Invariants, checked with abort():
 *   - the preview is valid UTF-8 of at most MIME_PREVIEW_CHARS
 *     characters, with no control character, no leading or trailing
 *     space and no two spaces in a row (RFC 8970 3.1);
 *   - every message-id of Message-ID, References and In-Reply-To is
 *     1..MIME_MSGID_MAX bytes without '<', '>' or white space. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_msgid.h"
#include "mime/mime_preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_preview(const str_t *p)
{
	const unsigned char *s = (const unsigned char *)p->data;
	size_t chars = 0;
	for (size_t i = 0; i < p->len; chars++) {
		unsigned char c = s[i];
		size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xc2) || i + n > p->len)
			abort();
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				abort();
		if (c == ' ' && (i == 0 || i + 1 == p->len || s[i + 1] == ' '))
			abort();
		i += n;
	}
	if (chars > MIME_PREVIEW_CHARS)
		abort();
}

static void check_ids(const char *hdr, size_t len, const char *name)
{
	const char *value, *id;
	size_t vlen, pos = 0, l;
	if (!mime_header_find(hdr, len, name, &value, &vlen))
		return;
	if (value < hdr || value + vlen > hdr + len)
		abort();
	for (size_t i = 0; i <= vlen && mime_msgid_next(value, vlen, &pos, &id, &l); i++) {
		if (l == 0 || l > MIME_MSGID_MAX || id <= value || id + l >= value + vlen ||
		    pos > vlen)
			abort();
		for (size_t k = 0; k < l; k++)
			if (memchr("<> \t\r\n", id[k], 6) != NULL)
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *msg = (const char *)data;
	check_ids(msg, size, "Message-ID");
	check_ids(msg, size, "References");
	check_ids(msg, size, "In-Reply-To");
	struct mime_tree *tree = mime_parse(data, size);
	uint32_t i = mime_preview_part(tree);
	if (i != MIME_NONE) {
		const struct mime_part *p = &tree->parts[i];
		if (p->body_off > size || p->body_end > size || p->body_end < p->body_off)
			abort();
		str_t out = STR_INIT;
		mime_preview_text(p, data + p->body_off, (size_t)(p->body_end - p->body_off), &out);
		check_preview(&out);
		str_free(&out);
	}
	mime_tree_free(&tree);
	pool_clear(pool_temp());
	return 0;
}
