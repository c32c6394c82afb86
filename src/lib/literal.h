/* literal.h: IMAP literals read with a hard limit (RFC 9051 4.3, RFC 7888
 * non-synchronising {n+}, RFC 3516 binary ~{n}).
 *
 * Two steps. literal_parse_prefix() looks at a command line (without its
 * CRLF) that ends in a literal prefix and says how many octets follow; it
 * never allocates, and a size over the caller's limit (tighter before
 * authentication, and for {n+} whose octets come without waiting for "+")
 * or past RFC 9051's number64 (2^63-1, e.g. {18446744073709551616}) is
 * refused from the digits alone, so the caller answers without sending
 * "+". Then a struct literal_reader takes exactly that many octets from
 * the connection's input, in pieces no larger than the conn's input
 * buffer: to a callback (APPEND streams to the store) or into a str_t
 * that never holds more than the literal (which is within the limit). A
 * literal still arriving is progress for the idle timer (conn consume).
 *
 * A refused {n+} still has its octets on the way: the caller closes the
 * connection after its BAD (RFC 7888, LITERAL-), or, for a small excess, lets a
 * reader with a NULL callback skip them. */
#ifndef POSTEL_LITERAL_H
#define POSTEL_LITERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "str.h"

struct conn;

/* RFC 9051 number64: 63 bits */
#define LITERAL_NUMBER64_MAX 9223372036854775807ULL

struct literal_limits {
	uint64_t max_size;    /* {n} and ~{n}: larger is TOOBIG */
	uint64_t max_nonsync; /* {n+} and ~{n+}: LITERAL- says 4096 */
};

struct literal_prefix {
	uint64_t size;
	bool nonsync; /* {n+}: the octets follow at once, no "+" */
	bool binary;  /* ~{n}: may hold NUL (RFC 3516 literal8) */
	size_t start; /* where the prefix starts in the line ('{' or '~') */
};

enum literal_prefix_result {
	LITERAL_PREFIX_NONE,    /* the line does not end in a literal prefix */
	LITERAL_PREFIX_OK,      /* *prefix_r describes what follows */
	LITERAL_PREFIX_TOOBIG,  /* within number64, over the limit: *prefix_r
				   filled (for [TOOBIG] and nonsync) */
	LITERAL_PREFIX_INVALID, /* "{}", "{+}", past number64: *error_r says */
};

enum literal_prefix_result
literal_parse_prefix(const char *line, size_t len,
		     const struct literal_limits *limits,
		     struct literal_prefix *prefix_r, const char **error_r);

/* Gets each piece of the literal, in order; len > 0. */
typedef void literal_chunk_callback_t(void *ctx, const char *data, size_t len);

struct literal_reader {
	uint64_t size;
	uint64_t done;     /* octets taken so far */
	bool binary;
	bool saw_nul;      /* a NUL in a non-binary literal (CHAR8 excludes it) */
};

void literal_reader_init(struct literal_reader *r, const struct literal_prefix *prefix);
static inline bool literal_reader_finished(const struct literal_reader *r)
{
	return r->done == r->size;
}

/* Take what of data[0..len) belongs to the literal, cb (may be NULL: the
 * octets are skipped) getting it in pieces of at most max_chunk bytes.
 * Returns the bytes taken; the rest is what follows the literal. */
size_t literal_reader_feed(struct literal_reader *r, const char *data, size_t len,
			   size_t max_chunk, literal_chunk_callback_t *cb, void *ctx);

/* From the connection's buffered input: true once the whole literal has
 * been taken (the rest of the command line follows in the input), false
 * when more must arrive (call again on the next CONN_EV_INPUT). */
bool literal_read_conn(struct literal_reader *r, struct conn *conn,
		       size_t max_chunk, literal_chunk_callback_t *cb, void *ctx);
/* The same into buf (appended), which grows to exactly the literal's size
 * at most, when the first octet arrives. */
bool literal_read_conn_str(struct literal_reader *r, struct conn *conn, str_t *buf);

#endif
