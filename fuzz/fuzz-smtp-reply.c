/* fuzz-smtp-reply.c: libFuzzer target for relay/smtp_reply.h, the parser
 * of what a (possibly hostile) remote SMTP server answers the relay.
 *
 * The input is cut at LF into lines and fed to one parser, as the client
 * does (lines over SMTP_REPLY_LINE_MAX included: the parser must refuse
 * them itself). Invariants, checked with abort():
 *   - a complete reply has a code 200..599, 1..max_lines lines, text no
 *     longer than max_lines * SMTP_REPLY_LINE_MAX octets, and an enhanced
 *     code that is empty or starts with the code's class digit;
 *   - smtp_reply_line() yields exactly `lines` lines, each inside the text;
 *   - EHLO capability parsing of a complete reply never fails. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay/smtp_client_private.h"
#include "relay/smtp_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct smtp_reply *r, unsigned max_lines)
{
	if (r->code < 200 || r->code > 599 || r->lines == 0 || r->lines > max_lines)
		abort();
	if (r->text.len > (size_t)max_lines * SMTP_REPLY_LINE_MAX)
		abort();
	if (r->enhanced[0] != '\0' && r->enhanced[0] != (char)('0' + r->code / 100))
		abort();
	const char *t;
	size_t len;
	unsigned n = 0;
	while (smtp_reply_line(r, n, &t, &len)) {
		if (t < r->text.data || t + len > r->text.data + r->text.len)
			abort();
		if (++n > r->lines)
			abort();
	}
	if (n != r->lines)
		abort();
	struct smtp_client_caps caps;
	memset(&caps, 0, sizeof(caps));
	smtp_client_caps_parse(&caps, r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned max_lines = 8;
	struct smtp_reply_parser p;
	smtp_reply_parser_init(&p, max_lines);
	const char *s = (const char *)data, *end = s + size;
	while (s < end) {
		const char *lf = memchr(s, '\n', (size_t)(end - s));
		size_t len = lf != NULL ? (size_t)(lf - s) : (size_t)(end - s);
		size_t line_len = len > 0 && s[len - 1] == '\r' ? len - 1 : len;
		const char *error = NULL;
		int ret = smtp_reply_feed(&p, s, line_len, &error);
		if (ret < 0 && error == NULL)
			abort();
		if (ret > 0)
			check_reply(&p.reply, max_lines);
		s += len + (lf != NULL ? 1 : 0);
	}
	smtp_reply_parser_free(&p);
	return 0;
}
