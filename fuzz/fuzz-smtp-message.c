/* fuzz-smtp-message.c: libFuzzer target for the header-section scanner of
 * smtp_message.h.
 *
 * Byte 0 picks where the input is split in two; the rest is the message.
 * Invariants, checked with abort():
 *   - a feed split in two, and a feed one byte at a time, give exactly the
 *     result of one whole feed (first-line flags, Return-Path ranges,
 *     Delivered-To values);
 *   - the ranges ascend, do not overlap, lie within the message, and each
 *     starts with "return-path" (any case) at a line start;
 *   - a Delivered-To value is never longer than SMTP_MESSAGE_VALUE_MAX;
 *   - first_line_field implies the input starts with 1*ftext ":". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/str.h"
#include "smtp/smtp_message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	struct smtp_message_scan scan;
	str_t values;
};

static void collect(void *context, const char *value, size_t len)
{
	struct run *r = context;
	if (len > SMTP_MESSAGE_VALUE_MAX)
		abort();
	str_append(&r->values, value, len);
	str_appendc(&r->values, '\n');
}

static void run_feed(const char *in, size_t len, size_t step, struct run *r)
{
	memset(r, 0, sizeof(*r));
	smtp_message_scan_init(&r->scan, collect, r);
	bool done = false;
	for (size_t off = 0; off < len && !done; off += step)
		done = smtp_message_scan_feed(&r->scan, in + off,
					      len - off < step ? len - off : step);
	if (!done)
		smtp_message_scan_finish(&r->scan);
}

static void run_same(const struct run *a, const struct run *b)
{
	const struct smtp_message_scan *x = &a->scan, *y = &b->scan;
	if (x->first_line_field != y->first_line_field ||
	    x->first_line_empty != y->first_line_empty ||
	    x->return_path_count != y->return_path_count ||
	    a->values.len != b->values.len ||
	    memcmp(str_c(&a->values), str_c(&b->values), a->values.len) != 0)
		abort();
	for (unsigned i = 0; i < x->return_path_count; i++) {
		if (x->return_paths[i].start != y->return_paths[i].start ||
		    x->return_paths[i].end != y->return_paths[i].end)
			abort();
	}
}

static void run_free(struct run *r)
{
	smtp_message_scan_deinit(&r->scan);
	str_free(&r->values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	size_t cut = len == 0 ? 1 : 1 + data[0] % len;
	struct run whole, split, bytes;
	run_feed(in, len, len == 0 ? 1 : len, &whole);
	run_feed(in, len, cut, &split);
	run_feed(in, len, 1, &bytes);
	run_same(&whole, &split);
	run_same(&whole, &bytes);

	uint64_t pos = 0;
	for (unsigned i = 0; i < whole.scan.return_path_count; i++) {
		const struct smtp_message_range *rg = &whole.scan.return_paths[i];
		if (rg->start < pos || rg->end <= rg->start || rg->end > len ||
		    rg->end - rg->start < 12 ||
		    strncasecmp(in + rg->start, "return-path", 11) != 0 ||
		    (rg->start > 0 && in[rg->start - 1] != '\n'))
			abort();
		pos = rg->end;
	}
	if (whole.scan.first_line_field) {
		size_t i = 0;
		while (i < len && in[i] > 32 && in[i] < 127 && in[i] != ':')
			i++;
		if (i == 0 || i >= len || in[i] != ':')
			abort();
	}
	run_free(&whole);
	run_free(&split);
	run_free(&bytes);
	return 0;
}
