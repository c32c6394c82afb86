/* store_eol.h: line endings between wire form and Maildir files.
 *
 * Mail travels with CRLF line endings (RFC 5322 2.1, RFC 5321 2.3.8), but
 * Maildir files hold LF, as qmail, Postfix's local(8) and virtual(8) and
 * Dovecot write them, and as mutt reads them (CRLF files show "^M" at the
 * end of every header line there). SMTP refuses bare CR and bare LF, so
 * the conversion is exact both ways: every LF of a stored file was one
 * CRLF on the wire. Dovecot's ",W=<size>" in the file name keeps the wire
 * size, which POP3 LIST and IMAP RFC822.SIZE report.
 *
 * Both converters are streaming: state carries a CR at the end of one
 * chunk over to the next, so chunk boundaries never change the result.
 * The output needs at most len + 1 (to LF) or 2 * len (to CRLF) bytes. */
#ifndef POSTEL_STORE_EOL_H
#define POSTEL_STORE_EOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_eol_state {
	bool pending_cr; /* to LF: a CR was the last byte seen */
	bool last_cr;    /* to CRLF: the last byte passed on was a CR */
};

/* CRLF -> LF. A CR not followed by LF is kept. Returns bytes written to
 * out, which must hold len + 1. */
size_t store_eol_to_lf(struct store_eol_state *st, const void *in, size_t len,
		       void *out);
/* The CR held back at the very end, if any: 0 or 1 byte into out. */
size_t store_eol_to_lf_finish(struct store_eol_state *st, void *out);

/* LF -> CRLF, leaving an existing CRLF alone (files written by others may
 * hold CRLF already). Returns bytes written to out, which must hold
 * 2 * len. */
size_t store_eol_to_crlf(struct store_eol_state *st, const void *in,
			 size_t len, void *out);

/* How many bytes store_eol_to_crlf() would make of in (same state). */
uint64_t store_eol_crlf_len(struct store_eol_state *st, const void *in,
			    size_t len);

/* Wire size of a stored file: its size plus one for every LF that has no
 * CR before it. Reads the file; -1 with errno on error. */
int store_eol_wire_size(int fd, uint64_t *size_r);

#endif
