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
 *     ASCII (no byte a terminal could act on) of bounded length;
 *   - the --dns parsers (probe_dns_parse.h) get every line (SPF, tag
 *     lists) and the whole input (record data, MTA-STS policy): what they
 *     return is printable, bounded, and inside their limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe/probe_dns_parse.h"
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

static void check_printable(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len > max)
		abort();
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			abort();
	}
}

static void check_dns_line(pool_t *pool, const char *line, size_t len)
{
	struct probe_spf spf;
	struct probe_tags tags;
	const char *error = NULL;

	if (probe_spf_parse(pool, line, len, &spf, &error) == 0) {
		if (spf.include_count > PROBE_SPF_TERMS_MAX ||
		    spf.lookups > PROBE_SPF_TERMS_MAX + 1)
			abort();
		for (unsigned i = 0; i < spf.include_count; i++)
			check_printable(spf.includes[i], 255 * 4 + 3);
	} else {
		check_printable(error, 4096);
	}
	if (probe_tags_parse(pool, line, len, &tags, &error) == 0) {
		if (tags.count > PROBE_TAGS_MAX)
			abort();
		for (unsigned i = 0; i < tags.count; i++) {
			check_printable(tags.tag[i], 60 * 4 + 3);
			check_printable(tags.value[i], 2048 * 4 + 3);
		}
	}
}

static void check_dns_whole(pool_t *pool, const uint8_t *data, size_t size)
{
	char host[PROBE_DNS_NAME_MAX + 1];
	unsigned pref;
	size_t off = 0;
	str_t txt = STR_INIT;
	struct probe_sts_policy pol;
	const char *error = NULL;

	if (probe_rdata_mx(data, size, &pref, host) == 0)
		check_printable(host, PROBE_DNS_NAME_MAX);
	if (probe_rdata_name(data, size, &off, host) == 0 && (off > size || off == 0))
		abort();
	if (probe_rdata_txt(data, size, &txt) == 0 && txt.len >= size + (size == 0))
		abort();
	str_free(&txt);
	if (probe_sts_policy_parse(pool, (const char *)data, size, &pol, &error) == 0) {
		if (pol.mx_count > PROBE_STS_MX_MAX || pol.max_age < 0)
			abort();
		for (unsigned i = 0; i < pol.mx_count; i++) {
			check_printable(pol.mx[i], 255 * 4 + 3);
			(void)probe_sts_mx_match(pol.mx[i], "mx.example.org");
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
		check_dns_line(pool, line, len);
		buf += consumed;
		left -= consumed;
	}
	check_caps(&caps);
	check_caps(&mechs);
	check_dns_whole(pool, data, size);
	pool_destroy(&pool);
	return 0;
}
