/* fuzz-literal.c: libFuzzer target for literal.h.
 *
 * Input: two bytes that set the limits, one that sets the piece size,
 * then a command line up to the first LF, then the bytes that follow it.
 * Invariants, checked with abort():
 *   - the prefix parse agrees with a reference written here (digits
 *     stripped of leading zeros, valued in 128 bits): NONE, INVALID past
 *     2^63-1 or without digits, TOOBIG over the limit for its kind, OK;
 *   - start points at the '{' or '~' of the prefix, inside the line;
 *   - the reader takes min(size, available) bytes, equal to the input,
 *     never more than the literal and in pieces no larger than asked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/literal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum literal_prefix_result
reference(const char *line, size_t len, const struct literal_limits *limits,
	  uint64_t *size_r, bool *nonsync_r, bool *binary_r)
{
	if (len < 2 || line[len - 1] != '}')
		return LITERAL_PREFIX_NONE;
	size_t end = len - 1;
	*nonsync_r = line[end - 1] == '+';
	if (*nonsync_r)
		end--;
	size_t d = end;
	while (d > 0 && line[d - 1] >= '0' && line[d - 1] <= '9')
		d--;
	if (d == 0 || line[d - 1] != '{')
		return LITERAL_PREFIX_NONE;
	*binary_r = d >= 2 && line[d - 2] == '~';
	if (d == end)
		return LITERAL_PREFIX_INVALID;
	while (d < end - 1 && line[d] == '0')
		d++;
	if (end - d > 19)
		return LITERAL_PREFIX_INVALID;
	unsigned __int128 v = 0;
	for (size_t i = d; i < end; i++)
		v = v * 10 + (unsigned)(line[i] - '0');
	if (v > LITERAL_NUMBER64_MAX)
		return LITERAL_PREFIX_INVALID;
	*size_r = (uint64_t)v;
	return *size_r > (*nonsync_r ? limits->max_nonsync : limits->max_size) ?
		LITERAL_PREFIX_TOOBIG : LITERAL_PREFIX_OK;
}

struct sink {
	const uint8_t *expect;
	size_t got, max_chunk;
};

static void on_chunk(void *ctx, const char *data, size_t len)
{
	struct sink *s = ctx;
	if (len == 0 || len > s->max_chunk ||
	    memcmp(data, s->expect + s->got, len) != 0)
		abort();
	s->got += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	struct literal_limits limits = {
		.max_size = (uint64_t)data[0] << (data[0] % 50),
		.max_nonsync = data[1],
	};
	size_t max_chunk = data[2] % 64 + 1;
	data += 3;
	size -= 3;
	const uint8_t *lf = memchr(data, '\n', size);
	size_t line_len = lf != NULL ? (size_t)(lf - data) : size;
	const char *line = (const char *)data;
	const uint8_t *rest = lf != NULL ? lf + 1 : data + size;
	size_t rest_len = (size_t)(data + size - rest);

	struct literal_prefix p;
	const char *error;
	enum literal_prefix_result r =
		literal_parse_prefix(line, line_len, &limits, &p, &error);
	uint64_t ref_size = 0;
	bool nonsync = false, binary = false;
	enum literal_prefix_result ref =
		reference(line, line_len, &limits, &ref_size, &nonsync, &binary);
	if (r != ref)
		abort();
	if (r == LITERAL_PREFIX_NONE)
		return 0;
	if (error == NULL && r != LITERAL_PREFIX_OK)
		abort();
	if (p.start >= line_len || p.nonsync != nonsync || p.binary != binary ||
	    line[p.start] != (binary ? '~' : '{'))
		abort();
	if (r == LITERAL_PREFIX_INVALID)
		return 0;
	if (p.size != ref_size)
		abort();
	if (r != LITERAL_PREFIX_OK)
		return 0;

	struct literal_reader reader;
	literal_reader_init(&reader, &p);
	struct sink sink = { rest, 0, max_chunk };
	size_t taken = 0;
	/* in uneven steps, as input arrives */
	for (size_t pos = 0; pos < rest_len;) {
		size_t step = (pos * 7 + 13) % 97 + 1;
		if (step > rest_len - pos)
			step = rest_len - pos;
		size_t n = literal_reader_feed(&reader, (const char *)rest + pos, step,
					       max_chunk, on_chunk, &sink);
		if (n > step)
			abort();
		taken += n;
		pos += step;
	}
	uint64_t want = p.size < rest_len ? p.size : rest_len;
	if (taken != want || sink.got != want || reader.done != want ||
	    literal_reader_finished(&reader) != (p.size <= rest_len))
		abort();
	if (!binary && reader.saw_nul != (memchr(rest, '\0', (size_t)want) != NULL))
		abort();
	return 0;
}
