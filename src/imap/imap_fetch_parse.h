/* imap_fetch_parse.h: FETCH data items (RFC 9051 6.4.5 and section 9
 * fetch-att, RFC 3501 6.4.5 RFC822*, RFC 3516 BINARY) into a list.
 *
 * Contract: takes the arguments after the sequence set: one macro (ALL,
 * FAST, FULL), one item, or a parenthesised list of items; anything else
 * (fetch modifiers such as CHANGEDSINCE: the caller splits them off,
 * imap_condstore_parse.h) is refused. Section part paths are capped at
 * IMAP_SECTION_MAX_DEPTH, items at max_items. Header field names point
 * into the parser's strings: the request lives no longer than the command. */
#ifndef POSTEL_IMAP_FETCH_PARSE_H
#define POSTEL_IMAP_FETCH_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "imap/imap_parser.h"

#define IMAP_SECTION_MAX_DEPTH 16
#define IMAP_SECTION_MAX_FIELDS 64

enum imap_fetch_item {
	IMAP_FETCH_FLAGS, IMAP_FETCH_INTERNALDATE, IMAP_FETCH_RFC822,
	IMAP_FETCH_RFC822_HEADER, IMAP_FETCH_RFC822_SIZE, IMAP_FETCH_RFC822_TEXT,
	IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY, IMAP_FETCH_BODYSTRUCTURE,
	IMAP_FETCH_UID,
	IMAP_FETCH_MODSEQ,       /* RFC 7162 3.1.4 */
	IMAP_FETCH_BODY_SECTION, /* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_BINARY,       /* BINARY[...] and BINARY.PEEK[...] */
	IMAP_FETCH_BINARY_SIZE,
};

enum imap_section_text {
	IMAP_SECTION_WHOLE,      /* [] or [1.2]: the whole (part) */
	IMAP_SECTION_HEADER, IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT, IMAP_SECTION_TEXT, IMAP_SECTION_MIME,
};

struct imap_header_field {
	const char *name;
	size_t len;
};

struct imap_fetch_att {
	enum imap_fetch_item item;
	bool peek;
	uint32_t part[IMAP_SECTION_MAX_DEPTH];
	unsigned part_depth;
	enum imap_section_text text;
	struct imap_header_field fields[IMAP_SECTION_MAX_FIELDS];
	unsigned field_count;
	bool partial;                 /* <offset.length> */
	uint64_t partial_offset, partial_length;
};

struct imap_fetch_request {
	struct imap_fetch_att *atts;  /* owned: imap_fetch_request_free() */
	unsigned count;
};

/* args[first..end): 0 ok, -1 BAD with *error_r. */
int imap_fetch_parse(const struct imap_arg *args, unsigned first, unsigned end,
		     unsigned max_items, struct imap_fetch_request *req_r,
		     const char **error_r);
void imap_fetch_request_free(struct imap_fetch_request *req);

/* One item, e.g. "BODY.PEEK[1.2.HEADER.FIELDS (From)]<0.100>". */
int imap_fetch_parse_att(const char *s, size_t len, struct imap_fetch_att *att_r,
			 const char **error_r);

#endif
