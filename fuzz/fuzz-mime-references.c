/* fuzz-mime-references.c: libFuzzer target for mime_references.h over a
 * header block. Invariants, checked with abort():
 *   - at most MIME_REFERENCES_MAX references, each (and the Message-ID)
 *     1..MIME_MSGID_MAX bytes with an '@' and no '<', '>', white space
 *     or control byte (mime_msgid.h), found in the input;
 *   - the parent is the last reference, NULL only without any;
 *   - the same bytes given as all three field values: the message has
 *     an id iff it names a reference (one parser for both);
 *   - the base subject is NUL-free and the call terminates. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime/mime_msgid.h"
#include "mime/mime_references.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_id(const char *id, const uint8_t *data, size_t size)
{
	size_t len = strlen(id);
	if (len == 0 || len > MIME_MSGID_MAX || memchr(id, '@', len) == NULL ||
	    memmem(data, size, id, len) == NULL)
		abort();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= ' ' || c == 0x7f || c == '<' || c == '>')
			abort();
	}
}

static void check(const struct mime_references *r, const uint8_t *data, size_t size)
{
	if (r->count > MIME_REFERENCES_MAX)
		abort();
	if (r->message_id != NULL)
		check_id(r->message_id, data, size);
	for (unsigned i = 0; i < r->count; i++)
		check_id(r->refs[i], data, size);
	const char *parent = mime_references_parent(r);
	if ((parent == NULL) != (r->count == 0) ||
	    (parent != NULL && parent != r->refs[r->count - 1]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct mime_references hdr, raw;
	mime_references_from_header(in, size, pool_temp(), &hdr);
	check(&hdr, data, size);
	/* the whole input as each field's value */
	mime_references_parse(in, size, in, size, in, size, pool_temp(), &raw);
	check(&raw, data, size);
	if ((raw.count > 0) != (raw.message_id != NULL))
		abort();
	bool reply;
	const char *s = mime_references_subject(in, size, pool_temp(), &reply);
	(void)strlen(s);
	pool_clear(pool_temp());
	return 0;
}
