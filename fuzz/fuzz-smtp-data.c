/* fuzz-smtp-data.c: libFuzzer target for smtp_data.h.
 *
 * Byte 0 picks where the input is split in two, byte 1 the mode and the
 * size cap; the rest is the message stream. Invariants, checked with
 * abort():
 *   - a feed split in two, and a feed one byte at a time, give exactly
 *     the result of one whole feed (output, end offset, every flag);
 *   - output is never longer than the input used; the end offset lies
 *     within the input; output is the first max_size decoded octets;
 *   - DATA mode agrees with a simple whole-buffer reference: the end is
 *     the first CRLF "." CRLF (the stream starting after a CRLF), and the
 *     output is the text before it with one dot removed at line starts;
 *   - BDAT output is the input, unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "smtp/smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
	str_t out;
	int ret;
	size_t consumed;
	struct smtp_data_decoder dec;
};

static void run_feed(enum smtp_data_mode mode, uint64_t max,
		     const char *in, size_t len, const size_t *cuts,
		     size_t n_cuts, struct run *r)
{
	memset(r, 0, sizeof(*r));
	smtp_data_decoder_init(&r->dec, mode, max, &r->out);
	size_t pos = 0;
	for (size_t i = 0; i <= n_cuts && r->ret == 0; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		size_t used;
		r->ret = smtp_data_decoder_feed(&r->dec, in + pos, end - pos,
						&used);
		if (used > end - pos || (r->ret == 0 && used != end - pos))
			abort();
		r->consumed += used;
		pos = end;
	}
	if (mode != SMTP_DATA_MODE_DATA)
		smtp_data_decoder_finish(&r->dec);
	if (r->consumed > len || r->out.len > r->consumed ||
	    r->out.len > max || r->out.len > r->dec.size ||
	    (!r->dec.too_big && r->out.len != r->dec.size) ||
	    r->dec.too_big != (r->dec.size > max))
		abort();
}

static void run_same(const struct run *a, const struct run *b)
{
	const struct smtp_data_decoder *x = &a->dec, *y = &b->dec;
	if (a->ret != b->ret || a->consumed != b->consumed ||
	    a->out.len != b->out.len ||
	    memcmp(str_c(&a->out), str_c(&b->out), a->out.len) != 0 ||
	    x->size != y->size || x->too_big != y->too_big ||
	    x->done != y->done || x->long_line != y->long_line ||
	    x->eight_bit != y->eight_bit || x->in_header != y->in_header ||
	    x->seen_date != y->seen_date ||
	    x->seen_message_id != y->seen_message_id ||
	    x->errors != y->errors || x->error != y->error)
		abort();
}

/* Whole-buffer reference for DATA mode; 1 if the end is in the input. */
static int reference(const char *in, size_t len, str_t *out,
		     size_t *consumed_r)
{
	str_t buf = STR_INIT;
	str_append(&buf, "\r\n", 2);
	str_append(&buf, in, len);
	const char *end = memmem(buf.data, buf.len, "\r\n.\r\n", 5);
	if (end == NULL) {
		str_free(&buf);
		return 0;
	}
	size_t msg_len = (size_t)(end - buf.data);	/* input offset of "." */
	*consumed_r = msg_len + 3;
	for (size_t i = 0; i < msg_len; i++) {
		bool line_start = i == 0 || (i >= 2 && in[i - 2] == '\r' &&
					     in[i - 1] == '\n');
		if (line_start && in[i] == '.')
			continue;
		str_appendc(out, in[i]);
	}
	str_free(&buf);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	size_t cut = len * data[0] / 255;
	enum smtp_data_mode mode = (enum smtp_data_mode)(data[1] % 3);
	uint64_t max = (data[1] >> 2) == 0 ? UINT64_MAX : (uint64_t)(data[1] >> 2) * 3;

	struct run whole, split, bytes;
	run_feed(mode, max, in, len, NULL, 0, &whole);
	run_feed(mode, max, in, len, &cut, 1, &split);
	run_same(&whole, &split);
	if (len <= 4096) {
		size_t *cuts = malloc(len * sizeof(*cuts) + 1);
		if (cuts == NULL)
			abort();
		for (size_t i = 0; i < len; i++)
			cuts[i] = i;
		run_feed(mode, max, in, len, cuts, len, &bytes);
		run_same(&whole, &bytes);
		free(cuts);
		str_free(&bytes.out);
	}

	if (mode == SMTP_DATA_MODE_DATA) {
		str_t ref = STR_INIT;
		size_t ref_consumed = 0;
		int ret = reference(in, len, &ref, &ref_consumed);
		if (ret != whole.ret)
			abort();
		if (ret == 1) {
			size_t keep = ref.len < max ? ref.len : (size_t)max;
			if (whole.consumed != ref_consumed ||
			    whole.dec.size != ref.len || whole.out.len != keep ||
			    memcmp(str_c(&whole.out), str_c(&ref), keep) != 0)
				abort();
		}
		str_free(&ref);
	} else {
		size_t keep = len < max ? len : (size_t)max;
		if (whole.out.len != keep || memcmp(str_c(&whole.out), in, keep) != 0)
			abort();
	}
	str_free(&whole.out);
	str_free(&split.out);
	return 0;
}
