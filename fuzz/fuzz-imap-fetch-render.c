/* fuzz-imap-fetch-render.c: libFuzzer target for imap_fetch_render.h,
 * request x message.
 *
 * The input's first line is the FETCH items ("a FETCH 1 " is put before
 * it and it goes through imap_parser.h and imap_fetch_parse()); the rest
 * is the message, kept as a Maildir file would be (CRs dropped, LF line
 * ends) and read through the store's own reader, so the wire form is
 * its LF -> CRLF conversion, which the MIME tree is parsed from (as
 * store_structure.c does). Invariants, checked with abort():
 *   - the response is produced within a bounded number of calls, each
 *     appending at most max bytes (max varies with the input);
 *   - it starts "* 1 FETCH (" and ends ")\r\n", with each literal's
 *     {n} CRLF followed by n octets;
 *   - the renderer's own memory stays below the header cap plus the
 *     pending text of the structure (bounded by the message size). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "imap/imap_fetch_render.h"
#include "imap/imap_parser.h"
#include "store/store_private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct imap_parser_limits limits = {
	.max_args = 200, .max_depth = 10, .max_command_size = 4096,
	.literal = { .max_size = 0, .max_nonsync = 0 },
};

static void check_response(const char *s, size_t len)
{
	if (len < 14 || memcmp(s, "* 1 FETCH (", 11) != 0 ||
	    memcmp(s + len - 3, ")\r\n", 3) != 0)
		abort();
	for (size_t i = 11; i < len - 3; i++) {
		if (s[i] == '"') {
			for (i++; i < len && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		} else if (s[i] == '{') {
			char *end;
			unsigned long long n = strtoull(s + i + 1, &end, 10);
			if ((size_t)(end - s) + 3 > len ||
			    memcmp(end, "}\r\n", 3) != 0 ||
			    n > len - (size_t)(end + 3 - s))
				abort();
			i = (size_t)(end + 3 - s) + n - 1;
		} else if (s[i] == '\r' || s[i] == '\n') {
			abort();
		}
	}
}

static void render(const struct imap_fetch_request *req, const char *file,
		   size_t file_len, const char *wire, size_t wire_len,
		   size_t max)
{
	int fd = memfd_create("fuzz-fetch", MFD_CLOEXEC);
	if (fd < 0 || write(fd, file, file_len) != (ssize_t)file_len)
		abort();
	struct store_message_reader *reader = store_message_reader_fd(fd);
	store_message_reader_set_info(reader, wire_len, NULL, 0);
	struct mime_tree *tree = mime_parse(wire, wire_len);
	struct store_message_info info = {
		.uid = 7, .size = wire_len, .internaldate = 1733400000,
		.flags = "\\Seen",
	};
	const char *error;
	struct imap_fetch_render *r =
		imap_fetch_render_begin(req, 1, &info, tree, reader, &error);
	if (r != NULL) {
		str_t out = STR_INIT, all = STR_INIT;
		enum imap_fetch_render_result res;
		unsigned rounds = 0;
		do {
			if (++rounds > 1000000)
				abort();
			str_clear(&out);
			res = imap_fetch_render_next(r, &out, max, &error);
			if (out.len > max)
				abort();
			str_append(&all, out.data, out.len);
		} while (res == IMAP_FETCH_RENDER_MORE);
		if (res == IMAP_FETCH_RENDER_DONE)
			check_response(all.data, all.len);
		if (imap_fetch_render_peak(r) >
		    2 * IMAP_FETCH_HEADER_MAX + 64 * wire_len + 65536)
			abort();
		imap_fetch_render_free(&r);
		str_free(&out);
		str_free(&all);
	}
	mime_tree_free(&tree);
	store_message_close(&reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t line_len = nl == NULL ? size : (size_t)(nl - data);
	if (line_len > 2000)
		return 0;
	char line[2100] = "a FETCH 1 ";
	memcpy(line + 10, data, line_len);
	const char *msg = nl == NULL ? "" : (const char *)nl + 1;
	size_t msg_len = nl == NULL ? 0 : size - line_len - 1;
	char *file = malloc(msg_len + 1), *wire = malloc(2 * msg_len + 1);
	size_t file_len = 0, wire_len = 0;
	for (size_t i = 0; i < msg_len; i++) {
		if (msg[i] == '\r')
			continue;
		file[file_len++] = msg[i];
		if (msg[i] == '\n')
			wire[wire_len++] = '\r';
		wire[wire_len++] = msg[i];
	}
	struct imap_parser *p = imap_parser_create(&limits);
	struct imap_literal_need need;
	const char *error;
	if (imap_parser_feed_line(p, line, line_len + 10, &need, &error) == 0) {
		const struct imap_command *cmd = imap_parser_command(p);
		struct imap_fetch_request req;
		if (imap_fetch_parse(cmd->args, 1, cmd->count, 50, &req,
				     &error) == 0) {
			size_t max = IMAP_FETCH_RENDER_MIN_CHUNK + size % 5000;
			render(&req, file, file_len, wire, wire_len, max);
			imap_fetch_request_free(&req);
		}
	}
	imap_parser_destroy(&p);
	free(file);
	free(wire);
	return 0;
}
