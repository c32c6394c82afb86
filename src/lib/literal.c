/* literal.c: IMAP literal prefixes and bounded literal reading. See
 * literal.h. Nothing here allocates until octets have arrived, and then
 * never more than the literal, which the prefix check bounded. */
#include "literal.h"
#include "conn.h"
#include "mem.h"

#include <string.h>

enum literal_prefix_result
literal_parse_prefix(const char *line, size_t len,
		     const struct literal_limits *limits,
		     struct literal_prefix *prefix_r, const char **error_r)
{
	memset(prefix_r, 0, sizeof(*prefix_r));
	*error_r = NULL;
	/* RFC 9051 4.3: literal = "{" number64 ["+"] "}" CRLF *CHAR8;
	 * RFC 3516: literal8 = "~{" number64 ["+"] "}" CRLF *OCTET */
	if (len < 2 || line[len - 1] != '}')
		return LITERAL_PREFIX_NONE;
	size_t end = len - 1; /* one past the last digit */
	if (line[end - 1] == '+') {
		prefix_r->nonsync = true;
		end--;
	}
	size_t digits = end;
	while (digits > 0 && line[digits - 1] >= '0' && line[digits - 1] <= '9')
		digits--;
	if (digits == 0 || line[digits - 1] != '{')
		return LITERAL_PREFIX_NONE;
	prefix_r->start = digits - 1;
	if (prefix_r->start > 0 && line[prefix_r->start - 1] == '~') {
		prefix_r->binary = true;
		prefix_r->start--;
	}
	if (digits == end) {
		*error_r = "Literal without a size";
		return LITERAL_PREFIX_INVALID;
	}
	/* digit by digit with an overflow check: leading zeros are allowed,
	 * any count of them; nothing is allocated for any number */
	uint64_t size = 0;
	for (size_t i = digits; i < end; i++) {
		unsigned d = (unsigned)(line[i] - '0');
		if (size > (LITERAL_NUMBER64_MAX - d) / 10) {
			*error_r = "Literal size out of range";
			return LITERAL_PREFIX_INVALID;
		}
		size = size * 10 + d;
	}
	prefix_r->size = size;
	uint64_t max = prefix_r->nonsync ? limits->max_nonsync : limits->max_size;
	if (size > max) {
		*error_r = prefix_r->nonsync ? "Non-synchronizing literal too big" :
			"Literal too big";
		return LITERAL_PREFIX_TOOBIG;
	}
	return LITERAL_PREFIX_OK;
}

void literal_reader_init(struct literal_reader *r, const struct literal_prefix *prefix)
{
	memset(r, 0, sizeof(*r));
	r->size = prefix->size;
	r->binary = prefix->binary;
}

size_t literal_reader_feed(struct literal_reader *r, const char *data, size_t len,
			   size_t max_chunk, literal_chunk_callback_t *cb, void *ctx)
{
	uint64_t left = r->size - r->done;
	size_t take = (uint64_t)len < left ? len : (size_t)left;
	if (max_chunk == 0)
		max_chunk = 1;
	if (!r->binary && !r->saw_nul && take > 0 && memchr(data, '\0', take) != NULL)
		r->saw_nul = true;
	for (size_t pos = 0; pos < take;) {
		size_t n = take - pos < max_chunk ? take - pos : max_chunk;
		if (cb != NULL)
			cb(ctx, data + pos, n);
		pos += n;
	}
	r->done += take;
	return take;
}

bool literal_read_conn(struct literal_reader *r, struct conn *conn,
		       size_t max_chunk, literal_chunk_callback_t *cb, void *ctx)
{
	const char *data;
	size_t len = conn_input_peek(conn, &data);
	size_t taken = literal_reader_feed(r, data, len, max_chunk, cb, ctx);
	conn_input_consume(conn, taken);
	return literal_reader_finished(r);
}

static void literal_append(void *ctx, const char *data, size_t len)
{
	str_append(ctx, data, len);
}

bool literal_read_conn_str(struct literal_reader *r, struct conn *conn, str_t *buf)
{
	const char *data;
	if (conn_input_peek(conn, &data) > 0 && r->done < r->size) {
		/* room for exactly the rest, once: str_reserve would round
		 * up to twice the limit */
		uint64_t left = r->size - r->done;
		if (buf->cap < buf->len + left + 1) {
			if (left > SIZE_MAX - buf->len - 1)
				return false; /* cannot happen: bounded by the limit */
			buf->data = xrealloc(buf->data, buf->len + (size_t)left + 1);
			buf->cap = buf->len + (size_t)left + 1;
			buf->data[buf->len] = '\0';
		}
	}
	return literal_read_conn(r, conn, SIZE_MAX, literal_append, buf);
}
