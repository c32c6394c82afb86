/* imap_fetch_render_envelope.c: RFC 9051 7.5.2 ENVELOPE from a message's
 * raw header: (date subject from sender reply-to to cc bcc in-reply-to
 * message-id). Strings are the header values unfolded and trimmed, not
 * decoded (the RFC gives the raw header text); an absent field is NIL.
 * Addresses come from mime_address.h (display names RFC 2047 decoded to
 * UTF-8: 8-bit ones go out encoded again, imap_render_nstring_7bit());
 * raw 8-bit header text goes as a literal. An absent or empty address list
 * is NIL, and Sender and Reply-To default to From (RFC 9051 7.5.2). */
#include "imap/imap_fetch_render_private.h"

#include "mime/mime_address.h"

static void render_value(str_t *out, const char *hdr, size_t len,
			 const char *name)
{
	size_t vlen = 0;
	const char *v = imap_header_value(hdr, len, name, &vlen);
	imap_render_nstring(out, v, vlen);
}

/* false (nothing written) if the field is absent or has no address */
static bool render_addresses(str_t *out, const char *hdr, size_t len,
			     const char *name)
{
	size_t vlen = 0;
	const char *v = imap_header_value(hdr, len, name, &vlen);
	if (v == NULL)
		return false;
	struct mime_address *addrs;
	uint32_t n = mime_address_parse(pool_temp(), v, vlen, &addrs);
	if (n == 0)
		return false;
	str_appendc(out, '(');
	for (uint32_t i = 0; i < n; i++) {
		str_appendc(out, '(');
		imap_render_nstring_7bit(out, addrs[i].name);
		str_appendc(out, ' ');
		imap_render_nstring_z(out, addrs[i].adl);
		str_appendc(out, ' ');
		imap_render_nstring_z(out, addrs[i].mailbox);
		str_appendc(out, ' ');
		imap_render_nstring_z(out, addrs[i].host);
		str_appendc(out, ')');
	}
	str_appendc(out, ')');
	return true;
}

void imap_render_envelope(str_t *out, const char *hdr, size_t len)
{
	str_appendc(out, '(');
	render_value(out, hdr, len, "Date");
	str_appendc(out, ' ');
	render_value(out, hdr, len, "Subject");
	str_appendc(out, ' ');
	size_t from_at = out->len;
	if (!render_addresses(out, hdr, len, "From"))
		str_appendz(out, "NIL");
	size_t from_len = out->len - from_at;
	static const char *const defaulted[] = { "Sender", "Reply-To" };
	for (unsigned i = 0; i < 2; i++) {
		str_appendc(out, ' ');
		if (!render_addresses(out, hdr, len, defaulted[i])) {
			/* the From list again (copied: out may move) */
			char *from = t_strndup(out->data + from_at, from_len);
			str_append(out, from, from_len);
		}
	}
	static const char *const lists[] = { "To", "Cc", "Bcc" };
	for (unsigned i = 0; i < 3; i++) {
		str_appendc(out, ' ');
		if (!render_addresses(out, hdr, len, lists[i]))
			str_appendz(out, "NIL");
	}
	str_appendc(out, ' ');
	render_value(out, hdr, len, "In-Reply-To");
	str_appendc(out, ' ');
	render_value(out, hdr, len, "Message-ID");
	str_appendc(out, ')');
}
