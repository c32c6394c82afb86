/* mime_downgrade_field.c: which RFC 6858 treatment an 8-bit header field
 * gets, and the msg-id lists (References, In-Reply-To) made 7-bit.
 *
 * Contract (mime_downgrade.h): mime_downgrade_field_kind() names the
 * treatment by field name (case-insensitive):
 *   - ADDRESS: address lists (RFC 5322 3.4; mime_downgrade.c);
 *   - MIME: Content-Type, Content-Disposition (RFC 2231 parameters);
 *   - MSGIDS: References, In-Reply-To: lists of msg-ids (RFC 5322
 *     3.6.4); an 8-bit id has no ASCII form and cannot be an encoded
 *     word (RFC 2047 5: not in an addr-spec or msg-id), so it alone is
 *     left out and the ASCII ids are kept (threading, RFC 5256, still
 *     finds them); no id left: the field is left out;
 *   - UNCOMMENT: Content-Transfer-Encoding, MIME-Version, Date and
 *     Resent-Date, whose only free text is comments (RFC 5322 3.2.2
 *     CFWS; RFC 2045 4 and 6.1): the comments are left out and the field
 *     kept when the rest is ASCII (a base64 part must not become 7BIT in
 *     BODYSTRUCTURE for an 8-bit comment), left out otherwise;
 *   - DROP: structured fields whose syntax admits no encoded word and
 *     whose 8-bit content has no 7-bit form: Message-ID, Content-ID,
 *     Resent-Message-ID (one msg-id), Return-Path, Received (RFC 5321
 *     4.4 trace: domains and a "for" path; an IDN U-label would need
 *     IDNA and a UTF-8 path has none), dates, Content-Language (RFC 3282
 *     tags), Content-Location (RFC 2557 URI), Content-MD5,
 *     Content-Transfer-Encoding, MIME-Version, and the signed or
 *     tag=value trace fields (DKIM-Signature, ARC-*,
 *     Authentication-Results): RFC 6858 3, as this server reads it
 *     (its full text was not at hand), prefers a field left out to one
 *     rewritten into something its syntax forbids;
 *   - TEXT: everything else: Subject, Comments, Keywords (phrases), and
 *     every unknown or X- field: RFC 2047 5 (1) allows encoded words in
 *     "any extension message header field" whose body is text, and RFC
 *     6858 3 (as best known here) encodes a field it does not know as
 *     unstructured text, which keeps what it said readable.
 * Bounded: one pass over the value. */
#include "mime/mime_downgrade.h"

#include <string.h>

#include "lib/mem.h"
#include "mime/mime_msgid.h"

#define LINE_MAX_COLS 76

static bool name_in(const char *name, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && mem_ieq(name, list[i], len))
			return true;
	return false;
}

enum mime_downgrade_kind mime_downgrade_field_kind(const char *name, size_t len)
{
	static const char *const address[] = {
		"From", "Sender", "Reply-To", "To", "Cc", "Bcc",
		"Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc",
		"Resent-Bcc", "Resent-Reply-To", "Disposition-Notification-To",
		"Mail-Followup-To", "Mail-Reply-To", "Errors-To",
	};
	static const char *const msgids[] = { "References", "In-Reply-To" };
	static const char *const uncomment[] = {
		"Content-Transfer-Encoding", "MIME-Version", "Date", "Resent-Date",
	};
	static const char *const drop[] = {
		"Message-ID", "Resent-Message-ID", "Content-ID", "Return-Path",
		"Received", "Content-Language",
		"Content-Location", "Content-MD5", "DKIM-Signature", "ARC-Seal", "ARC-Message-Signature",
		"ARC-Authentication-Results", "Authentication-Results",
	};
	/* RFC 2045 5, RFC 2183 2: parameters, which RFC 2231 encodes */
	if ((len == 12 && mem_ieq(name, "Content-Type", 12)) ||
	    (len == 19 && mem_ieq(name, "Content-Disposition", 19)))
		return MIME_DOWNGRADE_MIME;
	if (name_in(name, len, address, sizeof(address) / sizeof(*address)))
		return MIME_DOWNGRADE_ADDRESS;
	if (name_in(name, len, msgids, sizeof(msgids) / sizeof(*msgids)))
		return MIME_DOWNGRADE_MSGIDS;
	if (name_in(name, len, uncomment, sizeof(uncomment) / sizeof(*uncomment)))
		return MIME_DOWNGRADE_UNCOMMENT;
	if (name_in(name, len, drop, sizeof(drop) / sizeof(*drop)))
		return MIME_DOWNGRADE_DROP;
	return MIME_DOWNGRADE_TEXT;
}

bool mime_downgrade_msgids(const char *v, size_t len, const char *eol, size_t *col,
			   str_t *out)
{
	bool any = false;
	const char *id;
	size_t id_len;
	/* bounded: mime_msgid_next moves pos forward every round */
	for (size_t pos = 0; mime_msgid_next(v, len, &pos, &id, &id_len);) {
		if (mime_downgrade_8bit(id, id_len))
			continue;
		if (*col + 1 + id_len + 2 > LINE_MAX_COLS && *col > 1) {
			str_appendz(out, eol);
			*col = 0;
		}
		str_appendz(out, " <");
		str_append(out, id, id_len);
		str_appendc(out, '>');
		*col += id_len + 3;
		any = true;
	}
	return any;
}

bool mime_downgrade_uncomment(const char *v, size_t len, const char *eol, size_t *col,
			      str_t *out)
{
	/* RFC 5322 3.2.2: comments nest and hold quoted-pairs; one left
	 * open runs to the end. Removed without a trace: RFC 2045 4 reads
	 * "1.(produced by ...)0" as 1.0. */
	str_t bare = STR_INIT;
	int depth = 0;
	for (size_t i = 0; i < len; i++) {
		if (depth > 0 && v[i] == '\\')
			i++;
		else if (v[i] == '(')
			depth++;
		else if (v[i] == ')' && depth > 0)
			depth--;
		else if (depth == 0)
			str_appendc(&bare, v[i]);
	}
	bool ok = !mime_downgrade_8bit(bare.data, bare.len), any = false;
	const char *b = str_c(&bare);
	/* bounded: every round moves pos past one word or the blanks */
	for (size_t pos = 0; ok && pos < bare.len;) {
		size_t n = strcspn(b + pos, " \t\r\n");
		if (n == 0) {
			pos++;
			continue;
		}
		if (*col + 1 + n > LINE_MAX_COLS && *col > 1) {
			str_appendz(out, eol);
			*col = 0;
		}
		str_appendc(out, ' ');
		str_append(out, b + pos, n);
		*col += 1 + n;
		pos += n;
		any = true;
	}
	ok = ok && any;
	str_free(&bare);
	return ok;
}
