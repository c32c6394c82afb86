/* smtp_data.h: streaming decoder for the message text of DATA and BDAT.
 *
 * Contract: pure byte processing, no I/O. Input may arrive in chunks split
 * anywhere (even inside CRLF "." CRLF); the results never depend on where
 * the splits fall. The decoder never allocates: output goes to a caller's
 * str_t or sink callback.
 *
 * DATA (RFC 5321 4.1.1.4, 4.5.2): feed the bytes that follow the 354
 * reply. One leading dot is removed from each line that starts with one,
 * and the message ends exactly after CRLF "." CRLF; nothing else ends it
 * (no LF "." LF, no CR "." CR, no "." after a NUL...), which defeats SMTP
 * smuggling. Decoding starts "just after a CRLF", so ".\r\n" at once is an
 * empty message. The output keeps CRLF line ends and excludes the final
 * ".\r\n" (the CRLF before the dot is the message's last line end).
 *
 * BDAT (RFC 3030 2): no dot handling and no end marker: feed each chunk's
 * octets, then call smtp_data_decoder_finish() after the LAST chunk.
 *
 * While decoding, the decoder records, and never stops for:
 *   - bare CR (CR not followed by LF), bare LF (LF not after CR), NUL:
 *     sticky error bits with a reason text. Decoding goes on to the real
 *     end so that the rest of the message is never read as commands; the
 *     session then refuses the message (e.g. 550 5.6.0 after the end).
 *     In SMTP_DATA_MODE_BDAT_BINARY (BODY=BINARYMIME, RFC 3030 3) these
 *     are errors only in the header section.
 *   - size: decoded octets. Past max_size, output stops (the output is the
 *     first max_size octets) and too_big is set; scanning goes on.
 *   - a line over 998 octets before CRLF (RFC 5322 2.1.1), 8-bit octets.
 *   - the header section (RFC 5322 2.1: up to the first empty line, or the
 *     first line that is neither a field nor a continuation) and whether
 *     it held "Date:" and "Message-ID:" fields (any case).
 *
 * With smtp_data_decoder_accept_bare_lf() (submission from a logged-in
 * user: scripts send bare LFs, as Postfix's smtpd_forbid_bare_newline =
 * normalize allows), a bare LF is written out as CRLF and is no error; it
 * ends a line for dot-unstuffing, but never the message: a "." line ending
 * in a bare LF, or after one ("\n.\r\n"), is kept as a "." line, and only
 * CRLF "." CRLF ends DATA. A bare CR and NUL stay errors. */
#ifndef POSTEL_SMTP_DATA_H
#define POSTEL_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/str.h"

#define SMTP_DATA_MSGID_MAX 128

enum smtp_data_mode {
	SMTP_DATA_MODE_DATA = 0,	/* dot-stuffed, ends at CRLF.CRLF */
	SMTP_DATA_MODE_BDAT,		/* BDAT chunks, 7BIT/8BITMIME */
	SMTP_DATA_MODE_BDAT_BINARY,	/* BDAT chunks, BODY=BINARYMIME */
};

enum smtp_data_error {
	SMTP_DATA_ERR_BARE_LF = 1u << 0,
	SMTP_DATA_ERR_BARE_CR = 1u << 1,
	SMTP_DATA_ERR_NUL = 1u << 2,
};

/* Receives decoded message octets, in order, at most max_size in all. */
typedef void smtp_data_sink_t(void *context, const char *data, size_t len);

struct smtp_data_decoder {
	/* Results: read them directly or through the accessors below. */
	uint64_t size;		/* decoded octets, counted past max_size */
	bool too_big;		/* size > max_size */
	bool done;		/* DATA end seen, or BDAT finished */
	bool long_line;		/* a line over 998 octets */
	bool eight_bit;		/* an octet >= 0x80 */
	bool in_header;		/* still inside the header section */
	bool seen_date;		/* "Date:" in the header section */
	bool seen_message_id;	/* "Message-ID:" in the header section */
	/* the first Message-ID's value (first line, leading WSP dropped),
	 * cut to fit; for the log. NUL-terminated. */
	char message_id[SMTP_DATA_MSGID_MAX];
	unsigned char message_id_len;
	unsigned errors;	/* enum smtp_data_error bits, sticky */
	const char *error;	/* "bare LF", "bare CR" or "NUL": the first */

	/* Private state. */
	enum smtp_data_mode mode;
	uint64_t max_size;
	str_t *out;
	smtp_data_sink_t *sink;
	void *sink_context;
	unsigned char frame_state, hdr_state, hdr_name_len;
	bool msgid_capture;
	char hdr_name[11];
	bool prev_cr;
	bool lf_to_crlf;
	uint32_t line_len;
};

/* Start decoding one message. out (may be NULL) receives the decoded
 * octets; max_size is the most octets kept (UINT64_MAX: no limit).
 * A zero-filled decoder may be passed to deinit without init. */
void smtp_data_decoder_init(struct smtp_data_decoder *dec,
			    enum smtp_data_mode mode, uint64_t max_size,
			    str_t *out);
/* Send output to sink as well as (or instead of, with out NULL) out. */
void smtp_data_decoder_set_sink(struct smtp_data_decoder *dec,
				smtp_data_sink_t *sink, void *context);
/* Take a bare LF as CRLF (see above). Call after init, before feeding;
 * DATA and BDAT modes only (a BINARYMIME body is kept as it is). */
void smtp_data_decoder_accept_bare_lf(struct smtp_data_decoder *dec);
/* Forget everything; the decoder owns no memory, so this only clears. */
void smtp_data_decoder_deinit(struct smtp_data_decoder *dec);

/* Feed input. DATA mode: returns 1 when CRLF "." CRLF has been consumed;
 * *consumed_r is then the number of bytes of this call used, up to and
 * including that final CRLF; what follows is the next command (pipelining,
 * RFC 2920). Returns 0 when all len bytes were used and more are needed.
 * After the end, returns 1 with *consumed_r = 0.
 * BDAT modes: always uses all bytes and returns 0. */
int smtp_data_decoder_feed(struct smtp_data_decoder *dec, const void *data,
			   size_t len, size_t *consumed_r);

/* BDAT: call after the LAST chunk; a CR at the very end is a bare CR.
 * Sets done. Harmless in DATA mode. */
void smtp_data_decoder_finish(struct smtp_data_decoder *dec);

static inline bool smtp_data_seen_date(const struct smtp_data_decoder *dec)
{
	return dec->seen_date;
}

static inline bool
smtp_data_seen_message_id(const struct smtp_data_decoder *dec)
{
	return dec->seen_message_id;
}

/* The first framing error ("bare LF", "bare CR", "NUL"), or NULL. */
static inline const char *
smtp_data_error_reason(const struct smtp_data_decoder *dec)
{
	return dec->error;
}

#endif
