/* fuzz-probe-reply.c: libFuzzer target for probe_reply.h, the parsers of
 * what a (possibly hostile) mail server sends to "postel probe".
 *
 * The input is split into lines with probe_line_next() and every line is
 * fed to each parser. Invariants, checked with abort():
 *   - probe_line_next() returns a line inside the input, consumes at most
 *     PROBE_LINE_MAX bytes, and never a line holding LF;
 *   - an SMTP reply line that parses has a code 200..599 and text inside
 *     the line;
 *   - lists never exceed PROBE_CAPS_MAX, and each stored word is printable
 *     ASCII (no byte a terminal could act on) of bounded length.
 * The DNS record parsers have their own target, fuzz-dns-parse.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_caps(const struct probe_caps *caps)
{
	if (caps->count > PROBE_CAPS_MAX)
		abort();
	for (unsigned i = 0; i < caps->count; i++) {
		const char *w = caps->items[i];
		size_t len = strlen(w);
		if (len == 0 || len > PROBE_CAP_LEN_MAX * 4 + 3)
			abort();
		for (size_t j = 0; j < len; j++) {
			if ((unsigned char)w[j] < 0x20 || (unsigned char)w[j] >= 0x7f)
				abort();
		}
	}
}

static void check_line(pool_t *pool, const char *line, size_t len,
		       struct probe_caps *caps, struct probe_caps *mechs)
{
	unsigned code;
	bool last;
	const char *text, *atoms;
	size_t text_len, atoms_len;

	if (probe_smtp_reply_line(line, len, &code, &last, &text, &text_len) == 0) {
		if (code < 200 || code > 599 || text < line ||
		    text + text_len > line + len)
			abort();
		probe_smtp_ehlo_line(pool, caps, mechs, text, text_len);
	}
	probe_pop3_capa_line(pool, caps, mechs, line, len);
	if (probe_imap_caps_in_line(line, len, &atoms, &atoms_len) == 1) {
		if (atoms < line || atoms + atoms_len > line + len)
			abort();
		probe_imap_caps(pool, caps, mechs, atoms, atoms_len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pool_t *pool = pool_create(4096);
	struct probe_caps caps = { 0 }, mechs = { 0 };
	const char *buf = (const char *)data;
	size_t left = size;

	while (left > 0) {
		const char *line;
		size_t len, consumed;
		int r = probe_line_next(buf, left, &line, &len, &consumed);
		if (r <= 0)
			break;
		if (line != buf || consumed > left || consumed > PROBE_LINE_MAX ||
		    len >= consumed || memchr(line, '\n', len) != NULL)
			abort();
		check_line(pool, line, len, &caps, &mechs);
		buf += consumed;
		left -= consumed;
	}
	check_caps(&caps);
	check_caps(&mechs);
	pool_destroy(&pool);
	return 0;
}
