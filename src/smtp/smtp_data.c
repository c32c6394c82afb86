/* smtp_data.c: DATA/BDAT message decoder. See smtp_data.h.
 *
 * Two layers: the DATA framer finds line starts (only after CRLF), drops
 * stuffed dots and spots CRLF "." CRLF; everything it lets through goes to
 * data_emit(), which scans the decoded octets (bare CR/LF, NUL, line
 * length, 8-bit, header fields) and writes the output. BDAT input goes to
 * data_emit() directly. Scanning the decoded stream is equivalent to
 * scanning the input for CR/LF pairing: a dot is only removed right after
 * an LF, so its removal can neither make nor break a CRLF pair.
 *
 * Accepting bare LFs adds two framer states for a line that starts after
 * a bare LF: a dot there is unstuffed like any other, but such a line can
 * never be the end marker, and data_emit() writes each bare LF as CRLF
 * before the scanner sees it. */
#include "smtp/smtp_data.h"

#include <string.h>

/* RFC 5322 2.1.1: at most 998 characters excluding the CRLF */
#define SMTP_DATA_LINE_MAX 998

enum frame_state {
	FRAME_LINE_START = 0,	/* after CRLF (and at the start) */
	FRAME_DOT,		/* line start, then "." (withheld) */
	FRAME_DOT_CR,		/* line start, then ".\r" (both withheld) */
	FRAME_TEXT,		/* inside a line */
	FRAME_CR,		/* inside a line, after "\r" (emitted) */
	FRAME_LF_START,		/* after a bare LF taken as CRLF */
	FRAME_LF_DOT,		/* after a bare LF, then "." (withheld) */
};

enum hdr_state {
	HDR_LINE_START = 0,
	HDR_START_CR,		/* a line that starts with CR */
	HDR_NAME,		/* field name so far */
	HDR_NAME_WSP,		/* WSP after the name (RFC 5322 4.5.3 obs) */
	HDR_VALUE,		/* rest of a field line */
};

void smtp_data_decoder_init(struct smtp_data_decoder *dec,
			    enum smtp_data_mode mode, uint64_t max_size,
			    str_t *out)
{
	memset(dec, 0, sizeof(*dec));
	dec->mode = mode;
	dec->max_size = max_size;
	dec->out = out;
	dec->in_header = true;
	dec->frame_state = FRAME_LINE_START;
	dec->hdr_state = HDR_LINE_START;
}

void smtp_data_decoder_set_sink(struct smtp_data_decoder *dec,
				smtp_data_sink_t *sink, void *context)
{
	dec->sink = sink;
	dec->sink_context = context;
}

void smtp_data_decoder_accept_bare_lf(struct smtp_data_decoder *dec)
{
	dec->lf_to_crlf = dec->mode != SMTP_DATA_MODE_BDAT_BINARY;
}

void smtp_data_decoder_deinit(struct smtp_data_decoder *dec)
{
	memset(dec, 0, sizeof(*dec));
}

static void data_error(struct smtp_data_decoder *dec, unsigned bit,
		       const char *reason)
{
	/* BINARYMIME bodies may hold any octet (RFC 3030 3). */
	if (dec->mode == SMTP_DATA_MODE_BDAT_BINARY && !dec->in_header)
		return;
	dec->errors |= bit;
	if (dec->error == NULL)
		dec->error = reason;
}

/* RFC 5322 3.6.8 ftext: printable US-ASCII except ':' */
static bool is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

static void hdr_field_name_done(struct smtp_data_decoder *dec)
{
	if (dec->hdr_name_len == 4 && memcmp(dec->hdr_name, "date", 4) == 0)
		dec->seen_date = true;
	else if (dec->hdr_name_len == 10 &&
		 memcmp(dec->hdr_name, "message-id", 10) == 0) {
		/* the first one's value is kept for the log */
		dec->msgid_capture = !dec->seen_message_id;
		dec->seen_message_id = true;
	}
}

/* One decoded octet through the header section scanner. */
static void hdr_scan(struct smtp_data_decoder *dec, unsigned char c)
{
	bool wsp = c == ' ' || c == '\t';

	switch ((enum hdr_state)dec->hdr_state) {
	case HDR_LINE_START:
		if (c == '\r') {
			dec->hdr_state = HDR_START_CR;
		} else if (wsp) {
			dec->hdr_state = HDR_VALUE;	/* folded line */
		} else if (is_ftext(c)) {
			dec->hdr_name[0] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			dec->hdr_name_len = 1;
			dec->hdr_state = HDR_NAME;
		} else {
			dec->in_header = false;
		}
		break;
	case HDR_START_CR:
		/* CRLF: the empty line; anything else: not a header. */
		dec->in_header = false;
		break;
	case HDR_NAME:
		if (c == ':') {
			hdr_field_name_done(dec);
			dec->hdr_state = HDR_VALUE;
		} else if (is_ftext(c)) {
			/* Longer names than sizeof(hdr_name) stop growing and
			 * cannot match: both wanted names are shorter. */
			if (dec->hdr_name_len < sizeof(dec->hdr_name))
				dec->hdr_name[dec->hdr_name_len++] =
					(char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		} else if (wsp) {
			dec->hdr_state = HDR_NAME_WSP;
		} else {
			dec->in_header = false;
		}
		break;
	case HDR_NAME_WSP:
		if (c == ':') {
			hdr_field_name_done(dec);
			dec->hdr_state = HDR_VALUE;
		} else if (!wsp) {
			dec->in_header = false;
		}
		break;
	case HDR_VALUE:
		if (c == '\n')
			dec->hdr_state = HDR_LINE_START;
		if (c == '\r' || c == '\n')
			dec->msgid_capture = false; /* its first line only */
		else if (dec->msgid_capture && (dec->message_id_len > 0 || !wsp) &&
			 dec->message_id_len < sizeof(dec->message_id) - 1)
			dec->message_id[dec->message_id_len++] = (char)c;
		break;
	}
}

/* Scan decoded octets, then pass on those within max_size. */
static void data_scan_out(struct smtp_data_decoder *dec, const char *p, size_t n)
{
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '\n' && !dec->prev_cr)
			data_error(dec, SMTP_DATA_ERR_BARE_LF, "bare LF");
		else if (c != '\n' && dec->prev_cr)
			data_error(dec, SMTP_DATA_ERR_BARE_CR, "bare CR");
		if (c == '\0')
			data_error(dec, SMTP_DATA_ERR_NUL, "NUL");
		if (c >= 0x80)
			dec->eight_bit = true;

		if (c == '\n') {
			uint32_t text = dec->line_len - (dec->prev_cr ? 1 : 0);
			if (text > SMTP_DATA_LINE_MAX)
				dec->long_line = true;
			dec->line_len = 0;
		} else if (dec->line_len <= SMTP_DATA_LINE_MAX + 1) {
			/* Over 999 octets, even a final CR cannot save it. */
			if (++dec->line_len > SMTP_DATA_LINE_MAX + 1)
				dec->long_line = true;
		}
		dec->prev_cr = c == '\r';
		if (dec->in_header)
			hdr_scan(dec, c);
	}

	uint64_t before = dec->size;
	dec->size = n > UINT64_MAX - before ? UINT64_MAX : before + n;
	if (dec->size > dec->max_size)
		dec->too_big = true;
	if (before >= dec->max_size)
		return;
	size_t keep = dec->max_size - before < n ?
		      (size_t)(dec->max_size - before) : n;
	if (dec->out != NULL)
		str_append(dec->out, p, keep);
	if (dec->sink != NULL)
		dec->sink(dec->sink_context, p, keep);
}

/* data_scan_out(), with each bare LF written as CRLF when they are
 * accepted: the scanner and the output see only CRLF. */
static void data_emit(struct smtp_data_decoder *dec, const char *p, size_t n)
{
	if (!dec->lf_to_crlf) {
		data_scan_out(dec, p, n);
		return;
	}
	size_t start = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		bool cr_before = i > start ? p[i - 1] == '\r' : dec->prev_cr;
		if (cr_before)
			continue;
		data_scan_out(dec, p + start, i - start);
		data_scan_out(dec, "\r\n", 2);
		start = i + 1;
	}
	data_scan_out(dec, p + start, n - start);
}

int smtp_data_decoder_feed(struct smtp_data_decoder *dec, const void *data,
			   size_t len, size_t *consumed_r)
{
	const char *p = data;
	size_t run = 0;	/* start of the octets to pass on unchanged */

	if (len == 0) {
		*consumed_r = 0;
		return dec->done && dec->mode == SMTP_DATA_MODE_DATA ? 1 : 0;
	}
	if (dec->mode != SMTP_DATA_MODE_DATA) {
		data_emit(dec, p, len);
		*consumed_r = len;
		return 0;
	}
	if (dec->done) {
		*consumed_r = 0;
		return 1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		switch ((enum frame_state)dec->frame_state) {
		case FRAME_LINE_START:
			if (c == '.') {
				data_emit(dec, p + run, i - run);
				run = i + 1;
				dec->frame_state = FRAME_DOT;
			} else if (c == '\n' && dec->lf_to_crlf) {
				dec->frame_state = FRAME_LF_START;
			} else {
				dec->frame_state = c == '\r' ? FRAME_CR : FRAME_TEXT;
			}
			break;
		case FRAME_DOT:
			if (c == '\r') {
				run = i + 1;	/* withhold: maybe the end */
				dec->frame_state = FRAME_DOT_CR;
			} else if (c == '\n' && dec->lf_to_crlf) {
				/* ".\n" is no end marker, and a lone dot is
				 * never unstuffed (RFC 5321 4.5.2): keep it */
				data_emit(dec, ".", 1);
				run = i;
				dec->frame_state = FRAME_LF_START;
			} else {
				/* RFC 5321 4.5.2: the dot is deleted and the
				 * rest of the line kept. An LF here is bare:
				 * it does not start a line. */
				dec->frame_state = FRAME_TEXT;
			}
			break;
		case FRAME_DOT_CR:
			if (c == '\n') {
				dec->done = true;
				*consumed_r = i + 1;
				return 1;
			}
			/* ".\r" without LF: the withheld CR is message text
			 * (a bare CR), and c starts over inside the line. */
			data_emit(dec, "\r", 1);
			run = i;
			dec->frame_state = c == '\r' ? FRAME_CR : FRAME_TEXT;
			break;
		case FRAME_TEXT:
			if (c == '\r')
				dec->frame_state = FRAME_CR;
			else if (c == '\n' && dec->lf_to_crlf)
				dec->frame_state = FRAME_LF_START;
			break;
		case FRAME_CR:
			if (c == '\n')
				dec->frame_state = FRAME_LINE_START;
			else if (c != '\r')
				dec->frame_state = FRAME_TEXT;
			break;
		case FRAME_LF_START:
			if (c == '.') {
				data_emit(dec, p + run, i - run);
				run = i + 1;
				dec->frame_state = FRAME_LF_DOT;
			} else if (c == '\r') {
				dec->frame_state = FRAME_CR;
			} else if (c != '\n') {
				dec->frame_state = FRAME_TEXT;
			}
			break;
		case FRAME_LF_DOT:
			if (c == '\r' || c == '\n') {
				/* a lone dot after a bare LF: text, never the
				 * end (only CRLF "." CRLF ends DATA) */
				data_emit(dec, ".", 1);
				run = i;
				dec->frame_state = c == '\r' ? FRAME_CR : FRAME_LF_START;
			} else {
				dec->frame_state = FRAME_TEXT; /* dot removed */
			}
			break;
		}
	}
	data_emit(dec, p + run, len - run);
	*consumed_r = len;
	return 0;
}

void smtp_data_decoder_finish(struct smtp_data_decoder *dec)
{
	if (dec->mode != SMTP_DATA_MODE_DATA && dec->prev_cr) {
		data_error(dec, SMTP_DATA_ERR_BARE_CR, "bare CR");
		dec->prev_cr = false;
	}
	dec->done = true;
}
