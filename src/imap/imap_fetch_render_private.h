/* imap_fetch_render_private.h: the roles of the FETCH renderer
 * (imap_fetch_render.h) between its files: strings and headers
 * (_string.c), ENVELOPE (_envelope.c), BODY/BODYSTRUCTURE (_body.c),
 * sections (_section.c); the driver is imap_fetch_render.c. */
#ifndef POSTEL_IMAP_FETCH_RENDER_PRIVATE_H
#define POSTEL_IMAP_FETCH_RENDER_PRIVATE_H

#include "imap/imap_fetch_render.h"
#include "store/store_view.h"

#include <sys/types.h>

/* RFC 9051 4.3: nstring. NULL is NIL; a string is quoted when it is
 * short 7-bit text without CR, LF, NUL, else a literal (8-bit text).
 * NUL, CR and LF in header-derived text become spaces (they cannot
 * appear in either form of an IMAP string). */
void imap_render_nstring(str_t *out, const char *s, size_t len);
void imap_render_nstring_z(str_t *out, const char *s);
/* For text the MIME parser decoded to UTF-8 (display names, RFC 2231
 * and 2047 parameter values, descriptions): 8-bit text goes back out as
 * RFC 2047 UTF-8 encoded words, so an IMAP4rev1 client without
 * UTF8=ACCEPT never sees 8-bit data in ENVELOPE or BODYSTRUCTURE. */
void imap_render_nstring_7bit(str_t *out, const char *s);
/* A literal of exactly len octets: "{len}\r\n" then the data. */
void imap_render_literal_prefix(str_t *out, uint64_t len);

/* Header fields of a raw header block, in order: *name_r / *name_len_r
 * and the whole field (with its continuation lines and line end) as
 * *field_r / *field_len_r; the value starts after the colon. Returns
 * false at the end. *pos is the iterator (start at 0). */
bool imap_header_next_field(const char *hdr, size_t len, size_t *pos,
			    const char **name_r, size_t *name_len_r,
			    const char **field_r, size_t *field_len_r);
/* The unfolded, trimmed value of the first field called name, or NULL
 * (pool_temp). */
const char *imap_header_value(const char *hdr, size_t len, const char *name,
			      size_t *value_len_r);

/* RFC 9051 7.5.2 ENVELOPE from a message's raw header. */
void imap_render_envelope(str_t *out, const char *hdr, size_t len);

/* RFC 9051 7.5.2 BODY (extended false) or BODYSTRUCTURE of tree part
 * index; the reader gives the headers a message/rfc822 part's envelope
 * needs (hdr: a scratch buffer). */
int imap_render_body(str_t *out, const struct mime_tree *tree,
		     uint32_t index, bool extended,
		     struct store_message_reader *reader, str_t *hdr,
		     const char **error_r);

/* What a BODY[section] refers to (RFC 9051 6.4.5). */
enum imap_section_kind {
	IMAP_SECTION_KIND_MISSING,  /* no such part: NIL */
	IMAP_SECTION_KIND_RANGE,    /* wire octets [start, start + len) */
	IMAP_SECTION_KIND_FIELDS,   /* filter the header of part */
};
struct imap_section_target {
	enum imap_section_kind kind;
	uint64_t start, len;
	uint32_t part; /* FIELDS: the part whose header is filtered; a
			* part's body (a part number, WHOLE): that part */
};
/* tree may be NULL only for [] (the whole message of msg_size octets). */
void imap_section_resolve(const struct mime_tree *tree, uint64_t msg_size,
			  const struct imap_fetch_att *att,
			  struct imap_section_target *target_r);
/* The response item name: "BODY[1.2.HEADER.FIELDS (A B)]<0>" */
void imap_section_name(str_t *out, const struct imap_fetch_att *att);
/* RFC 9051 6.4.5 HEADER.FIELDS (.NOT): the selected fields of a raw
 * header, then the empty line. */
void imap_header_filter(str_t *out, const char *hdr, size_t len,
			const struct imap_fetch_att *att);

/* imap_fetch_render_binary.c: RFC 3516 BINARY[section]<partial> and
 * BINARY.SIZE. start appends the item's name and its size, NIL or
 * literal prefix to pending: 0 done, 1 the decoded data follows through
 * imap_binary_some() until imap_binary_done() (*bin_r set), -1 error
 * (imap_fetch_error_unknown_cte for an unknown encoding). */
struct imap_binary;
int imap_binary_start(struct imap_binary **bin_r, str_t *pending,
		      const struct mime_tree *tree, uint64_t msg_size,
		      struct store_message_reader *reader,
		      const struct imap_fetch_att *att, size_t *peak_r, const char **error_r);
/* Up to budget decoded bytes appended to out: the count, -1 error. */
ssize_t imap_binary_some(struct imap_binary *b, struct store_message_reader *reader,
			 str_t *out, size_t budget, const char **error_r);
bool imap_binary_done(const struct imap_binary *b);
void imap_binary_free(struct imap_binary **b);

/* imap_objectid.c: EMAILID, THREADID (RFC 8474 5) and PREVIEW (RFC 8970
 * 3; preview: the text, NULL as "") */
void imap_objectid_fetch_item(str_t *out, enum imap_fetch_item item,
			      const struct store_message_info *info,
			      const char *preview);

#endif
