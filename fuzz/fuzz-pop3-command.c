/* fuzz-pop3-command.c: libFuzzer target for pop3_parse.h.
 *
 * The input is one command line. It goes through pop3_parse_command(),
 * then its arguments through the message-number, argument-splitting and
 * TOP-count parsers, and the whole input through the RETR/TOP filter.
 * Invariants, checked with abort():
 *   - a refusal carries a reply text with no CR or LF;
 *   - an accepted message number is in 1..count;
 *   - split words are non-empty, hold no space, and lie inside the input;
 *   - the filter's output has only CRLF line ends, no line starting with
 *     a single '.', and feeding it in two pieces gives the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/str.h"
#include "pop3/pop3_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_error(const char *error)
{
	if (error == NULL || strpbrk(error, "\r\n") != NULL)
		abort();
}

static void check_output(const str_t *out)
{
	bool line_start = true;
	for (size_t i = 0; i < out->len; i++) {
		char c = out->data[i];
		if (c == '\n' && (i == 0 || out->data[i - 1] != '\r'))
			abort();
		if (c == '\r' && (i + 1 >= out->len || out->data[i + 1] != '\n'))
			abort();
		if (line_start && c == '.' && (i + 1 >= out->len || out->data[i + 1] != '.'))
			abort();
		line_start = c == '\n';
	}
	if (out->len > 0 && !line_start)
		abort();
}

static void run_filter(const char *in, size_t len, size_t split, bool top,
		       uint64_t lines, str_t *out)
{
	struct pop3_msg_filter f;
	pop3_msg_filter_init(&f, top, lines);
	if (!pop3_msg_filter_feed(&f, in, split, out))
		pop3_msg_filter_feed(&f, in + split, len - split, out);
	pop3_msg_filter_finish(&f, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct pop3_command cmd;
	const char *error = NULL;
	if (pop3_parse_command(line, size, &cmd, &error) < 0) {
		check_error(error);
	} else {
		unsigned num;
		unsigned count = size % 7;
		error = NULL;
		if (pop3_parse_msgnum(cmd.args, cmd.args_len, count, &num, &error) == 0) {
			if (num == 0 || num > count)
				abort();
		} else {
			check_error(error);
		}
		const char *words[3];
		size_t lens[3];
		int n = pop3_split_args(cmd.args, cmd.args_len, 0, 3, words, lens, &error);
		for (int i = 0; i < n; i++) {
			if (lens[i] == 0 || memchr(words[i], ' ', lens[i]) != NULL ||
			    words[i] < cmd.args || words[i] + lens[i] > cmd.args + cmd.args_len)
				abort();
		}
		uint64_t lines;
		(void)pop3_parse_top_lines(cmd.args, cmd.args_len, &lines, &error);
	}
	bool top = size > 0 && (data[0] & 1);
	uint64_t lines = size > 1 ? data[1] % 5 : 0;
	str_t a = STR_INIT, b = STR_INIT;
	run_filter(line, size, 0, top, lines, &a);
	run_filter(line, size, size / 2, top, lines, &b);
	check_output(&a);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	str_free(&a);
	str_free(&b);
	return 0;
}
